"""What kind of Nix install this process talks to, and the options that make it work.

Nix run as root builds as the users of ``build-users-group`` (``nixbld`` by default). A
single-user install (Debian's ``nix-bin`` without ``nix-setup-systemd``, the installer's
``--no-daemon`` mode, a container) has no such group, and every build then fails with
``the group 'nixbld' specified in 'build-users-group' does not exist``. Detected here, that
case gets ``--option build-users-group ""``: Nix builds as the calling user, inside its
sandbox when the kernel allows one (``sandbox`` and ``sandbox-fallback`` are left as
configured). A user other than root never uses build users; what can go wrong for one is a
store it cannot write with no daemon to ask, which is reported before anything runs.
"""

from __future__ import annotations

import grp
import json
import os
from dataclasses import dataclass
from pathlib import Path

STATE_DIR = Path("/nix/var/nix")
DAEMON_SOCKET = STATE_DIR / "daemon-socket" / "socket"
DEFAULT_GROUP = "nixbld"


@dataclass(frozen=True)
class NixInstall:
    """The facts that decide how ``nix`` must be called; gathered by :func:`inspect`."""

    euid: int
    build_users_group: str
    group_exists: bool
    store: str
    state_dir_exists: bool
    state_dir_writable: bool
    daemon_socket: bool

    @property
    def single_user_root(self) -> bool:
        """Root, with a build-users group that does not exist: build as root itself."""
        return self.euid == 0 and bool(self.build_users_group) and not self.group_exists

    def options(self) -> list[str]:
        """The ``nix`` options this install needs (empty for a working multi-user install)."""
        if self.single_user_root:
            return ["--option", "build-users-group", ""]
        return []

    def problem(self) -> str | None:
        """Why ``nix`` cannot work for this user at all, or None.

        Mirrors Nix's ``store = auto``: the local store when its state directory is writable,
        else the daemon when its socket exists, else (no ``/nix`` yet) a store of the user's
        own under ``~/.local/share/nix/root``; a root-owned ``/nix`` without a daemon is a
        dead end for anyone but root.
        """
        if self.euid == 0 or self.store != "auto":
            return None
        if self.state_dir_writable or self.daemon_socket or not self.state_dir_exists:
            return None
        return (
            f"this user (uid {self.euid}) cannot write the Nix store's state in {STATE_DIR} and "
            f"no nix-daemon listens on {DAEMON_SOCKET}: start nix-daemon (a multi-user install), "
            "run the MCP server as the store's owner, or give it a store of its own with "
            '[mcp] nix_extra_options = ["--store", "/home/USER/.local/share/nix/root"] (and '
            'nix_isolation_paths = ["/home/USER/.local/share/nix/root"], so the isolated Nix '
            "sees it)"
        )


def parse_config(text: str) -> tuple[str, str]:
    """``build-users-group`` and ``store`` from ``nix show-config --json``.

    Unreadable output means Nix's built-in defaults for this user.
    """
    group = DEFAULT_GROUP if os.geteuid() == 0 else ""
    store = "auto"
    try:
        data = json.loads(text)
    except ValueError:
        return group, store
    if not isinstance(data, dict):
        return group, store
    return _value(data, "build-users-group", group), _value(data, "store", store)


def _value(data: dict[str, object], name: str, default: str) -> str:
    entry = data.get(name)
    value = entry.get("value") if isinstance(entry, dict) else None
    return value if isinstance(value, str) else default


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def inspect(build_users_group: str, store: str) -> NixInstall:
    """The facts about this process and machine, given what Nix says its settings are."""
    return NixInstall(
        euid=os.geteuid(),
        build_users_group=build_users_group,
        group_exists=group_exists(build_users_group) if build_users_group else True,
        store=store,
        state_dir_exists=STATE_DIR.exists(),
        state_dir_writable=os.access(STATE_DIR, os.R_OK | os.W_OK),
        daemon_socket=DAEMON_SOCKET.exists(),
    )
