"""``/metrics``: one registry per app in one process, every worker's totals with several."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from securellm.cli.gateway_cmd import METRICS_PREFIX, remove_stale_metrics_dirs, shared_metrics
from securellm.gateway.context import RequestContext
from securellm.gateway.keys import KeyRecord
from securellm.gateway.metrics import Metrics, forget_dead_workers
from support.fake_openai import FakeOpenAI
from support.gateway import MASTER, UPSTREAM_KEY, GatewayFactory
from support.require import free_port

AUTH = {"Authorization": f"Bearer {MASTER}"}
REQUESTS = 20
SCRAPES = 6


def total(text: str, name: str) -> float:
    """The sum of every sample of ``name`` (all label sets) in a Prometheus text body."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def chat(base: str, text: str, key: str = MASTER) -> httpx.Response:
    body = {"model": "fake/echo", "messages": [{"role": "user", "content": text}]}
    headers = {"Authorization": f"Bearer {key}", "Connection": "close"}
    return httpx.post(f"{base}/v1/chat/completions", json=body, headers=headers, timeout=30)


def scrape(base: str) -> str:
    response = httpx.get(f"{base}/metrics", headers={"Connection": "close"}, timeout=30)
    assert response.status_code == 200
    return response.text


# -- one process ---------------------------------------------------------------------------


def test_each_app_in_one_process_counts_in_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.record(RequestContext(endpoint="chat", provider="p"))
    assert total(first.render().decode(), "securellm_requests_total") == 1
    assert total(second.render().decode(), "securellm_requests_total") == 0


def test_one_process_reports_one_worker() -> None:
    assert total(Metrics().render().decode(), "securellm_worker_processes") == 1


def test_requests_and_tokens_are_counted_per_key_id(
    gateway_for: GatewayFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    url, _ = fake_upstream
    provider = {"name": "fake", "base_url": url, "api_key": UPSTREAM_KEY}
    with gateway_for([provider]) as base:
        created = httpx.post(f"{base}/admin/keys", json={"name": "alice"}, headers=AUTH).json()
        for text in ("one two", "three four"):
            assert chat(base, text, created["key"]).status_code == 200
        body = scrape(base)
    requests = samples(body, "securellm_key_requests_total")
    tokens = samples(body, "securellm_key_tokens_total")
    key = created["id"]
    assert requests[(("key", key), ("status_class", "2xx"))] == 2
    assert tokens[(("direction", "prompt"), ("key", key))] == 4
    assert tokens[(("direction", "completion"), ("key", key))] > 0
    assert "alice" not in body


def test_a_request_without_a_key_is_not_counted_per_key() -> None:
    metrics = Metrics()
    metrics.record(RequestContext(endpoint="chat", status=401, outcome="refused"))
    metrics.record(RequestContext(endpoint="chat", key=KeyRecord(id="key_1", name="n")))
    assert samples(metrics.render().decode(), "securellm_key_requests_total") == {
        (("key", "key_1"), ("status_class", "2xx")): 1
    }


def test_dead_workers_live_gauges_are_dropped_and_the_living_kept(tmp_path: Path) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    dead, alive = int(finished.stdout), os.getpid()
    for pid in (dead, alive):
        (tmp_path / f"gauge_livesum_{pid}.db").write_bytes(b"")
    (tmp_path / f"counter_{dead}.db").write_bytes(b"")
    forget_dead_workers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"counter_{dead}.db",
        f"gauge_livesum_{alive}.db",
    ]


# -- the metrics directory of `securellm gateway` ------------------------------------------


def test_one_worker_uses_no_metrics_directory(tmp_path: Path) -> None:
    with shared_metrics(1, root=tmp_path) as path:
        assert path is None
        assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    assert list(tmp_path.iterdir()) == []


def test_several_workers_get_a_fresh_private_directory_removed_at_exit(tmp_path: Path) -> None:
    with shared_metrics(2, root=tmp_path) as path:
        assert path is not None
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
        assert list(path.iterdir()) == []
    assert not path.exists()
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_directories_of_killed_gateways_are_removed_and_running_ones_kept(
    tmp_path: Path,
) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f"{METRICS_PREFIX}{int(finished.stdout)}-abc"
    running = tmp_path / f"{METRICS_PREFIX}{os.getpid()}-def"
    for path in (stale, running):
        path.mkdir()
        (path / "counter_1.db").write_bytes(b"")
    remove_stale_metrics_dirs(tmp_path)
    assert not stale.exists()
    assert running.exists()


# -- several workers: a real `securellm gateway --workers 2` ---------------------------------


@contextmanager
def gateway_process(tmp_path: Path, upstream: str, workers: int) -> Iterator[tuple[str, int]]:
    """``securellm gateway --workers N`` in a subprocess; yields (base URL, supervisor pid)."""
    port = free_port()
    config = tmp_path / "gw.toml"
    config.write_text(
        f'data_dir = "{tmp_path}/data"\nstate_dir = "{tmp_path}/state"\n'
        f'log_dir = "{tmp_path}/log"\n'
        f'[gateway]\nport = {port}\nmaster_key = "{MASTER}"\n'
        f"[cache]\nenabled = false\n"
        f'[[providers]]\nname = "fake"\nbase_url = "{upstream}"\nmodels = ["echo"]\n'
    )
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    argv = [sys.executable, "-m", "securellm", "gateway", "--config", str(config),
            "--workers", str(workers)]  # fmt: skip
    process = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_workers(base, workers, process)
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=60)


def _wait_for_workers(base: str, workers: int, process: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the gateway exited with {process.returncode}")
        try:
            if total(scrape(base), "securellm_worker_processes") == workers:
                return
        except (httpx.TransportError, AssertionError):
            pass
        time.sleep(0.2)
    raise AssertionError("the gateway's workers did not all start")


def _workers_of(pid: int) -> list[int]:
    """uvicorn's live worker processes (spawned children; not multiprocessing's tracker)."""
    workers = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # exited meanwhile
            continue
        if b"spawn_main" in cmdline and state != "Z":
            workers.append(int(child))
    return workers


@pytest.fixture(scope="module")
def two_workers(
    tmp_path_factory: pytest.TempPathFactory, fake_upstream: tuple[str, FakeOpenAI]
) -> Iterator[tuple[str, list[str]]]:
    """A two-worker gateway that answered ``REQUESTS`` chats: (base URL, scrapes after)."""
    url, _ = fake_upstream
    with gateway_process(tmp_path_factory.mktemp("workers"), url, 2) as (base, _):
        for n in range(REQUESTS):
            assert chat(base, f"hello {n}").status_code == 200
        yield base, [scrape(base) for _ in range(SCRAPES)]


def test_every_scrape_of_two_workers_reports_every_request(
    two_workers: tuple[str, list[str]],
) -> None:
    _, scrapes = two_workers
    counted = [total(body, "securellm_requests_total") for body in scrapes]
    assert counted == [REQUESTS] * SCRAPES


def test_every_scrape_of_two_workers_reports_every_latency_sample(
    two_workers: tuple[str, list[str]],
) -> None:
    _, scrapes = two_workers
    counted = [total(body, "securellm_request_duration_seconds_count") for body in scrapes]
    assert counted == [REQUESTS] * SCRAPES


def test_the_circuit_state_is_still_reported_with_two_workers(
    two_workers: tuple[str, list[str]],
) -> None:
    base, _ = two_workers
    circuits = [samples(scrape(base), "securellm_circuit_state") for _ in range(SCRAPES)]
    assert all(found in ({}, {(("provider", "fake"),): 0.0}) for found in circuits)
    assert {(("provider", "fake"),): 0.0} in circuits


def test_a_killed_worker_is_replaced_without_losing_its_counts(
    tmp_path: Path, fake_upstream: tuple[str, FakeOpenAI]
) -> None:
    url, _ = fake_upstream
    with gateway_process(tmp_path, url, 2) as (base, pid):
        for n in range(REQUESTS):
            assert chat(base, f"hello {n}").status_code == 200
        victim = _workers_of(pid)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 90
        while victim in _workers_of(pid) or len(_workers_of(pid)) < 2:
            assert time.monotonic() < deadline, "uvicorn did not replace the killed worker"
            time.sleep(0.2)
        _wait_for_workers(base, 2, None)
        body = scrape(base)
    assert total(body, "securellm_worker_processes") == 2
    assert total(body, "securellm_requests_total") == REQUESTS
