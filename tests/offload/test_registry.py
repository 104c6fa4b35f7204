"""The SQLite registry: incremental scans, stable ids, unusable files, calibrations."""

from __future__ import annotations

import json
import os
from pathlib import Path

from securellm.offload.discovery import discover
from securellm.offload.estimate import Buffers, LoadParams
from securellm.offload.gguf_meta import META_SCHEMA, ModelMeta, read_gguf
from securellm.offload.registry import Registry

from .conftest import TinyWriter


class CountingReader:
    def __init__(self) -> None:
        self.calls: list[Path] = []

    def __call__(self, path: Path) -> ModelMeta:
        self.calls.append(path)
        return read_gguf(path)


def _scan(registry: Registry, folder: Path) -> None:
    registry.scan(discover((folder,), None, None))


def test_scan_adds_models_with_readable_ids(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    tiny_gguf(tmp_path / "models" / "tiny-llama-Q4_K_M.gguf")
    registry = Registry(tmp_path / "registry.db")
    report = registry.scan(discover((tmp_path / "models",), None, None))
    assert report.added == 1
    [record] = registry.all()
    assert record.id == "tiny-llama"
    assert record.usable
    assert record.meta is not None
    assert record.meta.block_count == 2


def test_rescan_skips_unchanged_files(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    tiny_gguf(tmp_path / "models" / "a.gguf")
    reader = CountingReader()
    registry = Registry(tmp_path / "registry.db", reader=reader)
    _scan(registry, tmp_path / "models")
    report = registry.scan(discover((tmp_path / "models",), None, None))
    assert report.unchanged == 1
    assert len(reader.calls) == 1


def test_rescan_rereads_a_changed_file(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    path = tiny_gguf(tmp_path / "models" / "a.gguf", layers=2)
    registry = Registry(tmp_path / "registry.db")
    _scan(registry, tmp_path / "models")
    tiny_gguf(path, layers=5)
    os.utime(path, ns=(1, 10**18))
    report = registry.scan(discover((tmp_path / "models",), None, None))
    assert report.updated == 1
    record = registry.get("a")
    assert record is not None
    assert record.meta is not None
    assert record.meta.block_count == 5


def test_vanished_file_is_removed(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    path = tiny_gguf(tmp_path / "models" / "a.gguf")
    registry = Registry(tmp_path / "registry.db")
    _scan(registry, tmp_path / "models")
    path.unlink()
    report = registry.scan(discover((tmp_path / "models",), None, None))
    assert report.removed == 1
    assert registry.all() == []


def test_second_quantisation_gets_the_full_id(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    tiny_gguf(tmp_path / "models" / "m-Q4_K_M.gguf")
    tiny_gguf(tmp_path / "models" / "m-Q8_0.gguf")
    registry = Registry(tmp_path / "registry.db")
    _scan(registry, tmp_path / "models")
    assert sorted(r.id for r in registry.all()) == ["m", "m-q8_0"]


def test_corrupt_file_is_listed_unusable_and_scan_goes_on(
    tmp_path: Path, tiny_gguf: TinyWriter
) -> None:
    tiny_gguf(tmp_path / "models" / "good.gguf")
    (tmp_path / "models" / "bad.gguf").write_bytes(b"GGUF" + b"\x00" * 50)
    registry = Registry(tmp_path / "registry.db")
    report = registry.scan(discover((tmp_path / "models",), None, None))
    assert (report.added, report.unusable) == (2, 1)
    bad = registry.get("bad")
    assert bad is not None
    assert not bad.usable
    assert bad.reason


def test_calibration_is_stored_and_dropped_when_the_file_changes(
    tmp_path: Path, tiny_gguf: TinyWriter
) -> None:
    path = tiny_gguf(tmp_path / "models" / "a.gguf")
    registry = Registry(tmp_path / "registry.db")
    _scan(registry, tmp_path / "models")
    registry.save_calibration("a", LoadParams(ctx=512), Buffers(1.0, 2.0, 3.0, 0.5))
    stored = registry.calibration("a")
    assert stored is not None
    assert stored.params.ctx == 512
    assert stored.measured == Buffers(1.0, 2.0, 3.0, 0.5)
    os.utime(path, ns=(1, 10**18))
    _scan(registry, tmp_path / "models")
    assert registry.calibration("a") is None


def test_metadata_read_by_an_older_version_is_read_again(
    tmp_path: Path, tiny_gguf: TinyWriter
) -> None:
    tiny_gguf(tmp_path / "models" / "a.gguf")
    reader = CountingReader()
    registry = Registry(tmp_path / "registry.db", reader=reader)
    _scan(registry, tmp_path / "models")
    registry.save_calibration("a", LoadParams(ctx=512), Buffers(1.0, 1.0, 1.0))
    with registry._tx() as db:  # what a version without ``chat_template`` stored
        (meta,) = db.execute("SELECT meta FROM models WHERE id = 'a'").fetchone()
        old = {k: v for k, v in json.loads(meta).items() if k not in ("chat_template", "schema")}
        db.execute("UPDATE models SET meta = ? WHERE id = 'a'", (json.dumps(old),))
    report = registry.scan(discover((tmp_path / "models",), None, None))
    assert (report.updated, len(reader.calls)) == (1, 2)
    record = registry.get("a")
    assert record is not None and record.meta is not None
    assert record.meta.schema == META_SCHEMA
    assert registry.calibration("a") is not None  # same file: its measurement still holds
