"""Read ``options.json`` files: NixOS's ``config.system.build.manual.optionsJSON``,
home-manager's and nix-darwin's (the same shape: option name → declarations, default,
description, example, readOnly, type)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from securellm.mcp.nix.localindex import Doc, read_json_object

NIXOS_OPTIONS = Path("/run/current-system/sw/share/doc/nixos/options.json")


def discovered(home: Path, user: str | None) -> dict[str, Path]:
    """The options.json files this machine has: the running NixOS system's, home-manager's."""
    candidates = {"nixos": [NIXOS_OPTIONS], "home-manager": []}
    hm = Path("share/doc/home-manager/options.json")
    candidates["home-manager"].append(home / ".nix-profile" / hm)
    if user:
        candidates["home-manager"].append(Path("/etc/profiles/per-user") / user / hm)
    found: dict[str, Path] = {}
    for source, paths in candidates.items():
        for path in paths:
            if path.is_file():
                found[source] = path
                break
    return found


def configured(files: Mapping[str, Path] | None, environ: Mapping[str, str]) -> dict[str, Path]:
    """The configured sources, or what :func:`discovered` finds when none are configured."""
    if files is not None:
        return {source: path.expanduser() for source, path in files.items()}
    return discovered(Path(environ.get("HOME", os.path.expanduser("~"))), environ.get("USER"))


def read_options(source: str, path: Path) -> Iterator[Doc]:
    """Every option in ``path`` as a document; a file that is not an options.json is refused."""
    data = read_json_object(path, "an options.json")
    for name, option in data.items():
        if isinstance(option, dict):
            info = option_fields(option)
            yield Doc(source, name, str(info.get("description") or ""), info)


def option_fields(option: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of one option an agent needs, with Nix expressions as their text."""
    return {
        "type": option.get("type"),
        "description": text(option.get("description")),
        "default": text(option.get("default")),
        "example": text(option.get("example")),
        "read_only": bool(option.get("readOnly", False)),
        "declarations": [_declaration(d) for d in option.get("declarations") or []][:8],
    }


def text(value: Any) -> str | None:
    """A ``literalExpression`` / ``literalMD`` / ``mdDoc`` value as its text; JSON otherwise."""
    if value is None:
        return None
    if isinstance(value, dict) and isinstance(value.get("text"), str) and "_type" in value:
        return str(value["text"])
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _declaration(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("url") or value.get("name") or "")
    return str(value)
