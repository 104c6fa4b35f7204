"""``build_and_test`` and ``package_diagnose`` against the real ``nix`` on local flakes."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest

from securellm.mcp.tools.nix import plain_text
from support.require import require_binary

pytestmark = pytest.mark.nix
SYSTEM = "x86_64-linux"

FLAKE = r"""
{
  outputs = { self }: let
    drv = name: script: builtins.derivation {
      inherit name; system = "SYSTEM"; builder = "/bin/sh"; nonce = "NONCE";
      args = [ "-c" script ];
    };
  in {
    packages.SYSTEM = {
      default = drv "app" "printf '\\033[1;32mcompiling\\033[0m app\\r\\n' >&2; echo app > $out";
      hello = drv "hello" "echo hi > $out";
      broken = drv "broken" "echo 'cc: undefined reference to frobnicate' >&2; exit 1";
      bad-eval = throw "this package is broken on purpose";
      slow = drv "slow" "echo started-NONCE >&2; /bin/sleep 60; echo done > $out";
    };
    checks.SYSTEM = {
      unit = drv "unit" "echo unit-ok >&2; echo ok > $out";
      lint = drv "lint" "echo 'lint: 3 problems' >&2; exit 1";
    };
  };
}
"""
PASSING = r"""
{
  outputs = { self }: {
    packages.SYSTEM.default = builtins.derivation {
      name = "ok"; system = "SYSTEM"; builder = "/bin/sh"; nonce = "NONCE";
      args = [ "-c" "echo ok > $out" ];
    };
    checks.SYSTEM.unit = builtins.derivation {
      name = "unit"; system = "SYSTEM"; builder = "/bin/sh"; nonce = "NONCE";
      args = [ "-c" "echo ok > $out" ];
    };
  };
}
"""


def write_flake(directory: Path, text: str, nonce: str) -> str:
    require_binary("nix")
    require_binary("bwrap")  # the Nix tools evaluate inside bubblewrap
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "flake.nix").write_text(text.replace("SYSTEM", SYSTEM).replace("NONCE", nonce))
    return str(directory)


@pytest.fixture
def nonce() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def flake(tmp_path: Path, nonce: str) -> str:
    return write_flake(tmp_path / "flake", FLAKE, nonce)


async def test_build_and_test_passes_when_the_build_and_every_check_pass(
    harness: Any, tmp_path: Path, nonce: str
) -> None:
    passing = write_flake(tmp_path / "passing", PASSING, nonce)
    async with harness as h:
        result = await h.call("build_and_test", flake_ref=passing)
    assert result["ok"] is True
    assert Path(result["outputs"]["out"]).read_text() == "ok\n"
    assert result["checks"] == [{"name": "unit", "ok": True, "log_tail": ""}]


async def test_build_and_test_names_the_failing_check_with_its_log(
    harness: Any, flake: str
) -> None:
    async with harness as h:
        result = await h.call("build_and_test", flake_ref=flake)
    assert result["ok"] is False
    by_name = {check["name"]: check for check in result["checks"]}
    assert by_name["unit"]["ok"] is True
    assert by_name["lint"]["ok"] is False
    assert "lint: 3 problems" in by_name["lint"]["log_tail"]


async def test_build_and_test_stops_at_a_failing_build(harness: Any, flake: str) -> None:
    async with harness as h:
        result = await h.call("build_and_test", flake_ref=flake, attr="broken")
    assert result["ok"] is False
    assert result["checks"] == []
    assert "undefined reference to frobnicate" in result["log_tail"]


async def test_build_and_test_progress_is_plain_text(harness: Any, flake: str) -> None:
    messages: list[str] = []
    counts: list[float] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")
        counts.append(done)

    async with harness as h:
        result = await h.client.call_tool(
            "build_and_test", {"flake_ref": flake}, progress_callback=progress
        )
    assert not result.is_error, result.content
    assert counts == sorted(set(counts))  # progress only ever increases
    assert any("compiling app" in m for m in messages)
    assert any(m == "check lint" for m in messages)
    assert not any(ch in m for m in messages for ch in "\x1b\r\x07")


async def test_a_cancelled_build_and_test_kills_the_build(
    harness: Any, flake: str, nonce: str
) -> None:
    started = anyio.Event()

    async def progress(done: float, total: float | None, message: str | None) -> None:
        if message and f"started-{nonce}" in message:
            started.set()

    async with harness as h, anyio.create_task_group() as group:

        async def build() -> None:
            await h.client.call_tool(
                "build_and_test", {"flake_ref": flake, "attr": "slow"}, progress_callback=progress
            )

        group.start_soon(build)
        with anyio.fail_after(60):
            await started.wait()
        group.cancel_scope.cancel()
    for _ in range(100):
        if not await _running(f"started-{nonce}"):
            return
        await anyio.sleep(0.1)
    pytest.fail("the build kept running after the request was cancelled")


async def _running(token: str) -> bool:
    done = await anyio.run_process(["pgrep", "-f", token], check=False)
    return done.returncode == 0


async def test_diagnose_says_a_good_package_builds(harness: Any, flake: str) -> None:
    async with harness as h:
        result = await h.call("package_diagnose", flake_ref=flake, attr="hello")
    assert result["status"] == "builds"
    assert result["drv_path"].endswith("-hello.drv")


async def test_diagnose_suggests_names_for_a_missing_package(harness: Any, flake: str) -> None:
    async with harness as h:
        result = await h.call("package_diagnose", flake_ref=flake, attr="helo")
    assert result["status"] == "missing"
    assert result["suggestions"][0] == "hello"


async def test_diagnose_reports_the_evaluation_error(harness: Any, flake: str) -> None:
    async with harness as h:
        result = await h.call("package_diagnose", flake_ref=flake, attr="bad-eval")
    assert result["status"] == "evaluation_error"
    assert "broken on purpose" in result["summary"]


async def test_diagnose_reports_the_build_log_tail(harness: Any, flake: str) -> None:
    async with harness as h:
        result = await h.call("package_diagnose", flake_ref=flake, attr="broken")
    assert result["status"] == "build_failed"
    assert "undefined reference to frobnicate" in result["log_tail"]


async def test_flake_check_is_not_announced_as_read_only(harness: Any) -> None:
    async with harness as h:
        listed = await h.client.list_tools()
    hints = {tool.name: tool.annotations for tool in listed.tools}
    for name in ("nix_flake_check", "build_and_test", "package_diagnose"):
        assert hints[name] is not None
        assert hints[name].read_only_hint is False, name


def test_progress_text_loses_colours_osc_links_and_carriage_return_redraws() -> None:
    line = "\x1b[31;1merror:\x1b[0m x \x1b]8;;http://h\x07link\x1b]8;;\x07\r[1/2 built] ok\x07"
    assert plain_text(line) == "[1/2 built] ok"


def test_progress_text_keeps_ordinary_unicode() -> None:
    assert plain_text("building «hello» ✓") == "building «hello» ✓"
