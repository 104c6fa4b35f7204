"""Nix's evaluation and fetching in a mount namespace that shows only what Nix needs.

Nix fetches the inputs a flake declares while it locks them (``inputs.x = { url =
"path:/home/me/.ssh"; flake = false; }``), before any check of ours could see them, and a
remote flake (or one of its dependencies) can declare such an input as easily as a local
one. So every command that evaluates or fetches runs under bubblewrap, in a view of the file
system that holds only:

- ``/nix`` (read-write: the store and its database, as outside);
- the system's programs and libraries (``/usr``, ``/bin``, ``/sbin``, ``/lib*``);
- the public parts of ``/etc`` that name lookup and TLS need (``passwd``, ``group``,
  ``hosts``, ``resolv.conf``, ``nsswitch.conf``, certificates), NixOS's ``/etc/static`` and
  ``/run/current-system`` (both store paths), and Nix's own ``nix.conf`` and
  ``registry.json`` files, one by one (not the rest of ``/etc/nix``);
- a cache directory of its own (``~/.cache/nix`` holds clones of every git repository the
  user ever fetched, so it stays out), ``~/.nix-profile`` and ``~/.local/state/nix``;
- the directory of the ``nix`` executable;
- the allowed roots, read-only, and ``[mcp] nix_isolation_paths``, read-write;
- a private ``/tmp``, ``/dev`` and a ``/proc`` of its own PID namespace (the host's
  ``/proc/<pid>/root`` would lead back to the whole file system).

Anything else does not exist for Nix there: an input outside the view fails with Nix's own
"No such file or directory". Variables whose names look like credentials (``*KEY*``,
``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``, ``*CREDENTIAL*``, except ``NIX_*``) are not passed
in. Nix's build sandbox cannot start inside the view (the kernel refuses its ``/proc``
mount), so import-from-derivation is turned off there and derivations are built outside,
from the store derivation the view produced (:mod:`securellm.mcp.tools.nix`).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import anyio

from securellm.mcp.errors import NixUnavailableError

Mode = Literal["bwrap", "off"]
PROBE_TIMEOUT_S = 10.0
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL")
PRIVATE_TMP = "/tmp"  # noqa: S108 (a fresh tmpfs inside the view, seen by nothing else)
NO_IFD = ("--option", "allow-import-from-derivation", "false")
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
PUBLIC_ETC = (
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/localtime",
    "/etc/ssl/certs",
    "/etc/ca-certificates",
    "/etc/pki/tls/certs",
    "/etc/pki/ca-trust/extracted",
    "/etc/static",
    "/run/current-system",
)
CERT_VARIABLES = ("NIX_SSL_CERT_FILE", "SSL_CERT_FILE", "SSL_CERT_DIR")


def unavailable(why: str) -> NixUnavailableError:
    """The one error every Nix tool answers with while bubblewrap cannot run."""
    return NixUnavailableError(
        f'the nix_* tools run Nix inside bubblewrap ([mcp] nix_isolation = "bwrap"), but {why}: '
        "install bubblewrap (the 'bubblewrap' package on Debian, Ubuntu, Fedora, Arch and "
        'NixOS), or set [mcp] nix_isolation = "off", with which a flake and its inputs can '
        "copy any file this user can read into the world-readable Nix store and into tool "
        "output"
    )


def secret_name(name: str) -> bool:
    """Whether an environment variable's name looks like it holds a credential."""
    upper = name.upper()
    return not upper.startswith("NIX_") and any(word in upper for word in SECRET_WORDS)


def _absolute(values: Sequence[str]) -> list[Path]:
    return [Path(value) for value in values if value.startswith("/")]


class View:
    """What the isolated Nix sees, derived from the environment it would run with."""

    def __init__(
        self,
        roots: Sequence[Path],
        *,
        paths: Sequence[Path] = (),
        cwd: Path,
        environ: Mapping[str, str],
        home: Path,
    ) -> None:
        self.roots = tuple(roots)
        self.paths = tuple(path.expanduser() for path in paths)
        self._environ = environ
        self._home = Path(environ.get("HOME") or home)
        cache = environ.get("XDG_CACHE_HOME") or str(self._home / ".cache")
        self.cache_home = Path(cache) / "securellm" / "nix-isolated"
        here = cwd.resolve()
        self.chdir = here if any(here.is_relative_to(root) for root in self.roots) else Path("/")

    def config_files(self) -> list[Path]:
        """The ``nix.conf`` and ``registry.json`` files Nix reads, as it finds them."""
        env = self._environ
        conf_dir = Path(env.get("NIX_CONF_DIR") or "/etc/nix")
        config_home = Path(env.get("XDG_CONFIG_HOME") or self._home / ".config")
        config_dirs = _absolute((env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":"))
        files = [conf_dir / "nix.conf", conf_dir / "registry.json"]
        user_files = env.get("NIX_USER_CONF_FILES")
        if user_files is not None:
            files += _absolute(user_files.split(":"))
        else:
            files += [directory / "nix" / "nix.conf" for directory in (config_home, *config_dirs)]
        files.append(config_home / "nix" / "registry.json")
        return files

    def read_only(self, executable: str) -> list[Path]:
        """Every path shown read-only, in mount order (the roots last)."""
        state = Path(self._environ.get("XDG_STATE_HOME") or self._home / ".local" / "state")
        certs = _absolute([self._environ.get(name, "") for name in CERT_VARIABLES])
        nix = Path(executable)
        return [
            *map(Path, SYSTEM_PATHS),
            *map(Path, PUBLIC_ETC),
            *certs,
            *self.config_files(),
            self._home / ".nix-profile",
            state / "nix",
            nix.parent,
            nix.resolve().parent,
            *self.roots,
        ]

    def bwrap_argv(self, bwrap: str, argv: Sequence[str]) -> list[str]:
        """``argv`` run by ``bwrap`` in this view."""
        command = [bwrap, "--die-with-parent", "--unshare-pid", "--proc", "/proc", "--dev", "/dev"]
        command += ["--tmpfs", PRIVATE_TMP, "--bind-try", "/nix", "/nix"]
        for path in self.read_only(argv[0]):
            command += ["--ro-bind-try", str(path), str(path)]
        cache = str(self.cache_home)
        command += ["--bind", cache, cache]
        for path in self.paths:
            command += ["--bind-try", str(path), str(path)]
        return [*command, "--chdir", str(self.chdir), "--", *argv]

    def environment(self) -> dict[str, str]:
        """The environment passed in: this one without credentials, its own cache and /tmp."""
        env = {name: value for name, value in self._environ.items() if not secret_name(name)}
        env["TMPDIR"] = PRIVATE_TMP
        env["XDG_CACHE_HOME"] = str(self.cache_home)
        return env


class Isolation:
    """Wraps a ``nix`` command line in bubblewrap (``mode="bwrap"``) or leaves it (``"off"``)."""

    def __init__(self, mode: Mode, view: View, *, bwrap: str = "bwrap") -> None:
        self.mode = mode
        self.view = view
        self._binary = bwrap
        self._bwrap: str | None = None
        self._lock = anyio.Lock()

    @property
    def enabled(self) -> bool:
        return self.mode == "bwrap"

    def nix_options(self) -> tuple[str, ...]:
        """Options for Nix inside the view: no import-from-derivation (no build can start)."""
        return NO_IFD if self.enabled else ()

    async def wrap(self, argv: list[str]) -> tuple[list[str], dict[str, str] | None]:
        """``argv`` and the environment it runs with (None: this process's own)."""
        if not self.enabled:
            return argv, None
        bwrap = await self.ready()
        self.view.cache_home.joinpath("nix").mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.view.bwrap_argv(bwrap, argv), self.view.environment()

    async def ready(self) -> str:
        """The working ``bwrap``, probed once; raises the one clear error until it works."""
        async with self._lock:
            if self._bwrap is None:
                self._bwrap = await self._probe()
            return self._bwrap

    async def _probe(self) -> str:
        path = shutil.which(self._binary)
        if path is None:
            raise unavailable(f"{self._binary!r} is not on PATH")
        argv = [path, "--die-with-parent", "--unshare-pid", "--ro-bind", "/", "/"]
        argv += ["--proc", "/proc", "--dev", "/dev", "true"]
        try:
            with anyio.fail_after(PROBE_TIMEOUT_S):
                done = await anyio.run_process(argv, check=False, stdin=subprocess.DEVNULL)
        except TimeoutError:
            raise unavailable(
                f"{path} did not finish a trial run in {PROBE_TIMEOUT_S:g}s"
            ) from None
        except OSError as exc:
            raise unavailable(f"{path} cannot be started ({exc.strerror})") from None
        if done.returncode != 0:
            lines = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
            why = lines[-1] if lines else f"exit {done.returncode}"
            raise unavailable(f"{path} does not work here ({why})")
        return path
