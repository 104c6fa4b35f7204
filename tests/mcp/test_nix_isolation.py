"""A flake's inputs cannot read outside the allowed roots: real nix inside real bubblewrap.

The attack: a flake inside the roots (or a remote one, or any flake's dependency) declares
``inputs.s = { url = "path:/outside/secret"; flake = false; }``. Nix fetches that input
itself while it locks the flake, copying the file into the world-readable store, and
``builtins.readFile s`` hands its content to the tool's output.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from support.require import require_binary

pytestmark = pytest.mark.nix
SYSTEM = "x86_64-linux"
STORE = Path("/nix/store")


def require_isolated_nix() -> None:
    require_binary("nix")
    require_binary("bwrap")


@dataclass
class Attack:
    """A project flake (the only allowed root) whose input names a file outside it."""

    project: Path
    secret: Path
    content: str
    started: float


def write_reader(directory: Path, url: str, extra: str = "") -> Path:
    """A flake whose ``x`` is the content of the file input ``url``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "flake.nix").write_text(
        f'{{ inputs.s = {{ url = "{url}"; flake = false; }};\n'
        f"  outputs = {{ self, s }}: {{ x = builtins.readFile s; {extra} }}; }}\n"
    )
    return directory


@pytest.fixture
def attack(tmp_path: Path) -> Attack:
    require_isolated_nix()
    secret = tmp_path / "outside" / f"secret-{uuid.uuid4().hex}.txt"
    secret.parent.mkdir()
    content = f"TOPSECRET-{uuid.uuid4().hex}"
    secret.write_text(content)
    project = write_reader(tmp_path / "project", f"path:{secret}")
    return Attack(project, secret, content, time.time() - 1)


def recent_store_files(since: float) -> Iterator[Path]:
    """Files of the store paths added since ``since`` (their ctime is when Nix added them)."""
    for entry in STORE.iterdir():
        try:
            if entry.lstat().st_ctime < since or entry.name.endswith(".lock"):
                continue
        except FileNotFoundError:
            continue
        if entry.is_file() and not entry.is_symlink():
            yield entry
        elif entry.is_dir() and not entry.is_symlink():
            yield from (
                path for path in entry.rglob("*") if path.is_file() and not path.is_symlink()
            )


def leaked_into_store(attack: Attack) -> bool:
    """Whether a store path added during the test has the secret's name or content."""
    content = attack.content.encode()
    for path in recent_store_files(attack.started):
        if attack.secret.name in path.name:
            return True
        if path.stat().st_size < 1_000_000 and content in path.read_bytes():
            return True
    return False


def harness_for(make_harness: Any, attack: Attack, **mcp: Any) -> Any:
    return make_harness(nix_allowed_roots=[str(attack.project)], **mcp)


async def test_eval_cannot_read_a_file_outside_the_roots_through_an_input(
    make_harness: Any, attack: Attack
) -> None:
    async with harness_for(make_harness, attack) as h:
        text = await h.error("nix_eval", flake_ref=str(attack.project), attr="x")
    assert f"getting status of '{attack.secret}': No such file or directory" in text
    assert attack.content not in text
    assert not leaked_into_store(attack)


async def test_flake_metadata_cannot_read_a_file_outside_the_roots_through_an_input(
    make_harness: Any, attack: Attack
) -> None:
    async with harness_for(make_harness, attack) as h:
        text = await h.error("nix_flake_metadata", flake_ref=str(attack.project))
    assert f"getting status of '{attack.secret}': No such file or directory" in text
    assert not leaked_into_store(attack)


async def test_with_isolation_off_the_same_input_leaks(make_harness: Any, attack: Attack) -> None:
    """What isolation prevents: without it the secret reaches the output and the store."""
    async with harness_for(make_harness, attack, nix_isolation="off") as h:
        result = await h.call("nix_eval", flake_ref=str(attack.project), attr="x")
    assert result["value"] == attack.content
    assert leaked_into_store(attack)


async def test_an_input_of_an_input_cannot_read_outside_the_roots(
    make_harness: Any, attack: Attack
) -> None:
    dependency = attack.project / "dependency"
    write_reader(dependency, f"path:{attack.secret}")
    outer = attack.project / "outer"
    outer.mkdir()
    (outer / "flake.nix").write_text(
        f'{{ inputs.d.url = "path:{dependency}";\n  outputs = {{ self, d }}: {{ x = d.x; }}; }}\n'
    )
    async with harness_for(make_harness, attack) as h:
        text = await h.error("nix_eval", flake_ref=str(outer), attr="x")
    assert "No such file or directory" in text
    assert not leaked_into_store(attack)


async def test_the_hosts_proc_does_not_lead_back_to_the_file_system(
    make_harness: Any, attack: Attack
) -> None:
    via_proc = write_reader(attack.project / "proc", f"path:/proc/1/root{attack.secret}")
    async with harness_for(make_harness, attack) as h:
        text = await h.error("nix_eval", flake_ref=str(via_proc), attr="x")
    assert "No such file or directory" in text
    assert attack.content not in text
    assert not leaked_into_store(attack)


async def test_an_input_inside_the_roots_is_read(make_harness: Any, attack: Attack) -> None:
    data = attack.project / "data.txt"
    data.write_text("inside the roots\n")
    reader = write_reader(attack.project / "reader", f"path:{data}")
    async with harness_for(make_harness, attack) as h:
        result = await h.call("nix_eval", flake_ref=str(reader), attr="x")
    assert result["value"] == "inside the roots\n"


async def test_a_flake_in_a_git_repository_inside_the_roots_is_evaluated(
    make_harness: Any, attack: Attack
) -> None:
    """Nix runs git inside the view to list the repository's files."""
    git = require_binary("git")
    repo = attack.project / "repo"
    repo.mkdir()
    (repo / "flake.nix").write_text("{ outputs = { self }: { x = 7; }; }\n")
    for argv in (["init", "-q"], ["add", "flake.nix"]):
        subprocess.run([git, "-C", str(repo), *argv], check=True)
    async with harness_for(make_harness, attack) as h:
        bare = await h.call("nix_eval", flake_ref=str(repo), attr="x")
        git_file = await h.call("nix_eval", flake_ref=f"git+file://{repo}", attr="x")
    assert (bare["value"], git_file["value"]) == (7, 7)


async def test_nix_isolation_paths_are_shown_to_nix(make_harness: Any, attack: Attack) -> None:
    async with harness_for(make_harness, attack, nix_isolation_paths=[str(attack.secret)]) as h:
        result = await h.call("nix_eval", flake_ref=str(attack.project), attr="x")
    assert result["value"] == attack.content


async def test_read_only_tools_write_no_lock_file(make_harness: Any, attack: Attack) -> None:
    (attack.project / "data.txt").write_text("x")
    reader = write_reader(attack.project / "reader", f"path:{attack.project / 'data.txt'}")
    async with harness_for(make_harness, attack) as h:
        await h.call("nix_flake_metadata", flake_ref=str(reader))
        await h.call("nix_flake_show", flake_ref=str(reader))
        await h.call("nix_eval", flake_ref=str(reader), attr="x")
    assert not (reader / "flake.lock").exists()


IFD = """
{ outputs = { self }: {
    x = import (builtins.derivation {
      name = "ifd"; system = "SYSTEM"; builder = "/bin/sh"; nonce = "NONCE";
      args = [ "-c" "echo 42 > $out" ];
    });
  };
}
"""


async def test_import_from_derivation_is_refused_with_a_clear_error(
    make_harness: Any, tmp_path: Path
) -> None:
    require_isolated_nix()
    flake = tmp_path / "ifd"
    flake.mkdir()
    text = IFD.replace("SYSTEM", SYSTEM).replace("NONCE", uuid.uuid4().hex)
    (flake / "flake.nix").write_text(text)
    async with make_harness() as h:
        error = await h.error("nix_eval", flake_ref=str(flake), attr="x")
    assert "allow-import-from-derivation" in error


PEEK = """
{ outputs = { self }: {
    packages.SYSTEM.peek = builtins.derivation {
      name = "peek"; system = "SYSTEM"; builder = "/bin/sh"; nonce = "NONCE";
      args = [ "-c" "(while read l; do echo $l; done < SECRET) > $out || echo unreadable > $out" ];
    };
  };
}
"""


async def test_a_build_outside_the_view_cannot_read_outside_the_store(
    make_harness: Any, attack: Attack
) -> None:
    flake = attack.project / "peek"
    flake.mkdir()
    text = PEEK.replace("SYSTEM", SYSTEM).replace("NONCE", uuid.uuid4().hex)
    (flake / "flake.nix").write_text(text.replace("SECRET", str(attack.secret)))
    async with harness_for(make_harness, attack) as h:
        result = await h.call("nix_build", flake_ref=str(flake), attr=f"packages.{SYSTEM}.peek")
    assert Path(result["outputs"]["out"]).read_text() == "unreadable\n"
    assert result["drv_path"].endswith("-peek.drv")


CHECKS = """
{ outputs = { self }: {
    checks.SYSTEM.mine = builtins.derivation {
      name = "mine"; system = "SYSTEM"; builder = "/bin/sh"; nonce = "NONCE";
      args = [ "-c" "echo check-ran-NONCE >&2; exit 1" ];
    };
    checks.aarch64-darwin.other = builtins.derivation {
      name = "other"; system = "aarch64-darwin"; builder = "/bin/sh"; args = [ "-c" "exit 1" ];
    };
  };
}
"""


async def test_flake_check_builds_this_systems_checks_and_reports_a_failing_one(
    make_harness: Any, tmp_path: Path
) -> None:
    """The other system's check would fail too if it were built: only this system's are."""
    require_isolated_nix()
    nonce = uuid.uuid4().hex
    flake = tmp_path / "checks"
    flake.mkdir()
    (flake / "flake.nix").write_text(CHECKS.replace("SYSTEM", SYSTEM).replace("NONCE", nonce))
    async with make_harness() as h:
        result = await h.call("nix_flake_check", flake_ref=str(flake))
    assert result["ok"] is False
    assert f"check-ran-{nonce}" in result["log_tail"]


async def test_flake_check_passes_when_this_systems_checks_build(
    make_harness: Any, tmp_path: Path
) -> None:
    require_isolated_nix()
    nonce = uuid.uuid4().hex
    flake = tmp_path / "checks"
    flake.mkdir()
    passing = CHECKS.replace(
        'exit 1" ];\n    };\n    checks.aarch64', 'echo ok > $out" ];\n    };\n    checks.aarch64'
    )
    assert passing != CHECKS
    (flake / "flake.nix").write_text(passing.replace("SYSTEM", SYSTEM).replace("NONCE", nonce))
    async with make_harness() as h:
        result = await h.call("nix_flake_check", flake_ref=str(flake))
    assert result["ok"] is True, result["log_tail"]


OFF = """
{ outputs = { self }: {
    packages.SYSTEM.hello = builtins.derivation {
      name = "hello"; system = "SYSTEM"; builder = "/bin/sh"; nonce = "NONCE";
      args = [ "-c" "echo hi > $out" ];
    };
    checks.SYSTEM.mine = builtins.derivation {
      name = "mine"; system = "SYSTEM"; builder = "/bin/sh"; nonce = "NONCE";
      args = [ "-c" "echo check-ran-NONCE >&2; exit 1" ];
    };
  };
}
"""


async def test_with_isolation_off_a_build_and_a_check_still_work(
    make_harness: Any, tmp_path: Path
) -> None:
    require_binary("nix")
    nonce = uuid.uuid4().hex
    flake = tmp_path / "off"
    flake.mkdir()
    (flake / "flake.nix").write_text(OFF.replace("SYSTEM", SYSTEM).replace("NONCE", nonce))
    async with make_harness(nix_isolation="off") as h:
        build = await h.call("nix_build", flake_ref=str(flake), attr=f"packages.{SYSTEM}.hello")
        check = await h.call("nix_flake_check", flake_ref=str(flake))
    assert Path(build["outputs"]["out"]).read_text() == "hi\n"
    assert check["ok"] is False
    assert f"check-ran-{nonce}" in check["log_tail"]


def sleeping_nix(tmp_path: Path, nonce: str) -> Path:
    """A stand-in ``nix`` that answers show-config, then says it started and sleeps."""
    script = tmp_path / "sleeping-nix"
    script.write_text(
        "#!/bin/sh\n"
        "case \"$*\" in *show-config*) echo '{}'; exit 0;; esac\n"
        f"exec /bin/sh -c 'echo started-{nonce} >&2; sleep 60; : {nonce}'\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def running(token: str) -> bool:
    return any(token in _cmdline(pid) for pid in os.listdir("/proc") if pid.isdigit())


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


async def wait_gone(token: str) -> bool:
    for _ in range(100):
        if not running(token):
            return True
        await anyio.sleep(0.1)
    return False


async def test_a_timeout_kills_nix_inside_the_view(make_harness: Any, tmp_path: Path) -> None:
    require_binary("bwrap")
    nonce = uuid.uuid4().hex
    script = sleeping_nix(tmp_path, nonce)
    flake = write_reader(tmp_path / "flake", "path:/dev/null")
    async with make_harness(nix_binary=str(script), nix_timeout_s=2) as h:
        text = await h.error("nix_eval", flake_ref=str(flake), attr="x")
    assert "timed out after 2s" in text
    assert await wait_gone(nonce)


async def test_a_cancelled_check_kills_nix_inside_the_view_and_reports_progress(
    make_harness: Any, tmp_path: Path
) -> None:
    require_binary("bwrap")
    nonce = uuid.uuid4().hex
    script = sleeping_nix(tmp_path, nonce)
    flake = write_reader(tmp_path / "flake", "path:/dev/null")
    started = anyio.Event()

    async def progress(done: float, total: float | None, message: str | None) -> None:
        if message == f"started-{nonce}":
            started.set()

    async with make_harness(nix_binary=str(script)) as h, anyio.create_task_group() as group:
        group.start_soon(
            h.client.call_tool, "nix_flake_check", {"flake_ref": str(flake)}, None, progress
        )
        with anyio.fail_after(30):
            await started.wait()
        assert running(nonce)
        group.cancel_scope.cancel()
    assert await wait_gone(nonce)


def recording_nix(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in ``nix`` that leaves a marker whenever it is started, for anything."""
    marker = tmp_path / "nix-was-run"
    script = tmp_path / "recording-nix"
    script.write_text(f"#!/bin/sh\ntouch {marker}\necho '{{}}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, marker


async def test_a_configured_bwrap_that_is_missing_is_one_clear_error(
    make_harness: Any, tmp_path: Path
) -> None:
    script, marker = recording_nix(tmp_path)
    flake = write_reader(tmp_path / "flake", "path:/dev/null")
    missing = str(tmp_path / "no-such-bwrap")
    async with make_harness(nix_binary=str(script), nix_bwrap_binary=missing) as h:
        text = await h.error("nix_flake_show", flake_ref=str(flake))
    assert f"{missing!r} is not on PATH" in text
    assert "install bubblewrap" in text
    assert 'set [mcp] nix_isolation = "off"' in text
    assert "\n" not in text
    assert not marker.exists()


async def test_bwrap_missing_from_path_is_the_same_error_for_every_nix_tool(
    make_harness: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script, marker = recording_nix(tmp_path)
    flake = str(write_reader(tmp_path / "flake", "path:/dev/null"))
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    calls = [
        ("nix_flake_metadata", {"flake_ref": flake}),
        ("nix_flake_show", {"flake_ref": flake}),
        ("nix_flake_check", {"flake_ref": flake}),
        ("nix_eval", {"flake_ref": flake, "attr": "x"}),
        ("nix_search", {"query": "hello", "flake_ref": flake}),
        ("nix_build", {"flake_ref": flake, "attr": "x"}),
    ]
    async with make_harness(nix_binary=str(script)) as h:
        answers = [(tool, await h.error(tool, **arguments)) for tool, arguments in calls]
    # the SDK starts each with "Error executing tool <name>: "
    texts = {text.removeprefix(f"Error executing tool {tool}: ") for tool, text in answers}
    assert len(texts) == 1
    assert "'bwrap' is not on PATH: install bubblewrap" in texts.pop()
    assert not marker.exists()


async def test_a_bwrap_that_does_not_work_says_why(make_harness: Any, tmp_path: Path) -> None:
    script, marker = recording_nix(tmp_path)
    broken = tmp_path / "broken-bwrap"
    broken.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
    )
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)
    flake = write_reader(tmp_path / "flake", "path:/dev/null")
    async with make_harness(nix_binary=str(script), nix_bwrap_binary=str(broken)) as h:
        text = await h.error("nix_eval", flake_ref=str(flake), attr="x")
    assert "does not work here (bwrap: No permissions to create new namespace)" in text
    assert not marker.exists()
