"""Shorter JSON Schemas for ``tools/list``: the same constraints in fewer bytes.

Pydantic writes a ``title`` for every field and model (the tool's name already says what
it is) and spells an optional value as ``anyOf: [X, {"type": "null"}]``. Both are sent to
the model on every turn. :func:`compact` drops the titles and folds a nullable single type
into ``"type": [X, "null"]``, which validates exactly the same documents; descriptions,
bounds, enums and ``$ref`` structure stay.
"""

from __future__ import annotations

from typing import Any

_NULL = {"type": "null"}
# Keys whose value is a mapping of *names* to schemas: a property called "title" is data.
_NAMED = ("properties", "$defs", "definitions", "patternProperties")
# Bounds at or past these only guard the server (it checks every argument itself), so they
# are not advertised: an agent never writes a 1,000-character search query by accident.
_GUARDS = {"maxLength": 64, "maxItems": 16, "maximum": 10_000}


def compact(schema: dict[str, Any], *, output: bool = False) -> dict[str, Any]:
    """``schema`` without titles, with nullable single types folded (a new dict).

    An input schema also loses ``"default": null`` (leaving a value out means null) and the
    size guards in ``_GUARDS`` (the server enforces them on every call); an
    output schema loses every ``description`` and ``default`` (annotations the server
    fills in; the tool's description says what it returns), never a constraint.
    """
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if _dropped(key, value, output):
            continue
        if key in _NAMED and isinstance(value, dict):
            out[key] = {name: _sub(sub, output) for name, sub in value.items()}
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems") and isinstance(value, list):
            out[key] = [_sub(item, output) for item in value]
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = compact(value, output=output)
        else:
            out[key] = value
    return _fold_nullable(out)


def _dropped(key: str, value: Any, output: bool) -> bool:
    if key == "title":
        return isinstance(value, str)
    if output:
        return key == "default" or (key == "description" and isinstance(value, str))
    if (
        key in _GUARDS and isinstance(value, int) and not isinstance(value, bool)
    ):  # size guards, enforced by the server
        return bool(value >= _GUARDS[key])
    if key == "minLength":  # "not empty": the server says so when it matters
        return bool(value == 1)
    return key == "default" and value is None


def _sub(value: Any, output: bool) -> Any:
    return compact(value, output=output) if isinstance(value, dict) else value


def _fold_nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [{"type": T, ...}, {"type": "null"}]`` → ``{"type": [T, "null"], ...}``."""
    options = schema.get("anyOf")
    if not isinstance(options, list) or len(options) != 2 or _NULL not in options:
        return schema
    other = options[0] if options[1] == _NULL else options[1]
    kind = other.get("type") if isinstance(other, dict) else None
    if not isinstance(kind, str) or kind == "null":
        return schema
    clash = set(other) & (set(schema) - {"anyOf"})
    if clash:
        return schema
    merged = {key: value for key, value in schema.items() if key != "anyOf"}
    merged.update(other)
    merged["type"] = [kind, "null"]
    if kind != "array" and "items" in merged:  # never: items belong to arrays only
        return schema
    if isinstance(other.get("enum"), list) and None not in other["enum"]:
        merged["enum"] = [*other["enum"], None]
    return merged


def shallow(schema: dict[str, Any]) -> dict[str, Any]:
    """An output schema cut to ``{"type": "object"}``: the tool returns structured content.

    Every result still validates against it (it only leaves constraints out). The fields
    are not listed: each result's JSON names its own, while tools/list is sent to the model
    on every turn (``tool_schemas = "full"`` lists them all).
    """
    if schema.get("type") != "object":
        return compact(schema, output=True)
    return {"type": "object"}
