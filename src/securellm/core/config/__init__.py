"""One frozen settings object, read once at start-up and passed down.

``load_settings`` is the only entry point: it reads the TOML file, applies ``SECURELLM_*``
environment overrides (``SECURELLM_GATEWAY__PORT=8200``), validates with pydantic and
resolves every secret from its ``*_env`` variable or ``*_file``. Nothing else in the
package reads ``os.environ``.
"""

from securellm.core.config.loader import ConfigError, load_settings, settings_from_mapping
from securellm.core.config.mcp import McpSettings
from securellm.core.config.offload import OffloadSettings
from securellm.core.config.sections import (
    AliasSettings,
    AuditSettings,
    GatewaySettings,
    ProviderKind,
    ProviderSettings,
)
from securellm.core.config.settings import Settings

__all__ = [
    "AliasSettings",
    "AuditSettings",
    "ConfigError",
    "GatewaySettings",
    "McpSettings",
    "OffloadSettings",
    "ProviderKind",
    "ProviderSettings",
    "Settings",
    "load_settings",
    "settings_from_mapping",
]
