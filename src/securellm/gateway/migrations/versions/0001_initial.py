"""Keys, budget usage and the audit index.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _exists(name: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(name)


def _api_keys() -> None:
    # Databases created before migrations existed already have this table.
    if _exists("api_keys"):
        return
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, index=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(24), nullable=False),
        sa.Column("models", sa.JSON, nullable=True),
        sa.Column("rpm", sa.Integer, nullable=True),
        sa.Column("tpm", sa.Integer, nullable=True),
        sa.Column("max_concurrency", sa.Integer, nullable=True),
        sa.Column("budget_usd", sa.Float, nullable=True),
        sa.Column("budget_period", sa.String(16), nullable=True),
        sa.Column("log_content", sa.Boolean, nullable=False),
        sa.Column("cache_enabled", sa.Boolean, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def _budget_usage() -> None:
    if _exists("budget_usage"):
        return
    op.create_table(
        "budget_usage",
        sa.Column("key_id", sa.String(40), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("spent_usd", sa.Float, nullable=False),
        sa.Column("reserved_usd", sa.Float, nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
    )


def _audit_events() -> None:
    if _exists("audit_events"):
        return
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("request_id", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=True),
        sa.Column("key_name", sa.String(128), nullable=True),
        sa.Column("client_ip", sa.String(64), nullable=True),
        sa.Column("endpoint", sa.String(32), nullable=True),
        sa.Column("provider", sa.String(64), nullable=True),
        sa.Column("model", sa.String(256), nullable=True),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("total_tokens", sa.Integer, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("error", sa.String(512), nullable=True),
        sa.Column("file", sa.String(128), nullable=True),
        sa.Column("line", sa.Integer, nullable=True),
    )
    op.create_index("ix_audit_events_key_ts", "audit_events", ["key_id", "ts"])
    op.create_index("ix_audit_events_ts", "audit_events", ["ts"])
    op.create_index("ix_audit_events_model_ts", "audit_events", ["model", "ts"])


def upgrade() -> None:
    _api_keys()
    _budget_usage()
    _audit_events()


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_table("budget_usage")
    op.drop_table("api_keys")
