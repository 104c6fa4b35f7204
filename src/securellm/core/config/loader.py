"""Read TOML + environment into :class:`Settings`, with errors that point at the bad key."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from securellm.core.config.secrets import SecretSourceError, resolve_secret, secret_origin
from securellm.core.config.sections import PRESETS, ProviderSettings
from securellm.core.config.settings import Settings
from securellm.core.paths import runtime_dirs

ENV_PREFIX = "SECURELLM_"
_NOT_OVERRIDES = {"SECURELLM_CONFIG", "SECURELLM_MASTER_KEY"}
_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]\]?")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


class ConfigError(Exception):
    """The configuration cannot be used. ``problems`` holds one line per bad key."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def load_settings(
    path: Path | str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Load settings from ``path`` (or ``SECURELLM_CONFIG``), or embedded defaults."""
    environ: Mapping[str, str] = os.environ if env is None else env
    chosen = path or environ.get("SECURELLM_CONFIG") or None
    raw: dict[str, Any] = {}
    text = ""
    source = "<defaults>"
    if chosen:
        file = Path(chosen).expanduser()
        source = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(source, [f"cannot read file: {exc.strerror}"]) from None
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(source, [f"invalid TOML: {exc}"]) from None
        raw["source"] = file
    return settings_from_mapping(raw, env=environ, overrides=overrides, source=source, text=text)


def settings_from_mapping(
    raw: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    source: str = "<mapping>",
    text: str = "",
) -> Settings:
    """Validate an already-parsed mapping (tests and the NixOS module's rendered TOML use it)."""
    environ: Mapping[str, str] = os.environ if env is None else env
    data = _deep_merge(dict(raw), _env_overrides(environ))
    data = _deep_merge(data, dict(overrides or {}))
    dirs = runtime_dirs(environ)
    data.setdefault("data_dir", dirs.data)
    data.setdefault("state_dir", dirs.state)
    data.setdefault("log_dir", dirs.logs)
    if not data.get("providers"):
        data["providers"] = _default_providers(environ)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, _describe(exc, text)) from None
    try:
        return _resolve_secrets(settings, environ)
    except SecretSourceError as exc:
        raise ConfigError(source, [str(exc)]) from None


def _default_providers(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """No providers configured: the local offload service, plus every cloud with a key set."""
    providers: list[dict[str, Any]] = [{"name": "local", "kind": "offload"}]
    for kind in ("deepseek", "openai", "anthropic"):
        key_env = PRESETS[kind].api_key_env
        if key_env and env.get(key_env):
            providers.append({"name": kind, "kind": kind})
    return providers


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """``SECURELLM_GATEWAY__PORT=8200`` becomes ``{"gateway": {"port": 8200}}``."""
    result: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name in _NOT_OVERRIDES or "__" not in name:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__") if part]
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _scalar(value)
    return result


def _scalar(value: str) -> Any:
    """Read an env value as a TOML value when it is one (numbers, booleans, arrays)."""
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            base[key] = _deep_merge(dict(base[key]), value)
        else:
            base[key] = value
    return base


def _resolve_secrets(settings: Settings, env: Mapping[str, str]) -> Settings:
    providers = tuple(_provider_with_key(p, env) for p in settings.providers)
    gateway = settings.gateway.model_copy(
        update={
            "master_key": resolve_secret(
                inline=settings.gateway.master_key,
                env_name=settings.gateway.master_key_env,
                file_path=settings.gateway.master_key_file,
                env=env,
            )
        }
    )
    audit = settings.audit.model_copy(
        update={
            "hmac_key": resolve_secret(
                inline=settings.audit.hmac_key,
                env_name=settings.audit.hmac_key_env,
                file_path=settings.audit.hmac_key_file,
                env=env,
                required=settings.audit.hmac_key_env is not None,
            )
        }
    )
    return settings.model_copy(update={"providers": providers, "gateway": gateway, "audit": audit})


def _provider_with_key(provider: ProviderSettings, env: Mapping[str, str]) -> ProviderSettings:
    key: SecretStr | None = resolve_secret(
        inline=provider.api_key,
        env_name=provider.effective_key_env,
        file_path=provider.api_key_file,
        env=env,
    )
    return provider.model_copy(update={"api_key": key})


def _describe(exc: ValidationError, text: str) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        where = _dotted(loc)
        line = _line_of(text, loc) if text else None
        at = f" (line {line})" if line else ""
        problems.append(f"{where or '<root>'}{at}: {error['msg']}")
    return problems


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort line number of the key named by a pydantic error location."""
    section = loc[0] if loc and isinstance(loc[0], str) else None
    index = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    rest = [p for p in loc[1:] if isinstance(p, str)]
    key = rest[0] if rest else None
    counts: dict[str, int] = {}
    current: tuple[str | None, int | None] = (None, None)
    header_line = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            name = header.group(2)
            if header.group(1) == "[[":
                counts[name] = counts.get(name, 0) + 1
                current = (name, counts[name] - 1)
            else:
                current = (name, None)
            if current == (section, index):
                header_line = number
            continue
        match = _KEY.match(line)
        if not match:
            continue
        if current == (None, None) and match.group(1) == section and key is None:
            return number
        if current == (section, index) and match.group(1) == key:
            return number
    return header_line


def master_key_origin(settings: Settings, env: Mapping[str, str] | None = None) -> str | None:
    """Where the master key came from (a file, an environment variable), ``"config file"``
    for one written in the TOML, ``None`` when none is configured (it is generated)."""
    gw = settings.gateway
    if gw.master_key is None:
        return None
    environ: Mapping[str, str] = os.environ if env is None else env
    origin = secret_origin(env_name=gw.master_key_env, file_path=gw.master_key_file, env=environ)
    override = f"{ENV_PREFIX}GATEWAY__MASTER_KEY"
    if origin is None and environ.get(override):
        return f"environment variable {override}"
    return origin or "config file"
