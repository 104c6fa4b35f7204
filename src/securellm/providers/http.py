"""Pooled aiohttp client for one provider, with foreign errors mapped at this one place.

Everything an upstream says about an error is untrusted text: before it becomes one of
our exceptions or an error event it is redacted with the provider's own credentials
(:meth:`UpstreamClient.redact`), so an upstream that quotes the key it got (whole,
masked, as ``Bearer <key>``) cannot hand it to a client, a log or the audit trail.
Redirects are never followed: a 3xx is an upstream error.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

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
from securellm.core.redact import redact, redact_value
from securellm.providers.base import Provider
from securellm.providers.model_info import PROPS_KINDS, contexts_in_model_list, loaded_context
from securellm.providers.translate.common import error_message

_PASS_HEADERS = ("retry-after", "x-request-id", "request-id")
_SECRET_HEADER = re.compile(r"(?i)auth|key|token|secret|cookie|signature")
DISCOVERY_TIMEOUT_S = 5.0
OVERLOADED = 529
UNAVAILABLE = 503
ERROR_TEXT_CHARS = 500  # of an upstream's error message, kept after redaction
_READ_CHARS = 64 * 1024  # of a non-JSON error body, read for its message


def secrets_of(settings: ProviderSettings, auth_headers: Mapping[str, str]) -> tuple[str, ...]:
    """The credentials a provider sends upstream: its key and its credential headers."""
    values: set[str] = set()
    if settings.api_key is not None:
        values.add(settings.api_key.get_secret_value())
    for name, value in {**settings.headers, **auth_headers}.items():
        if _SECRET_HEADER.search(name):
            values.add(value)
            values.add(value.partition(" ")[2])  # "Bearer <key>": the key alone too
    return tuple(sorted((v for v in values if len(v) >= 4), key=len, reverse=True))


class UpstreamClient:
    """One pooled session per provider. ``start`` must be called inside the event loop."""

    def __init__(self, settings: ProviderSettings, auth_headers: Mapping[str, str]) -> None:
        self.settings = settings
        self.base_url = settings.effective_base_url
        self._headers = {**settings.headers, **auth_headers}
        self.secrets = secrets_of(settings, auth_headers)
        self._session: aiohttp.ClientSession | None = None

    def redact(self, text: str) -> str:
        """Upstream text without this provider's credentials or anything shaped like one."""
        return redact(text, self.secrets)

    def scrub(self, data: Any) -> Any:
        """A parsed upstream event or body with every string redacted (structure kept)."""
        return redact_value(data, self.secrets)

    def error_in_body(self, data: Any) -> UpstreamError | None:
        """The error object of a 200 reply that carries one instead of a result, if any."""
        if not isinstance(data, dict) or not data.get("error"):
            return None
        if any(data.get(name) is not None for name in ("choices", "data", "content")):
            return None
        message = self.redact(error_message(data["error"]))[:ERROR_TEXT_CHARS]
        return UpstreamError(f"provider {self.settings.name!r} answered with an error: {message}")

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
        root: bool = False,
    ) -> aiohttp.ClientResponse:
        """Send a request and return the open response; error statuses become exceptions.

        ``path`` follows ``base_url``, or the server's root (``base_url`` without its
        ``/v1``) with ``root``, where llama.cpp keeps ``/props`` and ``/tokenize``.
        """
        url = f"{server_root(self.base_url) if root else self.base_url}{path}"
        kwargs: dict[str, Any] = {"data": body, "headers": headers, "allow_redirects": False}
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
        if response.status >= 300:
            raise await error_from_response(self.settings.name, response, self.secrets)
        return response

    async def get_json(self, path: str, *, timeout: float | None = None, root: bool = False) -> Any:
        response = await self.request("GET", path, timeout=timeout, root=root)
        try:
            data = orjson.loads(await response.read())
        except orjson.JSONDecodeError:
            raise UpstreamError(f"provider {self.settings.name!r} sent invalid JSON") from None
        finally:
            response.release()
        error = self.error_in_body(data)
        if error is not None:
            raise error
        return data

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


async def error_from_response(
    provider: str, response: aiohttp.ClientResponse, secrets: tuple[str, ...] = ()
) -> SecureLLMError:
    """Turn an upstream error status into our exception, with its message redacted.

    The status is kept for the client's 4xx, 429 (with ``Retry-After``), 503 (with
    ``Retry-After``) and Anthropic's 529; 408/504 are timeouts (504); a 401/403 means our
    credentials are wrong and a redirect is never followed: both are 502, like other 5xx.
    """
    status = response.status
    try:
        raw = await response.read()
    except aiohttp.ClientError:
        raw = b""
    finally:
        response.release()
    headers = passthrough_headers(response)
    if 300 <= status < 400:
        where = _safe_location(response.headers.get("location"), secrets)
        text = f"provider {provider!r} answered {status} (a redirect{where}), which is not followed"
        return UpstreamError(text, status=502, upstream_status=status)
    message = redact(_upstream_message(raw), secrets)[:ERROR_TEXT_CHARS]
    reason = redact(response.reason or "error", secrets)
    text = f"provider {provider!r} returned {status}: {message or reason}"
    if status == 429:
        return RateLimited(text, headers=headers)
    if status in (408, 504):
        return UpstreamTimeout(text, headers=headers)
    if status in (OVERLOADED, UNAVAILABLE):  # kept, so clients back off and retry as documented
        return UpstreamError(text, status=status, headers=headers)
    if 400 <= status < 500 and status not in (401, 403):
        return UpstreamError(text, status=status, headers=headers)
    # 401/403 from upstream mean *our* credentials are wrong: a gateway-side fault, 502.
    return UpstreamError(text, status=502, headers=headers, upstream_status=status)


def _safe_location(location: str | None, secrets: tuple[str, ...]) -> str:
    """`` to <origin and path>`` of a redirect: no user, password, query or fragment."""
    if not location:
        return ""
    try:
        parts = urlsplit(location)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return ""
    origin = f"{parts.scheme}://{host}{port}" if host else ""
    return " to " + redact(f"{origin}{parts.path}", secrets) if origin or parts.path else ""


def _upstream_message(raw: bytes) -> str:
    """The whole message of an error body (cut only after redaction)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:_READ_CHARS].decode("utf-8", "replace").strip()
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            return _text(error.get("message") or error.get("type"))
        if isinstance(error, str):
            return error
    return ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


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


def server_root(base_url: str) -> str:
    """``http://host:8080/v1`` -> ``http://host:8080`` (a URL without ``/v1`` is its root)."""
    return base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url


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
        """The models (configured, or the upstream's list), noting each one's context window
        where the upstream reports it (see :mod:`securellm.providers.model_info`)."""
        if self.settings.models is not None:
            models = list(self.settings.models)
        else:
            data = await self.client.get_json(self.models_path, timeout=DISCOVERY_TIMEOUT_S)
            models = self.model_ids(data)
            self.context_windows = contexts_in_model_list(data)
        if self.settings.kind in PROPS_KINDS and len(models) == 1:
            loaded = await loaded_context(self.client.get_json, DISCOVERY_TIMEOUT_S)
            if loaded is not None:
                self.context_windows = {**self.context_windows, models[0]: loaded}
        return models

    def model_ids(self, data: Any) -> list[str]:
        return openai_model_ids(data)
