"""What each configured ``offload`` host holds, read over its HTTP API (server-side).

Per host: ``GET /ps`` (GPUs, loaded models with state and idle time left), ``GET /models``
(the registry, unusable files with the reason) and ``GET /mode`` (build mode). A host that
does not answer is reported down with the reason; it never fails the page.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from securellm.core.errors import SecureLLMError
from securellm.gateway.state import GatewayState
from securellm.providers.http import HttpProvider, UpstreamClient

READ_TIMEOUT_S = 3.0
ACTION_TIMEOUT_S = 180.0  # a load starts a model server and waits until it is ready
LOG_LINES = 40
ACTIONS = frozenset({"load", "unload", "pin", "unpin"})
MODES = frozenset({"build", "local"})
MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,199}$")
PALETTE = ("#0b5cad", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7e8c")


class BadAction(ValueError):
    """The form asked for something no host can do (shown as a 400 page)."""


@dataclass(frozen=True)
class Segment:
    label: str
    mib: int
    x: float  # 0..1000, the bar's own units
    width: float
    colour: str


@dataclass(frozen=True)
class GpuBar:
    index: int
    name: str
    total_mib: int
    used_mib: int
    free_mib: int
    segments: list[Segment]


@dataclass
class HostReport:
    name: str
    up: bool
    error: str | None = None
    source: str = ""
    gpus: list[GpuBar] = field(default_factory=list)
    loaded: list[dict[str, Any]] = field(default_factory=list)
    registry: list[dict[str, Any]] = field(default_factory=list)
    mode: str | None = None

    @property
    def unusable(self) -> list[dict[str, Any]]:
        return [m for m in self.registry if not m.get("usable")]


def offload_providers(state: GatewayState) -> list[HttpProvider]:
    """The configured providers of kind ``offload``, in configuration order."""
    return [
        p
        for p in state.providers.values()
        if isinstance(p, HttpProvider) and p.settings.kind == "offload"
    ]


def find_host(state: GatewayState, name: str) -> HttpProvider:
    for provider in offload_providers(state):
        if provider.name == name:
            return provider
    raise BadAction(f"there is no offload host named {name[:60]!r}")


async def reports(state: GatewayState) -> list[HostReport]:
    """One report per offload host, asked at the same time."""
    return list(await asyncio.gather(*(report(p) for p in offload_providers(state))))


async def report(provider: HttpProvider) -> HostReport:
    base = HostReport(name=provider.name, up=False)
    client = provider.client
    try:
        async with asyncio.timeout(READ_TIMEOUT_S):
            ps, models, mode = await asyncio.gather(
                client.get_json("/ps", timeout=READ_TIMEOUT_S, root=True),
                client.get_json("/models", timeout=READ_TIMEOUT_S, root=True),
                client.get_json("/mode", timeout=READ_TIMEOUT_S, root=True),
            )
        loaded = list(ps["models"])
        base.gpus = gpu_bars(list(ps["gpus"]), loaded)
    except (SecureLLMError, TimeoutError, KeyError, TypeError, ValueError) as exc:
        base.error = _reason(exc)
        return base
    base.up, base.source, base.loaded = True, str(ps.get("source", "")), loaded
    base.registry = list(models.get("data", [])) if isinstance(models, dict) else []
    base.mode = str(mode.get("mode")) if isinstance(mode, dict) else None
    return base


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {READ_TIMEOUT_S:g} s"
    if isinstance(exc, SecureLLMError):
        return str(exc)
    return "it answered in an unexpected shape"


def gpu_bars(gpus: list[dict[str, Any]], loaded: list[dict[str, Any]]) -> list[GpuBar]:
    """Each GPU's bar: one segment per loaded model (one GPU), other use, then free."""
    bars = []
    for gpu in gpus:
        total = max(int(gpu["total_mib"]), 1)
        used = int(gpu["used_mib"])
        parts: list[tuple[str, int, str]] = []
        if len(gpus) == 1:
            for i, model in enumerate(loaded):
                parts.append((str(model["model"]), int(model["vram_mib"]), PALETTE[i % 6]))
        other = used - sum(mib for _, mib, _ in parts)
        if other > 0:
            parts.append(("other", other, "#57606a"))
        segments, x = [], 0.0
        for label, mib, colour in parts:
            width = min(1000.0 * mib / total, 1000.0 - x)
            segments.append(Segment(label, mib, round(x, 1), round(width, 1), colour))
            x += width
        bars.append(
            GpuBar(int(gpu["index"]), str(gpu["name"]), total, used, int(gpu["free_mib"]), segments)
        )
    return bars


def check_model(model: str) -> str:
    if not MODEL_ID.match(model):
        raise BadAction("a model id is letters, digits and . _ : @ + - (at most 200)")
    return model


async def act(provider: HttpProvider, model: str, action: str) -> str:
    """Load, unload, pin or unpin ``model`` on the host; returns what happened, in words."""
    if action not in ACTIONS:
        raise BadAction(f"action must be one of {', '.join(sorted(ACTIONS))}")
    check_model(model)
    if action in ("pin", "unpin"):
        body = orjson.dumps({"pinned": action == "pin"})
        await _post(provider.client, f"/models/{model}/pin", body)
    else:
        await _post(provider.client, f"/models/{model}/{action}", b"")
    return f"{action}: {model} on {provider.name}"


async def set_mode(provider: HttpProvider, mode: str) -> str:
    if mode not in MODES:
        raise BadAction("mode must be build or local")
    await _post(provider.client, "/mode", orjson.dumps({"mode": mode}))
    return f"{provider.name} is now in {mode} mode"


async def _post(client: UpstreamClient, path: str, body: bytes) -> None:
    headers = {"content-type": "application/json"}
    response = await client.request(
        "POST", path, body=body, headers=headers, timeout=ACTION_TIMEOUT_S, root=True
    )
    response.release()


async def log_tail(provider: HttpProvider, model: str, lines: int = LOG_LINES) -> str:
    """The last ``lines`` of the model server's log on that host."""
    check_model(model)
    response = await provider.client.request(
        "GET", f"/models/{model}/logs?lines={lines}", timeout=READ_TIMEOUT_S, root=True
    )
    try:
        return (await response.read()).decode("utf-8", errors="replace")
    finally:
        response.release()
