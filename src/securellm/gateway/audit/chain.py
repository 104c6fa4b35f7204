"""The hash chain: each record carries the hash of the one before it.

``hash = SHA-256(the record's JSON without "hash")`` (compact, keys in written order, as
orjson writes it; ``hash`` is always the last member) or, with a key from the config,
HMAC-SHA-256 under that key (then nobody without the key can rewrite the chain).
Files are ``audit-YYYY-MM-DD.s<N>.jsonl``: one chain per writer stream ``N``, each day's
file anchored to the last record of the stream's previous file. ``head-s<N>.json`` holds
where the chain ends and every retained file with its record count, so a truncated or
deleted file is caught too. A line torn by a crash is kept and followed by an
``audit.repair`` record naming its offset, length and SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

GENESIS = "0" * 64
REPAIR = "audit.repair"  # the event type of a record that closes off a torn line
FILE_RE = re.compile(r"^audit-(\d{4}-\d{2}-\d{2})\.s(\d+)\.jsonl$")
HEAD_RE = re.compile(r"^head-s(\d+)\.json$")


def file_name(day: str, stream: int) -> str:
    return f"audit-{day}.s{stream}.jsonl"


def head_name(stream: int) -> str:
    return f"head-s{stream}.json"


def algorithm(key: bytes | None) -> str:
    return "hmac-sha256" if key else "sha256"


def digest_bytes(body: bytes, key: bytes | None) -> str:
    if key:
        return hmac.new(key, body, hashlib.sha256).hexdigest()
    return hashlib.sha256(body).hexdigest()


def digest(record: dict[str, Any], key: bytes | None) -> str:
    """The hash of ``record`` (every field except ``hash``, in their order)."""
    return digest_bytes(orjson.dumps({k: v for k, v in record.items() if k != "hash"}), key)


def sealed_line(record: dict[str, Any], key: bytes | None) -> tuple[bytes, str]:
    """``record`` (without ``hash``) as one JSONL line with its hash appended, and the hash."""
    body = orjson.dumps(record)
    hashed = digest_bytes(body, key)
    return body[:-1] + b',"hash":"' + hashed.encode() + b'"}\n', hashed


HEAD_VERSION = 2


@dataclass
class Head:
    """Where a stream's chain ends, and what it holds.

    ``file``/``lines``/``hash``: the newest file, its record count and the last hash.
    ``files`` (version 2): every retained file of the chain and its record count, so a
    deleted or cut file is named by ``verify``; ``None`` in a head written before that.
    ``anchor``: the hash the oldest retained file's first record links to (``GENESIS``
    until retention removed a file); ``removed_before``: the day before which retention
    removed the chain's files. ``mac`` seals the rest (HMAC under the audit key, or a plain
    SHA-256 without one).
    """

    file: str
    lines: int
    hash: str
    files: dict[str, int] | None = None
    anchor: str = GENESIS
    removed_before: str | None = None
    chain: str = "sha256"
    mac: str | None = None

    def body(self) -> bytes:
        return orjson.dumps(
            {
                "version": HEAD_VERSION,
                "file": self.file,
                "lines": self.lines,
                "hash": self.hash,
                "files": self.files or {},
                "anchor": self.anchor,
                "removed_before": self.removed_before,
                "chain": self.chain,
            }
        )

    def dump(self, directory: Path, stream: int, key: bytes | None) -> None:
        self.chain = algorithm(key)
        body = self.body()
        self.mac = digest_bytes(body, key)
        path = directory / head_name(stream)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(body[:-1] + b',"mac":"' + self.mac.encode() + b'"}')
        os.replace(tmp, path)

    def sealed(self, key: bytes | None) -> bool:
        """Whether ``mac`` matches the head's content (under ``key`` for a keyed head)."""
        return self.mac is not None and digest_bytes(self.body(), key) == self.mac

    @classmethod
    def load(cls, directory: Path, stream: int) -> Head | None:
        try:
            raw = orjson.loads((directory / head_name(stream)).read_bytes())
            head = cls(str(raw["file"]), int(raw["lines"]), str(raw["hash"]))
            if raw.get("version") == HEAD_VERSION:
                head.files = {str(k): int(v) for k, v in raw["files"].items()}
                head.anchor = str(raw["anchor"])
                removed = raw.get("removed_before")
                head.removed_before = str(removed) if removed else None
                head.chain, head.mac = str(raw["chain"]), str(raw["mac"])
            return head
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            return None


def head_streams(directory: Path) -> set[int]:
    """Streams that have a head file (a stream whose files were all deleted has one)."""
    found = set()
    for path in directory.glob("head-s*.json"):
        match = HEAD_RE.match(path.name)
        if match:
            found.add(int(match.group(1)))
    return found


def day_of(name: str) -> str:
    match = FILE_RE.match(name)
    return match.group(1) if match else ""


def stream_files(directory: Path) -> dict[int, list[Path]]:
    """Every audit file, by stream, oldest first."""
    found: dict[int, list[tuple[str, Path]]] = {}
    for path in directory.glob("audit-*.jsonl"):
        match = FILE_RE.match(path.name)
        if match:
            found.setdefault(int(match.group(2)), []).append((match.group(1), path))
    return {stream: [p for _, p in sorted(items)] for stream, items in sorted(found.items())}


def last_record(path: Path) -> tuple[int, str] | None:
    """``(seq, hash)`` of the last complete record of ``path``, reading from the end."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            chunk = min(size, 64 * 1024)
            while True:
                handle.seek(size - chunk)
                tail = handle.read(chunk)
                lines = [line for line in tail.split(b"\n") if line.strip()]
                for line in reversed(lines if chunk == size else lines[1:]):
                    try:
                        rec = orjson.loads(line)
                        return int(rec["seq"]), str(rec["hash"])
                    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                        continue
                if chunk == size:
                    return None
                chunk = min(size, chunk * 4)
    except OSError:
        return None


def tail_fragment(path: Path) -> tuple[int, bytes]:
    """``(offset, bytes)`` after the last newline of ``path`` (``b""`` when it ends with one)."""
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        chunk = 4096
        while True:
            start = max(0, size - chunk)
            handle.seek(start)
            tail = handle.read(size - start)
            newline = tail.rfind(b"\n")
            if newline >= 0:
                return start + newline + 1, tail[newline + 1 :]
            if start == 0:
                return 0, tail
            chunk *= 4


def first_prev_hash(path: Path) -> str | None:
    """``prev_hash`` of the first record of ``path``: what the file links back to."""
    try:
        with path.open("rb") as handle:
            rec = orjson.loads(handle.readline())
        return str(rec["prev_hash"])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return None


def count_lines(path: Path) -> int:
    """Newline-terminated lines in ``path``."""
    total = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            total += block.count(b"\n")
    return total
