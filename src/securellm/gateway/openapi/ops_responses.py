"""The stored-response operations (``GET``/``DELETE /v1/responses/{id}``, its input items)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from securellm.core.openapi import Operation, Param, Reply
from securellm.gateway.openapi import wire
from securellm.gateway.openapi.wire import Object
from securellm.gateway.openapi.wire_responses import ResponseObject
from securellm.gateway.routes.responses_state import MAX_LIMIT

KEYED = ("bearer", "apiKey")
RESPONSE_ID = Param("response_id", "path", "a response this key stored (store unset or true)")
UNKNOWN = "no response with this id for this key (never stored, deleted, expired or another key's)"
LIST_PARAMS = (
    Param("limit", "query", f"items per page, 1 to {MAX_LIMIT} (default 20)",
          {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
    Param("order", "query", "`asc` or `desc` (default: newest first)", {"enum": ["asc", "desc"]}),
    Param("after", "query", "the item id this page starts after"),
    Param("before", "query", "the item id this page ends before"),
)  # fmt: skip


class InputItemList(BaseModel):
    """A page of a stored response's input items."""

    object: Literal["list"]
    data: list[Object]
    first_id: str | None
    last_id: str | None
    has_more: bool


class ResponseDeleted(BaseModel):
    id: str
    object: Literal["response"]
    deleted: Literal[True]


def _errors(*extra: Reply) -> tuple[Reply, ...]:
    return (
        *extra,
        Reply(401, "the key is missing, unknown, revoked or expired", wire.OpenAIError),
        Reply(404, UNKNOWN, wire.OpenAIError),
        Reply(431, "the request headers are too large or too many", wire.OpenAIError),
    )


def stored_response_operations() -> list[Operation]:
    path = "/v1/responses/{response_id}"
    bad_page = Reply(400, "limit, order, after or before is not valid", wire.OpenAIError)
    return [
        Operation(
            "GET", path, "getResponse", "a stored response", "openai",
            (Reply(200, "the response as it was answered", ResponseObject), *_errors()),
            params=(RESPONSE_ID,), security=KEYED,
        ),
        Operation(
            "DELETE", path, "deleteResponse", "delete a stored response", "openai",
            (Reply(200, "deleted", ResponseDeleted), *_errors()),
            params=(RESPONSE_ID,), security=KEYED,
        ),
        Operation(
            "GET", f"{path}/input_items", "listInputItems", "a stored response's input items",
            "openai", (Reply(200, "one page of items", InputItemList), *_errors(bad_page)),
            params=(RESPONSE_ID, *LIST_PARAMS), security=KEYED,
        ),
    ]  # fmt: skip
