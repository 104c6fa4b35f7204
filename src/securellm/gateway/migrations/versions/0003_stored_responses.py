"""Stored responses of the Responses API (``store``, ``previous_response_id``), per key.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("responses"):
        return
    op.create_table(
        "responses",
        sa.Column("key_id", sa.String(40), primary_key=True),
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("previous_id", sa.String(128), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=True),
        sa.Column("input_items", sa.Text, nullable=True),
    )
    op.create_index("ix_responses_expires_at", "responses", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_responses_expires_at", "responses")
    op.drop_table("responses")
