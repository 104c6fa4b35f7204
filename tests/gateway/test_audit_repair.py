"""A line torn by a crash is closed off at start by an ``audit.repair`` record verify accepts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest

from securellm.core.db import create_engine
from securellm.gateway.audit.query import AuditFilter, query
from securellm.gateway.audit.verify import Report, verify_directory
from securellm.gateway.audit.writer import AuditWriter
from securellm.gateway.context import RequestContext
from securellm.gateway.keys import KeyRecord
from securellm.gateway.migrations import upgrade

KEY = KeyRecord(id="key_1", name="laptop")


async def write_records(directory: Path, count: int, key: bytes | None = None) -> None:
    writer = AuditWriter(directory, key=key, retention_days=100_000)
    await writer.start()
    for i in range(count):
        writer.record(RequestContext(endpoint="chat", key=KEY, model=f"m{i}"))
    await writer.close()


def newest(directory: Path) -> Path:
    return max(directory.glob("audit-*.s0.jsonl"))


def tear_last_line(path: Path) -> bytes:
    """Cut the last record in half, as a SIGKILL in the middle of its write would."""
    data = path.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    torn = data[: start + (len(data) - start) // 2]
    path.write_bytes(torn)
    return torn[start:]


def kinds(report: Report) -> list[tuple[str, int, str]]:
    return [(p.file, p.line, p.kind) for p in report.problems]


async def test_a_torn_last_line_fails_verify_until_the_writer_starts(tmp_path: Path) -> None:
    await write_records(tmp_path, 3)
    tear_last_line(newest(tmp_path))
    report = verify_directory(tmp_path)
    assert {(p.file, p.line, p.kind) for p in report.problems} == {
        (newest(tmp_path).name, 3, "truncated")
    }
    assert "ends in the middle of a record" in report.problems[0].message


async def test_start_closes_a_torn_line_with_a_repair_record_and_verify_accepts_it(
    tmp_path: Path,
) -> None:
    await write_records(tmp_path, 3)
    path = newest(tmp_path)
    offset = len(b"".join(path.read_bytes().splitlines(keepends=True)[:2]))
    fragment = tear_last_line(path)
    await write_records(tmp_path, 2)
    report = verify_directory(tmp_path)
    assert report.ok, kinds(report)
    assert report.repairs == [
        f"{path.name}:3: a record torn by a crash ({len(fragment)} bytes at offset {offset}) "
        "is closed off by the repair record on line 4"
    ]
    repair = orjson.loads(path.read_bytes().splitlines()[3])
    assert repair["event_type"] == "audit.repair"
    assert repair["repair"] == {
        "file": path.name,
        "offset": offset,
        "length": len(fragment),
        "sha256": hashlib.sha256(fragment).hexdigest(),
    }
    assert [e.line for e in report.ends] == [6]


async def test_the_repair_record_continues_the_numbering_and_the_chain(tmp_path: Path) -> None:
    await write_records(tmp_path, 3)
    tear_last_line(newest(tmp_path))
    await write_records(tmp_path, 1)
    records = [orjson.loads(line) for line in newest(tmp_path).read_bytes().splitlines()[3:]]
    assert [r["seq"] for r in records] == [3, 4]
    assert records[1]["prev_hash"] == records[0]["hash"]


async def test_a_keyed_trail_is_repaired_under_its_key(tmp_path: Path) -> None:
    await write_records(tmp_path, 3, key=b"audit-key")
    tear_last_line(newest(tmp_path))
    await write_records(tmp_path, 1, key=b"audit-key")
    report = verify_directory(tmp_path, b"audit-key")
    assert report.ok and len(report.repairs) == 1


async def test_a_fragment_changed_after_its_repair_is_caught(tmp_path: Path) -> None:
    await write_records(tmp_path, 3)
    path = newest(tmp_path)
    tear_last_line(path)
    await write_records(tmp_path, 1)
    content = path.read_bytes().splitlines(keepends=True)
    content[2] = content[2].replace(b'"timestamp"', b'"timestamq"')
    path.write_bytes(b"".join(content))
    report = verify_directory(tmp_path)
    assert kinds(report) == [(path.name, 3, "edited")]
    assert report.repairs == []


async def test_a_repair_record_cannot_excuse_an_edited_line_elsewhere(tmp_path: Path) -> None:
    await write_records(tmp_path, 3)
    path = newest(tmp_path)
    tear_last_line(path)
    await write_records(tmp_path, 1)
    content = path.read_bytes().splitlines(keepends=True)
    content[0] = b"not a record\n"
    path.write_bytes(b"".join(content))
    assert (path.name, 1, "edited") in kinds(verify_directory(tmp_path))


async def test_a_whole_last_record_missing_only_its_newline_is_kept_as_it_is(
    tmp_path: Path,
) -> None:
    await write_records(tmp_path, 3)
    path = newest(tmp_path)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    await write_records(tmp_path, 1)
    report = verify_directory(tmp_path)
    assert report.ok and report.repairs == []
    assert [orjson.loads(line)["seq"] for line in path.read_bytes().splitlines()] == [1, 2, 3, 4]


async def test_a_torn_line_of_an_older_day_is_repaired_in_its_own_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("securellm.gateway.audit.journal.today", lambda: "2000-01-01")
    await write_records(tmp_path, 3)
    older = newest(tmp_path)
    tear_last_line(older)
    monkeypatch.setattr("securellm.gateway.audit.journal.today", lambda: "2000-01-02")
    await write_records(tmp_path, 2)
    report = verify_directory(tmp_path)
    assert report.ok, kinds(report)
    assert report.repairs[0].startswith(f"{older.name}:3:")
    assert (report.files, report.records) == (2, 5)


async def test_the_repair_record_is_in_the_index_too(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/gateway.db")
    await upgrade(engine)
    audit = tmp_path / "audit"
    await write_records(audit, 3)
    tear_last_line(newest(audit))
    writer = AuditWriter(audit, engine=engine)
    await writer.start()
    await writer.close()
    rows = await query(engine, AuditFilter(outcome="repaired"))
    await engine.dispose()
    assert [(r["event_type"], r["file"], r["line"]) for r in rows] == [
        ("audit.repair", newest(audit).name, 4)
    ]
