"""The secret values the MCP server holds, masked wherever its text may end up."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import SecretStr

from securellm.core.config import Settings


def known_secrets(settings: Settings, *extra: str | None) -> tuple[str, ...]:
    """The gateway master key, the audit HMAC key, provider keys, and ``extra`` values."""
    values: Iterable[SecretStr | None] = (
        settings.gateway.master_key,
        settings.audit.hmac_key,
        *(provider.api_key for provider in settings.providers),
    )
    found = [value.get_secret_value() for value in values if value is not None]
    found += [value for value in extra if value]
    return tuple(dict.fromkeys(value for value in found if value))
