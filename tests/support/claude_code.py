"""A request shaped like the ones Claude Code 2.1.3xx sends to ``/v1/messages``.

Shaped after a request recorded from the real client (``claude -p`` with
``ANTHROPIC_BASE_URL`` at a recording server), not copied from it: system blocks with
``cache_control``, a ``system`` entry inside ``messages`` (sent with the beta
``mid-conversation-tool-changes-*``), a tool_use/tool_result round trip, custom tools
beside a server tool (Cline's Anthropic provider sends ``web_search_20250305`` on every
request), and the fields the client adds (``thinking``, ``context_management``,
``output_config``, ``metadata.user_id`` as a JSON string).
"""

from __future__ import annotations

from typing import Any

BETA = ",".join(
    [
        "claude-code-20250219",
        "interleaved-thinking-2025-05-14",
        "context-management-2025-06-27",
        "mid-conversation-tool-changes-2026-07-01",
        "a-flag-no-server-knows-2099-01-01",
    ]
)
HEADERS = {"anthropic-beta": BETA, "x-app": "cli"}
WEB_SEARCH: dict[str, Any] = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
BASH: dict[str, Any] = {
    "name": "Bash",
    "description": "Run a shell command",
    "input_schema": {
        "type": "object",
        "properties": {"command": {"type": "string"}},
        "required": ["command"],
    },
}
ENVIRONMENT = "# Environment\n - Primary working directory: /repo\n - Platform: linux"


def claude_code_body(max_tokens: int = 32_000) -> dict[str, Any]:
    """A second-turn request: the model ran ``ls``; its result is the last user turn."""
    return {
        "max_tokens": max_tokens,
        "system": [
            {"type": "text", "text": "You are a coding agent."},
            {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "<system-reminder>\nBe careful.\n</system-reminder>"},
                    {"type": "text", "text": "list the files"},
                ],
            },
            {
                "role": "system",
                "content": [
                    {"type": "text", "text": ENVIRONMENT, "cache_control": {"type": "ephemeral"}}
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Listing."},
                    {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": "Bash",
                        "input": {"command": "ls"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01", "content": "a.py\nb.py"}
                ],
            },
        ],
        "tools": [BASH, WEB_SEARCH],
        "metadata": {"user_id": '{"device_id":"0123","session_id":"s-1"}'},
        "thinking": {"type": "adaptive", "display": "omitted"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "high"},
    }


def count_body() -> dict[str, Any]:
    """What ``count_tokens`` gets: the same conversation without the output settings."""
    body = claude_code_body()
    for name in ("max_tokens", "metadata", "context_management", "output_config", "thinking"):
        body.pop(name)
    return body
