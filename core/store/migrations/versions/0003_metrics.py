"""Metrics: period keys on conversations (back-filled), summary and MEC potential tables.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ROLLUP_COLUMNS = [
    "channel", "language", "qualifies", "is_test", "outcome", "contact_key",
    "first_response_ms", "survey_offered_at", "id",
]  # fmt: skip
COUNTS = [
    "conversations", "qualifying", "mec", "appointments_booked", "appointments_changed",
    "appointments_cancelled", "test_drives", "leads_created", "handoffs", "self_served",
    "abandoned", "surveys_offered", "csat_n", "csat_sum", "csat_top2", "ces_n", "ces_sum",
    "ces_top3", "nps_n", "nps_promoters", "nps_detractors", "first_response_n",
    "first_response_30s", "bot_appointments", "leads_test_drive", "leads_trade_in", "leads_sales",
    "leads_handoff",
]  # fmt: skip
BATCH = 5000


def _timezones():
    """Each dealer's time zone from the dealer files; Europe/Amsterdam for the rest."""
    try:
        from dealer.config import all_dealers

        return {d.id: d.timezone for d in all_dealers().values()}
    except Exception:  # noqa: BLE001 - no dealer files where the migration runs: use the default
        return {}


def _keys(started_at, zone):
    day = started_at.replace(tzinfo=dt.timezone.utc).astimezone(zone).date()
    year, week, _ = day.isocalendar()
    return day.isoformat(), f"{year:04d}-W{week:02d}", f"{day.year:04d}-{day.month:02d}"


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("day_key", sa.String(10)))
        batch.add_column(sa.Column("week_key", sa.String(8)))
        batch.add_column(sa.Column("month_key", sa.String(7)))
    _backfill_keys()
    op.create_index(
        "ix_conversations_week", "conversations", ["week_key", "dealer_id", *ROLLUP_COLUMNS]
    )
    op.create_index(
        "ix_conversations_month", "conversations", ["month_key", "dealer_id", *ROLLUP_COLUMNS]
    )
    op.create_index("ix_conversations_day", "conversations", ["day_key", "dealer_id"])
    op.create_table(
        "metric_summaries",
        sa.Column("dealer_id", sa.String(64), primary_key=True),
        sa.Column("period_kind", sa.String(5), primary_key=True),
        sa.Column("period_key", sa.String(10), primary_key=True),
        sa.Column("dimension", sa.String(8), primary_key=True),
        sa.Column("dimension_value", sa.String(16), primary_key=True),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS[:3]],
        sa.Column("returning_contacts", sa.Integer()),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS[3:23]],
        sa.Column("first_response_histogram", sa.String(200), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS[23:]],
        sa.Column("potential", sa.Integer()),
        sa.Column("potential_estimated", sa.Boolean(), nullable=False),
    )
    op.create_index(
        "ix_metric_summaries_period", "metric_summaries", ["period_kind", "period_key", "dealer_id"]
    )
    op.create_table(
        "mec_potentials",
        sa.Column("dealer_id", sa.String(64), primary_key=True),
        sa.Column("period_kind", sa.String(5), primary_key=True),
        sa.Column("period_key", sa.String(10), primary_key=True),
        sa.Column("service_appointments", sa.Integer(), nullable=False),
        sa.Column("sales_leads", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
    )


def _backfill_keys() -> None:
    """Period keys for the conversations recorded before this migration, in batches."""
    conn = op.get_bind()
    zones, default = _timezones(), ZoneInfo("Europe/Amsterdam")
    table = sa.table(
        "conversations",
        sa.column("id"), sa.column("dealer_id"), sa.column("started_at", sa.DateTime()),
        sa.column("day_key"), sa.column("week_key"), sa.column("month_key"),
    )  # fmt: skip
    update = (
        table.update()
        .where(table.c.id == sa.bindparam("cid"))
        .values(day_key=sa.bindparam("d"), week_key=sa.bindparam("w"), month_key=sa.bindparam("m"))
    )
    last = ""
    while True:
        rows = conn.execute(
            sa.select(table.c.id, table.c.dealer_id, table.c.started_at)
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        params = []
        for cid, dealer_id, started_at in rows:
            d, w, m = _keys(started_at, zones.get(dealer_id, default))
            params.append({"cid": cid, "d": d, "w": w, "m": m})
        conn.execute(update, params)
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_table("mec_potentials")
    op.drop_index("ix_metric_summaries_period", table_name="metric_summaries")
    op.drop_table("metric_summaries")
    op.drop_index("ix_conversations_day", table_name="conversations")
    op.drop_index("ix_conversations_month", table_name="conversations")
    op.drop_index("ix_conversations_week", table_name="conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("month_key")
        batch.drop_column("week_key")
        batch.drop_column("day_key")
