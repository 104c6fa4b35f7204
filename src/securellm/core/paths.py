"""Where runtime data lives.

As a systemd service the directories come from ``STATE_DIRECTORY`` / ``LOGS_DIRECTORY``
(set by ``StateDirectory=`` / ``LogsDirectory=``); run by a user they are the XDG dirs.
Only :func:`runtime_dirs` reads the environment, and only ``core.config`` calls it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "securellm"


@dataclass(frozen=True)
class RuntimeDirs:
    """The three folders a component may write to."""

    data: Path
    state: Path
    logs: Path


def runtime_dirs(env: Mapping[str, str]) -> RuntimeDirs:
    """Pick service directories when systemd gave them, the user's XDG dirs otherwise."""
    state_dir = env.get("STATE_DIRECTORY")
    if state_dir:
        # systemd may pass several colon-separated directories; the first is ours.
        state = Path(state_dir.split(":")[0])
        logs_env = env.get("LOGS_DIRECTORY")
        logs = Path(logs_env.split(":")[0]) if logs_env else state / "log"
        return RuntimeDirs(data=state, state=state, logs=logs)
    return RuntimeDirs(
        data=Path(platformdirs.user_data_dir(APP_NAME)),
        state=Path(platformdirs.user_state_dir(APP_NAME)),
        logs=Path(platformdirs.user_log_dir(APP_NAME)),
    )
