"""Audit index rows for tests and benchmarks, written through the index's own insert path."""

from __future__ import annotations

from typing import Any

from securellm.gateway.audit.index import COLUMNS, Row


def audit_row(ts: float, **fields: Any) -> Row:
    """One ``audit_events`` row at ``ts``; unnamed fields take a served request's values."""
    values: dict[str, Any] = {
        "ts": ts,
        "request_id": f"req-{ts:.6f}",
        "event_type": "request",
        "key_id": "key-a",
        "key_name": "alpha",
        "client_ip": "127.0.0.1",
        "endpoint": "chat",
        "provider": "fake",
        "model": "fake/echo",
        "status": 200,
        "outcome": "ok",
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
        "cost_usd": 0.0,
        "duration_ms": 10.0,
        "error": None,
        "file": "audit.jsonl",
        "line": 1,
        **fields,
    }
    return tuple(values[name] for name in COLUMNS)
