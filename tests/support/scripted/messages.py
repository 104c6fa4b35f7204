"""Anthropic Messages wire format (``POST /v1/messages``, ``/v1/messages/count_tokens``).

Streams follow the documented event sequence: ``message_start``, then per content block
``content_block_start`` / ``content_block_delta`` (``text_delta`` or ``input_json_delta``,
the first partial JSON empty) / ``content_block_stop``, a ``ping``, ``message_delta`` with
the stop reason and the output count, ``message_stop``. Each SSE event is an ``event:``
line, a ``data:`` line and a blank line.
"""

from __future__ import annotations

import json
from typing import Any

from support.scripted.script import Reply, Tool, Turn, estimate_tokens

MESSAGE_ID = "msg_01ScriptedUpstreamReply0001"
TOOL_USE_ID = "toolu_01ScriptedUpstreamCall001"


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(", ", ": "))


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {_dumps(data)}\n\n".encode()


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [str(b.get("text", "")) for b in content if isinstance(b, dict)]
    return []


def turn_of(body: dict[str, Any]) -> Turn:
    """Client tools (those with an ``input_schema``); server tools are not the script's."""
    tools = tuple(
        Tool(t["name"], t.get("input_schema") or {})
        for t in body.get("tools") or []
        if isinstance(t, dict) and "input_schema" in t and "name" in t
    )
    messages = body.get("messages") or []
    has_result = any(
        isinstance(b, dict) and b.get("type") == "tool_result"
        for m in messages
        if isinstance(m.get("content"), list)
        for b in m["content"]
    )
    texts = _texts(body.get("system"))
    for message in messages:
        if message.get("role") in ("user", "system"):
            texts += _texts(message.get("content"))
    return Turn(tools, has_result, " ".join(texts))


def count(body: dict[str, Any]) -> dict[str, int]:
    """The ``count_tokens`` answer: ``{"input_tokens": N}``."""
    return {"input_tokens": estimate_tokens([body.get("system"), body.get("messages")])}


def _usage(body: dict[str, Any], output: int) -> dict[str, Any]:
    return {
        "input_tokens": count(body)["input_tokens"],
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output,
    }


def _output_tokens(reply: Reply) -> int:
    return estimate_tokens(reply.call.arguments if reply.call else reply.text)


def _blocks(reply: Reply) -> list[dict[str, Any]]:
    if reply.call is None:
        return [{"type": "text", "text": reply.text}]
    return [{"type": "tool_use", "id": TOOL_USE_ID, "name": reply.call.tool.name,
             "input": reply.call.arguments}]  # fmt: skip


def message(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """The whole ``message`` object for ``reply``."""
    return {
        "id": MESSAGE_ID,
        "type": "message",
        "role": "assistant",
        "model": body.get("model", ""),
        "content": _blocks(reply),
        "stop_reason": "end_turn" if reply.call is None else "tool_use",
        "stop_sequence": None,
        "usage": _usage(body, _output_tokens(reply)),
    }


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _block_events(reply: Reply) -> list[bytes]:
    if reply.call is None:
        start: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in _pieces(reply.text, 8)]
    else:
        start = {**_blocks(reply)[0], "input": {}}
        pieces = ["", *_pieces(reply.call.arguments_json, 10)]
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
    head = {"type": "content_block_start", "index": 0, "content_block": start}
    out = [sse("content_block_start", head), sse("ping", {"type": "ping"})]
    out += [
        sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": d})
        for d in deltas
    ]
    return [*out, sse("content_block_stop", {"type": "content_block_stop", "index": 0})]


def events(body: dict[str, Any], reply: Reply) -> list[bytes]:
    """The documented event sequence of a streamed reply."""
    started = {**message(body, reply), "content": [], "stop_reason": None}
    started["usage"] = {**started["usage"], "output_tokens": 1}
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": message(body, reply)["stop_reason"], "stop_sequence": None},
        "usage": {"output_tokens": _output_tokens(reply)},
    }
    return [
        sse("message_start", {"type": "message_start", "message": started}),
        *_block_events(reply),
        sse("message_delta", delta),
        sse("message_stop", {"type": "message_stop"}),
    ]
