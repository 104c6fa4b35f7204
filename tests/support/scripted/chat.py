"""OpenAI Chat Completions wire format (``POST /v1/chat/completions``), JSON and SSE.

Shapes as documented for ``chat.completion`` and ``chat.completion.chunk``: SSE lines are
``data: <json>`` then a blank line, ending with ``data: [DONE]``; a tool call streams its
``id``/``type``/``name`` in the first delta and its ``arguments`` in pieces; with
``stream_options.include_usage`` a last chunk has ``choices: []`` and the usage.
"""

from __future__ import annotations

from typing import Any

import orjson

from support.scripted.script import Reply, Tool, Turn, estimate_tokens

CREATED = 1_700_000_000
COMPLETION_ID = "chatcmpl-scripted"
CALL_ID = "call_scripted_1"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def turn_of(body: dict[str, Any]) -> Turn:
    messages = body.get("messages") or []
    tools = tuple(
        Tool(t["function"]["name"], t["function"].get("parameters") or {})
        for t in body.get("tools") or []
        if t.get("type") == "function" and isinstance(t.get("function"), dict)
    )
    has_result = any(m.get("role") in ("tool", "function") for m in messages)
    text = " ".join(
        _text_of(m.get("content")) for m in messages if m.get("role") in ("system", "user")
    )
    return Turn(tools, has_result, text)


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, int]:
    prompt = estimate_tokens(body.get("messages"))
    completion = estimate_tokens(reply.call.arguments if reply.call else reply.text)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}  # fmt: skip


def completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """The whole ``chat.completion`` object for ``reply``."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None,
                               "refusal": None}  # fmt: skip
    finish = "stop"
    if reply.call is not None:
        function = {"name": reply.call.tool.name, "arguments": reply.call.arguments_json}
        message["tool_calls"] = [{"id": CALL_ID, "type": "function", "function": function}]
        finish = "tool_calls"
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
    return {
        "id": COMPLETION_ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": body.get("model", ""),
        "choices": [choice],
        "usage": _usage(body, reply),
        "system_fingerprint": None,
    }


def _chunk(model: str, choices: list[dict[str, Any]], **extra: Any) -> bytes:
    chunk = {"id": COMPLETION_ID, "object": "chat.completion.chunk", "created": CREATED,
             "model": model, "system_fingerprint": None, "choices": choices, **extra}  # fmt: skip
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def _delta(model: str, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return _chunk(model, [choice], **extra)


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def events(body: dict[str, Any], reply: Reply) -> list[bytes]:
    """The SSE chunks of a streamed reply, ``[DONE]`` included."""
    model = body.get("model", "")
    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    # With include_usage every chunk but the last carries "usage": null (as documented).
    extra: dict[str, Any] = {"usage": None} if with_usage else {}
    if reply.call is None:
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": "", "refusal": None}]
        deltas += [{"content": piece} for piece in _pieces(reply.text, 8)]
        finish = "stop"
    else:
        head = {"index": 0, "id": CALL_ID, "type": "function",
                "function": {"name": reply.call.tool.name, "arguments": ""}}  # fmt: skip
        deltas = [{"role": "assistant", "content": None, "tool_calls": [head]}]
        deltas += [
            {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
            for piece in _pieces(reply.call.arguments_json, 10)
        ]
        finish = "tool_calls"
    out = [_delta(model, delta, **extra) for delta in deltas]
    out.append(_delta(model, {}, finish, **extra))
    if with_usage:
        out.append(_chunk(model, [], usage=_usage(body, reply)))
    return [*out, b"data: [DONE]\n\n"]
