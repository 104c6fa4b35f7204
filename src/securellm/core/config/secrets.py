"""Secrets come from an environment variable or a file (SOPS-nix writes files), never logs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr


class SecretSourceError(ValueError):
    """A secret was named but could not be read; the message never holds the secret."""


def resolve_secret(
    *,
    inline: SecretStr | None,
    env_name: str | None,
    file_path: Path | None,
    env: Mapping[str, str],
    required: bool = False,
) -> SecretStr | None:
    """Return the secret from (in order) a file, an environment variable, or inline text."""
    if file_path is not None:
        try:
            text = file_path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretSourceError(
                f"cannot read secret file {file_path}: {exc.strerror}"
            ) from None
        if not text:
            raise SecretSourceError(f"secret file {file_path} is empty")
        return SecretStr(text)
    if env_name:
        value = env.get(env_name, "").strip()
        if value:
            return SecretStr(value)
        if required:
            raise SecretSourceError(f"environment variable {env_name} is not set")
        return inline
    return inline


def secret_origin(
    *, env_name: str | None, file_path: Path | None, env: Mapping[str, str]
) -> str | None:
    """Where :func:`resolve_secret` takes the secret from, in words (``None``: inline text).

    Names the file or the variable, never the value.
    """
    if file_path is not None:
        return f"file {file_path}"
    if env_name and env.get(env_name, "").strip():
        return f"environment variable {env_name}"
    return None
