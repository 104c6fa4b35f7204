"""One entry as a Markdown file with YAML front matter, and back.

::

    ---
    id: 3f2a…            # the entry's stable id (32 hex digits), the same in every base
    type: note
    title: Deploy notes
    tags: [nix, deploy]
    project: web
    session: null
    created: '2026-01-31T12:00:00.000000+00:00'
    updated: '2026-01-31T12:00:00.000000+00:00'
    links: [Other note]  # the [[links]] in the body, for reading; the body is what counts
    ---
    The content, exactly as stored.

The body is the content followed by one newline (removed again when read), so content that
ends in a newline or not round-trips exactly. A file with no front matter is a new note
titled after its file name.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from securellm.mcp.errors import InvalidInputError
from securellm.mcp.knowledge.links import link_texts
from securellm.mcp.knowledge.models import ENTRY_TYPES, Entry
from securellm.mcp.knowledge.search import normalise_time

MAX_CONTENT = 1_000_000
_FRONT = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)^---[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.M)
_UID = re.compile(r"^[0-9a-f]{32}$")
_SESSION = re.compile(r"^[0-9a-f]{32}$")
_SLUG_DROP = re.compile(r"[^a-z0-9]+")
_KNOWN_KEYS = {
    "id", "type", "title", "tags", "project", "session", "created", "updated", "links",
    "metadata",
}  # fmt: skip


class NoteFileError(ValueError):
    """A file that cannot be read as an entry (the message says why)."""


@dataclass
class NoteFile:
    """An entry as read from a file; ``uid`` None means the file is new to every base."""

    content: str
    type: str = "note"
    title: str | None = None
    tags: list[str] = field(default_factory=list)
    project: str | None = None
    session: str | None = None
    created: str | None = None
    updated: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    uid: str | None = None
    has_front_matter: bool = True


def slug(text: str, limit: int = 60) -> str:
    """``Deploy notes: nix`` -> ``deploy-notes-nix`` (ASCII, lower case, at most ``limit``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cut = _SLUG_DROP.sub("-", ascii_text.lower()).strip("-")[:limit].rstrip("-")
    return cut or "entry"


def file_name(entry: Entry, uid: str) -> str:
    """Readable and stable: the title's slug (else the first line's) and the id's start."""
    label = entry.title or (entry.content.strip().splitlines() or [""])[0]
    return f"{slug(label)}-{uid[:8]}.md"


def render(entry: Entry, uid: str) -> str:
    """The file text for ``entry``."""
    front: dict[str, Any] = {
        "id": uid,
        "type": entry.type,
        "title": entry.title,
        "tags": entry.tags,
        "project": entry.project,
        "session": entry.session_id,
        "created": entry.created_at,
        "updated": entry.updated_at,
        "links": link_texts(entry.content),
    }
    if entry.metadata:
        front["metadata"] = entry.metadata
    header = yaml.dump(
        front,
        Dumper=yaml.CSafeDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=None,
        width=1000,
    )
    return f"---\n{header}---\n{entry.content}\n"


def parse(text: str, stem: str) -> NoteFile:
    """Read a file's text; raises :class:`NoteFileError` with the reason."""
    match = _FRONT.match(text)
    if match is None:
        if text.lstrip("\ufeff").startswith("---"):
            raise NoteFileError("front matter is not closed by a '---' line")
        return _checked(NoteFile(content=_body(text), title=stem, has_front_matter=False))
    try:
        front = yaml.load(match.group(1), Loader=yaml.CSafeLoader) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise NoteFileError(f"front matter is not valid YAML{where}") from None
    if not isinstance(front, dict):
        raise NoteFileError("front matter must be a mapping of keys to values")
    return _checked(_from_front(front, _body(text[match.end() :])))


def _body(text: str) -> str:
    return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text


def _from_front(front: dict[Any, Any], content: str) -> NoteFile:
    unknown = sorted(str(key) for key in front if key not in _KNOWN_KEYS)
    if unknown:
        raise NoteFileError(f"unknown front matter keys: {', '.join(unknown)}")
    uid = _optional_str(front, "id")
    if uid is not None and not _UID.match(uid.lower()):
        raise NoteFileError("id must be the 32 hex digits an export wrote (or left out)")
    session = _optional_str(front, "session")
    if session is not None and not _SESSION.match(session):
        raise NoteFileError("session must be a 32-character hex session id (or null)")
    tags = front.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str | int) for t in tags):
        raise NoteFileError("tags must be a list of words")
    metadata = front.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise NoteFileError("metadata must be a mapping")
    return NoteFile(
        content=content,
        type=str(front.get("type") or "note"),
        title=_optional_str(front, "title"),
        tags=[str(t) for t in tags],
        project=_optional_str(front, "project"),
        session=session,
        created=_time(front, "created"),
        updated=_time(front, "updated"),
        metadata=metadata,
        uid=uid.lower() if uid else None,
    )


def _optional_str(front: dict[Any, Any], key: str) -> str | None:
    value = front.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, dict | list):
        raise NoteFileError(f"{key} must be text")
    return str(value)


def _time(front: dict[Any, Any], key: str) -> str | None:
    value = front.get(key)
    if value is None or value == "":
        return None
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    try:
        return normalise_time(text, key)
    except InvalidInputError as exc:
        raise NoteFileError(str(exc)) from None


def _checked(note: NoteFile) -> NoteFile:
    if note.type not in ENTRY_TYPES:
        raise NoteFileError(f"type must be one of {', '.join(ENTRY_TYPES)}, not {note.type!r}")
    if not note.content.strip():
        raise NoteFileError("the body (the entry's content) is empty")
    if len(note.content) > MAX_CONTENT:
        raise NoteFileError(f"the body is longer than {MAX_CONTENT} characters")
    return note


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def with_id(text: str, uid: str, title: str | None = None) -> str:
    """``text`` with ``id: uid`` added to its front matter; a file without front matter gets
    one with its id and ``title`` (so the title stays when the file is renamed)."""
    match = _FRONT.match(text)
    if match is None:
        front = {"id": uid, "title": title}
        header = yaml.dump(front, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True)
        return f"---\n{header}---\n{text}"
    start = text.index("\n") + 1
    return f"{text[:start]}id: {uid}\n{text[start:]}"
