"""Budgets in integer nano-USD; live key names unique.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def _budget_in_nano_usd() -> None:
    if "spent_nano_usd" in _columns("budget_usage"):
        return
    with op.batch_alter_table("budget_usage") as batch:
        for name in ("spent_nano_usd", "reserved_nano_usd"):
            batch.add_column(sa.Column(name, sa.BigInteger, nullable=False, server_default="0"))
    op.execute(
        "UPDATE budget_usage SET"
        " spent_nano_usd = CAST(ROUND(spent_usd * 1000000000) AS BIGINT),"
        " reserved_nano_usd = CAST(ROUND(reserved_usd * 1000000000) AS BIGINT)"
    )
    with op.batch_alter_table("budget_usage") as batch:
        batch.drop_column("spent_usd")
        batch.drop_column("reserved_usd")


def _unique_live_names() -> None:
    if "active_name" in _columns("api_keys"):
        return
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("active_name", sa.String(128), nullable=True))
    # A live key keeps its name as the unique one unless another live key shares it: such
    # duplicates (accepted before this revision) keep working, and naming them is ambiguous.
    op.execute(
        "UPDATE api_keys SET active_name = name WHERE revoked = false AND name IN"
        " (SELECT name FROM api_keys WHERE revoked = false GROUP BY name HAVING COUNT(*) = 1)"
    )
    op.create_index("uq_api_keys_active_name", "api_keys", ["active_name"], unique=True)


def upgrade() -> None:
    _budget_in_nano_usd()
    _unique_live_names()


def downgrade() -> None:
    op.drop_index("uq_api_keys_active_name", "api_keys")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("active_name")
    with op.batch_alter_table("budget_usage") as batch:
        batch.add_column(sa.Column("spent_usd", sa.Float, nullable=False, server_default="0"))
        batch.add_column(sa.Column("reserved_usd", sa.Float, nullable=False, server_default="0"))
    op.execute(
        "UPDATE budget_usage SET spent_usd = spent_nano_usd / 1e9,"
        " reserved_usd = reserved_nano_usd / 1e9"
    )
    with op.batch_alter_table("budget_usage") as batch:
        batch.drop_column("spent_nano_usd")
        batch.drop_column("reserved_nano_usd")
