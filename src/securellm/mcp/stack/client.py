"""Calls to the gateway and offload HTTP APIs (the contracts in ARCHITECTURE/issues).

Each service has its own circuit breaker; all calls share one rate limiter. Failures
become :class:`UpstreamError`. Whatever the service answered is untrusted text: it passes
through :func:`securellm.core.redact.redact`, with the master key and the other secrets this
server holds, before it becomes part of an error (and so of a tool result or a log line).
"""

from __future__ import annotations

import importlib
import logging
import time
from typing import TYPE_CHECKING, Any, Literal

import orjson

from securellm.core.redact import redact
from securellm.mcp.errors import UpstreamError
from securellm.mcp.stack.resilience import CircuitBreaker, TokenBucket

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)


def _aiohttp() -> Any:
    """aiohttp, imported on the first HTTP call: it costs ~100 ms of the server's cold start."""
    return importlib.import_module("aiohttp")


Service = Literal["gateway", "offload"]
ERROR_TEXT_CHARS = 300  # of an upstream's error message, after redaction
MAX_SCANNED_CHARS = 8192


class StackClient:
    """One pooled HTTP client for both services; build with :meth:`create`."""

    def __init__(
        self,
        *,
        gateway_url: str,
        offload_url: str,
        master_key: str | None,
        limiter: TokenBucket,
        breakers: dict[str, CircuitBreaker],
        timeout_s: float,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self._urls: dict[str, str] = {
            "gateway": gateway_url.rstrip("/"),
            "offload": offload_url.rstrip("/"),
        }
        self._master_key = master_key
        self._secrets = tuple(s for s in (master_key, *secrets) if s)
        self._limiter = limiter
        self.breakers = breakers
        self._timeout_s = timeout_s
        self._http_client: aiohttp.ClientSession | None = None

    @classmethod
    def create(
        cls,
        *,
        gateway_url: str,
        offload_url: str,
        master_key: str | None,
        timeout_s: float,
        rate_per_s: float,
        burst: int,
        breaker_failures: int,
        breaker_reset_s: float,
        secrets: tuple[str, ...] = (),
    ) -> StackClient:
        return cls(
            gateway_url=gateway_url,
            offload_url=offload_url,
            master_key=master_key,
            limiter=TokenBucket(rate_per_s, burst),
            breakers={
                name: CircuitBreaker(name, breaker_failures, breaker_reset_s)
                for name in ("gateway", "offload")
            },
            timeout_s=timeout_s,
            secrets=secrets,
        )

    def clean(self, text: str) -> str:
        """``text`` with every secret masked (known values and anything shaped like one)."""
        return redact(text, self._secrets)

    @property
    def _http(self) -> aiohttp.ClientSession:
        """Made on first use, in the running event loop; :meth:`aclose` lets it be made again."""
        if self._http_client is None or self._http_client.closed:
            http = _aiohttp()
            self._http_client = http.ClientSession(
                timeout=http.ClientTimeout(total=self._timeout_s), trust_env=False
            )
        return self._http_client

    async def aclose(self) -> None:
        client, self._http_client = self._http_client, None
        if client is not None:
            await client.close()

    @property
    def has_master_key(self) -> bool:
        return bool(self._master_key)

    async def get_json(
        self,
        service: Service,
        path: str,
        *,
        admin: bool = False,
        params: dict[str, str | int] | None = None,
    ) -> Any:
        """GET ``path`` on ``service``; JSON body on 2xx, :class:`UpstreamError` otherwise."""
        headers = {}
        if admin:
            if not self._master_key:
                raise UpstreamError(
                    "no gateway master key configured (set SECURELLM_MASTER_KEY or "
                    "[gateway] master_key_env/master_key_file)"
                )
            headers["Authorization"] = f"Bearer {self._master_key}"
        return await self._request(service, "GET", path, headers=headers, params=params)

    async def post_json(self, service: Service, path: str, body: dict[str, Any]) -> Any:
        """POST JSON to ``path`` on ``service`` (with the master key when one is set)."""
        headers = {"Content-Type": "application/json"}
        if self._master_key:
            headers["Authorization"] = f"Bearer {self._master_key}"
        return await self._request(service, "POST", path, headers=headers, data=orjson.dumps(body))

    async def _request(
        self, service: Service, method: str, path: str, *, headers: dict[str, str], **options: Any
    ) -> Any:
        """One call through ``service``'s breaker and the rate limiter, decoded."""
        breaker = self.breakers[service]
        breaker.before_call()
        await self._limiter.acquire()
        url = self._urls[service] + path
        try:
            async with self._http.request(method, url, headers=headers, **options) as response:
                body = await response.read()
                status, reason = response.status, response.reason or ""
        except (_aiohttp().ClientError, TimeoutError) as exc:
            breaker.record_failure()
            log.warning("upstream unreachable", extra={"service": service, "path": path})
            raise UpstreamError(
                self.clean(f"{service} at {self._urls[service]} is unreachable")
                + f" ({type(exc).__name__})"
            ) from None
        return self._decode(service, path, status, reason, body)

    def _decode(self, service: Service, path: str, status: int, reason: str, body: bytes) -> Any:
        breaker = self.breakers[service]
        if status >= 500:
            breaker.record_failure()
            raise UpstreamError(f"{service} {path} answered HTTP {status}")
        breaker.record_success()
        if status >= 400:
            message = self.clean(_error_message(body, reason))[:ERROR_TEXT_CHARS]
            raise UpstreamError(f"{service} {path} answered HTTP {status}: {message}")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            raise UpstreamError(f"{service} {path} did not answer JSON") from None

    async def probe(self, url: str) -> tuple[bool, float, str | None]:
        """GET ``url`` once (no breaker): reachable?, latency in ms, error text."""
        await self._limiter.acquire()
        started = time.perf_counter()
        try:
            async with self._http.get(url) as response:
                await response.read()
                status = response.status
        except (_aiohttp().ClientError, TimeoutError) as exc:
            return False, (time.perf_counter() - started) * 1000, type(exc).__name__
        latency = (time.perf_counter() - started) * 1000
        if status >= 500:
            return False, latency, f"HTTP {status}"
        return True, latency, None


def _error_message(body: bytes, reason: str) -> str:
    """The ``error.message`` of an OpenAI-shaped error body, or the status text (both capped
    well above what is shown, so that redaction sees a secret whole before the cut)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return reason[:MAX_SCANNED_CHARS]
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return str(data["error"].get("message", ""))[:MAX_SCANNED_CHARS]
    return reason[:MAX_SCANNED_CHARS]
