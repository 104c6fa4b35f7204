"""Plan and apply the installation of the shipped deployment files on a non-NixOS host.

``plan`` is pure (it reads the package data and looks at what already exists under the
prefix); ``apply`` writes. Units are always refreshed; configs under ``/etc/securellm`` are
written once and never overwritten, since the administrator edits them.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from pathlib import Path, PurePosixPath

PLACEHOLDER_EXE = "/usr/local/bin/securellm"
UNIT_NAMES = ("securellm-gateway.service", "securellm-offload.service", "securellm-mcp.service")


class InstallError(Exception):
    """The files cannot be installed; the message says why and what to do."""


class Status(Enum):
    WRITE = "write"
    KEEP = "keep"


@dataclass(frozen=True)
class Placement:
    """One shipped file and where it goes on the host."""

    resource: str
    target: PurePosixPath
    replace: bool = True


PLACEMENTS: tuple[Placement, ...] = (
    *(Placement(name, PurePosixPath("/etc/systemd/system") / name) for name in UNIT_NAMES),
    Placement("sysusers.conf", PurePosixPath("/etc/sysusers.d/securellm.conf")),
    Placement("tmpfiles.conf", PurePosixPath("/etc/tmpfiles.d/securellm.conf")),
    Placement(
        "50-securellm-offload.rules",
        PurePosixPath("/etc/polkit-1/rules.d/50-securellm-offload.rules"),
    ),
    Placement("gateway.toml", PurePosixPath("/etc/securellm/gateway.toml"), replace=False),
    Placement("offload.toml", PurePosixPath("/etc/securellm/offload.toml"), replace=False),
    Placement("mcp.toml", PurePosixPath("/etc/securellm/mcp.toml"), replace=False),
)


@dataclass(frozen=True)
class Action:
    """What ``apply`` will do with one file."""

    target: Path
    content: bytes
    status: Status


def check_executable(exe: Path) -> Path:
    """The ``securellm`` program the units will run: absolute, runnable, outside /home and /root."""
    if not exe.is_absolute():
        raise InstallError(f"the securellm executable must be an absolute path, got {exe}")
    if any(ch.isspace() for ch in str(exe)):
        raise InstallError(f"the securellm executable path contains white space: {exe}")
    if exe.parts[1:2] in (("home",), ("root",)):
        raise InstallError(
            f"{exe} is under /{exe.parts[1]}, which ProtectHome=yes hides from the services; "
            "install securellm in a virtualenv such as /opt/securellm"
        )
    if not (exe.is_file() and os.access(exe, os.X_OK)):
        raise InstallError(f"{exe} is not an executable file (pass --exec PATH)")
    return exe


def render(resource: str, exe: Path) -> bytes:
    """A shipped file's bytes, with unit ``ExecStart=`` pointed at ``exe``."""
    try:
        text = resources.files(__package__ or __name__).joinpath(resource).read_text("utf-8")
    except FileNotFoundError:
        raise InstallError(
            f"{resource} is missing from the installed securellm package; reinstall it"
        ) from None
    if resource.endswith(".service"):
        text = text.replace(f"ExecStart={PLACEHOLDER_EXE} ", f"ExecStart={exe} ")
    return text.encode("utf-8")


def plan(prefix: Path, exe: Path) -> list[Action]:
    """Every file to install under ``prefix`` (``/`` for the real system)."""
    actions = []
    for placement in PLACEMENTS:
        target = prefix / placement.target.relative_to("/")
        keep = not placement.replace and target.exists()
        status = Status.KEEP if keep else Status.WRITE
        actions.append(Action(target, render(placement.resource, exe), status))
    return actions


def apply(actions: list[Action]) -> None:
    """Write the planned files atomically (mode 0644), leaving kept files untouched."""
    for action in actions:
        if action.status is Status.KEEP:
            continue
        try:
            _write_atomic(action.target, action.content)
        except OSError as exc:
            raise InstallError(f"cannot write {action.target}: {exc.strerror}") from None


def _write_atomic(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
