"""Anthropic Messages request -> OpenAI chat request, and the OpenAI reply back to Anthropic."""

from __future__ import annotations

from typing import Any

import orjson

from securellm.core.errors import InvalidRequest
from securellm.providers.translate.common import (
    JSON,
    anthropic_usage,
    dumps_arguments,
    new_id,
    obj,
    objects,
    opt_text,
    stop_reason,
    text_of,
    usage_from_openai,
)

# Fields an OpenAI-dialect upstream may understand that have no Anthropic spelling.
PASS_THROUGH = ("keep_alive",)
# Blocks of a server tool's run (Anthropic executed it): history an OpenAI upstream lacks.
SERVER_BLOCKS = ("server_tool_use", "mcp_tool_use", "mcp_tool_result")


def messages_to_chat(body: JSON, model: str) -> JSON:
    """Translate a ``/v1/messages`` body into an OpenAI ``/v1/chat/completions`` body.

    ``system`` entries inside ``messages`` (Claude Code sends them with the beta
    ``mid-conversation-tool-changes-*``) join the one leading system message, after the
    top-level ``system`` and in the order they came: many local chat templates refuse a
    system turn anywhere but first. ``max_tokens`` is optional (``count_tokens`` has none).
    """
    messages: list[JSON] = []
    system = [text_of(body.get("system"))]
    for index, message in enumerate(body["messages"]):
        if message.get("role") == "system":
            system.append(text_of(message.get("content")))
        else:
            messages.extend(_message(message, index))
    prompt = "\n\n".join(part for part in system if part)
    if prompt:
        messages.insert(0, {"role": "system", "content": prompt})
    out: JSON = {"model": model, "messages": messages}
    if body.get("max_tokens") is not None:
        out["max_tokens"] = body["max_tokens"]
    for name in ("temperature", "top_p", *PASS_THROUGH):
        if body.get(name) is not None:
            out[name] = body[name]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    tools = body.get("tools")
    if tools:
        out["tools"] = [_tool(tool, i) for i, tool in enumerate(tools)]
        _tool_choice(body.get("tool_choice"), out)
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        out["user"] = metadata["user_id"]
    if body.get("stream"):
        out["stream"] = True
    return out


def _message(message: JSON, index: int) -> list[JSON]:
    role, content = message["role"], message.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if not isinstance(content, list):
        raise InvalidRequest(f"messages.{index}.content: must be a string or a list of blocks")
    if role == "assistant":
        return [_assistant(content, index)]
    return _user(content, index)


def _assistant(blocks: list[Any], index: int) -> JSON:
    text: list[str] = []
    calls: list[JSON] = []
    for block in blocks:
        kind = _kind(block, index)
        if kind == "text":
            text.append(str(block.get("text", "")))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": str(block.get("id") or new_id("call_")),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": dumps_arguments(block.get("input")),
                    },
                }
            )
        elif not _server_history(kind) and kind not in ("thinking", "redacted_thinking"):
            raise InvalidRequest(f"messages.{index}: assistant block {kind!r} is not supported")
    out: JSON = {"role": "assistant", "content": "".join(text) if text or not calls else None}
    if calls:
        out["tool_calls"] = calls
    return out


def _user(blocks: list[Any], index: int) -> list[JSON]:
    """Tool results become OpenAI ``tool`` messages, placed before the user's own parts."""
    results: list[JSON] = []
    parts: list[JSON] = []
    for block in blocks:
        kind = _kind(block, index)
        if kind == "tool_result":
            content = block.get("content")
            text = content if isinstance(content, str) else text_of(content or [])
            if block.get("is_error"):
                text = f"[tool error] {text}"
            results.append(
                {"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text}
            )
        elif kind == "text":
            parts.append({"type": "text", "text": str(block.get("text", ""))})
        elif kind == "image":
            parts.append({"type": "image_url", "image_url": {"url": _image_url(block, index)}})
        else:
            raise InvalidRequest(f"messages.{index}: content block {kind!r} is not supported")
    if parts:
        results.append({"role": "user", "content": parts})
    return results


def _server_history(kind: str) -> bool:
    """A server tool's call or result (``web_search_tool_result``...): dropped."""
    return kind in SERVER_BLOCKS or (kind.endswith("_tool_result") and kind != "tool_result")


def _kind(block: Any, index: int) -> str:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise InvalidRequest(f"messages.{index}.content: each block must have a 'type'")
    kind: str = block["type"]
    return kind


def _image_url(block: JSON, index: int) -> str:
    source = block.get("source")
    if isinstance(source, dict) and source.get("type") == "base64":
        return f"data:{source.get('media_type')};base64,{source.get('data')}"
    if isinstance(source, dict) and source.get("type") == "url":
        return str(source.get("url"))
    raise InvalidRequest(f"messages.{index}: image source must be base64 or url")


def _tool(tool: Any, index: int) -> JSON:
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
        raise InvalidRequest(f"tools.{index}: a tool needs a 'name'")
    if tool.get("type") not in (None, "custom"):
        raise InvalidRequest(f"tools.{index}: server tool {tool.get('type')!r} is not supported")
    function: JSON = {
        "name": tool["name"],
        "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
    }
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def _tool_choice(choice: Any, out: JSON) -> None:
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    if kind == "auto":
        out["tool_choice"] = "auto"
    elif kind == "any":
        out["tool_choice"] = "required"
    elif kind == "none":
        out["tool_choice"] = "none"
    elif kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    if choice.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False


def completion_to_message(completion: Any, model: str) -> JSON:
    """Translate an OpenAI chat completion into a Messages API reply."""
    completion = obj(completion, "the reply")
    choices = objects(completion.get("choices"), "choices")
    choice = choices[0] if choices else {}
    reply = obj(choice.get("message"), "choices[0].message")
    content: list[JSON] = []
    reasoning = opt_text(reply.get("reasoning_content"), "message.reasoning_content")
    if reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = opt_text(reply.get("content"), "message.content")
    if text:
        content.append({"type": "text", "text": text})
    for call in objects(reply.get("tool_calls"), "message.tool_calls"):
        function = obj(call.get("function"), "tool_calls[].function")
        content.append(
            {
                "type": "tool_use",
                "id": opt_text(call.get("id"), "tool_calls[].id") or new_id("toolu_"),
                "name": opt_text(function.get("name"), "tool_calls[].function.name"),
                "input": tool_input(function.get("arguments")),
            }
        )
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": anthropic_usage(usage_from_openai(completion.get("usage"))),
    }


def tool_input(arguments: Any) -> JSON:
    """An upstream's ``arguments`` as a JSON object; a model's broken JSON is kept, not lost."""
    if isinstance(arguments, dict):
        return arguments
    try:
        value = orjson.loads(arguments or "{}")
    except (orjson.JSONDecodeError, TypeError):
        return {"_raw_arguments": str(arguments)}
    return value if isinstance(value, dict) else {"_value": value}
