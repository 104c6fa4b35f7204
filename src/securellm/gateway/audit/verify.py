"""Checks every chain in an audit directory and says what was edited, deleted, reordered
or truncated, with file and line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from securellm.gateway.audit.chain import Head, digest, stream_files

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

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Cursor:
    """Where verification of one stream stands."""

    prev: str | None = None
    last_line: int = 0
    last_ts: str | None = None
    unkeyed: bool = False


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        rec = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(rec, dict) or not {"seq", "hash", "prev_hash"} <= rec.keys():
        return None
    return rec


def _check_file(path: Path, cursor: _Cursor, key: bytes | None, report: Report) -> tuple[int, int]:
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
    for lineno, rec in enumerate(parsed, 1):
        if rec is None:
            if lineno < len(parsed) or data.endswith(b"\n"):
                report.problems.append(
                    Problem(path.name, lineno, "edited", "the line is not a valid audit record")
                )
            cursor.prev = None
            continue
        report.records += 1
        in_order = _check_record(path.name, lineno, rec, expected, seqs, cursor, key, report)
        if isinstance(rec["seq"], int):
            expected = max(expected, rec["seq"] + 1)
        cursor.prev, cursor.last_line = (rec["hash"] if in_order else None), lineno
        cursor.last_ts = rec.get("timestamp")
    return len(parsed), max((s for s in seqs if isinstance(s, int)), default=0)


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
    if cursor.prev is None:
        return True
    if rec["prev_hash"] != cursor.prev:
        if lineno == 1:
            report.problems.append(
                Problem(
                    name,
                    1,
                    "truncated",
                    "the file does not chain to the end of the previous file "
                    "(that file was truncated, deleted or rewritten)",
                )
            )
        else:
            report.problems.append(
                Problem(name, lineno - 1, "edited", "the next record does not chain to this one")
            )
    return True


def _check_head(
    directory: Path, stream: int, lengths: dict[str, tuple[int, int]], report: Report
) -> None:
    head = Head.load(directory, stream)
    if head is None:
        report.notes.append(f"stream {stream}: no head file; the end of the chain is not checked")
        return
    if head.file not in lengths:
        report.problems.append(
            Problem(head.file, head.lines, "truncated", "the newest file of the chain is missing")
        )
    elif lengths[head.file][1] < head.lines:
        report.problems.append(
            Problem(
                head.file,
                lengths[head.file][0],
                "truncated",
                f"the file ends at line {lengths[head.file][0]} "
                f"but {head.lines} records were written",
            )
        )


def verify_directory(directory: Path, key: bytes | None = None) -> Report:
    """Verify every stream's chain under ``directory``."""
    report = Report()
    for stream, files in stream_files(directory).items():
        cursor = _Cursor()
        lengths: dict[str, tuple[int, int]] = {}
        for path in files:
            report.files += 1
            lengths[path.name] = _check_file(path, cursor, key, report)
        _check_head(directory, stream, lengths, report)
        if files:
            report.ends.append(ChainEnd(stream, files[-1].name, cursor.last_line, cursor.last_ts))
        if cursor.unkeyed:
            report.notes.append(
                f"stream {stream}: records are HMAC-keyed and no key was given; "
                "only the order and links were checked"
            )
    report.problems.sort(key=lambda p: (p.file, p.line))
    return report
