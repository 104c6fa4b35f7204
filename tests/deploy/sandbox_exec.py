"""Run a command in the sandbox the securellm units ask systemd for.

Used by test_deploy_service_run.py as
``unshare --mount --propagation private -- python sandbox_exec.py --root R ... -- CMD``
(root only, in a private mount namespace that disappears with the process). It builds what
these unit settings give a service:

- ``ProtectSystem=strict``: the whole host file system read-only, the API file systems /proc,
  /dev and /sys as they are; only the ``--rw`` directories (the StateDirectory= and
  LogsDirectory= stand-ins) are writable, the ``--ro`` ones (configs the private /tmp would
  hide) are readable;
- ``PrivateTmp=yes``: an empty, private /tmp and /var/tmp;
- ``ProtectHome=yes``: /home, /root and /run/user empty and read-only, except the ``--expose``
  directories (this machine's Python interpreter lives under /root/.pyenv);
- ``PrivateDevices=yes`` (``--private-devices``): a /dev with only the pseudo devices;
- ``MemoryDenyWriteExecute=yes`` (``--mdwe``): the kernel's PR_SET_MDWE, which refuses
  memory that is or becomes both writable and executable (kept across execve);
- ``DynamicUser=yes`` / ``User=``, ``NoNewPrivileges=yes``, ``CapabilityBoundingSet=``: with
  ``--uid``, the command runs as that unprivileged user with an empty bounding set;
- ``SystemCallFilter=`` + ``SystemCallErrorNumber=EPERM`` + ``RestrictAddressFamilies=``: with
  ``--syscalls FILE`` (the allowed names, one a line) and ``--families 1,2,10``, a seccomp
  filter built with libseccomp, failing every other call with EPERM (systemd answers a refused
  address family with EAFNOSUPPORT instead);

then chroots into it and execs the command, which thus gets the signals sent to this process.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import errno
import os
import subprocess
from pathlib import Path

HIDDEN = ("home", "root", "run/user")
PSEUDO_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_ERRNO = 0x00050000
SCMP_CMP_EQ = 4
SOCKET_CALLS = ("socket", "socketpair")


class ScmpArgCmp(ctypes.Structure):
    """libseccomp's ``struct scmp_arg_cmp``."""

    _fields_ = (
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    )


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def bind(root: Path, directory: Path, *, writable: bool) -> None:
    inside = root / directory.relative_to("/")
    # A private /tmp or a hidden home covers the host's copy of the path: make it again.
    inside.mkdir(parents=True, exist_ok=True)
    mount("--bind", str(directory), str(inside))
    if not writable:
        mount("-o", "remount,bind,ro", str(inside))


def private_dev(dev: Path) -> None:
    mount("-t", "tmpfs", "-o", "mode=0755,nosuid", "tmpfs", str(dev))
    for name in PSEUDO_DEVICES:
        (dev / name).touch()
        mount("--bind", f"/dev/{name}", str(dev / name))
    for directory in ("shm", "pts"):
        (dev / directory).mkdir()
    mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", str(dev / "shm"))


def prctl(*args: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(*args, *([0] * (5 - len(args)))) != 0:
        raise OSError(ctypes.get_errno(), f"prctl{args} failed")


def drop_privileges(uid: int) -> None:
    last_cap = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for cap in range(last_cap + 1):
        prctl(PR_CAPBSET_DROP, cap)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # leaving uid 0 clears the permitted and effective sets


def libseccomp() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp")
    if name is None:
        raise OSError(errno.ENOENT, "libseccomp is not installed")
    lib = ctypes.CDLL(name)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = (ctypes.c_uint32,)
    lib.seccomp_syscall_resolve_name.argtypes = (ctypes.c_char_p,)
    lib.seccomp_rule_add_array.argtypes = (
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(ScmpArgCmp),
    )
    lib.seccomp_load.argtypes = (ctypes.c_void_p,)
    return lib


def filter_syscalls(lib: ctypes.CDLL, allowed: list[str], families: list[int]) -> None:
    ctx = lib.seccomp_init(SCMP_ACT_ERRNO | errno.EPERM)
    for name in allowed:
        number = lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:  # not a system call of this architecture
            continue
        conditions = [ScmpArgCmp(0, SCMP_CMP_EQ, f, 0) for f in families]
        for cmp in conditions if name in SOCKET_CALLS else [None]:
            args = (0, None) if cmp is None else (1, ctypes.byref(cmp))
            rule = lib.seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, number, *args)
            if rule < 0:
                raise OSError(-rule, f"seccomp rule for {name} refused")
    if lib.seccomp_load(ctx) < 0:
        raise OSError(errno.EINVAL, "seccomp_load failed")


def build_root(root: Path, args: argparse.Namespace) -> None:
    mount("--bind", "/", str(root))
    mount("-o", "remount,bind,ro", str(root))
    for api in ("proc", "sys") if args.private_devices else ("proc", "dev", "sys"):
        mount("--rbind", f"/{api}", str(root / api))
    if args.private_devices:
        private_dev(root / "dev")
    for private in ("tmp", "var/tmp"):
        mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", str(root / private))
    hidden = [root / name for name in HIDDEN if (root / name).is_dir()]
    for directory in hidden:
        mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", str(directory))
    for directory in args.expose:
        bind(root, directory, writable=False)
    for directory in hidden:
        mount("-o", "remount,ro", str(directory))
    for directory in args.ro:
        bind(root, directory, writable=False)
    for directory in args.rw:
        bind(root, directory, writable=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--ro", type=Path, action="append", default=[], help="extra read-only")
    parser.add_argument("--rw", type=Path, action="append", default=[], help="writable")
    parser.add_argument("--expose", type=Path, action="append", default=[], help="in a home")
    parser.add_argument("--uid", type=int, help="run as this uid (and gid), without privileges")
    parser.add_argument("--private-devices", action="store_true")
    parser.add_argument("--mdwe", action="store_true", help="MemoryDenyWriteExecute")
    parser.add_argument("--syscalls", type=Path, help="file of allowed system calls")
    parser.add_argument("--families", default="", help="allowed socket families, e.g. 1,2,10")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    syscalls = args.syscalls.read_text().split() if args.syscalls is not None else []
    seccomp = libseccomp() if args.syscalls is not None else None
    build_root(args.root, args)
    os.chroot(args.root)
    os.chdir("/")
    if args.uid is not None:
        drop_privileges(args.uid)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    if args.mdwe:
        prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN)
    if seccomp is not None:
        families = [int(f) for f in args.families.split(",") if f]
        filter_syscalls(seccomp, syscalls, families)
    os.execv(command[0], command)  # noqa: S606 - an argv list, as systemd's ExecStart= runs it


if __name__ == "__main__":
    main()
