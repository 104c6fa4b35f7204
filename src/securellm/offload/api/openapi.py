"""``GET /openapi.json``: offload's OpenAPI 3.1 document, built from :mod:`.schemas`.

Every route of :func:`securellm.offload.api.create_app` has one entry in
:func:`operations` (``tests/offload/test_openapi.py`` names any that lacks one). Offload
has no keys (it binds 127.0.0.1 and trusts its host), so neither has the document.
"""

from __future__ import annotations

from functools import cache

import orjson
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from securellm import __version__
from securellm.core.openapi import Operation, Param, Reply, Schema, build_document
from securellm.offload.api import schemas as s

SSE: dict[str, Schema] = {
    "text/event-stream": {
        "type": "object",
        "description": "one server-sent event: `data` is a JSON chunk, the last one `[DONE]`",
        "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
    }
}
TEXT: dict[str, Schema] = {"text/plain": {"type": "string"}}
WHY = {
    400: "the body is not JSON, or a field is wrong",
    403: "offload may not stop or start the GPU's systemd units",
    404: "no model with that id in the registry",
    409: "the GPU is in build mode (gpu_build_mode), or the model has requests in flight "
    "(model_busy)",
    422: "the model is in the registry but cannot be loaded, or cannot chat (see its reason)",
    502: "the model's server failed to start, died, or answered garbage; or systemctl failed",
    413: "the body is over offload.max_body_bytes",
    503: "busy or pinned models hold the memory now, the model's queue is full (Retry-After), "
    "or no GPU reader or systemctl works",
    504: "the model's server did not become healthy in time",
    507: "the model can never fit this GPU, or not in the host's available RAM",
}
LOADING = (404, 409, 422, 502, 503, 504, 507)
MODEL_ID = Param("model_id", "path", "a registry id (see GET /models)")
UPSTREAM_PATH = Param("path", "path", "a path on the model server, e.g. `props` or `slots`")
ANY: dict[str, Schema] = {"*/*": {}}


def _upstream(method: str) -> Operation:
    """Any status may be the model server's own, in its own content type."""
    path = "/upstream/{model_id}/{path}"
    replies = (
        Reply(200, "the model server's answer, status and content type as it sent them",
              media=ANY),
        *(Reply(status, WHY[status] + " (or the model server's own answer)", media=ANY)
          for status in (400, 413, *LOADING)),
    )  # fmt: skip
    summary = "the model server's own API (loads the model on demand)"
    return Operation(method, path, f"upstream{method.title()}", summary, "offload", replies,
                     params=(MODEL_ID, UPSTREAM_PATH))  # fmt: skip


LOG_PARAMS = (
    MODEL_ID,
    Param("lines", "query", "how many last lines (0-10000, default 100)", {"type": "integer"}),
    Param(
        "follow",
        "query",
        "keep streaming what the server writes while it runs",
        {"type": "boolean"},
    ),
)


def _op(
    route: str,
    operation_id: str,
    summary: str,
    answer: Reply,
    statuses: tuple[int, ...] = (),
    body: type[BaseModel] | None = None,
    params: tuple[Param, ...] = (),
) -> Operation:
    """``route`` is ``"METHOD /path"``; each status in ``statuses`` answers :class:`s.Error`."""
    method, path = route.split(" ")
    errors = tuple(Reply(status, WHY[status], s.Error) for status in sorted(statuses))
    tag = "openai" if path.startswith("/v1/") else "offload"
    return Operation(
        method, path, operation_id, summary, tag, (answer, *errors), body, params=params
    )


def operations() -> list[Operation]:
    """Offload's whole surface, in the order the document lists it."""
    answer = "the model server's answer (`text/event-stream` with `stream: true`)"
    model = (MODEL_ID,)
    return [
        _op("GET /health", "health", "liveness", Reply(200, "alive", s.Health)),
        _op("GET /health/vram", "vram", "GPU memory and loaded models", Reply(200, "VRAM", s.Vram),
            (503,)),
        _op("GET /ps", "ps", "loaded models like `ollama ps`: size, CPU/GPU split, until when",
            Reply(200, "loaded models and GPU memory", s.Ps), (503,)),
        _op("GET /v1/models", "listOpenAIModels", "usable models, OpenAI's list",
            Reply(200, "the models", s.OpenAIModelList)),
        _op("POST /v1/chat/completions", "createChatCompletion", "OpenAI chat, loading on demand",
            Reply(200, answer, s.Completion, SSE), (400, 413, *LOADING), s.ChatRequest),
        _op("POST /v1/completions", "createCompletion", "OpenAI completion, loading on demand",
            Reply(200, answer, s.Completion, SSE), (400, 413, *LOADING), s.CompletionRequest),
        _op("POST /v1/embeddings", "createEmbedding", "OpenAI embeddings, loading on demand",
            Reply(200, "one mean-pooled vector per input", s.EmbeddingList),
            (400, 413, *LOADING), s.EmbeddingRequest),
        _op("POST /tokenize", "tokenize", "count tokens with the model's own tokenizer",
            Reply(200, "the count", s.TokenCount), (400, 413, *LOADING), s.TokenizeRequest),
        _op("GET /models", "listModels", "the registry with estimates",
            Reply(200, "every model", s.ModelList)),
        _op("POST /models/scan", "scanModels", "rescan the model folders",
            Reply(200, "what changed", s.ScanReport)),
        _op("GET /models/{model_id}", "showModel", "metadata, estimate and measurement",
            Reply(200, "the model", s.ModelDetail), (404,), params=model),
        _op("POST /models/{model_id}/load", "loadModel", "load a model now",
            Reply(200, "loaded", s.LoadResult), LOADING, params=model),
        _op("POST /models/{model_id}/unload", "unloadModel", "unload a model",
            Reply(200, "unloaded", s.UnloadResult), (404, 409), params=model),
        _op("POST /models/{model_id}/pin", "pinModel", "keep a loaded model (or let it go)",
            Reply(200, "pinned or not", s.PinResult), (400, 404, 409), s.PinRequest,
            params=model),
        _op("GET /models/{model_id}/logs", "modelLogs", "the model server's log (tail or follow)",
            Reply(200, "log lines", media=TEXT), (400, 404), params=LOG_PARAMS),
        _op("GET /backends", "listBackends", "model servers, Ollama and remotes",
            Reply(200, "each backend", s.BackendList)),
        _op("GET /mode", "getMode", "the GPU mode", Reply(200, "the mode", s.Mode)),
        _op("POST /mode", "setMode", "switch to build mode (free the GPU) or back to local",
            Reply(200, "what the switch did", s.ModeReport), (400, 403, 502, 503), s.ModeRequest),
        _op("GET /metrics", "metrics", "Prometheus metrics", Reply(200, "metrics", media=TEXT)),
        _op("GET /openapi.json", "openapi", "this document",
            Reply(200, "the OpenAPI 3.1 document", media={"application/json": {"type": "object"}})),
        *(_upstream(method) for method in ("GET", "POST", "PUT", "DELETE", "PATCH")),
    ]  # fmt: skip


@cache
def document() -> bytes:
    """The document as JSON bytes (built once per process)."""
    spec = build_document(
        title="securellm offload",
        version=__version__,
        description="Local model manager: registry, VRAM-aware loading, OpenAI-compatible proxy.",
        operations=operations(),
    )
    return orjson.dumps(spec)


async def openapi_json(_request: Request) -> Response:
    return Response(document(), media_type="application/json")
