"""Checks every chain in an audit directory and says what was edited, deleted, reordered
or truncated, with file and line: records, and whole files against the head's list (a
missing file is reported at line 0). Days removed by retention are noted, and a line torn
by a crash is accepted only when the ``audit.repair`` record right after it names it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from securellm.gateway.audit.chain import (
    REPAIR,
    Head,
    day_of,
    digest,
    head_name,
    head_streams,
    stream_files,
)

Progress = Callable[[int], None]  # called with each record checked (1)
Kind = Literal["edited", "deleted", "reordered", "truncated", "unreadable"]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    kind: Kind
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.kind}: {self.message}"


@dataclass(frozen=True)
class ChainEnd:
    stream: int
    file: str
    line: int
    timestamp: str | None


@dataclass
class Report:
    files: int = 0
    records: int = 0
    problems: list[Problem] = field(default_factory=list)
    ends: list[ChainEnd] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def merge(self, other: Report) -> None:
        self.files += other.files
        self.records += other.records
        self.problems += other.problems
        self.ends += other.ends
        self.notes += other.notes
        self.repairs += other.repairs


@dataclass
class _Cursor:
    """Where verification of one stream stands."""

    prev: str | None = None
    last_line: int = 0
    last_ts: str | None = None
    unkeyed: bool = False
    first: bool = False  # the next record is the chain's first: it links to the anchor


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        rec = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(rec, dict) or not {"seq", "hash", "prev_hash"} <= rec.keys():
        return None
    return rec


def _check_file(
    path: Path, cursor: _Cursor, key: bytes | None, report: Report, progress: Progress | None
) -> tuple[int, int]:
    """Check one file; return its number of lines and the highest record number in it."""
    data = path.read_bytes()
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    elif raw_lines:
        report.problems.append(
            Problem(
                path.name, len(raw_lines), "truncated", "the file ends in the middle of a record"
            )
        )
    parsed = [_parse(raw) for raw in raw_lines]
    seqs = {rec["seq"] for rec in parsed if rec is not None}
    expected = 1
    offset = 0
    for lineno, rec in enumerate(parsed, 1):
        raw = raw_lines[lineno - 1]
        start, offset = offset, offset + len(raw) + 1
        if rec is None:
            after = parsed[lineno] if lineno < len(parsed) else None
            if _repaired(path.name, start, raw, after):
                report.repairs.append(
                    f"{path.name}:{lineno}: a record torn by a crash ({len(raw)} bytes at offset "
                    f"{start}) is closed off by the repair record on line {lineno + 1}"
                )
                continue
            if lineno < len(parsed) or data.endswith(b"\n"):
                report.problems.append(
                    Problem(path.name, lineno, "edited", "the line is not a valid audit record")
                )
            cursor.prev = None
            continue
        report.records += 1
        if progress is not None:
            progress(1)
        in_order = _check_record(path.name, lineno, rec, expected, seqs, cursor, key, report)
        if isinstance(rec["seq"], int):
            expected = max(expected, rec["seq"] + 1)
        cursor.prev, cursor.last_line = (rec["hash"] if in_order else None), lineno
        cursor.last_ts = rec.get("timestamp")
        cursor.first = False
    return len(parsed), max((s for s in seqs if isinstance(s, int)), default=0)


def _repaired(name: str, offset: int, fragment: bytes, after: dict[str, Any] | None) -> bool:
    """Whether ``after`` is the ``audit.repair`` record naming exactly this fragment."""
    if after is None or after.get("event_type") != REPAIR:
        return False
    repair = after.get("repair")
    return isinstance(repair, dict) and repair == {
        "file": name,
        "offset": offset,
        "length": len(fragment),
        "sha256": hashlib.sha256(fragment).hexdigest(),
    }


def _check_record(
    name: str,
    lineno: int,
    rec: dict[str, Any],
    expected: int,
    seqs: set[Any],
    cursor: _Cursor,
    key: bytes | None,
    report: Report,
) -> bool:
    """Check one record; ``False`` when it is out of sequence (its link is then unknown)."""
    seq = rec["seq"]
    keyed = rec.get("chain") == "hmac-sha256"
    if keyed and key is None:
        cursor.unkeyed = True
    elif digest(rec, key if keyed else None) != rec["hash"]:
        report.problems.append(
            Problem(name, lineno, "edited", "the record's content does not match its hash")
        )
    if seq != expected:
        if isinstance(seq, int) and seq > expected:
            gap = range(expected, seq)
            if any(s in seqs for s in gap):
                report.problems.append(
                    Problem(
                        name, lineno, "reordered", f"record #{seq} is where #{expected} belongs"
                    )
                )
            else:
                missing = f"#{expected}" if seq == expected + 1 else f"#{expected}..#{seq - 1}"
                report.problems.append(
                    Problem(
                        name,
                        lineno,
                        "deleted",
                        f"record(s) {missing} before this line were removed",
                    )
                )
        else:
            report.problems.append(
                Problem(name, lineno, "reordered", f"record #{seq} appears after #{expected - 1}")
            )
        return False
    if cursor.prev is not None and rec["prev_hash"] != cursor.prev:
        report.problems.append(_broken_link(name, lineno, cursor.first))
    return True


def _broken_link(name: str, lineno: int, first: bool) -> Problem:
    """What a record that does not link to the one before it means, by where it is."""
    if first:
        return Problem(
            name,
            lineno,
            "deleted",
            "the chain's first record links to a record that is not in the trail: "
            "older files were deleted (not by retention)",
        )
    if lineno == 1:
        return Problem(
            name,
            1,
            "truncated",
            "the file does not chain to the end of the previous file "
            "(that file was truncated, deleted or rewritten)",
        )
    return Problem(name, lineno - 1, "edited", "the next record does not chain to this one")


def _check_old_head(
    head: Head, stream: int, lengths: dict[str, tuple[int, int]], report: Report
) -> None:
    """A head written before per-file counts: only the newest file is checked against it."""
    report.notes.append(
        f"stream {stream}: the head predates per-file record counts; a deleted file is caught "
        "only where the next file no longer links to it (the gateway upgrades the head when "
        "it next starts)"
    )
    if head.file not in lengths:
        report.problems.append(
            Problem(head.file, head.lines, "truncated", "the newest file of the chain is missing")
        )
    else:
        _check_counts(head.file, *lengths[head.file], head.lines, report)


def _check_seal(head: Head, stream: int, key: bytes | None, report: Report) -> None:
    if head.chain == "hmac-sha256" and key is None:
        report.notes.append(f"stream {stream}: the head is HMAC-sealed and no key was given")
    elif not head.sealed(key if head.chain == "hmac-sha256" else None):
        report.problems.append(
            Problem(head_name(stream), 0, "edited", "the head does not match its seal")
        )


def _check_counts(name: str, lines: int, top: int, written: int | None, report: Report) -> None:
    if written is not None and top < written:
        report.problems.append(
            Problem(
                name,
                lines,
                "truncated",
                f"the file ends at line {lines} but {written} records were written",
            )
        )


def verify_stream(
    directory: Path,
    stream: int,
    files: list[Path],
    key: bytes | None,
    progress: Progress | None = None,
) -> Report:
    """Verify one stream's chain: its files, in order, against its head."""
    report = Report()
    head = Head.load(directory, stream)
    cursor = _Cursor()
    written: dict[str, int] = {}
    if head is not None and head.files is not None:
        _check_seal(head, stream, key, report)
        written, cursor.prev, cursor.first = head.files, head.anchor, True
        if head.removed_before:
            report.notes.append(
                f"stream {stream}: files dated before {head.removed_before} "
                "were removed by retention"
            )
    elif head is None:
        report.notes.append(
            f"stream {stream}: no head file; the end of the chain and deleted files are not checked"
        )
    present = {path.name: path for path in files}
    lengths: dict[str, tuple[int, int]] = {}
    for name in sorted(present.keys() | written.keys(), key=day_of):
        if name not in present:
            report.problems.append(
                Problem(
                    name, 0, "deleted", f"the file is missing ({written[name]} record(s) in it)"
                )
            )
            cursor.prev, cursor.first = None, False
            continue
        report.files += 1
        lengths[name] = _check_file(present[name], cursor, key, report, progress)
        _check_counts(name, *lengths[name], written.get(name), report)
    if head is not None and head.files is None:
        _check_old_head(head, stream, lengths, report)
    if files:
        report.ends.append(ChainEnd(stream, files[-1].name, cursor.last_line, cursor.last_ts))
    if cursor.unkeyed:
        report.notes.append(
            f"stream {stream}: records are HMAC-keyed and no key was given; "
            "only the order and links were checked"
        )
    return report


def verify_directory(
    directory: Path, key: bytes | None = None, progress: Progress | None = None
) -> Report:
    """Verify every stream's chain under ``directory``; ``progress(1)`` after each record."""
    report = Report()
    by_stream = stream_files(directory)
    for stream in sorted(by_stream.keys() | head_streams(directory)):
        report.merge(verify_stream(directory, stream, by_stream.get(stream, []), key, progress))
    report.problems.sort(key=lambda p: (p.file, p.line))
    return report
