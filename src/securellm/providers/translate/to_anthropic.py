"""OpenAI chat request -> Anthropic Messages request, and the Anthropic reply back to OpenAI."""

from __future__ import annotations

from typing import Any

from securellm.core.errors import InvalidRequest
from securellm.providers.translate.common import (
    JSON,
    dumps_arguments,
    finish_reason,
    loads_arguments,
    new_id,
    now,
    obj,
    objects,
    openai_usage,
    opt_text,
    parse_data_url,
    text_of,
    usage_from_anthropic,
)

DEFAULT_MAX_TOKENS = 4096


def chat_to_messages(body: JSON, model: str) -> JSON:
    """Translate an OpenAI ``/v1/chat/completions`` body into a Messages API body."""
    if body.get("n") not in (None, 1):
        raise InvalidRequest("this provider returns one choice per request ('n' must be 1)")
    system, messages = _split_messages(body["messages"])
    out: JSON = {
        "model": model,
        "messages": messages,
        "max_tokens": body.get("max_completion_tokens")
        or body.get("max_tokens")
        or DEFAULT_MAX_TOKENS,
    }
    if system:
        out["system"] = system
    _copy_sampling(body, out)
    tools = body.get("tools")
    if tools:
        out["tools"] = [_tool(tool) for tool in tools]
    choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if choice is not None and tools:
        out["tool_choice"] = choice
    user = body.get("user")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}
    if body.get("stream"):
        out["stream"] = True
    return out


def _copy_sampling(body: JSON, out: JSON) -> None:
    temperature = body.get("temperature")
    if temperature is not None:
        out["temperature"] = min(float(temperature), 1.0)  # Anthropic's range is 0..1
    for name in ("top_p", "top_k"):
        if body.get(name) is not None:
            out[name] = body[name]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)


def _split_messages(messages: list[JSON]) -> tuple[list[JSON], list[JSON]]:
    system: list[JSON] = []
    out: list[JSON] = []
    for index, message in enumerate(messages):
        role = message["role"]
        if role in ("system", "developer"):
            text = text_of(message.get("content"))
            if text:
                system.append({"type": "text", "text": text})
        elif role == "user":
            out.append({"role": "user", "content": _user_content(message.get("content"), index)})
        elif role == "assistant":
            blocks = _assistant_content(message, index)
            if blocks:  # Anthropic refuses empty turns; an empty one says nothing anyway
                out.append({"role": "assistant", "content": blocks})
        elif role == "tool":
            result = _tool_result(message, index)
            previous = out[-1] if out else None
            if previous and previous["role"] == "user" and _all_results(previous["content"]):
                previous["content"].append(result)
            else:
                out.append({"role": "user", "content": [result]})
        else:
            raise InvalidRequest(f"messages[{index}]: role {role!r} is not supported")
    return system, out


def _all_results(content: Any) -> bool:
    return isinstance(content, list) and all(b.get("type") == "tool_result" for b in content)


def _user_content(content: Any, index: int) -> str | list[JSON]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest(f"messages[{index}].content must be a string or a list of parts")
    return [_user_part(part, index) for part in content]


def _user_part(part: Any, index: int) -> JSON:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        return {"type": "text", "text": str(part.get("text", ""))}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str):
            raise InvalidRequest(f"messages[{index}]: image_url needs a 'url'")
        data = parse_data_url(url)
        if data is None:
            return {"type": "image", "source": {"type": "url", "url": url}}
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": data[0], "data": data[1]},
        }
    raise InvalidRequest(f"messages[{index}]: content part of type {kind!r} is not supported")


def _assistant_content(message: JSON, index: int) -> list[JSON]:
    blocks: list[JSON] = []
    text = text_of(message.get("content"))
    if text:
        blocks.append({"type": "text", "text": text})
    for position, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidRequest(f"messages[{index}].tool_calls[{position}] needs a function name")
        where = f"messages[{index}].tool_calls[{position}].function.arguments"
        blocks.append(
            {
                "type": "tool_use",
                "id": str(call.get("id") or new_id("toolu_")),
                "name": function["name"],
                "input": loads_arguments(function.get("arguments"), where),
            }
        )
    return blocks


def _tool_result(message: JSON, index: int) -> JSON:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(f"messages[{index}]: a tool message needs 'tool_call_id'")
    return {
        "type": "tool_result",
        "tool_use_id": call_id,
        "content": text_of(message.get("content")),
    }


def _tool(tool: Any) -> JSON:
    function = tool.get("function") if isinstance(tool, dict) else None
    if tool.get("type") != "function" or not isinstance(function, dict) or "name" not in function:
        raise InvalidRequest("only tools of type 'function' with a name are supported")
    out: JSON = {
        "name": function["name"],
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        out["description"] = function["description"]
    return out


def _tool_choice(choice: Any, parallel: Any) -> JSON | None:
    if choice is None and parallel is None:
        return None
    if choice in (None, "auto"):
        out: JSON = {"type": "auto"}
    elif choice == "none":
        return {"type": "none"}
    elif choice == "required":
        out = {"type": "any"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        out = {"type": "tool", "name": choice["function"].get("name")}
    else:
        raise InvalidRequest("tool_choice must be 'auto', 'none', 'required' or a function")
    if parallel is False:
        out["disable_parallel_tool_use"] = True
    return out


def message_to_completion(message: Any, model: str) -> JSON:
    """Translate a Messages API reply into an OpenAI chat completion."""
    message = obj(message, "the reply")
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[JSON] = []
    for block in objects(message.get("content"), "content"):
        kind = block.get("type")
        if kind == "text":
            text.append(opt_text(block.get("text"), "content[].text") or "")
        elif kind == "thinking":
            reasoning.append(opt_text(block.get("thinking"), "content[].thinking") or "")
        elif kind == "tool_use":
            calls.append(
                {
                    "id": opt_text(block.get("id"), "content[].id") or new_id("call_"),
                    "type": "function",
                    "function": {
                        "name": opt_text(block.get("name"), "content[].name"),
                        "arguments": dumps_arguments(obj(block.get("input"), "content[].input")),
                    },
                }
            )
    reply: JSON = {"role": "assistant", "content": "".join(text) if text or not calls else None}
    if calls:
        reply["tool_calls"] = calls
    if reasoning:
        reply["reasoning_content"] = "".join(reasoning)
    return {
        "id": _chat_id(message.get("id")),
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": reply,
                "logprobs": None,
                "finish_reason": finish_reason(message.get("stop_reason")),
            }
        ],
        "usage": openai_usage(usage_from_anthropic(message.get("usage"))),
    }


def _chat_id(message_id: Any) -> str:
    return f"chatcmpl-{message_id}" if isinstance(message_id, str) else new_id("chatcmpl-")
