"""loaded-first: offload hosts ordered by what each holds, and when the gateway uses it."""

from __future__ import annotations

import pytest

from securellm.core.config import AliasSettings, ProviderSettings
from securellm.core.errors import ModelNotFound
from securellm.gateway.catalog import Catalog, Target
from securellm.gateway.resilience.hosts import DOWN, HostView
from securellm.gateway.resilience.routing import by_host
from securellm.providers.base import Provider

MODEL = "gemma"


def hosts(*names: str, kind: str = "offload") -> tuple[Target, ...]:
    return tuple(
        Target(Provider(ProviderSettings(name=n, kind=kind, models=(MODEL,))), MODEL)  # type: ignore[arg-type]
        for n in names
    )


def ids(order: list[Target]) -> list[str]:
    return [t.provider.name for t in order]


def test_a_host_with_the_model_loaded_and_idle_comes_first() -> None:
    views = {
        "a": HostView(up=True, free_mib=8000, estimates={MODEL: 1000}),
        "b": HostView(up=True, in_flight={MODEL: 0}),
    }
    assert ids(by_host(hosts("a", "b"), views)) == ["b", "a"]


def test_a_busy_loaded_copy_comes_before_a_cold_load_that_would_fit() -> None:
    views = {
        "a": HostView(up=True, free_mib=8000, estimates={MODEL: 1000}),
        "b": HostView(up=True, in_flight={MODEL: 3}),
    }
    assert ids(by_host(hosts("a", "b"), views)) == ["b", "a"]


def test_an_idle_copy_comes_before_a_busy_one() -> None:
    views = {
        "a": HostView(up=True, in_flight={MODEL: 1}),
        "b": HostView(up=True, in_flight={MODEL: 0}),
    }
    assert ids(by_host(hosts("a", "b"), views)) == ["b", "a"]


def test_of_two_busy_copies_the_less_busy_comes_first() -> None:
    views = {
        "a": HostView(up=True, in_flight={MODEL: 4}),
        "b": HostView(up=True, in_flight={MODEL: 1}),
    }
    assert ids(by_host(hosts("a", "b"), views)) == ["b", "a"]


def test_a_host_where_it_fits_comes_before_one_where_it_does_not() -> None:
    views = {
        "a": HostView(up=True, free_mib=500, estimates={MODEL: 1000}),
        "b": HostView(up=True, free_mib=2000, estimates={MODEL: 1000}),
    }
    assert ids(by_host(hosts("a", "b"), views)) == ["b", "a"]


def test_ties_keep_the_configured_order() -> None:
    views = {"a": HostView(up=True), "b": HostView(up=True), "c": HostView(up=True)}
    assert ids(by_host(hosts("c", "a", "b"), views)) == ["c", "a", "b"]


def test_a_host_that_is_down_is_left_out() -> None:
    views = {"a": DOWN, "b": HostView(up=True)}
    assert ids(by_host(hosts("a", "b"), views)) == ["b"]


def test_when_every_host_is_down_the_configured_order_is_kept() -> None:
    assert ids(by_host(hosts("a", "b"), {"a": DOWN, "b": DOWN})) == ["a", "b"]


async def catalog(targets: tuple[Target, ...], *aliases: AliasSettings) -> Catalog:
    found = Catalog({t.provider.name: t.provider for t in targets}, aliases)
    await found.discover()
    return found


async def test_a_bare_name_on_several_offload_hosts_routes_loaded_first() -> None:
    route = await (await catalog(hosts("a", "b"))).resolve(MODEL)
    assert (route.strategy, ids(list(route.targets))) == ("loaded-first", ["a", "b"])


async def test_a_bare_name_on_several_other_providers_stays_ambiguous() -> None:
    with pytest.raises(ModelNotFound, match="ambiguous"):
        await (await catalog(hosts("a", "b", kind="vllm"))).resolve(MODEL)


async def test_an_alias_of_offload_targets_defaults_to_loaded_first() -> None:
    alias = AliasSettings(name="x", targets=("a/gemma", "b/gemma"))
    route = await (await catalog(hosts("a", "b"), alias)).resolve("x")
    assert route.strategy == "loaded-first"


async def test_an_alias_keeps_a_strategy_set_in_its_config() -> None:
    alias = AliasSettings(name="x", targets=("a/gemma", "b/gemma"), strategy="fallback")
    route = await (await catalog(hosts("a", "b"), alias)).resolve("x")
    assert route.strategy == "fallback"


async def test_an_alias_mixing_offload_and_other_providers_keeps_fallback() -> None:
    targets = hosts("a") + hosts("c", kind="vllm")
    alias = AliasSettings(name="x", targets=("a/gemma", "c/gemma"))
    route = await (await catalog(targets, alias)).resolve("x")
    assert route.strategy == "fallback"
