"""``GET /props`` on the bundled server, in llama.cpp's ``llama-server`` shape.

llama-cpp-python's server reports no context size anywhere (its ``/v1/models`` entries hold
an id and an owner only), so a client cannot know how much a request may ask for. This
route answers what ``llama-server`` answers there: ``default_generation_settings.n_ctx``,
the context the model was loaded with, beside the model's alias.
It reads the loaded model without taking the server's request lock (taking it would cancel
a stream in progress).
"""

from __future__ import annotations

from typing import Any


def props(proxy: Any) -> dict[str, Any]:
    """The ``/props`` body for llama-cpp-python's model proxy (``None``: nothing loaded)."""
    model = getattr(proxy, "_current_model", None)
    if model is None:
        return {"default_generation_settings": {}, "total_slots": 1}
    return {
        "default_generation_settings": {"n_ctx": int(model.n_ctx())},
        "model_alias": getattr(proxy, "_current_model_alias", None),
        "total_slots": 1,
    }


def with_props(create_app: Any) -> Any:
    """Wrap llama-cpp-python's ``create_app`` so the app it builds also serves ``/props``."""

    def create(*args: Any, **kwargs: Any) -> Any:
        import llama_cpp.server.app as server

        app = create_app(*args, **kwargs)

        async def get_props() -> dict[str, Any]:
            return props(server._llama_proxy)

        app.add_api_route("/props", get_props, methods=["GET"], tags=["Extras"])
        return app

    return create
