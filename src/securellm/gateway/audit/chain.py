"""The hash chain: each record carries the hash of the one before it.

``hash = SHA-256(the record's JSON without "hash")`` (compact, keys in written order, as
orjson writes it; ``hash`` is always the last member) or, with a key from the config,
HMAC-SHA-256 under that key (then nobody without the key can rewrite the chain).
Files are ``audit-YYYY-MM-DD.s<N>.jsonl``: one chain per writer stream ``N``, each day's
file anchored to the last record of the stream's previous file. ``head-s<N>.json`` holds
where the chain ends, so a truncated last file is caught too.
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
FILE_RE = re.compile(r"^audit-(\d{4}-\d{2}-\d{2})\.s(\d+)\.jsonl$")


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


@dataclass
class Head:
    """Where a stream's chain ends: file, number of records in it, and the last hash."""

    file: str
    lines: int
    hash: str

    def dump(self, directory: Path, stream: int) -> None:
        path = directory / head_name(stream)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps({"file": self.file, "lines": self.lines, "hash": self.hash}))
        os.replace(tmp, path)

    @classmethod
    def load(cls, directory: Path, stream: int) -> Head | None:
        try:
            raw = orjson.loads((directory / head_name(stream)).read_bytes())
            return cls(str(raw["file"]), int(raw["lines"]), str(raw["hash"]))
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None


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
