"""Render an agent's config documents and merge them into the files already there.

Each file is parsed and rewritten (never appended to): tables and objects merge key by key,
lists of named entries (Continue's ``models``, ``mcpServers``) merge by ``name``, so a second
run changes nothing. What was there is copied to ``<file>.bak-<timestamp>`` first, and the
file is written 0600 (some agents keep keys in the same file).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import tomllib
from pathlib import Path
from typing import Any

import tomlkit
import yaml

from securellm.cli.agents.common import ConfigFile, Format


class ConfigFileError(Exception):
    """An existing config file that cannot be parsed (it is left as it is)."""


def render(fmt: Format, doc: dict[str, Any]) -> str:
    """The document as text in ``fmt``."""
    if fmt == "json":
        return json.dumps(doc, indent=2) + "\n"
    if fmt == "toml":
        return tomlkit.dumps(doc)
    return yaml.safe_dump(doc, sort_keys=False)


def merge(base: Any, patch: Any) -> Any:
    """``patch`` merged into ``base`` in place where both are mappings; the result."""
    if isinstance(base, dict) and isinstance(patch, dict):
        for key, value in patch.items():
            base[key] = merge(base[key], value) if key in base else value
        return base
    if _named_list(base) and _named_list(patch):
        for item in patch:
            same = [i for i, old in enumerate(base) if old.get("name") == item["name"]]
            if same:
                base[same[0]] = merge(base[same[0]], item)
            else:
                base.append(item)
        return base
    return patch


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "name" in i for i in value)


def _load(path: Path, fmt: Format) -> Any:
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        return tomlkit.document() if fmt == "toml" else {}
    try:
        if fmt == "json":
            return json.loads(text)
        if fmt == "toml":
            return tomlkit.parse(text)
        return yaml.safe_load(text) or {}
    except (ValueError, yaml.YAMLError, tomlkit.exceptions.ParseError) as exc:
        raise ConfigFileError(f"{path} is not valid {fmt.upper()}: {exc}") from None


def merged_text(file: ConfigFile) -> tuple[str, str | None]:
    """The file's new text, and its current text (None when it does not exist)."""
    if not file.path.exists():
        return render(file.format, file.content), None
    old = file.path.read_text(encoding="utf-8")
    doc = _load(file.path, file.format)
    if not isinstance(doc, dict):
        raise ConfigFileError(f"{file.path} does not hold a {file.format.upper()} mapping")
    doc = merge(doc, json.loads(json.dumps(file.content)))
    new = tomlkit.dumps(doc) if file.format == "toml" else render(file.format, doc)
    if file.format == "toml":
        tomllib.loads(new)  # what Codex's own parser will read
    return new, old


def write(file: ConfigFile, now: float | None = None) -> Path | None:
    """Merge ``file`` into its path; the backup made, or None (new file, or nothing changed)."""
    new, old = merged_text(file)
    if old == new:
        return None
    file.path.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    if old is not None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
        backup = file.path.with_name(f"{file.path.name}.bak-{stamp}")
        shutil.copy2(file.path, backup)
        os.chmod(backup, 0o600)
    tmp = file.path.with_name(f".{file.path.name}.securellm-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(new)
    os.chmod(tmp, 0o600)
    tmp.replace(file.path)
    return backup
