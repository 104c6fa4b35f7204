"""The offload HTTP API: OpenAI-compatible inference plus registry, GPU and mode endpoints."""

from securellm.offload.api.app import create_app

__all__ = ["create_app"]
