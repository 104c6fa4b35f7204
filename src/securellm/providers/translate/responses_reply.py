"""Chat completion -> Responses API ``Response`` object, and the pieces streams share.

The ``Response`` echoes what the request asked for (instructions, tools, tool choice,
sampling, metadata, ...), as OpenAI's does; ``output`` holds a reasoning item (from a
DeepSeek-style ``reasoning_content``), a ``message`` item with the text, and one
``function_call`` (or ``custom_tool_call``) item per tool call. A chat ``finish_reason``
of ``length`` or ``content_filter`` makes the response ``incomplete``.
"""

from __future__ import annotations

import uuid
from typing import Any

from securellm.providers.base import Usage
from securellm.providers.translate.common import (
    JSON,
    count,
    loads_or_none,
    now,
    obj,
    objects,
    opt_text,
)
from securellm.providers.translate.responses_request import CUSTOM_INPUT

ECHOED = (
    "instructions", "max_output_tokens", "metadata", "previous_response_id", "reasoning",
    "temperature", "top_p", "user", "truncation", "service_tier", "prompt_cache_key",
)  # fmt: skip
INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


def new_item_id(prefix: str) -> str:
    """``resp_``/``msg_``/``fc_``... followed by 32 hex digits."""
    return f"{prefix}{uuid.uuid4().hex}"


def response_shell(body: JSON, model: str, response_id: str, status: str) -> JSON:
    """The ``Response`` object before any output, echoing the request."""
    response: JSON = {
        "id": response_id,
        "object": "response",
        "created_at": now(),
        "status": status,
        "error": None,
        "incomplete_details": None,
        "model": model,
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True) is not False,
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": list(body.get("tools") or []),
        "text": body.get("text") or {"format": {"type": "text"}},
        "store": body.get("store", True) is not False,
        "usage": None,
    }
    for name in ECHOED:
        response[name] = body.get(name)
    if response["metadata"] is None:
        response["metadata"] = {}
    return response


def responses_usage(usage: Usage, reasoning_tokens: int = 0) -> JSON:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": reasoning_details(usage, reasoning_tokens),
        "total_tokens": usage.total_tokens,
    }


def reasoning_details(usage: Usage, reasoning_tokens: int) -> JSON:
    return {"reasoning_tokens": min(reasoning_tokens, usage.completion_tokens)}


def reasoning_tokens_of(usage: Any) -> int:
    """``completion_tokens_details.reasoning_tokens`` of a chat ``usage`` object, if any."""
    details = usage.get("completion_tokens_details") if isinstance(usage, dict) else None
    return count(details.get("reasoning_tokens")) if isinstance(details, dict) else 0


def finish(response: JSON, finish_reason: Any) -> None:
    """Set ``status`` and ``incomplete_details`` from the chat ``finish_reason``."""
    reason = INCOMPLETE_REASONS.get(str(finish_reason))
    response["status"] = "incomplete" if reason else "completed"
    response["incomplete_details"] = {"reason": reason} if reason else None
    if not reason:
        response["completed_at"] = now()


def text_part(text: str) -> JSON:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, parts: list[JSON], status: str) -> JSON:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": parts,
    }


def reasoning_item(item_id: str, text: str | None) -> JSON:
    content = [] if text is None else [{"type": "reasoning_text", "text": text}]
    return {"id": item_id, "type": "reasoning", "summary": [], "content": content}


def call_item(item_id: str, call_id: str, name: str, arguments: str, custom: bool) -> JSON:
    """A ``function_call`` item, or a ``custom_tool_call`` for a custom tool's name."""
    if custom:
        return {
            "id": item_id,
            "type": "custom_tool_call",
            "call_id": call_id,
            "name": name,
            "input": custom_input(arguments),
            "status": "completed",
        }
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": "completed",
    }


def custom_input(arguments: str) -> str:
    """A custom tool's raw input from the ``{"input": ...}`` arguments of its function."""
    parsed = loads_or_none(arguments.encode())
    if isinstance(parsed, dict) and isinstance(parsed.get(CUSTOM_INPUT), str):
        return str(parsed[CUSTOM_INPUT])
    return arguments


def completion_to_response(
    completion: Any,
    body: JSON,
    model: str,
    response_id: str,
    *,
    usage: Usage,
    custom_tools: frozenset[str] = frozenset(),
) -> JSON:
    """The ``Response`` for a whole chat completion (fields of the wrong type: ``Unreadable``)."""
    completion = obj(completion, "the completion")
    choices = objects(completion.get("choices"), "choices")
    choice = choices[0] if choices else {}
    message = obj(choice.get("message"), "choices[0].message")
    response = response_shell(body, model, response_id, "completed")
    response["output"] = _output(message, custom_tools)
    finish(response, choice.get("finish_reason"))
    reasoning = reasoning_tokens_of(completion.get("usage"))
    response["usage"] = responses_usage(usage, reasoning)
    return response


def _output(message: JSON, custom_tools: frozenset[str]) -> list[JSON]:
    output: list[JSON] = []
    reasoning = opt_text(message.get("reasoning_content"), "message.reasoning_content")
    if reasoning:
        output.append(reasoning_item(new_item_id("rs_"), reasoning))
    parts: list[JSON] = []
    text = opt_text(message.get("content"), "message.content")
    if text:
        parts.append(text_part(text))
    refusal = opt_text(message.get("refusal"), "message.refusal")
    if refusal:
        parts.append({"type": "refusal", "refusal": refusal})
    if parts:
        output.append(message_item(new_item_id("msg_"), parts, "completed"))
    for call in objects(message.get("tool_calls"), "message.tool_calls"):
        function = obj(call.get("function"), "tool_calls[].function")
        name = opt_text(function.get("name"), "function.name") or ""
        arguments = opt_text(function.get("arguments"), "function.arguments") or "{}"
        call_id = opt_text(call.get("id"), "tool_calls[].id") or new_item_id("call_")
        prefix = "ctc_" if name in custom_tools else "fc_"
        item = call_item(new_item_id(prefix), call_id, name, arguments, name in custom_tools)
        output.append(item)
    return output
