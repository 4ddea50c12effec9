"""Engagement log: conversations, survey answers, erasures; link appointments and leads.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("dealer_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("contact_key", sa.String(64), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_message_at", sa.DateTime(), nullable=False),
        sa.Column("customer_messages", sa.Integer(), nullable=False),
        sa.Column("bot_messages", sa.Integer(), nullable=False),
        sa.Column("first_response_ms", sa.Integer()),
        sa.Column("intents", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("qualifies", sa.Boolean(), nullable=False),
        sa.Column("qualify_reason", sa.String(200), nullable=False),
        sa.Column("is_test", sa.Boolean(), nullable=False),
        sa.Column("survey_offered_at", sa.DateTime()),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_conversations_dealer_started", "conversations", ["dealer_id", "started_at"])
    op.create_index("ix_conversations_contact", "conversations", ["contact_key"])
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "conversation_id",
            sa.String(32),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("question", sa.String(16), nullable=False),
        sa.Column("score", sa.Integer()),
        sa.Column("comment", sa.Text()),
        sa.Column("answered_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("conversation_id", "question", name="uq_survey_answer"),
    )
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("contact_key", sa.String(64), nullable=False),
        sa.Column("sender_id_hash", sa.String(64), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("tracker_purged_at", sa.DateTime()),
    )
    with op.batch_alter_table("appointments") as batch:
        batch.add_column(sa.Column("conversation_id", sa.String(32)))
        batch.create_index("ix_appointments_conversation_id", ["conversation_id"])
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("conversation_id", sa.String(32)))
        batch.create_index("ix_leads_conversation_id", ["conversation_id"])


def downgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.drop_index("ix_leads_conversation_id")
        batch.drop_column("conversation_id")
    with op.batch_alter_table("appointments") as batch:
        batch.drop_index("ix_appointments_conversation_id")
        batch.drop_column("conversation_id")
    op.drop_table("erasures")
    op.drop_table("survey_answers")
    op.drop_table("conversations")
