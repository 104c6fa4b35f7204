"""Chat formats registered into llama-cpp-python before its server starts."""

from __future__ import annotations

from typing import Any

TRANSCRIPT = "transcript"
DEFAULT_PREAMBLE = "The following is a conversation with a helpful assistant."
_SPEAKERS = {"user": "User", "assistant": "Assistant", "tool": "Tool", "function": "Tool"}


def _text(content: Any) -> str:
    """Plain text of an OpenAI message ``content`` (a string or a list of parts)."""
    if isinstance(content, str):
        return content.strip()
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return " ".join(part.strip() for part in parts if part)
    return ""


def transcript_prompt(messages: list[dict[str, Any]]) -> str:
    """``System preamble`` + ``User: …`` / ``Assistant: …`` lines, ending with ``Assistant:``."""
    system = " ".join(_text(m.get("content")) for m in messages if m.get("role") == "system")
    lines = [system or DEFAULT_PREAMBLE, ""]
    for message in messages:
        speaker = _SPEAKERS.get(str(message.get("role")))
        if speaker:
            lines.append(f"{speaker}: {_text(message.get('content'))}")
    lines.append("Assistant:")
    return "\n".join(lines)


def register() -> None:
    """Make ``--chat_format transcript`` available to llama-cpp-python."""
    from llama_cpp.llama_chat_format import ChatFormatterResponse, register_chat_format

    @register_chat_format(TRANSCRIPT)  # type: ignore[untyped-decorator]
    def _format(messages: list[dict[str, Any]], **_: Any) -> Any:
        return ChatFormatterResponse(
            prompt=transcript_prompt(messages), stop=["\nUser:", "\nTool:", "\n\n"]
        )
