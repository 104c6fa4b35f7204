"""Offline package search: the local nixpkgs, listed once by ``nix-env -qaP --json --meta``.

The local nixpkgs is the one ``NIX_PATH`` names (``nixpkgs=/path``) or a ``path`` entry for
``nixpkgs`` in the user's or the system's flake registry file (NixOS pins one there). The
registry *files* are read directly: ``nix registry list`` would download the global registry
first, which is what made ``nix_search`` hang for seconds without a network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio

from securellm.mcp.errors import NixCommandError, NixUnavailableError
from securellm.mcp.nix.localindex import Doc, read_json_object

REGISTRY_FILES = (Path("/etc/nix/registry.json"),)
NO_NIXPKGS = (
    "no local nixpkgs to search offline: set NIX_PATH=nixpkgs=/path/to/nixpkgs, pin "
    "nixpkgs in the flake registry (nixpkgs.flake.source on NixOS), set [mcp] "
    "nix_packages_file to a 'nix-env -qaP --json --meta' listing, or pass flake_ref to "
    "search a flake with 'nix search'"
)


def nix_path_nixpkgs(nix_path: str) -> Path | None:
    """``nixpkgs=/path`` in ``NIX_PATH``, or a directory entry that holds ``nixpkgs``."""
    for entry in nix_path.split(":"):
        name, sep, value = entry.partition("=")
        if sep and name == "nixpkgs" and value.startswith("/"):
            return Path(value)
        if not sep and entry.startswith("/") and (Path(entry) / "nixpkgs").exists():
            return Path(entry) / "nixpkgs"
    return None


def registry_nixpkgs(files: list[Path]) -> Path | None:
    """The first ``nixpkgs`` registry entry that points at a local path."""
    for path in files:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for flake in data.get("flakes", []) if isinstance(data, dict) else []:
            source = flake.get("from", {}) if isinstance(flake, dict) else {}
            target = flake.get("to", {}) if isinstance(flake, dict) else {}
            if source.get("id") == "nixpkgs" and target.get("type") == "path":
                return Path(str(target.get("path")))
    return None


def local_nixpkgs(environ: Mapping[str, str], home: Path) -> Path | None:
    found = nix_path_nixpkgs(environ.get("NIX_PATH", ""))
    if found is not None and found.exists():
        return found
    config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    found = registry_nixpkgs([config_home / "nix" / "registry.json", *REGISTRY_FILES])
    return found if found is not None and found.exists() else None


async def list_packages(nixpkgs: Path, out: Path, timeout_s: float) -> None:
    """``nix-env -qaP --json --meta -f nixpkgs`` into ``out`` (it can be large: a file)."""
    exe = shutil.which("nix-env")
    if exe is None:
        raise NixUnavailableError("'nix-env' is not on PATH, so the local nixpkgs cannot be listed")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    argv = [exe, "-qaP", "--json", "--meta", "-f", str(nixpkgs)]
    with partial.open("wb") as sink:
        try:
            with anyio.fail_after(timeout_s):
                done = await anyio.run_process(
                    argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.PIPE, check=False
                )
        except TimeoutError:
            raise NixCommandError(f"listing {nixpkgs} took over {timeout_s:g}s") from None
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", errors="replace").strip()[-1500:]
        raise NixCommandError(f"nix-env could not list {nixpkgs} (exit {done.returncode}): {tail}")
    os.replace(partial, out)


def read_packages(path: Path) -> Iterator[Doc]:
    """Documents from a ``nix-env -qaP --json [--meta]`` listing (attribute → package)."""
    data = read_json_object(path, "a nix-env --json package listing")
    for attr, info in data.items():
        if isinstance(info, dict):
            fields = package_fields(info)
            body = " ".join(str(fields[k] or "") for k in ("pname", "description"))
            yield Doc("packages", attr, body, fields)


def package_fields(info: Mapping[str, Any]) -> dict[str, Any]:
    meta = info.get("meta") if isinstance(info.get("meta"), dict) else {}
    assert isinstance(meta, dict)
    return {
        "pname": info.get("pname") or info.get("name"),
        "version": info.get("version"),
        "description": meta.get("description"),
    }
