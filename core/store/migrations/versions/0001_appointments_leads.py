"""Appointments, workshop slot reservations and leads.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("reference", sa.String(12), nullable=False, unique=True),
        sa.Column("dealer_id", sa.String(64), nullable=False),
        sa.Column("service_id", sa.String(32), nullable=False),
        sa.Column("plate", sa.String(16), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("customer_name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(32)),
        sa.Column("email", sa.String(254)),
        sa.Column("mileage_km", sa.Integer()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime()),
    )
    op.create_index("ix_appointments_dealer_plate", "appointments", ["dealer_id", "plate", "status"])
    op.create_index("ix_appointments_sender", "appointments", ["sender_id"])
    op.create_table(
        "slot_reservations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "appointment_id",
            sa.String(32),
            sa.ForeignKey("appointments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("dealer_id", sa.String(64), nullable=False),
        sa.Column("slot_start", sa.DateTime(), nullable=False),
        sa.Column("seat", sa.Integer(), nullable=False),
        sa.UniqueConstraint("dealer_id", "slot_start", "seat", name="uq_slot_seat"),
    )
    op.create_index("ix_slot_reservations_appointment", "slot_reservations", ["appointment_id"])
    op.create_table(
        "leads",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("reference", sa.String(12), nullable=False, unique=True),
        sa.Column("dealer_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("stock_id", sa.String(64)),
        sa.Column("car", sa.String(200)),
        sa.Column("preferred_at", sa.DateTime()),
        sa.Column("plate", sa.String(16)),
        sa.Column("mileage_km", sa.Integer()),
        sa.Column("note", sa.Text()),
        sa.Column("customer_name", sa.String(200)),
        sa.Column("phone", sa.String(32)),
        sa.Column("email", sa.String(254)),
        sa.Column("transcript", sa.Text()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_leads_dealer_created", "leads", ["dealer_id", "created_at"])
    op.create_index("ix_leads_sender", "leads", ["sender_id"])


def downgrade() -> None:
    op.drop_table("leads")
    op.drop_table("slot_reservations")
    op.drop_table("appointments")
