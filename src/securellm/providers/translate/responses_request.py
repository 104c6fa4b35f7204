"""OpenAI Responses API request -> chat-completions request.

``input`` (a string, or items: messages with ``input_text``/``input_image``/``output_text``
parts, ``function_call``, ``function_call_output``, ``custom_tool_call`` and its output,
reasoning items passed back) becomes ``messages``; ``instructions`` the first system
message. Function tools map one to one; a ``custom`` (free-form) tool becomes a function
taking one string, ``input``, and its calls come back as ``custom_tool_call`` items. Tools
a chat upstream lacks (the hosted ones: web search, file search, ...) are dropped and
named in :attr:`ChatRequest.dropped`. Reasoning items are dropped: no chat upstream takes
reasoning back as input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from securellm.core.errors import InvalidRequest
from securellm.providers.translate.common import JSON, dumps_arguments

CUSTOM_INPUT = "input"  # the one parameter of a custom tool's function
CUSTOM_PARAMETERS: JSON = {
    "type": "object",
    "properties": {CUSTOM_INPUT: {"type": "string", "description": "the tool's raw input"}},
    "required": [CUSTOM_INPUT],
}
DROPPED_ITEMS = frozenset({"reasoning", "item_reference", "compaction"})


@dataclass
class ChatRequest:
    """The chat body, and what the translation had to leave out or remember."""

    body: JSON
    dropped: list[str] = field(default_factory=list)  # tool types the upstream lacks
    custom_tools: frozenset[str] = frozenset()  # names whose calls are custom_tool_call items


def input_items(value: Any) -> list[JSON]:
    """``input`` as a list of items (a string is one user message)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return [dict(item) for item in value]


def responses_to_chat(body: JSON, model: str, *, reasoning_effort: bool = False) -> ChatRequest:
    """The chat-completions body for a (checked) Responses body."""
    tools, dropped, custom = _tools(body.get("tools"))
    messages: list[JSON] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    for index, item in enumerate(input_items(body.get("input"))):
        _add_item(messages, item, f"input[{index}]")
    out: JSON = {"model": model, "messages": messages}
    if tools:
        out["tools"] = tools
        choice = _tool_choice(body.get("tool_choice"))
        if choice is not None:
            out["tool_choice"] = choice
        if isinstance(body.get("parallel_tool_calls"), bool):
            out["parallel_tool_calls"] = body["parallel_tool_calls"]
    _copy_options(body, out, reasoning_effort)
    return ChatRequest(out, dropped, frozenset(custom))


def _copy_options(body: JSON, out: JSON, reasoning_effort: bool) -> None:
    for name in ("temperature", "top_p", "user"):
        if body.get(name) is not None:
            out[name] = body[name]
    if body.get("max_output_tokens") is not None:
        out["max_tokens"] = body["max_output_tokens"]
    response_format = _response_format(body.get("text"))
    if response_format is not None:
        out["response_format"] = response_format
    reasoning = body.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    if reasoning_effort and isinstance(effort, str) and effort != "none":
        out["reasoning_effort"] = effort
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}


def _response_format(text: Any) -> JSON | None:
    """``text.format`` -> ``response_format`` (plain text needs none)."""
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    if fmt.get("type") != "json_schema":
        return None
    schema: JSON = {"name": fmt.get("name") or "response", "schema": fmt.get("schema") or {}}
    for name in ("strict", "description"):
        if fmt.get(name) is not None:
            schema[name] = fmt[name]
    return {"type": "json_schema", "json_schema": schema}


def _tools(tools: Any) -> tuple[list[JSON], list[str], list[str]]:
    """(chat tools, dropped tool types, custom tool names)."""
    out: list[JSON] = []
    dropped: list[str] = []
    custom: list[str] = []
    for tool in tools or []:
        kind = tool.get("type")
        if kind == "function":
            function = {"name": tool.get("name"), "parameters": tool.get("parameters") or {}}
            for name in ("description", "strict"):
                if tool.get(name) is not None:
                    function[name] = tool[name]
            out.append({"type": "function", "function": function})
        elif kind == "custom":
            custom.append(str(tool.get("name")))
            function = {"name": tool.get("name"), "parameters": CUSTOM_PARAMETERS}
            if tool.get("description"):
                function["description"] = tool["description"]
            out.append({"type": "function", "function": function})
        elif str(kind) not in dropped:
            dropped.append(str(kind))
    return out, dropped, custom


def _tool_choice(choice: Any) -> str | JSON | None:
    if choice in ("auto", "none", "required"):
        return str(choice)
    if isinstance(choice, dict):
        if choice.get("type") in ("function", "custom") and choice.get("name"):
            return {"type": "function", "function": {"name": choice["name"]}}
        if choice.get("type") == "allowed_tools":
            return "required" if choice.get("mode") == "required" else "auto"
    return None


def _add_item(messages: list[JSON], item: JSON, where: str) -> None:
    kind = item.get("type", "message")
    if kind == "message":
        _add_message(messages, item, where)
    elif kind in ("function_call", "custom_tool_call"):
        _add_call(messages, item)
    elif kind in ("function_call_output", "custom_tool_call_output"):
        output = item.get("output")
        content = output if isinstance(output, str) else _output_text(output, where)
        messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": content})
    elif kind not in DROPPED_ITEMS:
        raise InvalidRequest(
            f"{where}: items of type {kind!r} cannot be sent to this model's provider",
            param=f"{where}.type",
        )


def _add_message(messages: list[JSON], item: JSON, where: str) -> None:
    role = item["role"]
    content = item.get("content")
    if role in ("system", "developer"):
        messages.append({"role": "system", "content": _plain_text(content, where)})
    elif role == "assistant":
        messages.append({"role": "assistant", "content": _plain_text(content, where)})
    else:
        messages.append({"role": "user", "content": _user_content(content, where)})


def _add_call(messages: list[JSON], item: JSON) -> None:
    """A tool call joins the assistant turn before it (parallel calls share one message)."""
    if item["type"] == "custom_tool_call":
        arguments = dumps_arguments({CUSTOM_INPUT: item.get("input", "")})
    else:
        arguments = item.get("arguments") or "{}"
    call = {
        "id": item["call_id"],
        "type": "function",
        "function": {"name": item["name"], "arguments": arguments},
    }
    last = messages[-1] if messages else None
    if last is None or last["role"] != "assistant":
        last = {"role": "assistant", "content": None}
        messages.append(last)
    last.setdefault("tool_calls", []).append(call)


def _plain_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for index, part in enumerate(content):
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            texts.append(str(part.get("text", "")))
        elif kind == "refusal":
            texts.append(str(part.get("refusal", "")))
        else:
            raise InvalidRequest(
                f"{where}.content[{index}]: a {kind!r} part is not allowed in this message",
                param=f"{where}.content[{index}].type",
            )
    return "".join(texts)


def _user_content(content: Any, where: str) -> str | list[JSON]:
    """Text only: one string (what every chat server takes); with images: parts."""
    if isinstance(content, str):
        return content
    if all(part.get("type") in ("input_text", "output_text") for part in content):
        return _plain_text(content, where)
    parts: list[JSON] = []
    for index, part in enumerate(content):
        kind = part.get("type")
        if kind in ("input_text", "output_text"):
            parts.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            image: JSON = {"url": part["image_url"]}
            if part.get("detail") in ("low", "high", "auto"):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        else:
            raise InvalidRequest(
                f"{where}.content[{index}]: {kind!r} parts (or images by file id) cannot be "
                "sent to this model's provider",
                param=f"{where}.content[{index}]",
            )
    return parts


def _output_text(output: Any, where: str) -> str:
    """A tool output given as a list of parts: its text."""
    if isinstance(output, list):
        return _plain_text(output, f"{where}.output")
    raise InvalidRequest(f"{where}.output must be a string or a list of parts", param=where)
