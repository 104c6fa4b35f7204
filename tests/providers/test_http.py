"""The upstream boundary: redirects are not followed, credentials are known for redaction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from securellm.core.config import ProviderSettings
from securellm.core.errors import UpstreamError
from securellm.providers.http import secrets_of
from securellm.providers.registry import build_provider
from support.asgi_server import serve_app
from support.fake_openai import FakeOpenAI
from support.faulty_upstream import FaultyUpstream


@pytest.fixture
def redirecting() -> Iterator[tuple[str, FaultyUpstream, str, FakeOpenAI]]:
    """(upstream URL, the upstream, the URL its redirects point at, what answers there)."""
    upstream, target = FaultyUpstream(), FakeOpenAI()
    with serve_app(upstream.app()) as url, serve_app(target.app()) as target_url:
        yield f"{url}/v1", upstream, target_url, target


async def test_model_discovery_does_not_follow_a_redirect(
    redirecting: tuple[str, FaultyUpstream, str, FakeOpenAI],
) -> None:
    url, upstream, target_url, target = redirecting
    upstream.redirect_models = f"{target_url}/v1/models?key=sk-redirect-secret-0123456789"
    provider = build_provider(ProviderSettings(name="up", base_url=url))
    await provider.start()
    try:
        with pytest.raises(UpstreamError) as caught:
            await provider.list_models()
    finally:
        await provider.close()
    assert caught.value.status == 502
    assert caught.value.upstream_status == 307
    assert "sk-redirect-secret" not in caught.value.message
    assert target.requests == []


def test_credentials_are_the_key_and_credential_headers() -> None:
    settings = ProviderSettings(
        name="up",
        base_url="http://127.0.0.1:1/v1",
        api_key="sk-configured-key-1234",
        headers={"x-proxy-token": "proxy-tok-5678", "x-team": "research"},
    )
    found = secrets_of(settings, {"authorization": "Bearer sk-configured-key-1234"})
    assert {"sk-configured-key-1234", "proxy-tok-5678", "Bearer sk-configured-key-1234"} <= set(
        found
    )
    assert "research" not in found
