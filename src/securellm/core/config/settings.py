"""The root settings object every component receives."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from securellm.core.config.knowledge import KnowledgeSettings
from securellm.core.config.mcp import McpSettings
from securellm.core.config.offload import OffloadSettings
from securellm.core.config.resilience import CacheSettings
from securellm.core.config.sections import (
    AliasSettings,
    AuditSettings,
    GatewaySettings,
    ProviderSettings,
)


class Settings(BaseModel):
    """Everything read from the TOML file and the environment, frozen."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path
    state_dir: Path
    log_dir: Path
    source: Path | None = Field(default=None, description="the file these settings came from")
    gateway: GatewaySettings = GatewaySettings()
    audit: AuditSettings = AuditSettings()
    providers: tuple[ProviderSettings, ...] = ()
    aliases: tuple[AliasSettings, ...] = ()
    cache: CacheSettings = CacheSettings()
    offload: OffloadSettings = OffloadSettings()
    mcp: McpSettings = McpSettings()
    knowledge: KnowledgeSettings = KnowledgeSettings()

    @model_validator(mode="after")
    def _names_unique(self) -> Settings:
        names = [p.name for p in self.providers]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"provider names must be unique: {', '.join(duplicated)}")
        alias_names = [a.name for a in self.aliases]
        if len(alias_names) != len(set(alias_names)):
            raise ValueError("alias names must be unique")
        for alias in self.aliases:
            for target in alias.targets:
                provider = target.partition("/")[0]
                if provider not in names:
                    raise ValueError(f"alias {alias.name!r} targets unknown provider {provider!r}")
        return self

    def provider(self, name: str) -> ProviderSettings | None:
        return next((p for p in self.providers if p.name == name), None)

    @property
    def audit_dir(self) -> Path:
        return self.audit.dir or self.log_dir / "audit"

    @property
    def database_url(self) -> str:
        if self.gateway.database_url:
            return self.gateway.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'gateway.db'}"
