"""Rollup cells and dirty days: weeks and months as sums of day cells; MEC from partial indexes.

``metric_cells`` holds the additive counts per dealer, period, channel and language; day cells
come from the conversations, week and month cells are sums of day cells. ``metric_dirty_days``
marks the days whose cells are out of date; every day that has conversations now is marked,
so the next rollup of a period recomputes its days. The conversations' wide week and month
indexes give way to a covering day index (the source of the day cells) and a narrow week index;
the contact index also holds the language (a contact's earlier conversations, per language).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# core.store.models.CELL_COUNTS and ROLLUP_COLUMNS when this migration was written.
CELL_COUNTS = [
    "conversations", "qualifying", "appointments_booked", "appointments_changed",
    "appointments_cancelled", "test_drives", "leads_created", "handoffs", "self_served",
    "abandoned", "surveys_offered", "csat_n", "csat_sum", "csat_top2", "ces_n", "ces_sum",
    "ces_top3", "nps_n", "nps_promoters", "nps_detractors", "first_response_n",
    "first_response_30s", *(f"h{i}" for i in range(11)), "bot_appointments", "leads_test_drive",
    "leads_trade_in", "leads_sales", "leads_handoff",
]  # fmt: skip
ROLLUP = [
    "channel", "language", "qualifies", "is_test", "outcome", "first_response_bucket",
    "survey_offered_at", "csat", "ces", "nps", "contact_key", "id",
]  # fmt: skip
CONTACT_COUNTS = [
    f"{name}_{kind}" for kind in ("day", "week", "month") for name in ("mec", "mec_lang", "ret")
]
OLD_CONTACT_PERIODS = ["contact_key", "dealer_id", "qualifies", "day_key", "week_key", "month_key"]


def upgrade() -> None:
    op.create_table(
        "metric_cells",
        sa.Column("period_kind", sa.String(5), primary_key=True),
        sa.Column("period_key", sa.String(10), primary_key=True),
        sa.Column("dealer_id", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("language", sa.String(2), primary_key=True),
        sa.Column("week_key", sa.String(8)),
        sa.Column("month_key", sa.String(7)),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in CELL_COUNTS + CONTACT_COUNTS],
    )
    for kind in ("week", "month"):
        op.create_index(
            f"ix_metric_cells_{kind}",
            "metric_cells",
            [f"{kind}_key", "dealer_id", "channel", "language"],
        )
    op.create_table(
        "metric_dirty_days",
        sa.Column("day_key", sa.String(10), primary_key=True),
        sa.Column("dealer_id", sa.String(64), primary_key=True),
    )
    for name in ("ix_conversations_week", "ix_conversations_month", "ix_conversations_day",
                 "ix_conversations_contact_periods"):  # fmt: skip
        op.drop_index(name, table_name="conversations")
    op.create_index(
        "ix_conversations_day",
        "conversations",
        ["day_key", "dealer_id", *ROLLUP, "week_key", "month_key"],
    )
    op.create_index("ix_conversations_week", "conversations", ["week_key", "dealer_id"])
    op.create_index(
        "ix_conversations_contact_periods", "conversations", [*OLD_CONTACT_PERIODS, "language"]
    )
    op.execute(
        "INSERT INTO metric_dirty_days (day_key, dealer_id) "
        "SELECT DISTINCT day_key, dealer_id FROM conversations WHERE day_key IS NOT NULL"
    )


def downgrade() -> None:
    for name in (
        "ix_conversations_contact_periods",
        "ix_conversations_week",
        "ix_conversations_day",
    ):
        op.drop_index(name, table_name="conversations")
    op.create_index("ix_conversations_contact_periods", "conversations", OLD_CONTACT_PERIODS)
    op.create_index("ix_conversations_day", "conversations", ["day_key", "dealer_id"])
    op.create_index("ix_conversations_month", "conversations", ["month_key", "dealer_id", *ROLLUP])
    op.create_index("ix_conversations_week", "conversations", ["week_key", "dealer_id", *ROLLUP])
    op.drop_table("metric_dirty_days")
    for kind in ("month", "week"):
        op.drop_index(f"ix_metric_cells_{kind}", table_name="metric_cells")
    op.drop_table("metric_cells")
