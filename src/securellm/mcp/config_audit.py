"""Audit a securellm configuration: inline secrets, plain HTTP to remote hosts, unlimited keys.

Findings name where a problem is, never the secret itself.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel

from securellm.core.config import Settings
from securellm.core.config.sections import is_loopback

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITY_ORDER: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


class ConfigFinding(BaseModel):
    """One problem found in the configuration."""

    rule: str
    severity: Severity
    location: str
    message: str


def plain_http_findings(settings: Settings) -> list[ConfigFinding]:
    """Providers reached over ``http://`` on a host other than this machine."""
    findings = []
    for provider in settings.providers:
        url = urlsplit(provider.effective_base_url)
        if url.scheme == "http" and not is_loopback(url.hostname):
            findings.append(
                ConfigFinding(
                    rule="provider-plain-http",
                    severity="high",
                    location=f"providers[{provider.name}].base_url",
                    message=(
                        f"provider {provider.name!r} is reached over plain HTTP at {url.hostname}: "
                        "prompts and API keys cross the network unencrypted; use https://"
                    ),
                )
            )
    return findings


def inline_secret_findings(raw: Mapping[str, Any]) -> list[ConfigFinding]:
    """Secrets written into the TOML file instead of ``*_env`` / ``*_file``."""
    found: list[tuple[str, str]] = []
    for section, key in (("gateway", "master_key"), ("audit", "hmac_key")):
        block = raw.get(section)
        if isinstance(block, Mapping) and block.get(key):
            found.append((f"{section}.{key}", key))
    providers = raw.get("providers")
    for index, provider in enumerate(providers if isinstance(providers, list) else []):
        if isinstance(provider, Mapping) and provider.get("api_key"):
            name = provider.get("name", index)
            found.append((f"providers[{name}].api_key", "api_key"))
    return [
        ConfigFinding(
            rule="inline-secret",
            severity="high",
            location=location,
            message=(
                f"{key} is written inline in the config file; move it to {key}_env or "
                f"{key}_file (SOPS-nix) so the file can be shared and committed safely"
            ),
        )
        for location, key in found
    ]


def read_raw_config(settings: Settings) -> dict[str, Any] | None:
    """The TOML file the settings came from, parsed again (None when there is none)."""
    if settings.source is None:
        return None
    try:
        return tomllib.loads(settings.source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None


def unlimited_key_findings(keys: Iterable[Mapping[str, Any]]) -> list[ConfigFinding]:
    """Active gateway keys with neither a rate limit nor a budget (from ``GET /admin/keys``)."""
    findings = []
    for key in keys:
        if key.get("revoked"):
            continue
        if key.get("rpm") is None and key.get("tpm") is None and key.get("budget_usd") is None:
            findings.append(
                ConfigFinding(
                    rule="key-without-limits",
                    severity="medium",
                    location=f"gateway key {key.get('name')!r} ({key.get('id')})",
                    message=(
                        "this key has no rpm, tpm or budget limit; "
                        "a leaked key can spend without bound"
                    ),
                )
            )
    return findings


def gateway_exposure_findings(settings: Settings) -> list[ConfigFinding]:
    """A gateway listening beyond this machine without TLS."""
    gateway = settings.gateway
    if is_loopback(gateway.host) or gateway.tls_cert_file is not None:
        return []
    return [
        ConfigFinding(
            rule="gateway-exposed-without-tls",
            severity="medium",
            location="gateway.host",
            message=(
                f"the gateway listens on {gateway.host} without TLS; "
                "bind 127.0.0.1 or set tls_cert_file"
            ),
        )
    ]


def static_findings(settings: Settings) -> list[ConfigFinding]:
    """Everything that can be checked without calling the gateway."""
    findings = plain_http_findings(settings) + gateway_exposure_findings(settings)
    raw = read_raw_config(settings)
    if raw is not None:
        findings += inline_secret_findings(raw)
    return findings
