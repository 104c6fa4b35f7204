"""A real gateway in front of the scripted upstream, for the coding-agent client tests.

``agent_gateway(tmp_path, kind)`` serves the scripted upstream and a gateway with one
provider of ``kind`` pointing at it, creates a virtual key, and yields an
:class:`AgentGateway`: where clients point (``openai_base`` ends in ``/v1``,
``anthropic_base`` is the root, as each SDK expects), the model id to ask for, the key, the
recorder, and the audit trail.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson

from securellm.gateway.app import create_app
from support.asgi_server import serve_app
from support.gateway import MASTER, UPSTREAM_KEY, make_settings
from support.require import missing
from support.scripted.script import (
    FINAL_MARKER,
    SENTINEL_FILE,
    SENTINEL_TEXT,
    Script,
    default_script,
)
from support.scripted_upstream import MODELS, ScriptedUpstream, scripted_upstream

# Provider kinds the clients reach, and the provider name models are addressed under.
PROVIDER_NAMES = {
    "openai-compatible": "chat",
    "deepseek": "ds",
    "anthropic": "claude",
    "openai": "oai",
}
CLIENT_TIMEOUT_S = 240


@dataclass(frozen=True)
class AgentGateway:
    url: str
    key: str
    model: str
    upstream: ScriptedUpstream
    audit_dir: Path

    @property
    def openai_base(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base(self) -> str:
        return self.url

    def audit(self) -> list[dict[str, Any]]:
        """Every audit record written so far, oldest first."""
        return [
            orjson.loads(line)
            for path in sorted(self.audit_dir.glob("audit-*.jsonl"))
            for line in path.read_bytes().splitlines()
        ]

    def generation_records(self) -> list[dict[str, Any]]:
        """Audit records of requests the upstream answered (not admin or model listing)."""
        return [r for r in self.audit() if r.get("provider")]


def _provider(kind: str, root: str) -> dict[str, Any]:
    base = root if kind == "anthropic" else f"{root}/v1"
    return {
        "name": PROVIDER_NAMES[kind],
        "kind": kind,
        "base_url": base,
        "api_key": UPSTREAM_KEY,
        "models": list(MODELS),
    }


@contextmanager
def agent_gateway(
    tmp_path: Path, kind: str, script: Script = default_script
) -> Iterator[AgentGateway]:
    """The scripted upstream behind a gateway with one ``kind`` provider, and a key."""
    with scripted_upstream(script) as (root, upstream):
        settings = make_settings(tmp_path, [_provider(kind, root)])
        with serve_app(create_app(settings)) as url:
            yield AgentGateway(
                url=url,
                key=create_key(url),
                model=f"{PROVIDER_NAMES[kind]}/{MODELS[0]}",
                upstream=upstream,
                audit_dir=tmp_path / "log" / "audit",
            )


@contextmanager
def local_gateway(tmp_path: Path, llama_url: str) -> Iterator[AgentGateway]:
    """A gateway in front of the real llama.cpp server (``llama_url`` ends in ``/v1``)."""
    provider = {"name": "local", "kind": "openai-compatible", "base_url": llama_url}
    models = httpx.get(f"{llama_url}/models", timeout=30).json()["data"]
    settings = make_settings(tmp_path, [provider])
    with serve_app(create_app(settings)) as url:
        yield AgentGateway(
            url=url,
            key=create_key(url),
            model=f"local/{models[0]['id']}",
            upstream=ScriptedUpstream(),
            audit_dir=tmp_path / "log" / "audit",
        )


def create_key(url: str) -> str:
    response = httpx.post(
        f"{url}/admin/keys",
        json={"name": "agent"},
        headers={"authorization": f"Bearer {MASTER}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def run_client(
    argv: Sequence[str], cwd: Path, env: dict[str, str], timeout: int = CLIENT_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run a client to completion, non-interactively (stdin closed), output captured."""
    return subprocess.run(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def agents_dir() -> Path:
    """Where .ci/agents.sh installed the clients."""
    default = Path.home() / ".cache" / "securellm" / "agents"
    return Path(os.environ.get("SECURELLM_AGENTS_DIR", str(default)))


def client_binary(*parts: str) -> Path:
    """A client's executable under :func:`agents_dir`, or skip (fail under CI=true)."""
    path = agents_dir().joinpath(*parts)
    if not path.is_file():
        missing(f"the agent client {path} (run .ci/agents.sh)")
    return path


def client_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment: a temp HOME, the caller's PATH, nothing else of the user's."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
    }
    return {**env, **extra}


def assert_no_4xx(gateway: AgentGateway) -> None:
    """No request the client made got a client error from the gateway."""
    bad = [(r.get("status"), r.get("error")) for r in gateway.audit() if r.get("status", 0) >= 400]
    assert bad == []


def assert_one_record_per_upstream_request(gateway: AgentGateway) -> None:
    """Each completion the upstream served has exactly one audit record, and no more."""
    assert gateway.upstream.generations != []
    assert len(gateway.generation_records()) == len(gateway.upstream.generations)


def logged_errors(stdout: str) -> list[tuple[int, str]]:
    """``(status, path)`` of every request the gateway's request log shows at 400 or above.

    The audit trail holds the requests the pipeline served; the request log (one JSON line
    per request on stdout) also has the ones refused before dispatch and unknown routes.
    """
    lines = [line for line in stdout.splitlines() if '"securellm.access"' in line]
    assert lines != [], "the gateway's request log was not captured"
    found = []
    for line in lines:
        entry = orjson.loads(line)
        if entry.get("status", 0) >= 400:
            found.append((entry["status"], f"{entry.get('path')}: {entry.get('error')}"))
    return found


def assert_task_done(
    gateway: AgentGateway, output: str, work: Path, stdout: str, written: str = SENTINEL_FILE
) -> None:
    """The client finished (the final marker), its tool ran (``written`` in ``work`` holds the
    sentinel text), no request got a 4xx in the audit trail or the request log (``stdout``),
    and each completion the upstream served has exactly one audit record."""
    assert FINAL_MARKER in output
    assert (work / written).read_text().strip() == SENTINEL_TEXT
    assert_no_4xx(gateway)
    assert logged_errors(stdout) == []
    assert_one_record_per_upstream_request(gateway)
