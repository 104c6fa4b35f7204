"""A real PostgreSQL server (Debian's binaries) on a free port in a temp dir.

PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` user
through ``runuser``; as anyone else it runs as that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support.require import free_port, missing

DEBIAN_BIN = Path("/usr/lib/postgresql/15/bin")


def _binary(name: str) -> str | None:
    candidate = DEBIAN_BIN / name
    return str(candidate) if candidate.exists() else shutil.which(name)


def _as_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


def _accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield ``postgresql://postgres@127.0.0.1:PORT/postgres`` (trust auth, fsync off)."""
    initdb, postgres = _binary("initdb"), _binary("postgres")
    if initdb is None or postgres is None:
        missing("PostgreSQL (initdb, postgres)")
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            missing("the 'postgres' system user (PostgreSQL will not run as root)")
    with tempfile.TemporaryDirectory(prefix="securellm-pg-") as root:
        data, sockets = Path(root) / "data", Path(root) / "sock"
        data.mkdir(mode=0o700)
        sockets.mkdir()
        if os.geteuid() == 0:
            os.chmod(root, 0o755)  # noqa: S103 - the postgres user must reach its data dir
            for path in (data, sockets):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        subprocess.run(
            _as_user([initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = free_port()
        argv = [
            postgres,
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(sockets),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ]
        process = subprocess.Popen(
            _as_user(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 30
            while not _accepting(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("postgres did not start")
                time.sleep(0.05)
            time.sleep(0.2)
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
