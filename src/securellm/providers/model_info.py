"""What a local model server says about the context window of the models it serves.

Read at discovery, never per request:

- an OpenAI-style model list (``GET /v1/models``) whose entries carry ``context_length``
  (offload: the context each model is loaded with), ``max_model_len`` (vLLM) or
  ``meta.n_ctx_train`` (llama.cpp's ``llama-server``: the context the model was trained
  with, an upper bound);
- llama.cpp's ``GET /props`` at the server's root: ``default_generation_settings.n_ctx``,
  the context it was started with (``--ctx-size``); the bundled server
  (``securellm.localmodel``) answers it the same way. It wins over the model list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from securellm.core.errors import SecureLLMError

# Kinds that may be a llama.cpp server, asked for /props when they serve one model.
PROPS_KINDS = frozenset({"llamacpp", "openai-compatible"})
GetJson = Callable[..., Awaitable[Any]]


def _positive(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def context_of_entry(entry: dict[str, Any]) -> int | None:
    """The context window one ``/v1/models`` entry reports, if any."""
    for field in ("context_length", "max_model_len"):
        found = _positive(entry.get(field))
        if found is not None:
            return found
    meta = entry.get("meta")
    return _positive(meta.get("n_ctx_train")) if isinstance(meta, dict) else None


def contexts_in_model_list(data: Any) -> dict[str, int]:
    """Model id -> context window, for the entries of a model list that report one."""
    items = data.get("data") if isinstance(data, dict) else None
    found: dict[str, int] = {}
    for entry in items if isinstance(items, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            context = context_of_entry(entry)
            if context is not None:
                found[entry["id"]] = context
    return found


def context_in_props(data: Any) -> int | None:
    """``default_generation_settings.n_ctx`` of a llama.cpp ``/props`` answer."""
    if not isinstance(data, dict):
        return None
    settings = data.get("default_generation_settings")
    if isinstance(settings, dict) and _positive(settings.get("n_ctx")) is not None:
        return _positive(settings.get("n_ctx"))
    return _positive(data.get("n_ctx"))


async def loaded_context(get_json: GetJson, timeout: float) -> int | None:
    """Ask the server's ``/props``; a server without it (404, not JSON) says nothing."""
    try:
        data = await get_json("/props", timeout=timeout, root=True)
    except SecureLLMError:
        return None
    return context_in_props(data)
