"""Model servers offload starts and stops: llama.cpp processes, Ollama, remote OpenAI servers."""

from securellm.offload.backends.base import ModelServer, ServerState

__all__ = ["ModelServer", "ServerState"]
