"""The admin (master) key: from config, or generated once into the data dir (mode 0600)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from securellm.core.config import Settings

MASTER_FILE = "master.key"


def master_key_path(settings: Settings) -> Path:
    return settings.data_dir / MASTER_FILE


def ensure_master_key(settings: Settings) -> str:
    """Return the configured master key, or the generated one (creating it on first start)."""
    if settings.gateway.master_key is not None:
        return settings.gateway.master_key.get_secret_value()
    path = master_key_path(settings)
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = "sk-sl-master-" + secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key
