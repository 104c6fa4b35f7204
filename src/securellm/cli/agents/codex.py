"""Codex CLI: a model provider speaking the Responses API, MCP servers, in config.toml.

Format read from @openai/codex 0.171.0 (``codex doctor --json`` and ``codex mcp list``
read this file; ``wire_api = "responses"`` is the only value it accepts). Codex appends
``/responses`` to ``base_url`` and reads the key from the variable ``env_key`` names.
"""

from __future__ import annotations

from securellm.cli.agents.common import ConfigFile, Setup, Target


def setup(t: Target) -> Setup:
    config = {
        "model": t.model,
        "model_provider": "securellm",
        "model_providers": {
            "securellm": {
                "name": "securellm gateway",
                "base_url": t.openai_base,
                "env_key": t.key_env,
                "wire_api": "responses",
            }
        },
        "mcp_servers": {"securellm": t.mcp_server()},
    }
    return Setup(
        agent="codex",
        source="@openai/codex 0.171.0",
        env={t.key_env: "<a virtual key: securellm keys create NAME>"},
        files=(
            ConfigFile(
                path=t.home / ".codex" / "config.toml",
                format="toml",
                content=config,
                what="the securellm provider (Responses API), the model, securellm mcp",
            ),
        ),
        notes=("CODEX_HOME moves ~/.codex; the file is read at start only",),
    )
