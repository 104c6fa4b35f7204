"""Durable writes: a response waits for its record, and records of one loop turn share a write."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import orjson
import pytest

from securellm.gateway.audit.writer import AuditWriter
from securellm.gateway.context import RequestContext
from securellm.gateway.keys import KeyRecord

KEY = KeyRecord(id="key_1", name="laptop")


def request_ids(directory: Path) -> list[str]:
    return [
        orjson.loads(line)["request_id"]
        for path in directory.glob("audit-*.jsonl")
        for line in path.read_bytes().splitlines()
    ]


async def test_the_write_a_record_joins_completes_once_the_record_is_in_the_file(
    tmp_path: Path,
) -> None:
    writer = AuditWriter(tmp_path, flush_interval_s=3600)
    await writer.start()
    ctx = RequestContext(endpoint="chat", key=KEY)
    wait = writer.record(ctx)
    assert wait is not None
    await asyncio.wait_for(wait, 10)
    assert request_ids(tmp_path) == [ctx.request_id]
    await writer.close()


async def test_records_finished_in_one_loop_turn_share_one_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = AuditWriter(tmp_path, flush_interval_s=3600)
    await writer.start()
    real_write = os.write
    writes: list[int] = []

    def counting(fd: int, data: bytes) -> int:
        writes.append(bytes(data).count(b"\n"))
        return real_write(fd, data)

    monkeypatch.setattr("securellm.gateway.audit.journal.os.write", counting)
    waits = [writer.record(RequestContext(endpoint="chat", key=KEY)) for _ in range(50)]
    await asyncio.wait_for(asyncio.gather(*(w for w in waits if w is not None)), 10)
    assert writes == [50]
    await writer.close()


async def test_a_cancelled_response_does_not_cancel_the_others_wait(tmp_path: Path) -> None:
    writer = AuditWriter(tmp_path, flush_interval_s=3600)
    await writer.start()
    gone = writer.record(RequestContext(endpoint="chat", key=KEY))
    stays = writer.record(RequestContext(endpoint="chat", key=KEY))
    assert gone is not None and stays is not None
    gone.cancel()
    await asyncio.wait_for(stays, 10)
    assert len(request_ids(tmp_path)) == 2
    await writer.close()


async def test_a_later_turn_gets_a_write_of_its_own(tmp_path: Path) -> None:
    writer = AuditWriter(tmp_path, flush_interval_s=3600)
    await writer.start()
    first = writer.record(RequestContext(endpoint="chat", key=KEY))
    assert first is not None
    await first
    second = writer.record(RequestContext(endpoint="chat", key=KEY))
    assert second is not None and second is not first
    await asyncio.wait_for(second, 10)
    assert len(request_ids(tmp_path)) == 2
    await writer.close()


async def test_interval_mode_does_not_hold_the_response(tmp_path: Path) -> None:
    writer = AuditWriter(tmp_path, flush_interval_s=3600, durable=False)
    await writer.start()
    assert writer.record(RequestContext(endpoint="chat", key=KEY)) is None
    await asyncio.sleep(0.05)
    assert request_ids(tmp_path) == []  # written at the interval (or at close)
    await writer.close()
    assert len(request_ids(tmp_path)) == 1


async def test_a_failed_write_releases_the_response_and_keeps_the_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = AuditWriter(tmp_path, flush_interval_s=3600)
    await writer.start()

    def disk_full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("securellm.gateway.audit.journal.os.write", disk_full)
    wait = writer.record(RequestContext(endpoint="chat", key=KEY))
    assert wait is not None
    await asyncio.wait_for(wait, 10)
    assert writer.status()["last_error"] == "write failed: No space left on device"
    assert writer.queued == 1
    monkeypatch.undo()
    await writer.close()
    assert len(request_ids(tmp_path)) == 1


async def test_a_record_after_close_is_written_at_once(tmp_path: Path) -> None:
    writer = AuditWriter(tmp_path)
    await writer.start()
    await writer.close()
    assert writer.record(RequestContext(endpoint="chat", key=KEY)) is None
    assert len(request_ids(tmp_path)) == 1


async def test_a_record_that_cannot_be_sealed_is_dropped_and_the_others_are_written(
    tmp_path: Path,
) -> None:
    writer = AuditWriter(tmp_path, flush_interval_s=3600)
    await writer.start()
    good = [RequestContext(endpoint="chat", key=KEY) for _ in range(2)]
    poison = RequestContext(endpoint="chat", key=KEY, model=2**70)  # type: ignore[arg-type]
    waits = [writer.record(ctx) for ctx in (good[0], poison, good[1])]
    await asyncio.wait_for(asyncio.gather(*(w for w in waits if w is not None)), 10)
    assert sorted(request_ids(tmp_path)) == sorted(ctx.request_id for ctx in good)
    assert writer.status()["last_error"] == "a record could not be sealed"
    later = writer.record(RequestContext(endpoint="chat", key=KEY))
    assert later is not None
    await asyncio.wait_for(later, 10)  # the writer goes on
    await writer.close()
