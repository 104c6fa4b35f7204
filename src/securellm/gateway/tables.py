"""The gateway's tables (SQLAlchemy Core), shared by SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(128), nullable=False, index=True),
    # The name while the key is live (not revoked): unique, so two live keys never share a
    # name. NULL once revoked, and for the duplicates an earlier version let in.
    Column("active_name", String(128), nullable=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(24), nullable=False),
    Column("models", JSON, nullable=True),
    Column("rpm", Integer, nullable=True),
    Column("tpm", Integer, nullable=True),
    Column("max_concurrency", Integer, nullable=True),
    Column("budget_usd", Float, nullable=True),
    Column("budget_period", String(16), nullable=True),
    Column("log_content", Boolean, nullable=False, default=False),
    Column("cache_enabled", Boolean, nullable=False, default=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # May use /admin/* and sign in to the dashboard, like the master key (its limits stay).
    Column("admin", Boolean, nullable=False, default=False),
    Index("uq_api_keys_active_name", "active_name", unique=True),
)

# Spend per key and budget period ("2026-11-21", "2026-11" or "total"): what the settled
# requests cost, and what the requests in flight have reserved, in nano-USD (10^-9 USD:
# integers, so sums and the budget check are exact).
budget_usage = Table(
    "budget_usage",
    metadata,
    Column("key_id", String(40), primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("spent_nano_usd", BigInteger, nullable=False, default=0),
    Column("reserved_nano_usd", BigInteger, nullable=False, default=0),
    Column("requests", Integer, nullable=False, default=0),
)

# One row per audit record: the index that makes `audit query` and `/admin/spend` fast.
# The JSONL files stay the tamper-evident source of truth; `stream`/`line` point into them.
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("request_id", String(40), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("key_id", String(40), nullable=True),
    Column("key_name", String(128), nullable=True),
    Column("client_ip", String(64), nullable=True),
    Column("endpoint", String(32), nullable=True),
    Column("provider", String(64), nullable=True),
    Column("model", String(256), nullable=True),
    Column("status", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("prompt_tokens", Integer, nullable=False, default=0),
    Column("completion_tokens", Integer, nullable=False, default=0),
    Column("total_tokens", Integer, nullable=False, default=0),
    Column("cost_usd", Float, nullable=False, default=0.0),
    Column("duration_ms", Float, nullable=False, default=0.0),
    Column("error", String(512), nullable=True),
    Column("file", String(128), nullable=True),
    Column("line", Integer, nullable=True),
    Index("ix_audit_events_key_ts", "key_id", "ts"),
    # Each index costs every insert: provider (few values) and status filters ride on ts.
    Index("ix_audit_events_ts", "ts"),
    Index("ix_audit_events_model_ts", "model", "ts"),
)

# The Responses API's stored responses (``store``, ``previous_response_id``), per key: the
# response object and its request's input items as JSON text (NULL for one too large to
# keep), and the response it continued. Purged ``responses_retention_days`` after creation.
responses = Table(
    "responses",
    metadata,
    Column("key_id", String(40), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("previous_id", String(128), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("size", Integer, nullable=False),
    Column("body", Text, nullable=True),
    Column("input_items", Text, nullable=True),
    Index("ix_responses_expires_at", "expires_at"),
)

# Signed-in dashboard sessions, shared by every gateway worker: the cookie's random id is
# kept only as its SHA-256; revoked on sign-out and when the key is revoked or regenerated.
dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("key_id", String(40), nullable=False),
    Column("key_name", String(128), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Index("ix_dashboard_sessions_key_id", "key_id"),
)
