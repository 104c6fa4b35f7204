"""aider: an OpenAI-compatible base URL, models named ``openai/<id>``; no MCP.

Format read from aider-chat 0.86.2 (``--openai-api-base`` / ``OPENAI_API_BASE``, and the
same option names without dashes in ``~/.aider.conf.yml``). The key stays in
``OPENAI_API_KEY``; it is never written into the YAML file.
"""

from __future__ import annotations

from securellm.cli.agents.common import ConfigFile, Setup, Target


def setup(t: Target) -> Setup:
    model = f"openai/{t.model}"
    return Setup(
        agent="aider",
        source="aider-chat 0.86.2",
        env={
            "OPENAI_API_BASE": t.openai_base,
            "OPENAI_API_KEY": t.key_ref,
            "AIDER_MODEL": model,
        },
        files=(
            ConfigFile(
                path=t.home / ".aider.conf.yml",
                format="yaml",
                content={
                    "openai-api-base": t.openai_base,
                    "model": model,
                    "weak-model": model,
                    "editor-model": model,
                    "show-model-warnings": False,
                    "analytics-disable": True,
                    "check-update": False,
                },
                what="the gateway, the model (key from $OPENAI_API_KEY)",
            ),
        ),
        notes=("aider has no MCP client; run it with OPENAI_API_KEY set to the key",),
    )
