"""Continue CLI (``cn``): models and MCP servers in ~/.continue/config.yaml.

Format read from @continuedev/cli 1.5.47 (config.yaml ``schema: v1``; ``models`` and
``mcpServers`` are lists of entries with a ``name``; ``${{ secrets.NAME }}`` is filled from
the environment for a local config).
"""

from __future__ import annotations

from securellm.cli.agents.common import ConfigFile, Setup, Target


def setup(t: Target) -> Setup:
    model = {
        "name": f"securellm {t.model}",
        "provider": "openai",
        "model": t.model,
        "apiBase": t.openai_base,
        "apiKey": f"${{{{ secrets.{t.key_env} }}}}",
        "roles": ["chat", "edit", "apply"],
    }
    config = {
        "name": "securellm",
        "version": "1.0.0",
        "schema": "v1",
        "models": [model],
        "mcpServers": [{"name": "securellm", **t.mcp_server()}],
    }
    return Setup(
        agent="continue",
        source="@continuedev/cli 1.5.47",
        env={t.key_env: "<a virtual key: securellm keys create NAME>"},
        files=(
            ConfigFile(
                path=t.home / ".continue" / "config.yaml",
                format="yaml",
                content=config,
                what="the gateway as an OpenAI-compatible model, securellm mcp",
            ),
        ),
    )
