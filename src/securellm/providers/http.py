"""Pooled aiohttp client for one provider, with foreign errors mapped at this one place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import orjson

from securellm.core.config import ProviderSettings
from securellm.core.errors import (
    RateLimited,
    SecureLLMError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from securellm.providers.base import Provider

_PASS_HEADERS = ("retry-after", "x-request-id", "request-id")
DISCOVERY_TIMEOUT_S = 5.0
OVERLOADED = 529


class UpstreamClient:
    """One pooled session per provider. ``start`` must be called inside the event loop."""

    def __init__(self, settings: ProviderSettings, auth_headers: Mapping[str, str]) -> None:
        self.settings = settings
        self.base_url = settings.effective_base_url
        self._headers = {**settings.headers, **auth_headers}
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(
            limit=self.settings.max_connections, ttl_dns_cache=300, keepalive_timeout=60
        )
        timeout = aiohttp.ClientTimeout(
            total=self.settings.timeout_s,
            sock_connect=self.settings.connect_timeout_s,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            headers=self._headers,
            json_serialize=lambda obj: orjson.dumps(obj).decode(),
            auto_decompress=True,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("UpstreamClient used before start()")
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> aiohttp.ClientResponse:
        """Send a request and return the open response; error statuses become exceptions."""
        url = f"{self.base_url}{path}"
        kwargs: dict[str, Any] = {"data": body, "headers": headers}
        if timeout is not None:
            kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout)
        try:
            response = await self.session.request(method, url, **kwargs)
        except TimeoutError:
            raise UpstreamTimeout(f"provider {self.settings.name!r} timed out") from None
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(
                f"provider {self.settings.name!r} is unreachable: {type(exc).__name__}"
            ) from None
        if response.status >= 400:
            raise await error_from_response(self.settings.name, response)
        return response

    async def get_json(self, path: str, *, timeout: float | None = None) -> Any:
        response = await self.request("GET", path, timeout=timeout)
        try:
            return orjson.loads(await response.read())
        except orjson.JSONDecodeError:
            raise UpstreamError(f"provider {self.settings.name!r} sent invalid JSON") from None
        finally:
            response.release()

    async def read_body(self, response: aiohttp.ClientResponse) -> bytes:
        try:
            return await response.read()
        except TimeoutError:
            raise UpstreamTimeout(f"provider {self.settings.name!r} timed out") from None
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(
                f"provider {self.settings.name!r} broke the connection: {type(exc).__name__}"
            ) from None
        finally:
            response.release()


def passthrough_headers(response: aiohttp.ClientResponse) -> dict[str, str]:
    return {h: response.headers[h] for h in _PASS_HEADERS if h in response.headers}


async def error_from_response(provider: str, response: aiohttp.ClientResponse) -> SecureLLMError:
    """Turn an upstream error status into our exception, keeping its message and status."""
    status = response.status
    try:
        raw = await response.read()
    except aiohttp.ClientError:
        raw = b""
    finally:
        response.release()
    message = _upstream_message(raw) or response.reason or "error"
    headers = passthrough_headers(response)
    text = f"provider {provider!r} returned {status}: {message}"
    if status == 429:
        return RateLimited(text, headers=headers)
    if status in (408, 504):
        return UpstreamTimeout(text, headers=headers)
    if status == OVERLOADED:  # Anthropic's "overloaded": kept, so clients retry as documented
        return UpstreamError(text, status=OVERLOADED, headers=headers)
    if 400 <= status < 500 and status not in (401, 403):
        return UpstreamError(text, status=status, headers=headers)
    # 401/403 from upstream mean *our* credentials are wrong: a gateway-side fault, 502.
    return UpstreamError(text, status=502, headers=headers, upstream_status=status)


def _upstream_message(raw: bytes) -> str:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:200].decode("utf-8", "replace").strip()
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("type") or "")[:500]
        if isinstance(error, str):
            return error[:500]
    return ""


async def sse_events(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """Yield each SSE event of ``response`` as bytes without the trailing blank line."""
    pending: list[bytes] = []
    async for raw_line in response.content:
        line = raw_line.rstrip(b"\r\n")
        if line:
            pending.append(line)
        elif pending:
            yield b"\n".join(pending)
            pending = []
    if pending:
        yield b"\n".join(pending)


def event_data(event: bytes) -> bytes | None:
    """The ``data:`` payload of one SSE event (joined when it spans several lines)."""
    parts = [line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    if not parts:
        return None
    return b"\n".join(parts)


async def ndjson_lines(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """Yield each non-empty line of a newline-delimited JSON stream (Ollama's streams)."""
    async for raw_line in response.content:
        line = raw_line.strip()
        if line:
            yield line


def bearer(settings: ProviderSettings) -> dict[str, str]:
    """``Authorization: Bearer <key>`` when the provider has a key, else nothing."""
    if settings.api_key is None:
        return {}
    return {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"}


def openai_model_ids(data: Any) -> list[str]:
    """Ids from an OpenAI- or Anthropic-style model list: ``{"data": [{"id": ...}]}``."""
    items = data.get("data", []) if isinstance(data, dict) else []
    return [str(m["id"]) for m in items if isinstance(m, dict) and "id" in m]


class HttpProvider(Provider):
    """A provider reached through one pooled :class:`UpstreamClient`.

    Subclasses pass their auth headers and say where the model list lives
    (``models_path``) and how to read it (``model_ids``).
    """

    models_path = "/models"

    def __init__(self, settings: ProviderSettings, auth_headers: Mapping[str, str]) -> None:
        super().__init__(settings)
        self.client = UpstreamClient(settings, auth_headers)

    async def start(self) -> None:
        await self.client.start()

    async def close(self) -> None:
        await self.client.close()

    async def list_models(self) -> list[str]:
        if self.settings.models is not None:
            return list(self.settings.models)
        data = await self.client.get_json(self.models_path, timeout=DISCOVERY_TIMEOUT_S)
        return self.model_ids(data)

    def model_ids(self, data: Any) -> list[str]:
        return openai_model_ids(data)
