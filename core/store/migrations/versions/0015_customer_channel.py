"""Whether a conversation was on a customer channel, stored when it is recorded (issue 20).

The rollup counted a conversation's appointments and leads by the ``DEALERBOT_CUSTOMER_CHANNELS``
of the process that ran it, while the qualifying rule (MEC) had used the setting of the servers
when the conversation was recorded. ``conversations.customer_channel`` keeps that decision, so
both count by the same fact.

Back-filled from the stored qualifying reason: the rule checks the channel first, so a
conversation on another channel has the reason ``channel '<name>' is not a one-to-one customer
channel`` (``core.engagement.NOT_A_CUSTOMER_CHANNEL``), and every other one was on a customer
channel. The days with appointments or leads are marked dirty, so the next rollup counts them
by the stored fact.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

conversations = sa.table(
    "conversations", sa.column("customer_channel", sa.Boolean), sa.column("qualify_reason")
)


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("customer_channel", sa.Boolean(), nullable=True))
    op.execute(
        conversations.update().values(
            customer_channel=sa.not_(conversations.c.qualify_reason.like("channel '%"))
        )
    )
    with op.batch_alter_table("conversations") as batch:
        batch.alter_column("customer_channel", existing_type=sa.Boolean(), nullable=False)
    for table in ("appointments", "leads"):
        op.execute(
            "INSERT INTO metric_dirty_days (day_key, dealer_id) "
            f"SELECT DISTINCT c.day_key, c.dealer_id FROM {table} x "
            "JOIN conversations c ON c.id = x.conversation_id WHERE c.day_key IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM metric_dirty_days d "
            "WHERE d.day_key = c.day_key AND d.dealer_id = c.dealer_id)"
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("customer_channel")
