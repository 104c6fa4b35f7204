"""Admin virtual keys (``api_keys.admin``) and dashboard sessions shared by all workers.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "admin" not in {c["name"] for c in inspector.get_columns("api_keys")}:
        with op.batch_alter_table("api_keys") as batch:
            batch.add_column(
                sa.Column("admin", sa.Boolean, nullable=False, server_default=sa.false())
            )
    if inspector.has_table("dashboard_sessions"):
        return
    op.create_table(
        "dashboard_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("key_name", sa.String(128), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_dashboard_sessions_key_id", "dashboard_sessions", ["key_id"])


def downgrade() -> None:
    op.drop_index("ix_dashboard_sessions_key_id", "dashboard_sessions")
    op.drop_table("dashboard_sessions")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("admin")
