"""Stack tools: providers, config validation, audit records and spend, offload VRAM and models."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import anyio
from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from securellm.core.config import (
    ConfigError,
    ProviderSettings,
    load_settings,
    settings_from_mapping,
)
from securellm.mcp.errors import InvalidInputError, UpstreamError
from securellm.mcp.knowledge.search import normalise_time
from securellm.mcp.state import ServerState
from securellm.mcp.tools.stack_models import (
    AuditRecord,
    AuditResult,
    GatewayModel,
    ModelsResult,
    OffloadModel,
    SpendRow,
    VramStatus,
)

GROUP = "stack"  # the tool group these tools belong to (``[mcp] tools``)

_READ_REMOTE = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
_READ_LOCAL = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
MAX_CONFIG_CHARS = 1_000_000
_M = TypeVar("_M", bound=BaseModel)


class ProviderProbe(BaseModel):
    """Whether one provider answered, and how fast."""

    name: str
    kind: str
    url: str
    reachable: bool
    latency_ms: float
    error: str | None = None


class ProviderTestResult(BaseModel):
    providers: list[ProviderProbe]


class ValidationResult(BaseModel):
    """Outcome of validating a config file; problems name keys, never values."""

    valid: bool
    source: str
    problems: list[str] = Field(default_factory=list)
    providers: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)


def probe_url(provider: ProviderSettings) -> str:
    """A cheap GET that every provider family answers (no key is sent)."""
    base = provider.effective_base_url
    if provider.dialect == "anthropic":
        return f"{base}/v1/models"
    if provider.dialect == "ollama":
        return f"{base}/api/tags"
    return f"{base}/models"


def _validate_text(content: str) -> ValidationResult:
    try:
        raw = tomllib.loads(content)
        settings = settings_from_mapping(raw, source="<content>", text=content)
    except tomllib.TOMLDecodeError as exc:
        return ValidationResult(valid=False, source="<content>", problems=[f"invalid TOML: {exc}"])
    except ConfigError as exc:
        return ValidationResult(valid=False, source="<content>", problems=exc.problems)
    return _valid(settings, "<content>")


def _validate_file(path: str) -> ValidationResult:
    if "\x00" in path:
        raise InvalidInputError("path contains a NUL byte")
    try:
        settings = load_settings(Path(path))
    except ConfigError as exc:
        return ValidationResult(valid=False, source=exc.source, problems=exc.problems)
    return _valid(settings, path)


def _valid(settings: Any, source: str) -> ValidationResult:
    return ValidationResult(
        valid=True,
        source=source,
        providers=[p.name for p in settings.providers],
        aliases=[a.name for a in settings.aliases],
    )


ProviderName = Annotated[str | None, Field(max_length=64, description="one provider name")]
ConfigPath = Annotated[str | None, Field(max_length=4096, description="config file to check")]
ConfigText = Annotated[
    str | None, Field(max_length=MAX_CONFIG_CHARS, description="TOML text to check instead")
]


class StackTools:
    """Tools that ask the gateway and offload HTTP APIs; each public coroutine is one tool."""

    def __init__(self, state: ServerState) -> None:
        self._settings = state.settings
        self._stack = state.stack

    async def provider_test(self, provider: ProviderName = None) -> ProviderTestResult:
        """Reachability and latency of each configured provider (no API key is sent)."""
        chosen = [p for p in self._settings.providers if provider in (None, p.name)]
        if provider is not None and not chosen:
            raise InvalidInputError(f"no provider named {provider!r} in the configuration")
        probes: list[ProviderProbe] = []
        async with anyio.create_task_group() as group:
            for p in chosen:
                group.start_soon(self._probe, p, probes)
        probes.sort(key=lambda item: item.name)
        return ProviderTestResult(providers=probes)

    async def _probe(self, provider: ProviderSettings, into: list[ProviderProbe]) -> None:
        url = probe_url(provider)
        ok, latency, error = await self._stack.probe(url)
        into.append(
            ProviderProbe(
                name=provider.name,
                kind=provider.kind,
                url=self._stack.clean(url),
                reachable=ok,
                latency_ms=round(latency, 2),
                error=error,
            )
        )

    async def provider_config_validate(
        self, path: ConfigPath = None, content: ConfigText = None
    ) -> ValidationResult:
        """Validate a securellm TOML config (a file path, or the text itself)."""
        if content is not None and path is None:
            return await anyio.to_thread.run_sync(_validate_text, content)
        if path is not None and content is None:
            return await anyio.to_thread.run_sync(_validate_file, path)
        raise InvalidInputError("give exactly one of path or content")

    async def audit_query(
        self,
        since: Annotated[str | None, Field(max_length=64, description="ISO 8601")] = None,
        until: Annotated[str | None, Field(max_length=64, description="ISO 8601")] = None,
        key: Annotated[str | None, Field(max_length=128)] = None,
        model: Annotated[str | None, Field(max_length=256)] = None,
        provider: Annotated[str | None, Field(max_length=64)] = None,
        status: Annotated[str | None, Field(max_length=32)] = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 100,
        include_spend: bool = True,
    ) -> AuditResult:
        """Recent gateway audit records (filtered) and spend per key."""
        params: dict[str, str | int] = {"limit": limit}
        filters = {"key": key, "model": model, "provider": provider, "status": status}
        params.update({name: value for name, value in filters.items() if value})
        for name, value in (("since", since), ("until", until)):
            if value:
                params[name] = normalise_time(value, name)
        body = await self._stack.get_json("gateway", "/admin/audit", admin=True, params=params)
        records = _parse(AuditRecord, _data(body, "/admin/audit"), "/admin/audit")
        spend: list[SpendRow] = []
        if include_spend:
            spend_body = await self._stack.get_json("gateway", "/admin/spend", admin=True)
            spend = _parse(SpendRow, _data(spend_body, "/admin/spend"), "/admin/spend")
        total = round(sum(r.cost_usd or 0.0 for r in records), 6)
        return AuditResult(records=records, spend=spend, total_cost_usd=total)

    async def vram_status(self) -> VramStatus:
        """GPU memory per device and the models offload has loaded."""
        body = await self._stack.get_json("offload", "/health/vram")
        return _parse(VramStatus, [body], "/health/vram")[0]

    async def models_list(
        self, source: Literal["offload", "gateway", "both"] = "both"
    ) -> ModelsResult:
        """Models known to offload (usable, size, quantization) and the gateway's model ids."""
        result = ModelsResult()
        if source in ("offload", "both"):
            try:
                body = await self._stack.get_json("offload", "/models")
                result.offload = _parse(OffloadModel, _data(body, "/models"), "/models")
            except UpstreamError as exc:
                result.errors.append(str(exc))
        if source in ("gateway", "both"):
            try:
                admin = self._stack.has_master_key
                body = await self._stack.get_json("gateway", "/v1/models", admin=admin)
                result.gateway = _parse(GatewayModel, _data(body, "/v1/models"), "/v1/models")
            except UpstreamError as exc:
                result.errors.append(str(exc))
        if result.errors and not (result.offload or result.gateway):
            raise UpstreamError("; ".join(result.errors))
        return result


def register(server: MCPServer[Any], state: ServerState) -> None:
    """Add the stack tools to ``server``."""
    tools = StackTools(state)
    server.add_tool(tools.provider_test, title="Test providers", annotations=_READ_REMOTE)
    server.add_tool(
        tools.provider_config_validate, title="Validate a config file", annotations=_READ_LOCAL
    )
    server.add_tool(tools.audit_query, title="Audit records and spend", annotations=_READ_REMOTE)
    server.add_tool(tools.vram_status, title="GPU memory status", annotations=_READ_REMOTE)
    server.add_tool(tools.models_list, title="List models", annotations=_READ_REMOTE)


def _data(body: Any, path: str) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise UpstreamError(f"{path} answered JSON without a 'data' list")
    return list(body["data"])


def _parse(model: type[_M], items: list[Any], path: str) -> list[_M]:
    try:
        return [model.model_validate(item) for item in items]
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in err["loc"]) for err in exc.errors()})
        raise UpstreamError(
            f"{path} answered JSON that does not match its contract: {fields}"
        ) from None
