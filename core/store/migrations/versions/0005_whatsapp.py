"""WhatsApp message ids: deduplication of provider retries and the 24-hour window.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "whatsapp_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("contact_key", sa.String(64), nullable=False),
        sa.Column("business_number", sa.String(32), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.UniqueConstraint("provider", "message_id", name="uq_whatsapp_message"),
    )
    op.create_index(
        "ix_whatsapp_messages_contact",
        "whatsapp_messages",
        ["contact_key", "business_number", "sent_at"],
    )
    op.create_index("ix_whatsapp_messages_received", "whatsapp_messages", ["received_at"])


def downgrade() -> None:
    op.drop_table("whatsapp_messages")
