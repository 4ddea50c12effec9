"""Faster rollups: first-response bucket and survey scores on conversations, narrower indexes.

The weekly and monthly covering indexes now hold exactly what a rollup reads (the bucket
instead of the milliseconds, the CSAT/CES/NPS scores instead of a join; ``id`` for the joins
to appointments and leads), and the contact index also holds each conversation's period keys,
so returning contacts are one index pass.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# metrics.formulas.FIRST_RESPONSE_BUCKETS_MS when this migration was written.
BUCKETS_MS = (250, 500, 1_000, 2_000, 3_000, 5_000, 10_000, 20_000, 30_000, 60_000)
SCORES = ("csat", "ces", "nps")
OLD_ROLLUP = [
    "channel", "language", "qualifies", "is_test", "outcome", "contact_key",
    "first_response_ms", "survey_offered_at", "id",
]  # fmt: skip
ROLLUP = [
    "channel", "language", "qualifies", "is_test", "outcome", "first_response_bucket",
    "survey_offered_at", "csat", "ces", "nps", "contact_key", "id",
]  # fmt: skip
CONTACT_PERIODS = ["contact_key", "dealer_id", "qualifies", "day_key", "week_key", "month_key"]


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("first_response_bucket", sa.SmallInteger()))
        for name in SCORES:
            batch.add_column(sa.Column(name, sa.SmallInteger()))
    _backfill()
    op.drop_index("ix_conversations_week", table_name="conversations")
    op.drop_index("ix_conversations_month", table_name="conversations")
    op.drop_index("ix_conversations_contact", table_name="conversations")
    op.create_index("ix_conversations_week", "conversations", ["week_key", "dealer_id", *ROLLUP])
    op.create_index("ix_conversations_month", "conversations", ["month_key", "dealer_id", *ROLLUP])
    op.create_index("ix_conversations_contact_periods", "conversations", CONTACT_PERIODS)


def _backfill() -> None:
    """The bucket and the scores of the conversations recorded before this migration."""
    conversations = sa.table(
        "conversations",
        sa.column("id"), sa.column("first_response_ms"), sa.column("first_response_bucket"),
        *[sa.column(name) for name in SCORES],
    )  # fmt: skip
    answers = sa.table(
        "survey_answers", sa.column("conversation_id"), sa.column("question"), sa.column("score")
    )
    ms = conversations.c.first_response_ms
    bucket = sa.case(
        *[(ms <= bound, i) for i, bound in enumerate(BUCKETS_MS)], else_=len(BUCKETS_MS)
    )
    conn = op.get_bind()
    conn.execute(conversations.update().where(ms.isnot(None)).values(first_response_bucket=bucket))
    for name in SCORES:
        score = (
            sa.select(answers.c.score)
            .where(answers.c.conversation_id == conversations.c.id, answers.c.question == name)
            .scalar_subquery()
        )
        answered = sa.select(answers.c.conversation_id).where(
            answers.c.question == name, answers.c.score.isnot(None)
        )
        conn.execute(conversations.update().where(conversations.c.id.in_(answered)).values(
            {name: score}
        ))  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_conversations_contact_periods", table_name="conversations")
    op.drop_index("ix_conversations_month", table_name="conversations")
    op.drop_index("ix_conversations_week", table_name="conversations")
    with op.batch_alter_table("conversations") as batch:
        for name in ("nps", "ces", "csat", "first_response_bucket"):
            batch.drop_column(name)
    op.create_index("ix_conversations_contact", "conversations", ["contact_key"])
    op.create_index(
        "ix_conversations_week", "conversations", ["week_key", "dealer_id", *OLD_ROLLUP]
    )
    op.create_index(
        "ix_conversations_month", "conversations", ["month_key", "dealer_id", *OLD_ROLLUP]
    )
