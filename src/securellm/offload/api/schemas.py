"""Bodies offload accepts and answers, as pydantic models (the source of its OpenAPI document).

Inference bodies are passed to the model's server once offload has checked them (see
:mod:`securellm.offload.api.limits`); fields not named here are accepted
(``additionalProperties``). Answers name the fields
offload writes; newer versions may add more.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class OpenModel(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(OpenModel):
    message: str
    type: str
    param: str | None
    code: str | None


class Error(OpenModel):
    """Every error offload answers (OpenAI's error JSON)."""

    error: ErrorDetail


class ChatRequest(OpenModel):
    """Body of ``POST /v1/chat/completions``: OpenAI's, loading ``model`` on demand."""

    model: str = Field(min_length=1, description="a registry id (see GET /models)")
    messages: list[dict[str, Any]] = Field(min_length=1, description="each with a `role`")
    stream: bool | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    keep_alive: float | str | None = Field(
        default=None,
        description="Ollama's: seconds, or a duration like 5m or 1h; 0 unloads the model after "
        "this request, a negative value keeps it loaded",
    )


class CompletionRequest(OpenModel):
    """Body of ``POST /v1/completions``."""

    model: str = Field(min_length=1, description="a registry id (see GET /models)")
    prompt: str | list[Any] = Field(description="not empty")
    stream: bool | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    keep_alive: float | str | None = Field(
        default=None,
        description="Ollama's: seconds, or a duration like 5m or 1h; 0 unloads the model after "
        "this request, a negative value keeps it loaded",
    )


class Completion(OpenModel):
    """The model server's answer, with ``model`` set back to the registry id."""

    object: str
    model: str
    choices: list[dict[str, Any]]


class ModeRequest(OpenModel):
    """Body of ``POST /mode``."""

    mode: Literal["build", "local"]


class EmbeddingRequest(OpenModel):
    """Body of ``POST /v1/embeddings`` (OpenAI's)."""

    model: str = Field(min_length=1, description="a registry id (see GET /models)")
    input: str | list[str] = Field(description="not empty")
    encoding_format: Literal["float", "base64"] | None = None


class Embedding(OpenModel):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str = Field(description="floats, or float32 base64 when asked")


class EmbeddingList(OpenModel):
    object: Literal["list"]
    model: str
    data: list[Embedding]
    usage: dict[str, int]


class TokenizeRequest(OpenModel):
    """Body of ``POST /tokenize`` (llama.cpp's own shape, with our model id)."""

    model: str = Field(min_length=1)
    content: str


class TokenCount(OpenModel):
    model: str
    count: int


class Health(OpenModel):
    status: Literal["ok"]


class Gpu(OpenModel):
    index: int
    name: str
    total_mib: int
    used_mib: int
    free_mib: int


class LoadedModel(OpenModel):
    model: str
    vram_mib: int
    in_flight: int  # requests this model is answering now


class PsModel(OpenModel):
    """One loaded model in ``GET /ps`` (like ``ollama ps``)."""

    model: str
    size_mib: int
    vram_mib: int
    cpu_mib: int
    processor: str
    context: int
    parallel: int
    in_flight: int
    pinned: bool
    until: Literal["pinned", "busy", "forever", "idle"]
    expires_in_s: float | None
    expires_at: float | None


class Ps(OpenModel):
    source: str
    gpus: list[Gpu]
    models: list[PsModel]


class Vram(OpenModel):
    source: str
    gpus: list[Gpu]
    loaded: list[LoadedModel]


class OpenAIModel(OpenModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str
    context_length: int  # the context the model is loaded with (tokens)


class OpenAIModelList(OpenModel):
    object: Literal["list"]
    data: list[OpenAIModel]


class ChatFormat(OpenModel):
    """How chats become prompts: ``source`` null means the model cannot chat (``reason``)."""

    source: Literal["config", "gguf", "known-model"] | None
    format: str | None
    reason: str | None


class ModelEntry(OpenModel):
    id: str
    path: str
    format: str
    usable: bool
    reason: str | None
    architecture: str | None
    parameters: int | None
    quantization: str | None
    context_length: int | None
    estimate_mib: int | None
    loaded: bool
    chat: ChatFormat


class ModelList(OpenModel):
    data: list[ModelEntry]


class ModelDetail(ModelEntry):
    """A model with its metadata, load parameters, estimate and last measurement."""

    meta: dict[str, Any] | None
    load_params: dict[str, Any]
    estimate: dict[str, Any] | None
    overhead_mib: int
    measured: dict[str, Any] | None
    measured_params: dict[str, Any] | None
    estimate_error_pct: float | None


class ScanReport(OpenModel):
    added: int
    updated: int
    unchanged: int
    removed: int
    unusable: int


class LoadResult(OpenModel):
    model: str
    loaded: bool
    vram_mib: int | None


class UnloadResult(OpenModel):
    model: str
    loaded: Literal[False]
    was_loaded: bool


class PinRequest(OpenModel):
    """Body of ``POST /models/{model_id}/pin`` (``pinned`` defaults to true)."""

    pinned: bool = True


class PinResult(OpenModel):
    model: str
    pinned: bool


class Backend(OpenModel):
    """A loaded model's server, the Ollama daemon, or a watched remote server."""

    name: str
    kind: str


class BackendList(OpenModel):
    data: list[Backend]


class Mode(OpenModel):
    mode: Literal["local", "build"]


class ModeReport(OpenModel):
    mode: Literal["local", "build"]
    unloaded: list[str]
    units: dict[str, str]
    used_mib: int | None
    threshold_mib: int | None
    below_threshold: bool | None
    holders: list[dict[str, Any]]
