"""Compact tools/list schemas: fewer bytes, the same documents accepted and refused."""

from __future__ import annotations

from typing import Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from securellm.mcp.schema import compact, shallow


class Inner(BaseModel):
    title: str | None = None  # a property *named* title
    count: int


class Sample(BaseModel):
    title: str = Field(max_length=512)
    kind: Literal["note", "todo"] | None = None
    tags: list[str] | None = Field(default=None, max_length=32)
    session_id: str | None = Field(default=None, min_length=32, max_length=32)
    inner: Inner | None = None
    limit: int = Field(default=10, ge=1, le=100)


SCHEMA = Sample.model_json_schema()
DOCUMENTS = [
    {"title": "x"},
    {"title": "x", "kind": None, "tags": None, "session_id": None, "inner": None},
    {"title": "x", "kind": "todo", "tags": ["a"], "inner": {"title": None, "count": 2}},
    {"title": "x", "kind": "other"},
    {"title": "x", "kind": 3},
    {"title": "x", "session_id": "short"},
    {"title": "x", "inner": {"count": "two"}},
    {"title": "x", "limit": 0},
    {"kind": "note"},
]


def accepts(schema: dict[str, object], document: dict[str, object]) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(document)


def test_compact_schemas_are_smaller() -> None:
    assert len(str(compact(SCHEMA))) < len(str(SCHEMA)) * 0.7


@pytest.mark.parametrize("document", DOCUMENTS)
def test_compact_accepts_and_refuses_what_the_original_does(document: dict[str, object]) -> None:
    assert accepts(compact(SCHEMA), document) == accepts(SCHEMA, document)


def test_compact_keeps_a_property_named_title() -> None:
    inner = compact(SCHEMA)["$defs"]["Inner"]
    assert "title" in inner["properties"]
    assert "title" not in inner


def test_compact_input_leaves_out_only_size_guards() -> None:
    properties = compact(SCHEMA)["properties"]
    assert "maxLength" not in properties["title"]
    assert properties["session_id"]["minLength"] == 32
    assert properties["session_id"]["maxLength"] == 32
    assert properties["limit"]["maximum"] == 100


def test_a_nullable_enum_keeps_null_among_its_values() -> None:
    assert compact(SCHEMA)["properties"]["kind"]["enum"] == ["note", "todo", None]


@pytest.mark.parametrize("document", DOCUMENTS[:3])
def test_a_shallow_output_schema_accepts_every_valid_result(document: dict[str, object]) -> None:
    assert accepts(shallow(SCHEMA), Sample.model_validate(document).model_dump(mode="json"))


def test_a_shallow_output_schema_still_says_the_result_is_an_object() -> None:
    assert shallow(SCHEMA) == {"type": "object"}
