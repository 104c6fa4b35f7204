"""Building gateway settings for tests (keys and providers in one place)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from securellm.core.config import Settings, settings_from_mapping

MASTER = "sk-test-master-0123456789"
UPSTREAM_KEY = "sk-upstream-secret-abcdef"
GatewayFactory = Callable[..., AbstractContextManager[str]]


def make_settings(tmp_path: Path, providers: list[dict[str, Any]], **extra: Any) -> Settings:
    """Settings rooted in ``tmp_path`` with the test master key and the given providers."""
    raw: dict[str, Any] = {
        "data_dir": str(tmp_path / "data"),
        "state_dir": str(tmp_path / "state"),
        "log_dir": str(tmp_path / "log"),
        "gateway": {"master_key": MASTER, **extra.pop("gateway", {})},
        "providers": providers,
        **extra,
    }
    return settings_from_mapping(raw, env={})
