"""The fallback rate: per conversation the customer messages NLU did not understand, and per
rollup cell and summary row the conversations with at least one (issue 20). And how a summary
row's MEC potential was spread from imports of the other period kind (``potential_spread``).

One person across channels: ``conversations.person_key`` (the person a session showed) and
``person`` (whom MEC counts), back-filled with the contact key: a stored conversation never kept
the number or address, so older conversations are linked only when their contact shows one
again. The index of a person's earlier conversations serves the rollup's distinct counts.

``conversations.fallback_messages`` is back-filled from the NLU inbox's ``fallback`` items (the
same messages, kept by the inbox), and the covering day index takes the new column, so the day
cells still read only the index. Every day with such a conversation is marked dirty, so the next
rollup of its periods counts it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# core.store.models.ROLLUP_COLUMNS before and after this migration.
ROLLUP = [
    "channel", "language", "qualifies", "is_test", "outcome", "first_response_bucket",
    "survey_offered_at", "csat", "ces", "nps", "contact_key", "id",
]  # fmt: skip


PERSON_PERIODS = [
    "person", "dealer_id", "qualifies", "day_key", "week_key", "month_key", "language", "channel",
]  # fmt: skip


def _day_index(columns: list[str]) -> None:
    op.drop_index("ix_conversations_day", table_name="conversations")
    op.create_index(
        "ix_conversations_day", "conversations", ["day_key", "dealer_id", *columns, "week_key",
                                                  "month_key"]
    )  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(
            sa.Column("fallback_messages", sa.Integer(), nullable=False, server_default="0")
        )
    for name in ("metric_cells", "metric_summaries"):
        with op.batch_alter_table(name) as batch:
            batch.add_column(
                sa.Column("fallback_conversations", sa.Integer(), nullable=False,
                          server_default="0")
            )  # fmt: skip
    with op.batch_alter_table("metric_summaries") as batch:
        batch.add_column(sa.Column("potential_spread", sa.String(200)))
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("person_key", sa.String(64)))
        batch.add_column(sa.Column("person", sa.String(64)))
    op.execute("UPDATE conversations SET person = contact_key")
    op.create_index("ix_conversations_person_periods", "conversations", PERSON_PERIODS)
    op.execute(
        "UPDATE conversations SET fallback_messages = (SELECT count(*) FROM nlu_inbox i "
        "WHERE i.conversation_id = conversations.id AND i.reason = 'fallback') "
        "WHERE EXISTS (SELECT 1 FROM nlu_inbox i "
        "WHERE i.conversation_id = conversations.id AND i.reason = 'fallback')"
    )
    _day_index([*ROLLUP, "fallback_messages"])
    op.execute(
        "INSERT INTO metric_dirty_days (day_key, dealer_id) "
        "SELECT DISTINCT day_key, dealer_id FROM conversations "
        "WHERE fallback_messages > 0 AND day_key IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM metric_dirty_days d "
        "WHERE d.day_key = conversations.day_key AND d.dealer_id = conversations.dealer_id)"
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_person_periods", table_name="conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("person")
        batch.drop_column("person_key")
    _day_index(ROLLUP)
    with op.batch_alter_table("metric_summaries") as batch:
        batch.drop_column("potential_spread")
    for name in ("metric_summaries", "metric_cells"):
        with op.batch_alter_table(name) as batch:
            batch.drop_column("fallback_conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("fallback_messages")
