"""What each coding agent needs to reach this gateway: one small module per agent."""

from __future__ import annotations

from collections.abc import Callable

from securellm.cli.agents import aider, claude_code, cline, codex, continue_cli, opencode
from securellm.cli.agents.common import Setup, Target

AGENTS: dict[str, Callable[[Target], Setup]] = {
    "claude-code": claude_code.setup,
    "codex": codex.setup,
    "cline": cline.setup,
    "continue": continue_cli.setup,
    "aider": aider.setup,
    "opencode": opencode.setup,
}

__all__ = ["AGENTS", "Setup", "Target"]
