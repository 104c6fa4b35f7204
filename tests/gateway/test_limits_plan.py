"""Which buckets a request must pass, and which of them a provider preset set."""

from __future__ import annotations

from typing import Any

from securellm.core.config import GatewaySettings, ProviderSettings
from securellm.gateway.keys import KeyRecord
from securellm.gateway.limits.gcra import Bucket
from securellm.gateway.limits.plan import LimitPlan


def provider_bucket(**provider: Any) -> Bucket:
    settings = ProviderSettings(name="claude", **provider)
    plan = LimitPlan(GatewaySettings(), {"claude": settings})
    buckets = plan.buckets(KeyRecord(id="k", name="k"), "claude", "m", "claude/m", 10)
    [bucket] = [b for b in buckets if b.scope == "provider"]
    return bucket


def test_a_preset_limit_is_labelled_with_its_kind() -> None:
    bucket = provider_bucket(kind="anthropic")
    assert (bucket.limit, bucket.capacity, bucket.preset) == (50, 5, "anthropic")


def test_a_configured_rpm_is_not_a_preset() -> None:
    bucket = provider_bucket(kind="anthropic", rpm=500)
    assert (bucket.limit, bucket.capacity, bucket.preset) == (500, 500, None)


def test_a_configured_burst_alone_keeps_the_preset_rate() -> None:
    bucket = provider_bucket(kind="anthropic", burst=20)
    assert (bucket.limit, bucket.capacity, bucket.preset) == (50, 20, "anthropic")


def test_presets_set_no_token_limit() -> None:
    settings = ProviderSettings(name="claude", kind="anthropic")
    plan = LimitPlan(GatewaySettings(), {"claude": settings})
    buckets = plan.buckets(KeyRecord(id="k", name="k"), "claude", "m", "claude/m", 10)
    assert [b.kind for b in buckets] == ["requests"]
