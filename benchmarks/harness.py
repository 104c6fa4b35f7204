"""Shared pieces of the benchmarks: processes on free ports, latency samples, wrk runs."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
MASTER = "sk-bench-master-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 60.0, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


@contextmanager
def process(argv: list[str], ready_url: str, **kwargs: object) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``argv``, wait until ``ready_url`` answers, terminate it on exit."""
    proc = subprocess.Popen(argv, cwd=ROOT, **kwargs)  # type: ignore[call-overload]
    try:
        wait_http(ready_url)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def asgi_app(target: str, ready_path: str) -> Iterator[str]:
    """Serve ``module:app`` with uvicorn (uvloop, httptools); yields its root URL."""
    port = free_port()
    argv = [
        sys.executable, "-m", "uvicorn", target,
        "--port", str(port), "--log-level", "warning", "--no-access-log",
        "--loop", "uvloop", "--http", "httptools",
    ]  # fmt: skip
    root = f"http://127.0.0.1:{port}"
    with process(argv, f"{root}{ready_path}"):
        yield root


@contextmanager
def fixed_upstream() -> Iterator[str]:
    """The fixed-response upstream (one uvicorn process); yields its ``/v1`` base URL."""
    with asgi_app("benchmarks.fixed_upstream:app", "/v1/models") as root:
        yield f"{root}/v1"


@contextmanager
def gateway(config: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``securellm gateway --config`` on a free port; yields its URL and process."""
    port = free_port()
    argv = [sys.executable, "-m", "securellm", "gateway", "--config", str(config)]
    base = f"http://127.0.0.1:{port}"
    with process([*argv, "--port", str(port)], f"{base}/health") as proc:
        yield base, proc


def create_key(config: Path, *options: str) -> str:
    """A virtual key made with ``securellm keys create`` (printed once, last line)."""
    argv = [sys.executable, "-m", "securellm", "keys", "create", "bench", "--config", str(config)]
    out = subprocess.run([*argv, *options], capture_output=True, text=True, check=True, cwd=ROOT)
    return out.stdout.strip().splitlines()[-1]


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float


def latency(url: str, body: bytes, headers: dict[str, str], count: int) -> Latency:
    """Sequential requests on one keep-alive connection; returns p50/p99 in milliseconds."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    samples: list[float] = []
    all_headers = {"content-type": "application/json", **headers}
    for _ in range(count + count // 10):
        started = time.perf_counter()
        conn.request("POST", parts.path, body=body, headers=all_headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")
        samples.append((time.perf_counter() - started) * 1000)
    conn.close()
    samples = sorted(samples[count // 10 :])  # drop the warm-up tenth
    return Latency(statistics.median(samples), samples[int(len(samples) * 0.99) - 1])


@dataclass
class Throughput:
    requests_per_s: float
    errors: int


def throughput(
    url: str,
    body: bytes,
    headers: dict[str, str],
    connections: int,
    seconds: int,
    *,
    unique: bool = False,
) -> Throughput:
    """Requests/s at ``connections`` concurrent keep-alive connections, measured with wrk.

    With ``unique``, every request replaces ``UNIQUE`` in the body with a counter, so a
    response cache never hits.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is needed for throughput figures: apt-get install wrk")
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body.decode())}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    lines.append('wrk.headers["Content-Type"] = "application/json"')
    if unique:
        lines += [
            "local n = 0",
            "request = function()",
            "  n = n + 1",
            '  return wrk.format(nil, nil, nil, string.gsub(wrk.body, "UNIQUE", tostring(n)))',
            "end",
        ]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    argv = [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script.name, url]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    Path(script.name).unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return Throughput(rps, int(errors.group(1)) if errors else 0)


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
