"""Output models for the stack tools, mirroring the gateway and offload JSON contracts."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AuditRecord(BaseModel):
    """One line of ``GET /admin/audit``."""

    timestamp: str
    request_id: str | None = None
    event_type: str | None = None
    key_id: str | None = None
    key_name: str | None = None
    client_ip: str | None = None
    provider: str | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cost_usd: float | None = None
    duration_ms: float | None = None
    status: int | str | None = None
    error: str | None = None


class SpendRow(BaseModel):
    """One line of ``GET /admin/spend``."""

    key_id: str
    key_name: str | None = None
    period: str | None = None
    spent_usd: float
    budget_usd: float | None = None


class AuditResult(BaseModel):
    records: list[AuditRecord]
    spend: list[SpendRow]
    total_cost_usd: float = Field(description="sum of cost_usd over the records returned")


class Gpu(BaseModel):
    index: int
    name: str
    total_mib: int
    used_mib: int
    free_mib: int


class LoadedModel(BaseModel):
    model: str
    vram_mib: int


class VramStatus(BaseModel):
    """``GET /health/vram`` on offload."""

    source: str
    gpus: list[Gpu]
    loaded: list[LoadedModel]


class OffloadModel(BaseModel):
    """One entry of offload's ``GET /models``."""

    id: str
    path: str | None = None
    format: str | None = None
    usable: bool = True
    reason: str | None = None
    architecture: str | None = None
    parameters: int | None = None
    quantization: str | None = None
    context_length: int | None = None
    estimate_mib: int | None = None
    loaded: bool = False


class GatewayModel(BaseModel):
    """One entry of the gateway's ``GET /v1/models``."""

    id: str
    owned_by: str | None = None


class ModelsResult(BaseModel):
    offload: list[OffloadModel] = Field(default_factory=list)
    gateway: list[GatewayModel] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list, description="services that could not be asked")
