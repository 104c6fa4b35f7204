"""Cline CLI 3.x: the provider is set with ``cline auth``, MCP servers in its settings dir.

Format read from cline 3.0.65 (README: ``cline auth --provider ... --baseurl``; @cline/core
resolves ``~/.cline/data/settings/cline_mcp_settings.json``, or $CLINE_MCP_SETTINGS_PATH).
Provider ``openai`` is Cline's OpenAI-compatible provider (``openai-native`` is OpenAI's
own). The VS Code extension takes the same values in its "OpenAI Compatible" settings.
"""

from __future__ import annotations

from securellm.cli.agents.common import ConfigFile, Setup, Target


def setup(t: Target) -> Setup:
    auth = (
        "cline", "auth", "--provider", "openai", "--apikey", t.key_ref,
        "--modelid", t.model, "--baseurl", t.openai_base,
    )  # fmt: skip
    server = {**t.mcp_server(), "disabled": False, "autoApprove": []}
    return Setup(
        agent="cline",
        source="cline 3.0.65",
        commands=(auth,),
        files=(
            ConfigFile(
                path=t.home / ".cline" / "data" / "settings" / "cline_mcp_settings.json",
                format="json",
                content={"mcpServers": {"securellm": server}},
                what="securellm mcp as an MCP server",
            ),
        ),
        notes=(
            "cline auth stores the key in Cline's own data dir; run it yourself "
            "(--write does not), or pass -k per run",
            "VS Code: API Provider 'OpenAI Compatible', Base URL "
            f"{t.openai_base}, Model ID {t.model}",
        ),
    )
