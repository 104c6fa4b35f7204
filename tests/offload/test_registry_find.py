"""A model asked for while the start-up scan is still running is read on demand."""

from __future__ import annotations

import threading
from pathlib import Path

from securellm.offload.discovery import discover
from securellm.offload.gguf_meta import ModelMeta, read_gguf
from securellm.offload.registry import Registry

from .conftest import TinyWriter


class GatedReader:
    """Reads normally, except that reading ``hold`` waits until ``gate`` is set."""

    def __init__(self, hold: str) -> None:
        self.hold = hold
        self.gate = threading.Event()
        self.holding = threading.Event()
        self.calls: list[str] = []

    def __call__(self, path: Path) -> ModelMeta:
        self.calls.append(path.name)
        if path.name == self.hold:
            self.holding.set()
            self.gate.wait(30)
        return read_gguf(path)


def _slow_scan(tmp_path: Path, tiny_gguf: TinyWriter) -> tuple[Registry, GatedReader]:
    for name in ("a.gguf", "b.gguf"):
        tiny_gguf(tmp_path / "models" / name)
    reader = GatedReader(hold="a.gguf")
    return Registry(tmp_path / "registry.db", reader=reader), reader


def test_find_reads_a_model_the_scan_has_not_reached(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    registry, reader = _slow_scan(tmp_path, tiny_gguf)
    scan = threading.Thread(
        target=registry.scan, args=(discover((tmp_path / "models",), None, None),)
    )
    scan.start()
    assert reader.holding.wait(30)
    found = registry.find("b")
    reader.gate.set()
    scan.join(30)
    assert found is not None and found.usable
    assert reader.calls.count("b.gguf") == 1  # the scan did not read it a second time


def test_scan_counts_a_model_found_on_demand_as_added(
    tmp_path: Path, tiny_gguf: TinyWriter
) -> None:
    registry, reader = _slow_scan(tmp_path, tiny_gguf)
    reports = []
    candidates = discover((tmp_path / "models",), None, None)
    scan = threading.Thread(target=lambda: reports.append(registry.scan(candidates)))
    scan.start()
    assert reader.holding.wait(30)
    registry.find("b")
    reader.gate.set()
    scan.join(30)
    assert reports[0].added == 2
    assert [r.id for r in registry.all()] == ["a", "b"]


def test_find_of_an_unknown_id_is_none(tmp_path: Path, tiny_gguf: TinyWriter) -> None:
    registry, reader = _slow_scan(tmp_path, tiny_gguf)
    reader.gate.set()
    registry.scan(discover((tmp_path / "models",), None, None))
    assert registry.find("nope") is None
