"""How each model turns a chat into a prompt: one rule for every model, wherever its file is.

1. ``chat_format`` in the model's ``[[offload.models]]`` entry (or a chat flag in its
   ``extra_args``): the user's choice wins.
2. The GGUF's own ``tokenizer.chat_template``: the model server applies it by itself.
3. A model offload knows by its metadata: the Gemma 3 270M base model (the bundled file, or a
   copy of it anywhere) has no template and answers a plain transcript best.
4. Otherwise the model has no chat format: chats are refused with that reason (completions
   still work). Without this, llama-cpp-python falls back to its ``llama-2`` format, and a
   model that does not know it answers every chat with nothing (``completion_tokens: 0``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from securellm.core.config import OffloadSettings
from securellm.core.config.offload import DEFAULT_LLAMACPP_COMMAND
from securellm.localmodel.formats import TRANSCRIPT
from securellm.offload.gguf_meta import ModelMeta
from securellm.offload.registry import ModelRecord

Source = Literal["config", "gguf", "known-model"]
CHAT_FLAGS = ("--chat_format", "--chat-template", "--chat-template-file", "--jinja")

# (architecture, general.name) of template-less models and the format that suits them
KNOWN_MODELS: dict[tuple[str, str], str] = {("gemma3", "Gemma 3 270m"): TRANSCRIPT}


@dataclass(frozen=True)
class ChatFormat:
    """The resolved format: ``source`` is ``None`` when the model cannot chat (``reason``)."""

    source: Source | None
    name: str | None = None
    reason: str | None = None

    @property
    def usable(self) -> bool:
        return self.source is not None

    def to_json(self) -> dict[str, str | None]:
        return {"source": self.source, "format": self.name, "reason": self.reason}


def _known(meta: ModelMeta | None) -> str | None:
    if meta is None or meta.architecture is None or meta.name is None:
        return None
    return KNOWN_MODELS.get((meta.architecture, meta.name))


def resolve(settings: OffloadSettings, record: ModelRecord) -> ChatFormat:
    """The chat format ``record`` is served with (see the module docstring for the order)."""
    policy = settings.policy(record.id)
    if policy.chat_format:
        return ChatFormat("config", policy.chat_format)
    if any(arg.split("=", 1)[0] in CHAT_FLAGS for arg in policy.extra_args):
        return ChatFormat("config", None)
    if record.format == "ollama" and settings.ollama_url:
        return ChatFormat("gguf", None)  # Ollama applies its manifest's template
    meta = record.meta
    if meta is not None and meta.chat_template:
        return ChatFormat("gguf", None)
    known = _known(meta)
    if known is not None:
        return ChatFormat("known-model", known)
    return ChatFormat(
        None,
        reason=(
            "the GGUF has no tokenizer.chat_template; set chat_format for it in "
            "[[offload.models]] (e.g. chatml, gemma, transcript) to chat with it"
        ),
    )


def server_args(settings: OffloadSettings, chat: ChatFormat) -> list[str]:
    """The model server's flags for ``chat``: llama-cpp-python's, or llama-server's."""
    if chat.source not in ("config", "known-model") or chat.name is None:
        return []
    if settings.llamacpp_command == DEFAULT_LLAMACPP_COMMAND:
        return ["--chat_format", chat.name]
    if chat.source == "known-model":  # ``transcript`` exists in our launcher only
        return []
    return ["--chat-template", chat.name]
