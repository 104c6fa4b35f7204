"""``verify`` catches every kind of tampering, with file and line."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from securellm.gateway.audit.chain import digest
from securellm.gateway.audit.verify import Report, verify_directory
from securellm.gateway.audit.writer import AuditWriter
from securellm.gateway.context import RequestContext
from securellm.gateway.keys import KeyRecord

KEY = KeyRecord(id="key_1", name="laptop")


async def write_records(directory: Path, count: int, key: bytes | None = None) -> None:
    writer = AuditWriter(directory, key=key, retention_days=100_000)
    await writer.start()
    for i in range(count):
        writer.record(RequestContext(endpoint="chat", key=KEY, model=f"m{i}"))
    await writer.close()


def today_file(directory: Path) -> Path:
    return max(directory.glob("audit-*.s0.jsonl"))


async def two_days(directory: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Five records in an older day's file, five in today's, chained across."""
    with monkeypatch.context() as patch:
        patch.setattr("securellm.gateway.audit.journal.today", lambda: "2000-01-02")
        await write_records(directory, 5)
    await write_records(directory, 5)
    return directory / "audit-2000-01-02.s0.jsonl", today_file(directory)


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def kinds(report: Report) -> list[tuple[str, int, str]]:
    return [(p.file, p.line, p.kind) for p in report.problems]


async def test_untouched_trail_verifies_and_says_where_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, newest = await two_days(tmp_path, monkeypatch)
    report = verify_directory(tmp_path)
    assert report.ok
    assert (report.files, report.records) == (2, 10)
    assert [(e.file, e.line) for e in report.ends] == [(newest.name, 5)]


async def test_edited_record_is_reported_at_its_line(tmp_path: Path) -> None:
    await write_records(tmp_path, 5)
    path = today_file(tmp_path)
    content = lines(path)
    content[2] = content[2].replace(b'"model":"m2"', b'"model":"mX"')
    path.write_bytes(b"".join(content))
    assert kinds(verify_directory(tmp_path)) == [(path.name, 3, "edited")]


async def test_edited_record_with_a_recomputed_hash_is_still_caught(tmp_path: Path) -> None:
    await write_records(tmp_path, 5)
    path = today_file(tmp_path)
    content = lines(path)
    record = orjson.loads(content[1])
    record["cost_usd"] = 0.0 if record["cost_usd"] else 1.0
    record["hash"] = digest(record, None)
    content[1] = orjson.dumps(record) + b"\n"
    path.write_bytes(b"".join(content))
    assert kinds(verify_directory(tmp_path)) == [(path.name, 2, "edited")]


async def test_hmac_chain_cannot_be_rehashed_without_the_key(tmp_path: Path) -> None:
    secret = b"audit-secret"
    await write_records(tmp_path, 3, key=secret)
    path = today_file(tmp_path)
    content = lines(path)
    record = orjson.loads(content[2])
    record["status"] = 500
    record["hash"] = digest(record, b"guessed-key")
    content[2] = orjson.dumps(record) + b"\n"
    path.write_bytes(b"".join(content))
    assert kinds(verify_directory(tmp_path, secret)) == [(path.name, 3, "edited")]


async def test_wrong_hmac_key_fails_verification(tmp_path: Path) -> None:
    await write_records(tmp_path, 3, key=b"right")
    assert not verify_directory(tmp_path, b"wrong").ok
    assert verify_directory(tmp_path, b"right").ok


async def test_keyed_trail_without_the_key_checks_links_and_says_so(tmp_path: Path) -> None:
    await write_records(tmp_path, 3, key=b"right")
    report = verify_directory(tmp_path)
    assert report.ok
    assert any("HMAC" in note for note in report.notes)


async def test_deleted_record_is_reported_where_it_was(tmp_path: Path) -> None:
    await write_records(tmp_path, 5)
    path = today_file(tmp_path)
    content = lines(path)
    del content[2]
    path.write_bytes(b"".join(content))
    report = verify_directory(tmp_path)
    assert kinds(report) == [(path.name, 3, "deleted")]
    assert "#3" in report.problems[0].message


async def test_reordered_records_are_reported(tmp_path: Path) -> None:
    await write_records(tmp_path, 5)
    path = today_file(tmp_path)
    content = lines(path)
    content[1], content[2] = content[2], content[1]
    path.write_bytes(b"".join(content))
    assert kinds(verify_directory(tmp_path)) == [
        (path.name, 2, "reordered"),
        (path.name, 3, "reordered"),
    ]


async def test_truncated_newest_file_is_caught_by_the_head(tmp_path: Path) -> None:
    await write_records(tmp_path, 5)
    path = today_file(tmp_path)
    path.write_bytes(b"".join(lines(path)[:3]))
    report = verify_directory(tmp_path)
    assert kinds(report) == [(path.name, 3, "truncated")]
    assert "5 records were written" in report.problems[0].message


async def test_truncated_older_file_is_named_with_its_count_and_breaks_the_next_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    older, newest = await two_days(tmp_path, monkeypatch)
    older.write_bytes(b"".join(lines(older)[:4]))
    report = verify_directory(tmp_path)
    assert kinds(report) == [(older.name, 4, "truncated"), (newest.name, 1, "truncated")]
    assert "5 records were written" in report.problems[0].message


async def test_record_cut_in_the_middle_is_reported(tmp_path: Path) -> None:
    await write_records(tmp_path, 3)
    path = today_file(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 20])
    report = verify_directory(tmp_path)
    assert (path.name, 3, "truncated") in kinds(report)


async def test_writer_continues_the_chain_after_a_restart(tmp_path: Path) -> None:
    await write_records(tmp_path, 3)
    await write_records(tmp_path, 3)
    report = verify_directory(tmp_path)
    assert report.ok
    assert [e.line for e in report.ends] == [6]


async def test_retention_removes_files_older_than_the_period(tmp_path: Path) -> None:
    old = tmp_path / "audit-2000-01-01.s0.jsonl"
    old.write_bytes(b"")
    writer = AuditWriter(tmp_path, retention_days=90)
    await writer.start()
    await writer.close()
    assert not old.exists()


async def test_two_writers_in_one_directory_keep_separate_chains(tmp_path: Path) -> None:
    first, second = AuditWriter(tmp_path), AuditWriter(tmp_path)
    await first.start()
    await second.start()
    for i in range(4):
        (first if i % 2 else second).record(RequestContext(endpoint="chat", key=KEY))
    await first.close()
    await second.close()
    report = verify_directory(tmp_path)
    assert report.ok
    assert sorted(e.stream for e in report.ends) == [0, 1]


async def test_close_writes_every_queued_record(tmp_path: Path) -> None:
    writer = AuditWriter(tmp_path, flush_interval_s=3600)
    await writer.start()
    for _ in range(1000):
        writer.record(RequestContext(endpoint="chat", key=KEY))
    await writer.close()
    assert len(lines(today_file(tmp_path))) == 1000


async def test_files_are_not_world_readable(tmp_path: Path) -> None:
    await write_records(tmp_path, 1)
    assert os.stat(today_file(tmp_path)).st_mode & 0o007 == 0


async def test_failed_write_keeps_the_unwritten_records_and_the_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    calls = {"n": 0}

    def disk_full_once(fd: int, data: bytes) -> int:
        """A short write (two records and a bit of the third), then ENOSPC, like a full disk."""
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data)[: len(data) // 2 + 7])
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    writer = AuditWriter(tmp_path)
    await writer.start()
    for i in range(4):
        writer.record(RequestContext(endpoint="chat", key=KEY, model=f"m{i}"))
    monkeypatch.setattr("securellm.gateway.audit.journal.os.write", disk_full_once)
    await writer.flush()
    assert writer.last_error == "write failed: No space left on device"
    await writer.close()
    report = verify_directory(tmp_path)
    path = today_file(tmp_path)
    assert report.ok, kinds(report)
    assert [r.split(": ")[0] for r in report.repairs] == [f"{path.name}:3"]  # the half record
    records = [orjson.loads(line) for n, line in enumerate(lines(path)) if n != 2]
    assert [r["model"] for r in records] == ["m0", "m1", None, "m2", "m3"]
    assert records[2]["event_type"] == "audit.repair"
    assert report.records == 5
    assert [e.line for e in report.ends] == [6]


async def test_progress_is_called_once_per_record_checked(tmp_path: Path) -> None:
    await write_records(tmp_path, 7)
    seen: list[int] = []
    report = verify_directory(tmp_path, progress=seen.append)
    assert report.ok and sum(seen) == report.records == 7
