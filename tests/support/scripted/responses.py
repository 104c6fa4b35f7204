"""OpenAI Responses wire format (``POST /v1/responses``, ``GET /v1/responses/{id}``).

A stream is ``event: <type>`` / ``data: <json>`` pairs, each payload with its ``type`` and
an increasing ``sequence_number``, no ``[DONE]``: ``response.created``,
``response.in_progress``, then per output item ``response.output_item.added``, for a message
``response.content_part.added`` / ``response.output_text.delta`` / ``.done`` /
``response.content_part.done``, for a function call
``response.function_call_arguments.delta`` / ``.done``, then ``response.output_item.done``,
and ``response.completed`` with the whole response.
"""

from __future__ import annotations

import json
from typing import Any

from support.scripted.script import Reply, Tool, Turn, estimate_tokens

CREATED = 1_700_000_000
CALL_ID = "call_scripted_1"
RESULT_TYPES = ("function_call_output", "custom_tool_call_output", "local_shell_call_output")


def input_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    """``input`` as a list of items (a string is one user message)."""
    raw = body.get("input")
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    return [item for item in raw or [] if isinstance(item, dict)]


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [str(p.get("text", "")) for p in content if isinstance(p, dict)]
    return []


def _tool(entry: dict[str, Any]) -> Tool | None:
    kind = entry.get("type")
    if kind == "function" and "name" in entry:
        return Tool(entry["name"], entry.get("parameters") or {})
    if kind == "custom" and "name" in entry:
        return Tool(entry["name"], {}, "custom")
    if kind == "local_shell":
        return Tool("local_shell", {}, "local_shell")
    return None


def turn_of(body: dict[str, Any], items: list[dict[str, Any]]) -> Turn:
    """``items``: the conversation so far (stored history included)."""
    tools = tuple(t for t in map(_tool, body.get("tools") or []) if t is not None)
    has_result = any(item.get("type") in RESULT_TYPES for item in items)
    texts = _texts(body.get("instructions"))
    for item in items:
        if item.get("role") in ("user", "system", "developer"):
            texts += _texts(item.get("content"))
    return Turn(tools, has_result, " ".join(texts))


def output_items(reply: Reply, suffix: str) -> list[dict[str, Any]]:
    """The ``output`` of a completed response for ``reply``."""
    if reply.call is None:
        part = {"type": "output_text", "text": reply.text, "annotations": []}
        return [{"type": "message", "id": f"msg_{suffix}", "status": "completed",
                 "role": "assistant", "content": [part]}]  # fmt: skip
    if reply.call.tool.kind == "local_shell":
        action = {"type": "exec", **reply.call.arguments, "env": {}}
        return [{"type": "local_shell_call", "id": f"lsh_{suffix}", "call_id": CALL_ID,
                 "action": action, "status": "completed"}]  # fmt: skip
    return [{"type": "function_call", "id": f"fc_{suffix}", "call_id": CALL_ID,
             "name": reply.call.tool.name, "arguments": reply.call.arguments_json,
             "status": "completed"}]  # fmt: skip


def response(
    body: dict[str, Any], items: list[dict[str, Any]], reply: Reply, response_id: str
) -> dict[str, Any]:
    """The whole, completed ``response`` object."""
    suffix = response_id.removeprefix("resp_")
    output = output_items(reply, suffix)
    input_tokens = estimate_tokens(items)
    output_tokens = estimate_tokens(output)
    return {
        "id": response_id,
        "object": "response",
        "created_at": CREATED,
        "status": "completed",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body.get("model", ""),
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": (body.get("reasoning") or {}).get("effort"), "summary": None},
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens,
        },
        "user": None,
        "metadata": body.get("metadata") or {},
    }


class _Events:
    """Numbered SSE events of one stream."""

    def __init__(self) -> None:
        self.out: list[bytes] = []

    def add(self, kind: str, **data: Any) -> None:
        payload = {"type": kind, "sequence_number": len(self.out), **data}
        self.out.append(f"event: {kind}\ndata: {json.dumps(payload)}\n\n".encode())


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _message_events(stream: _Events, item: dict[str, Any]) -> None:
    ids = {"item_id": item["id"], "output_index": 0}
    part = item["content"][0]
    stream.add("response.output_item.added", output_index=0,
               item={**item, "status": "in_progress", "content": []})  # fmt: skip
    empty = {**part, "text": ""}
    stream.add("response.content_part.added", **ids, content_index=0, part=empty)
    for piece in _pieces(part["text"], 8):
        stream.add("response.output_text.delta", **ids, content_index=0, delta=piece, logprobs=[])
    stream.add("response.output_text.done", **ids, content_index=0, text=part["text"], logprobs=[])
    stream.add("response.content_part.done", **ids, content_index=0, part=part)


def _call_events(stream: _Events, item: dict[str, Any]) -> None:
    ids = {"item_id": item["id"], "output_index": 0}
    if item["type"] != "function_call":
        stream.add("response.output_item.added", output_index=0, item=item)
        return
    stream.add("response.output_item.added", output_index=0,
               item={**item, "arguments": "", "status": "in_progress"})  # fmt: skip
    for piece in _pieces(item["arguments"], 10):
        stream.add("response.function_call_arguments.delta", **ids, delta=piece)
    stream.add("response.function_call_arguments.done", **ids, arguments=item["arguments"])


def events(done: dict[str, Any]) -> list[bytes]:
    """The documented event sequence that ends in the completed response ``done``."""
    stream = _Events()
    started = {**done, "status": "in_progress", "output": [], "usage": None}
    stream.add("response.created", response=started)
    stream.add("response.in_progress", response=started)
    item = done["output"][0]
    if item["type"] == "message":
        _message_events(stream, item)
    else:
        _call_events(stream, item)
    stream.add("response.output_item.done", output_index=0, item=item)
    stream.add("response.completed", response=done)
    return stream.out
