"""opencode: a provider on @ai-sdk/openai-compatible and a local MCP server in opencode.json.

Format read from opencode-ai 1.18.33 (``opencode debug config`` resolves this file;
``{env:NAME}`` is its substitution, so the key stays in the environment).
"""

from __future__ import annotations

from securellm.cli.agents.common import ConfigFile, Setup, Target


def setup(t: Target) -> Setup:
    provider = {
        "npm": "@ai-sdk/openai-compatible",
        "name": "securellm gateway",
        "options": {"baseURL": t.openai_base, "apiKey": f"{{env:{t.key_env}}}"},
        "models": {t.model: {"name": t.model}},
    }
    mcp = {"type": "local", "command": [t.mcp_command, *t.mcp_args], "enabled": True}
    config = {
        "$schema": "https://opencode.ai/config.json",
        "provider": {"securellm": provider},
        "model": f"securellm/{t.model}",
        "mcp": {"securellm": mcp},
    }
    return Setup(
        agent="opencode",
        source="opencode-ai 1.18.33",
        env={t.key_env: "<a virtual key: securellm keys create NAME>"},
        files=(
            ConfigFile(
                path=t.home / ".config" / "opencode" / "opencode.json",
                format="json",
                content=config,
                what="the securellm provider, the model, securellm mcp",
            ),
        ),
    )
