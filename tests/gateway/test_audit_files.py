"""``verify`` sees missing files: the head names every file of the chain and its count."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from securellm.gateway.audit.chain import Head, head_name
from securellm.gateway.audit.verify import Report, verify_directory
from securellm.gateway.audit.writer import AuditWriter
from securellm.gateway.context import RequestContext
from securellm.gateway.keys import KeyRecord

KEY = KeyRecord(id="key_1", name="laptop")
DAYS = ["2000-01-01", "2000-01-02", "2000-01-03"]


async def write_day(
    directory: Path,
    monkeypatch: pytest.MonkeyPatch,
    day: str,
    count: int = 3,
    *,
    retention_days: int = 100_000,
    key: bytes | None = None,
) -> None:
    """``count`` records written on ``day`` by a writer that starts and stops."""
    monkeypatch.setattr("securellm.gateway.audit.journal.today", lambda: day)
    writer = AuditWriter(directory, retention_days=retention_days, key=key)
    await writer.start()
    for i in range(count):
        writer.record(RequestContext(endpoint="chat", key=KEY, model=f"{day}-{i}"))
    await writer.close()


async def three_days(directory: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    for day in DAYS:
        await write_day(directory, monkeypatch, day)
    return [directory / f"audit-{day}.s0.jsonl" for day in DAYS]


def write_old_head(directory: Path) -> None:
    """Replace stream 0's head with one as written before per-file counts existed."""
    path = directory / head_name(0)
    raw = orjson.loads(path.read_bytes())
    path.write_bytes(orjson.dumps({k: raw[k] for k in ("file", "lines", "hash")}))


def kinds(report: Report) -> list[tuple[str, int, str]]:
    return [(p.file, p.line, p.kind) for p in report.problems]


async def test_a_chain_of_three_days_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await three_days(tmp_path, monkeypatch)
    report = verify_directory(tmp_path)
    assert report.ok, kinds(report)
    assert (report.files, report.records) == (3, 9)


async def test_deleting_the_only_file_is_reported_with_what_it_held(tmp_path: Path) -> None:
    writer = AuditWriter(tmp_path)
    await writer.start()
    for _ in range(4):
        writer.record(RequestContext(endpoint="chat", key=KEY))
    await writer.close()
    (only,) = tmp_path.glob("audit-*.jsonl")
    only.unlink()
    report = verify_directory(tmp_path)
    assert kinds(report) == [(only.name, 0, "deleted")]
    assert "4 record(s)" in report.problems[0].message


async def test_deleting_a_middle_day_names_the_missing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, middle, _ = await three_days(tmp_path, monkeypatch)
    middle.unlink()
    report = verify_directory(tmp_path)
    assert kinds(report) == [(middle.name, 0, "deleted")]
    assert "3 record(s)" in report.problems[0].message


async def test_deleting_the_oldest_day_inside_retention_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _, _ = await three_days(tmp_path, monkeypatch)
    first.unlink()
    assert kinds(verify_directory(tmp_path)) == [(first.name, 0, "deleted")]


async def test_deleting_the_oldest_day_and_its_head_entry_is_still_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever also rewrites the head (and its keyless seal) leaves the chain's start dangling."""
    first, second, _ = await three_days(tmp_path, monkeypatch)
    first.unlink()
    head = Head.load(tmp_path, 0)
    assert head is not None and head.files is not None
    del head.files[first.name]
    head.dump(tmp_path, 0, None)
    assert kinds(verify_directory(tmp_path)) == [(second.name, 1, "deleted")]


async def test_a_cut_older_day_is_named_with_the_records_written_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _, _ = await three_days(tmp_path, monkeypatch)
    first.write_bytes(first.read_bytes().splitlines(keepends=True)[0])
    report = verify_directory(tmp_path)
    assert (first.name, 1, "truncated") in kinds(report)
    assert "3 records were written" in report.problems[0].message


async def test_an_edited_head_fails_its_seal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await three_days(tmp_path, monkeypatch)
    path = tmp_path / head_name(0)
    raw = orjson.loads(path.read_bytes())
    raw["files"]["audit-2000-01-02.s0.jsonl"] = 2
    path.write_bytes(orjson.dumps(raw))
    assert kinds(verify_directory(tmp_path)) == [(head_name(0), 0, "edited")]


async def test_a_keyed_head_cannot_be_resealed_without_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for day in DAYS[:2]:
        await write_day(tmp_path, monkeypatch, day, key=b"audit-key")
    (tmp_path / f"audit-{DAYS[0]}.s0.jsonl").unlink()
    head = Head.load(tmp_path, 0)
    assert head is not None and head.files is not None
    del head.files[f"audit-{DAYS[0]}.s0.jsonl"]
    head.dump(tmp_path, 0, b"guessed-key")
    report = verify_directory(tmp_path, b"audit-key")
    assert kinds(report) == [
        (f"audit-{DAYS[1]}.s0.jsonl", 1, "deleted"),
        (head_name(0), 0, "edited"),
    ]


async def test_files_removed_by_retention_verify_and_are_noted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await three_days(tmp_path, monkeypatch)
    await write_day(tmp_path, monkeypatch, "2000-02-15", retention_days=40)
    assert sorted(p.name for p in tmp_path.glob("audit-*.jsonl")) == ["audit-2000-02-15.s0.jsonl"]
    report = verify_directory(tmp_path)
    assert report.ok, kinds(report)
    assert any("removed by retention" in note for note in report.notes)


async def test_a_trail_with_a_head_from_before_per_file_counts_verifies_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await three_days(tmp_path, monkeypatch)
    write_old_head(tmp_path)
    report = verify_directory(tmp_path)
    assert report.ok, kinds(report)
    assert any("predates per-file record counts" in note for note in report.notes)


async def test_the_writer_upgrades_an_old_head_and_then_sees_a_deleted_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _, _ = await three_days(tmp_path, monkeypatch)
    write_old_head(tmp_path)
    await write_day(tmp_path, monkeypatch, "2000-01-04")
    first.unlink()
    assert kinds(verify_directory(tmp_path)) == [(first.name, 0, "deleted")]


async def test_retention_of_a_stopped_writers_stream_keeps_its_head_true(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("securellm.gateway.audit.journal.today", lambda: DAYS[0])
    first, second = AuditWriter(tmp_path), AuditWriter(tmp_path)
    await first.start()
    await second.start()
    first.record(RequestContext(endpoint="chat", key=KEY))
    second.record(RequestContext(endpoint="chat", key=KEY))
    await first.close()
    await second.close()
    await write_day(tmp_path, monkeypatch, "2000-06-01", retention_days=30)
    assert [p.name for p in tmp_path.glob("audit-*.jsonl")] == ["audit-2000-06-01.s0.jsonl"]
    report = verify_directory(tmp_path)
    assert report.ok, kinds(report)
    assert sum("removed by retention" in note for note in report.notes) == 2


async def test_todays_file_deleted_while_the_gateway_was_down_stays_caught_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await write_day(tmp_path, monkeypatch, DAYS[0])
    await write_day(tmp_path, monkeypatch, DAYS[1], count=4)
    today = tmp_path / f"audit-{DAYS[1]}.s0.jsonl"
    today.unlink()
    await write_day(tmp_path, monkeypatch, DAYS[1], count=2)  # the restart writes it anew
    report = verify_directory(tmp_path)
    assert kinds(report) == [(today.name, 1, "deleted")]
    assert "#1..#4" in report.problems[0].message


async def test_the_only_file_deleted_while_the_gateway_was_down_stays_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await write_day(tmp_path, monkeypatch, DAYS[0], count=4)
    (tmp_path / f"audit-{DAYS[0]}.s0.jsonl").unlink()
    await write_day(tmp_path, monkeypatch, DAYS[0], count=1)
    assert kinds(verify_directory(tmp_path)) == [(f"audit-{DAYS[0]}.s0.jsonl", 1, "deleted")]


async def test_a_day_deleted_while_the_gateway_was_down_stays_listed_after_a_new_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await write_day(tmp_path, monkeypatch, DAYS[0])
    await write_day(tmp_path, monkeypatch, DAYS[1])
    (tmp_path / f"audit-{DAYS[1]}.s0.jsonl").unlink()
    await write_day(tmp_path, monkeypatch, DAYS[2])
    assert kinds(verify_directory(tmp_path)) == [(f"audit-{DAYS[1]}.s0.jsonl", 0, "deleted")]
