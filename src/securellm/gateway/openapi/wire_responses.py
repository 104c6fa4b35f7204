"""The OpenAI Responses API's request and ``Response`` object, as the gateway takes and
answers them (``POST /v1/responses``; the stored-state routes answer the same object)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from securellm.gateway.openapi.wire import ModelId, Number, Object, OpenModel, OutputTokens


class ResponseRequest(OpenModel):
    """Body of ``POST /v1/responses``: ``input`` is a string or a list of items (messages,
    ``function_call``, ``function_call_output``, reasoning items passed back)."""

    model: ModelId
    input: str | list[Object] | None = None
    instructions: str | None = None
    previous_response_id: str | None = Field(
        default=None, min_length=1, description="continue this stored response (same key)"
    )
    store: bool | None = Field(default=None, description="keep the answer (default: true)")
    stream: bool | None = None
    tools: list[Object] | None = None
    tool_choice: str | Object | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: OutputTokens | None = None
    temperature: Number | None = None
    top_p: Number | None = None
    text: Object | None = Field(default=None, description="`format`: text, json_schema, ...")
    reasoning: Object | None = Field(default=None, description="`effort`: low, medium, high")
    metadata: Object | None = None
    user: str | None = None


class ResponseUsage(OpenModel):
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_tokens_details: Object | None = None
    output_tokens_details: Object | None = None


class ResponseObject(OpenModel):
    """A response (with ``stream: true``: ``text/event-stream`` events, ``response.created``
    first and ``response.completed`` last)."""

    id: str
    object: str
    created_at: Number
    model: str
    status: str | None = None
    output: list[Object]
    usage: ResponseUsage | None = None
    error: Any = None
