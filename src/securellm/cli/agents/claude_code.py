"""Claude Code: Anthropic Messages API at ANTHROPIC_BASE_URL, MCP servers in ~/.claude.json.

Format read from @anthropic-ai/claude-code 2.1.332 (the settings schema and environment
variable names in its binary; ``claude mcp get`` reads the user-scope ``mcpServers`` of
``~/.claude.json``). ``apiKeyHelper`` is a command whose output is the key, so the key
stays in the environment variable and never lands in settings.json.
"""

from __future__ import annotations

from securellm.cli.agents.common import ConfigFile, Setup, Target


def _env(t: Target) -> dict[str, str]:
    env = {
        "ANTHROPIC_BASE_URL": t.gateway_url,
        "ANTHROPIC_MODEL": t.model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": t.model,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": t.model,
        "ANTHROPIC_DEFAULT_OPUS_MODEL": t.model,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    if t.max_output_tokens is not None:
        env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(t.max_output_tokens)
    return env


def setup(t: Target) -> Setup:
    env = _env(t)
    settings = ConfigFile(
        path=t.home / ".claude" / "settings.json",
        format="json",
        content={"env": env, "apiKeyHelper": f"printenv {t.key_env}"},
        what="the gateway, the model for every tier, the key read from "
        f"${t.key_env} by apiKeyHelper",
    )
    mcp = ConfigFile(
        path=t.home / ".claude.json",
        format="json",
        content={"mcpServers": {"securellm": {"type": "stdio", **t.mcp_server()}}},
        what="securellm mcp as a user-scope MCP server",
    )
    return Setup(
        agent="claude-code",
        source="@anthropic-ai/claude-code 2.1.332",
        env={**env, "ANTHROPIC_AUTH_TOKEN": t.key_ref},
        files=(settings, mcp),
        notes=("or per project: .mcp.json with the same mcpServers entry",),
    )
