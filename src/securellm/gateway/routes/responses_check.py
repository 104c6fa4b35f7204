"""Structural checks of a ``POST /v1/responses`` body: 400 in OpenAI's error shape.

Enough to refuse what a translation would trip over (an ``input`` item without its
``role``, a ``function_call`` without its ``call_id``, a tool without a ``name``, an output
limit out of range) with the parameter named the way OpenAI names it (``input[2].role``);
the upstream checks the rest.
"""

from __future__ import annotations

from typing import Any

from securellm.core.errors import InvalidRequest
from securellm.gateway.validation import JSON, output_limit_problem

ROLES = ("user", "assistant", "system", "developer")
FORMATS = ("text", "json_schema", "json_object")
TOOL_CHOICES = ("auto", "none", "required")
# item type -> its fields that must be strings
ITEM_STRINGS: dict[str, tuple[str, ...]] = {
    "function_call": ("call_id", "name", "arguments"),
    "function_call_output": ("call_id",),
    "custom_tool_call": ("call_id", "name", "input"),
    "custom_tool_call_output": ("call_id",),
    "item_reference": ("id",),
}
OPTIONAL: tuple[tuple[str, type | tuple[type, ...], str], ...] = (
    ("instructions", str, "a string"),
    ("stream", bool, "a boolean"),
    ("store", bool, "a boolean"),
    ("parallel_tool_calls", bool, "a boolean"),
    ("temperature", (int, float), "a number"),
    ("top_p", (int, float), "a number"),
    ("metadata", dict, "an object"),
    ("user", str, "a string"),
    ("previous_response_id", str, "a string"),
    ("reasoning", dict, "an object"),
    ("text", dict, "an object"),
    ("tools", list, "an array"),
    ("tool_choice", (str, dict), "a string or an object"),
)


def fail(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"Invalid '{param}': {message}", param=param)


def _is(value: Any, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return isinstance(value, kind) and (bool in kinds or not isinstance(value, bool))


def check_responses(body: JSON) -> tuple[str, bool]:
    """``(model, stream)`` of a well-formed body; ``InvalidRequest`` (400) otherwise."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise fail("model", "a model name (a non-empty string) is required")
    for name, kind, what in OPTIONAL:
        value = body.get(name)
        if value is not None and not _is(value, kind):
            raise fail(name, f"expected {what}")
    if body.get("background") is True:
        raise fail("background", "background responses are not supported by this gateway")
    if body.get("previous_response_id") == "":
        raise fail("previous_response_id", "expected a response id")
    _check_input(body)
    _check_limit(body.get("max_output_tokens"))
    _check_tools(body.get("tools") or [], body.get("tool_choice"))
    _check_text(body.get("text"))
    return model, bool(body.get("stream", False))


def _check_limit(value: Any) -> None:
    if value is None:
        return
    if not _is(value, int):
        raise fail("max_output_tokens", "expected an integer")
    problem = output_limit_problem(value)
    if problem is not None:
        raise fail("max_output_tokens", problem)


def _check_input(body: JSON) -> None:
    value = body.get("input")
    if value is None:
        if body.get("previous_response_id") is None:
            raise fail("input", "input (a string or a list of items) is required")
        return
    if isinstance(value, str):
        return
    if not isinstance(value, list):
        raise fail("input", "expected a string or an array of input items")
    for index, item in enumerate(value):
        check_item(item, f"input[{index}]")


def check_item(item: Any, where: str) -> None:
    if not isinstance(item, dict):
        raise fail(where, "expected an object")
    kind = item.get("type", "message" if "role" in item else None)
    if not isinstance(kind, str):
        raise fail(f"{where}.type", "expected the item's type (a string)")
    if kind == "message":
        _check_message(item, where)
        return
    for name in ITEM_STRINGS.get(kind, ()):
        if not isinstance(item.get(name), str):
            raise fail(f"{where}.{name}", "expected a string")
    if kind.endswith("_output") and kind in ITEM_STRINGS:
        output = item.get("output")
        if not isinstance(output, (str, list)):
            raise fail(f"{where}.output", "expected a string or an array of content parts")
        if isinstance(output, list):
            _check_parts(output, f"{where}.output")


def _check_message(item: JSON, where: str) -> None:
    if item.get("role") not in ROLES:
        raise fail(f"{where}.role", f"expected one of {', '.join(ROLES)}")
    content = item.get("content")
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise fail(f"{where}.content", "expected a string or an array of content parts")
    _check_parts(content, f"{where}.content")


def _check_parts(parts: list[Any], where: str) -> None:
    for position, part in enumerate(parts):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise fail(f"{where}[{position}]", "expected a content part with a 'type'")
        if part["type"] in ("input_text", "output_text") and not isinstance(part.get("text"), str):
            raise fail(f"{where}[{position}].text", "expected a string")


def _check_tools(tools: list[Any], choice: Any) -> None:
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise fail(f"tools[{index}]", "expected a tool object with a 'type'")
        if tool["type"] in ("function", "custom") and not isinstance(tool.get("name"), str):
            raise fail(f"tools[{index}].name", "expected the tool's name (a string)")
        parameters = tool.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise fail(f"tools[{index}].parameters", "expected a JSON schema object")
    if isinstance(choice, str) and choice not in TOOL_CHOICES:
        raise fail("tool_choice", f"expected one of {', '.join(TOOL_CHOICES)} or an object")
    if isinstance(choice, dict) and not isinstance(choice.get("type"), str):
        raise fail("tool_choice.type", "expected a string")


def _check_text(text: Any) -> None:
    fmt = text.get("format") if isinstance(text, dict) else None
    if fmt is None:
        return
    if not isinstance(fmt, dict) or fmt.get("type") not in FORMATS:
        raise fail("text.format.type", f"expected one of {', '.join(FORMATS)}")
    if fmt["type"] == "json_schema":
        if not isinstance(fmt.get("name"), str):
            raise fail("text.format.name", "expected a string")
        if not isinstance(fmt.get("schema"), dict):
            raise fail("text.format.schema", "expected a JSON schema object")
