"""The OpenAI and Anthropic wire formats as the gateway accepts and answers them.

Request models say what the gateway itself checks (``gateway.validation``, the Anthropic
route's checks) and name the common optional fields; everything else passes through to
the upstream untouched (``additionalProperties``), which checks the fine detail.
Response models describe the documented shapes; upstreams may add fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from securellm.gateway.validation import MAX_OUTPUT_TOKENS

ModelId = Annotated[
    str,
    Field(
        min_length=1,
        pattern=r"\S",
        description="`provider/model`, an alias, or a bare model name (see GET /v1/models)",
    ),
]
OutputTokens = Annotated[int, Field(ge=1, le=MAX_OUTPUT_TOKENS)]
Number = float
Object = dict[str, Any]


class OpenModel(BaseModel):
    """Fields not named here are accepted and passed to the upstream."""

    model_config = ConfigDict(extra="allow")


# --- errors -----------------------------------------------------------------------------


class OpenAIErrorDetail(OpenModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIError(OpenModel):
    """Every error of the OpenAI routes and the admin API."""

    error: OpenAIErrorDetail


class AnthropicErrorDetail(OpenModel):
    type: str
    message: str


class AnthropicError(OpenModel):
    """Every error of ``/v1/messages`` (and ``/v1/models`` for Anthropic clients)."""

    type: Literal["error"]
    error: AnthropicErrorDetail


class EitherError(RootModel[OpenAIError | AnthropicError]):
    """OpenAI's error shape, or Anthropic's when the client sent ``anthropic-version``."""


# --- OpenAI requests --------------------------------------------------------------------


class ChatMessage(OpenModel):
    role: str = Field(description="system, developer, user, assistant or tool")
    content: Any = Field(default=None, description="a string, a list of content parts, or null")


class _Sampling(OpenModel):
    stream: bool | None = None
    stream_options: Object | None = None
    max_tokens: OutputTokens | None = None
    max_completion_tokens: OutputTokens | None = None
    n: int | None = None
    temperature: Number | None = None
    top_p: Number | None = None
    presence_penalty: Number | None = None
    frequency_penalty: Number | None = None
    stop: str | list[str] | None = None
    tools: list[Object] | None = None
    metadata: Object | None = None


class ChatCompletionRequest(_Sampling):
    """Body of ``POST /v1/chat/completions``."""

    model: ModelId
    messages: list[ChatMessage] = Field(min_length=1)


class CompletionRequest(_Sampling):
    """Body of ``POST /v1/completions``."""

    model: ModelId
    prompt: str | list[Any]


class EmbeddingRequest(OpenModel):
    """Body of ``POST /v1/embeddings`` (never streamed)."""

    model: ModelId
    input: str | list[Any]
    stream: Literal[False] | None = None


# --- OpenAI responses -------------------------------------------------------------------


class Usage(OpenModel):
    prompt_tokens: int
    completion_tokens: int | None = None
    total_tokens: int


class AssistantMessage(OpenModel):
    role: str
    content: str | None = None
    tool_calls: list[Object] | None = None


class ChatChoice(OpenModel):
    index: int
    message: AssistantMessage
    finish_reason: str | None


class ChatCompletion(OpenModel):
    """A chat answer (with ``stream: true`` the answer is ``text/event-stream`` chunks)."""

    id: str
    object: str
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage | None = None


class CompletionChoice(OpenModel):
    index: int
    text: str
    finish_reason: str | None


class Completion(OpenModel):
    id: str
    object: str
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None


class Embedding(OpenModel):
    object: str
    index: int
    embedding: list[float] | str


class EmbeddingList(OpenModel):
    object: Literal["list"]
    data: list[Embedding]
    model: str
    usage: Usage | None = None


class ModelEntry(OpenModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(OpenModel):
    object: Literal["list"]
    data: list[ModelEntry]


class AnthropicModelEntry(OpenModel):
    type: Literal["model"]
    id: str
    display_name: str
    created_at: str


class AnthropicModelPage(OpenModel):
    data: list[AnthropicModelEntry]
    has_more: bool
    first_id: str | None
    last_id: str | None


class Models(RootModel[ModelList | AnthropicModelPage]):
    """OpenAI's list, or Anthropic's page when the client sent ``anthropic-version``."""


# --- Anthropic --------------------------------------------------------------------------


class ContentBlock(OpenModel):
    type: str


class AnthropicMessage(OpenModel):
    role: Literal["user", "assistant", "system"]  # system: Claude Code's mid-conversation entries
    content: str | list[ContentBlock]


class _Conversation(OpenModel):
    model: ModelId
    messages: list[AnthropicMessage] = Field(min_length=1)
    system: str | list[Object] | None = None
    tools: list[Object] | None = None
    tool_choice: Object | None = None


class MessagesRequest(_Conversation):
    """Body of ``POST /v1/messages``."""

    max_tokens: OutputTokens
    stream: bool | None = None
    temperature: Number | None = None
    top_p: Number | None = None
    top_k: int | None = None
    metadata: Object | None = None
    stop_sequences: list[str] | None = None


class CountTokensRequest(_Conversation):
    """Body of ``POST /v1/messages/count_tokens``."""


class AnthropicUsage(OpenModel):
    input_tokens: int
    output_tokens: int


class Message(OpenModel):
    """An Anthropic answer (with ``stream: true``: ``text/event-stream`` events)."""

    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    content: list[ContentBlock]
    model: str
    stop_reason: str | None
    stop_sequence: str | None = None
    usage: AnthropicUsage


class TokenCount(OpenModel):
    input_tokens: int
