"""Staff notifications, their outbox (e-mails, webhooks) and the webhook attempt log (issue 19).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(32), nullable=False, unique=True),
        sa.Column("dealer_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("conversation_id", sa.String(32)),
        sa.Column(
            "appointment_id",
            sa.String(32),
            sa.ForeignKey("appointments.id", ondelete="CASCADE"),
        ),
        sa.Column("lead_id", sa.String(32), sa.ForeignKey("leads.id", ondelete="CASCADE")),
        sa.Column("starts_at", sa.DateTime()),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dedupe_key", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("fanned_out_at", sa.DateTime()),
    )
    op.create_index("ix_notifications_dealer_created", "notifications", ["dealer_id", "created_at"])
    op.create_index("ix_notifications_fan_out", "notifications", ["fanned_out_at"])
    op.create_index("ix_notifications_conversation", "notifications", ["conversation_id"])
    op.create_index("ix_notifications_appointment", "notifications", ["appointment_id"])
    op.create_index("ix_notifications_lead", "notifications", ["lead_id"])
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "notification_id",
            sa.Integer(),
            sa.ForeignKey("notifications.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("dealer_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(24), nullable=False),
        sa.Column("recipient", sa.String(1000), nullable=False),
        sa.Column("secret_env", sa.String(128)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime()),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("sent_at", sa.DateTime()),
        sa.Column("message_id", sa.String(255)),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("notification_id", "channel", "recipient", name="uq_outbox_message"),
    )
    op.create_index("ix_outbox_messages_due", "outbox_messages", ["status", "next_attempt_at"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "outbox_message_id",
            sa.Integer(),
            sa.ForeignKey("outbox_messages.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("dealer_id", sa.String(64), nullable=False),
        sa.Column("url", sa.String(1000), nullable=False),
        sa.Column("attempted_at", sa.DateTime(), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("error", sa.String(500)),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
    )
    op.create_index("ix_webhook_attempts_message", "webhook_attempts", ["outbox_message_id"])


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("outbox_messages")
    op.drop_table("notifications")
