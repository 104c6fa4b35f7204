"""Settings sections for the gateway: server, audit, providers and aliases."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from securellm.core.config.base import Section
from securellm.core.config.resilience import BreakerSettings, RetrySettings

ProviderKind = Literal[
    "openai-compatible",
    "openai",
    "deepseek",
    "anthropic",
    "ollama",
    "offload",
    "vllm",
    "tgi",
    "llamacpp",
]
Dialect = Literal["openai", "anthropic", "ollama"]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]


__all__ = ["Section"]


class ProviderPreset(BaseModel):
    """What ``kind = "deepseek"`` means when the user writes nothing else."""

    model_config = ConfigDict(frozen=True)

    dialect: Dialect
    base_url: str
    api_key_env: str | None = None
    rpm: int | None = None
    burst: int | None = None


# The seed's per-provider request limits (requests per minute, burst), which protect each
# upstream's quota; token limits are left to the user, who knows their account's tier.
PRESETS: dict[str, ProviderPreset] = {
    "openai-compatible": ProviderPreset(dialect="openai", base_url="http://127.0.0.1:8080/v1"),
    "openai": ProviderPreset(
        dialect="openai",
        base_url="https://api.openai.com/v1",
        api_key_env="OPENAI_API_KEY",
        rpm=3500,
        burst=100,
    ),
    "deepseek": ProviderPreset(
        dialect="openai",
        base_url="https://api.deepseek.com/v1",
        api_key_env="DEEPSEEK_API_KEY",
        rpm=60,
        burst=10,
    ),
    "anthropic": ProviderPreset(
        dialect="anthropic",
        base_url="https://api.anthropic.com",
        api_key_env="ANTHROPIC_API_KEY",
        rpm=50,
        burst=5,
    ),
    "ollama": ProviderPreset(
        dialect="ollama", base_url="http://127.0.0.1:11434", rpm=10_000, burst=1000
    ),
    "offload": ProviderPreset(dialect="openai", base_url="http://127.0.0.1:9000/v1"),
    "vllm": ProviderPreset(dialect="openai", base_url="http://127.0.0.1:8000/v1"),
    "tgi": ProviderPreset(dialect="openai", base_url="http://127.0.0.1:8080/v1"),
    "llamacpp": ProviderPreset(dialect="openai", base_url="http://127.0.0.1:8080/v1"),
}


class ModelPrice(Section):
    """USD per 1M tokens for one model (``[gateway.prices."provider/model"]``)."""

    input: float = Field(ge=0, allow_inf_nan=False)
    output: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    cached_input: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class ModelLimit(Section):
    """Per-model limits (``[gateway.model_limits."provider/model"]``, globs allowed)."""

    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)


class ModelContext(Section):
    """What a model takes (``[gateway.model_context."provider/model"]``, bare names and globs
    allowed): its context window and its most output tokens per request. Either one wins
    over what the upstream reports and over the built-in table in gateway.model_limits."""

    context: int | None = Field(default=None, ge=1)
    max_output: int | None = Field(default=None, ge=1)


_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str | None) -> bool:
    """A name for this machine (``localhost``) or a loopback IP address, 127.0.0.0/8 and
    ``::1`` (another host name or a wildcard bind is not)."""
    if not host:
        return False
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class GatewaySettings(Section):
    """``[gateway]``: where the gateway listens and what it stores state in."""

    host: str = "127.0.0.1"
    port: int = Field(default=8100, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    database_url: str | None = None
    redis_url: str | None = None
    master_key: SecretStr | None = None
    master_key_env: str = "SECURELLM_MASTER_KEY"
    master_key_file: Path | None = None
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_header_bytes: int = Field(default=32 * 1024, ge=1024)
    max_headers: int = Field(default=100, ge=8, le=10_000)
    protect_ops: Literal["auto"] | bool = "auto"  # /metrics and /ready need the master key
    cors_origins: tuple[str, ...] = ()
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    request_timeout_s: float = Field(default=600.0, gt=0)
    drain_timeout_s: float = Field(default=30.0, ge=0)
    # Logs: JSON lines on stderr at this level; one JSON line per request on stdout
    # (the request log) while access_log is true and the level is info or debug.
    log_level: LogLevel = "info"
    access_log: bool = True
    limits_enabled: bool = True
    # Without Redis: admit 1/replicas of each limit per process ("share") or refuse ("closed").
    limits_fallback: Literal["share", "closed"] = "share"
    # Fewest replicas to divide by (default: those registered in Redis, at least `workers`).
    limits_replicas: int | None = Field(default=None, ge=1, le=10_000)
    burst_ratio: float = Field(default=1.0, gt=0, le=100)
    estimate_output_tokens: int = Field(default=256, ge=1)
    # Budgets: the most output a request may write when it sets no limit (provider/model,
    # bare model or glob; beside the built-in table in gateway.model_limits; the same as
    # model_context."pattern".max_output), the fallback for models in neither, and the least
    # output a request capped by its budget is sent with.
    max_output_tokens: dict[str, int] = Field(default_factory=dict)
    default_max_output_tokens: int = Field(default=4096, ge=1)
    budget_min_output_tokens: int = Field(default=256, ge=1)
    # false: the earlier budget path (a thread hand-off and a transaction per reservation and
    # per settlement), kept for comparison in benchmarks/gateway_security.py.
    budget_fast_path: bool = True
    # The Responses API's stored responses (store / previous_response_id): days kept, and
    # the most one response may take (response + its input items as JSON); a larger one is
    # not stored and continuing it is a 404 that says so.
    responses_retention_days: int = Field(default=30, ge=1)
    responses_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    model_limits: dict[str, ModelLimit] = Field(default_factory=dict)
    # Context window and most output per model; a request's max_tokens above what fits is
    # lowered (x-securellm-max-tokens says so). max_output_tokens above stays an alias of
    # model_context."pattern".max_output.
    model_context: dict[str, ModelContext] = Field(default_factory=dict)
    # Anthropic server tools (web_search_*...) toward upstreams without them: dropped (the
    # response header x-securellm-dropped-tools names them) or refused with a 400.
    server_tools: Literal["drop", "refuse"] = "drop"
    prices: dict[str, ModelPrice] = Field(default_factory=dict)

    @property
    def request_log(self) -> bool:
        """Whether each request is written to stdout (``access_log`` at info or debug)."""
        return self.access_log and self.log_level in ("debug", "info")

    @property
    def ops_protected(self) -> bool:
        """``protect_ops``, with ``auto`` meaning: protected unless bound to a loopback address."""
        if self.protect_ops == "auto":
            return not is_loopback(self.host)
        return self.protect_ops

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("max_output_tokens")
    @classmethod
    def _positive_outputs(cls, value: dict[str, int]) -> dict[str, int]:
        for pattern, tokens in value.items():
            if tokens < 1:
                raise ValueError(f"max_output_tokens[{pattern!r}] must be at least 1")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> GatewaySettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file must be set together")
        return self


class AuditSettings(Section):
    """``[audit]``: the hash-chained JSONL trail."""

    dir: Path | None = None
    retention_days: int = Field(default=90, ge=1)
    flush_interval_ms: int = Field(default=200, ge=1, le=60_000)
    hmac_key: SecretStr | None = None
    hmac_key_env: str | None = None
    hmac_key_file: Path | None = None
    enabled: bool = True
    index_in_db: bool = True
    fsync: bool = False
    # The response waits until its record is in the file (group commit per loop turn);
    # false: records are written every flush_interval_ms and a SIGKILL loses one interval.
    durable: bool = True


class ProviderSettings(Section):
    """``[[providers]]``: one upstream API. Kinds other than ``openai-compatible`` are presets."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    kind: ProviderKind = "openai-compatible"
    base_url: str | None = None
    api_key: SecretStr | None = None
    api_key_env: str | None = None
    api_key_file: Path | None = None
    models: tuple[str, ...] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=600.0, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=256, ge=1)
    retry: RetrySettings = RetrySettings()
    breaker: BreakerSettings = BreakerSettings()
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    burst: int | None = Field(default=None, ge=1)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        """http(s), a host, no credentials, query or fragment (the URL is never echoed)."""
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not value.isascii():
            raise ValueError("base_url must start with http:// or https://")
        if "@" in parts.netloc:
            raise ValueError("base_url must not hold a user or password (use api_key_env/_file)")
        if "?" in value or "#" in value or any(c.isspace() for c in value):
            raise ValueError("base_url must not have a query, a fragment or spaces")
        try:
            parts.port  # noqa: B018 (raises on a port that is not a number in range)
        except ValueError:
            raise ValueError("base_url has an invalid port") from None
        if not parts.hostname:
            raise ValueError("base_url must name a host")
        return value.rstrip("/")

    @property
    def preset(self) -> ProviderPreset:
        return PRESETS[self.kind]

    @property
    def dialect(self) -> Dialect:
        return self.preset.dialect

    @property
    def effective_base_url(self) -> str:
        return self.base_url or self.preset.base_url

    @property
    def effective_key_env(self) -> str | None:
        return self.api_key_env or self.preset.api_key_env


class AliasSettings(Section):
    """``[[aliases]]``: a name that routes to one or more ``provider/model`` targets."""

    name: str = Field(min_length=1, max_length=128)
    targets: tuple[str, ...] = Field(min_length=1)
    # Unset: loaded-first when every target is an offload provider, else fallback.
    strategy: Literal["fallback", "weighted", "least-busy", "lowest-latency", "loaded-first"] = (
        "fallback"
    )
    weights: tuple[float, ...] | None = None
    fallback_on: tuple[Literal["context_window", "content_policy"], ...] = ()

    @field_validator("targets")
    @classmethod
    def _qualified(cls, targets: tuple[str, ...]) -> tuple[str, ...]:
        for target in targets:
            provider, sep, model = target.partition("/")
            if not sep or not provider or not model:
                raise ValueError(f"target {target!r} must be written as provider/model")
        return targets
