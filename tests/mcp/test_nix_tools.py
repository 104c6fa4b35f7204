"""The Nix tools against the real ``nix`` binary on local flakes (no network needed)."""

from __future__ import annotations

import os
import stat
import subprocess
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest

from support.require import require_binary

pytestmark = pytest.mark.nix
SYSTEM = "x86_64-linux"

FLAKE = """
{
  description = "securellm test flake";
  outputs = { self }: {
    lib.answer = 42;
    packages.SYSTEM = {
      hello = builtins.derivation {
        name = "hello"; system = "SYSTEM"; builder = "/bin/sh"; nonce = "NONCE";
        args = [ "-c" "echo building-hello >&2; echo hi > $out" ];
      };
      slow = builtins.derivation {
        name = "slow"; system = "SYSTEM"; builder = "/bin/sh"; nonce = "NONCE";
        args = [ "-c" "echo started-NONCE >&2; /bin/sleep 60; echo done > $out" ];
      };
    };
  };
}
"""

BROKEN = """
{
  outputs = { self }: { packages.SYSTEM.bad = throw "this flake is broken on purpose"; };
}
"""


def write_flake(directory: Path, text: str, nonce: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "flake.nix").write_text(text.replace("SYSTEM", SYSTEM).replace("NONCE", nonce))
    return directory


@pytest.fixture
def nonce() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def flake(tmp_path: Path, nonce: str) -> str:
    require_binary("nix")
    require_binary("bwrap")  # the Nix tools evaluate inside bubblewrap
    return str(write_flake(tmp_path / "flake", FLAKE, nonce))


def running(token: str) -> bool:
    """Whether any process has ``token`` on its command line."""
    found = subprocess.run(["pgrep", "-f", token], capture_output=True, check=False)
    return found.returncode == 0


async def wait_gone(token: str) -> bool:
    for _ in range(100):
        if not running(token):
            return True
        await anyio.sleep(0.1)
    return False


async def test_flake_metadata_is_cached_on_second_call(harness: Any, flake: str) -> None:
    async with harness as h:
        first = await h.call("nix_flake_metadata", flake_ref=flake)
        second = await h.call("nix_flake_metadata", flake_ref=flake)
        stats = await h.call("cache_stats")
    assert first["data"]["description"] == "securellm test flake"
    assert (first["cached"], second["cached"]) == (False, True)
    assert stats["hits"] == 1


async def test_flake_show_lists_the_packages(harness: Any, flake: str) -> None:
    async with harness as h:
        shown = await h.call("nix_flake_show", flake_ref=flake)
    assert shown["data"]["packages"][SYSTEM]["hello"]["type"] == "derivation"


async def test_eval_returns_the_json_value(harness: Any, flake: str) -> None:
    async with harness as h:
        result = await h.call("nix_eval", flake_ref=flake, attr="lib.answer")
    assert result["value"] == 42


async def test_eval_of_a_missing_attribute_is_a_tool_error(harness: Any, flake: str) -> None:
    async with harness as h:
        text = await h.error("nix_eval", flake_ref=flake, attr="lib.nothing")
    assert "nix eval failed" in text


async def test_flake_check_passes_on_a_good_flake(harness: Any, flake: str) -> None:
    async with harness as h:
        result = await h.call("nix_flake_check", flake_ref=flake)
    assert result["ok"] is True


async def test_flake_check_reports_a_broken_flake(harness: Any, tmp_path: Path, nonce: str) -> None:
    require_binary("nix")
    require_binary("bwrap")  # the Nix tools evaluate inside bubblewrap
    broken = write_flake(tmp_path / "broken", BROKEN, nonce)
    async with harness as h:
        result = await h.call("nix_flake_check", flake_ref=str(broken))
    assert result["ok"] is False
    assert "broken on purpose" in result["log_tail"]


async def test_build_returns_the_store_path_and_reports_progress(harness: Any, flake: str) -> None:
    messages: list[str] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    async with harness as h:
        result = await h.client.call_tool(
            "nix_build",
            {"flake_ref": flake, "attr": f"packages.{SYSTEM}.hello"},
            progress_callback=progress,
        )
    assert not result.is_error, result.content
    out = result.structured_content["outputs"]["out"]
    assert Path(out).read_text() == "hi\n"
    assert any("building-hello" in m for m in messages)


async def test_search_without_a_registry_is_a_clear_tool_error(
    tmp_path: Path, make_harness: Any
) -> None:
    require_binary("nix")
    require_binary("bwrap")  # the Nix tools evaluate inside bubblewrap
    registry = tmp_path / "registry.json"
    registry.write_text('{"flakes": [], "version": 2}')
    options = ["--option", "substituters", "", "--option", "flake-registry", str(registry)]
    async with make_harness(nix_extra_options=options) as h:
        text = await h.error("nix_search", query="hello", flake_ref="nixpkgs")
    assert "nix search failed" in text
    assert "nixpkgs" in text


async def test_missing_nix_binary_is_reported_clearly(
    tmp_path: Path, make_harness: Any, nonce: str
) -> None:
    flake = write_flake(tmp_path / "flake", FLAKE, nonce)
    async with make_harness(nix_binary="nix-binary-that-does-not-exist") as h:
        text = await h.error("nix_flake_show", flake_ref=str(flake))
    assert "is not on PATH" in text


def fake_nix(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in ``nix`` that only records that it was started (the tests using it set
    nix_isolation = "off": inside bubblewrap, tmp_path is read-only, so a start there would
    leave no marker)."""
    marker = tmp_path / "nix-was-run"
    script = tmp_path / "fake-nix"
    script.write_text(f"#!/bin/sh\ntouch {marker}\necho '{{}}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, marker


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("nix_eval", {"flake_ref": ". ; touch /tmp/pwned", "attr": "x"}),
        ("nix_eval", {"flake_ref": ".", "attr": "x; id"}),
        ("nix_build", {"flake_ref": "$(reboot)", "attr": "x"}),
        ("nix_flake_show", {"flake_ref": "--option sandbox false"}),
        ("nix_flake_metadata", {"flake_ref": "../../../../etc"}),
        ("nix_search", {"query": "`id`"}),
        ("nix_flake_check", {"flake_ref": "x" * 100_000}),
    ],
)
async def test_injection_attempts_never_start_a_process(
    tmp_path: Path, make_harness: Any, tool: str, arguments: dict[str, Any]
) -> None:
    script, marker = fake_nix(tmp_path)
    async with make_harness(nix_binary=str(script), nix_isolation="off") as h:
        await h.error(tool, **arguments)
    assert not marker.exists()


async def test_fake_nix_marker_detects_a_real_start(
    tmp_path: Path, make_harness: Any, nonce: str
) -> None:
    script, marker = fake_nix(tmp_path)
    flake = write_flake(tmp_path / "flake", FLAKE, nonce)
    async with make_harness(nix_binary=str(script), nix_isolation="off") as h:
        await h.call("nix_flake_show", flake_ref=str(flake))
    assert marker.exists()


async def test_build_timeout_kills_the_build(tmp_path: Path, make_harness: Any, nonce: str) -> None:
    require_binary("nix")
    require_binary("bwrap")  # the Nix tools evaluate inside bubblewrap
    flake = write_flake(tmp_path / "flake", FLAKE, nonce)
    async with make_harness(nix_build_timeout_s=3) as h:
        text = await h.error("nix_build", flake_ref=str(flake), attr=f"packages.{SYSTEM}.slow")
    assert "timed out after 3s" in text
    assert await wait_gone(f"started-{nonce}")


async def test_other_requests_are_answered_while_a_build_runs(
    harness: Any, flake: str, nonce: str
) -> None:
    order: list[str] = []
    started = anyio.Event()

    async def progress(done: float, total: float | None, message: str | None) -> None:
        if message and "started-" in message:
            started.set()

    async with harness as h, anyio.create_task_group() as group:

        async def build() -> None:
            await h.client.call_tool(
                "nix_build",
                {"flake_ref": flake, "attr": f"packages.{SYSTEM}.slow"},
                progress_callback=progress,
            )
            order.append("build")

        group.start_soon(build)
        with anyio.fail_after(60):
            await started.wait()
        await h.call("knowledge_recent")
        await h.call("cache_stats")
        order.append("quick calls")
        group.cancel_scope.cancel()
    assert order == ["quick calls"]
    assert await wait_gone(f"started-{nonce}")


def test_nix_is_run_with_flakes_enabled(tmp_path: Path) -> None:
    require_binary("nix")
    from securellm.mcp.nix.runner import NixRunner

    argv = NixRunner("nix", extra_options=["--offline"]).argv(["eval", "x"])
    assert argv[1:4] == ["--extra-experimental-features", "nix-command flakes", "--offline"]
    assert os.path.isabs(argv[0])


async def test_oversized_nix_output_is_refused(
    tmp_path: Path, make_harness: Any, nonce: str
) -> None:
    require_binary("bwrap")  # the output cap holds through bubblewrap
    script = tmp_path / "chatty-nix"
    script.write_text("#!/bin/sh\nhead -c 200000 /dev/zero | tr '\\0' 'x'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    flake = write_flake(tmp_path / "flake", FLAKE, nonce)
    async with make_harness(nix_binary=str(script), nix_max_output_bytes=4096) as h:
        text = await h.error("nix_flake_show", flake_ref=str(flake))
    assert "more than 4096 bytes" in text
