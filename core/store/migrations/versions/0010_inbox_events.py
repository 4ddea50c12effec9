"""The staff inbox's history: status changes, takeovers and staff messages, who and when.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dealer_id", sa.String(64), nullable=False),
        sa.Column("item_kind", sa.String(16), nullable=False),
        sa.Column("item_id", sa.String(255), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("staff", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_inbox_events_item", "inbox_events", ["item_kind", "item_id"])
    op.create_index("ix_inbox_events_dealer_at", "inbox_events", ["dealer_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_events_dealer_at", table_name="inbox_events")
    op.drop_index("ix_inbox_events_item", table_name="inbox_events")
    op.drop_table("inbox_events")
