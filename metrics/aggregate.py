"""Rollups in the database: conversations -> ``metric_summaries`` per dealer, period, breakdown.

Two steps, both in SQL (only a handful of values come back to Python):

1. Cells (``metric_cells``): the additive counts per dealer, day, channel and language, one
   GROUP BY over the covering day index of the conversations (plus appointments and leads by
   their conversation's day). Week and month cells are sums of day cells. A day is recomputed
   when it is marked dirty (``metric_dirty_days``, written by the store's mapper events with
   every conversation, survey score, appointment and lead) or when its day rows are rebuilt.
2. Summary rows: the cells of the periods summed per breakdown (``all``, ``channel``,
   ``language``), joined with the distinct counts (MEC, returning contacts) that cannot be
   summed and come from narrow partial indexes of the qualifying conversations, and with the
   imported MEC potential.

A rebuild deletes and re-inserts the summary rows of its periods in one unit of work, so running
it again gives identical rows, and late survey answers or potential imports are picked up by the
next run of that period. The same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from sqlalchemy import (
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.orm import Session, aliased, sessionmaker
from sqlalchemy.sql import Select
from sqlalchemy.sql.functions import FunctionFilter
from tqdm import tqdm

from core.engagement import FIRST_RESPONSE_BUCKETS_MS
from core.periods import (
    KINDS,
    Period,
    PeriodError,
    conversation_keys,
    local_days,
    parse_period,
    period_key,
    period_of,
    periods_between,
)
from core.settings import get_settings, utc_now
from core.store.models import (
    CELL_COUNTS,
    Appointment,
    Conversation,
    DirtyDay,
    Lead,
    MecPotential,
    MetricCell,
    MetricSummary,
    mark_days,
)
from core.store.session import default_session_factory
from metrics.formulas import WITHIN_MS, spread_potential

OUTCOME_COLUMNS = {
    "appointment_booked": "appointments_booked",
    "appointment_changed": "appointments_changed",
    "appointment_cancelled": "appointments_cancelled",
    "test_drive_booked": "test_drives",
    "lead_created": "leads_created",
    "handed_off": "handoffs",
    "self_served": "self_served",
    "abandoned": "abandoned",
}
# Lead kinds (core.store.models.Lead.kind) -> summary column; other kinds count as sales.
LEAD_COLUMNS = {
    "test_drive": "leads_test_drive",
    "trade_in": "leads_trade_in",
    "sales": "leads_sales",
    "financing": "leads_sales",
    "handoff": "leads_handoff",
}
# Leads that are sales leads, i.e. part of the estimated MEC potential (a handoff is not).
POTENTIAL_LEAD_COLUMNS = ("leads_test_drive", "leads_trade_in", "leads_sales")
ALL, CHANNEL, LANGUAGE = "all", "channel", "language"
_BUCKETS = len(FIRST_RESPONSE_BUCKETS_MS) + 1
_CHUNK = {"day": 31, "week": 5, "month": 2}  # periods per backfill step


def key_column(kind: str, table=Conversation):
    """The stored period-key column of ``kind`` (day, week, month)."""
    if kind not in KINDS:
        raise PeriodError(f"unknown period kind {kind!r}; use one of {', '.join(KINDS)}")
    return getattr(table, f"{kind}_key")


@dataclass(frozen=True)
class RebuildResult:
    kind: str
    first_key: str | None  # None when every period was older than the retention period
    last_key: str | None
    rows: int  # summary rows written
    skipped: int  # periods left as they are because their conversations may be purged


def _conversation_cells(days) -> Select:
    """Counts per day, dealer, channel and language from the covering day index.

    Survey scores and the first-response bucket are stored on the conversation (migration
    0007), so this one pass also yields the CSAT, CES, NPS and histogram counts.
    """
    c = Conversation
    qualifying, bucket = c.qualifies, c.first_response_bucket

    # Aggregate FILTER (PostgreSQL, SQLite >= 3.30): cheaper per row than SUM(CASE ...).
    def among_qualifying(condition) -> FunctionFilter:
        return func.count().filter(and_(qualifying, condition))

    within = FIRST_RESPONSE_BUCKETS_MS.index(WITHIN_MS)
    counts = {
        "conversations": func.count(),
        "qualifying": func.count().filter(qualifying),
        # qualifying or not: a conversation of fallbacks only never qualifies
        "fallback_conversations": func.count().filter(c.fallback_messages > 0),
        **{name: among_qualifying(c.outcome == value) for value, name in OUTCOME_COLUMNS.items()},
        # An answered survey was offered, even if the offer itself was not recorded.
        "surveys_offered": among_qualifying(
            or_(*(col.isnot(None) for col in (c.survey_offered_at, c.csat, c.ces, c.nps)))
        ),
        "first_response_n": func.count(bucket).filter(qualifying),
        "first_response_30s": among_qualifying(bucket <= within),
        **{f"h{i}": among_qualifying(bucket == i) for i in range(_BUCKETS)},
        "csat_n": func.count(c.csat).filter(qualifying),
        "csat_sum": func.coalesce(func.sum(c.csat).filter(qualifying), 0),
        "csat_top2": among_qualifying(c.csat >= 4),
        "ces_n": func.count(c.ces).filter(qualifying),
        "ces_sum": func.coalesce(func.sum(c.ces).filter(qualifying), 0),
        "ces_top3": among_qualifying(c.ces >= 5),
        "nps_n": func.count(c.nps).filter(qualifying),
        "nps_promoters": among_qualifying(c.nps >= 9),
        "nps_detractors": among_qualifying(c.nps <= 6),
    }
    return _cell_select(counts, days(c.day_key), c.is_test.is_(False))


def _created_cells(days) -> list[Select]:
    """Appointments and leads created in each day's customer conversations: on a one-to-one
    customer channel (``DEALERBOT_CUSTOMER_CHANNELS``, web and WhatsApp) and not from a test
    sender. A lead made through the REST channel or by a test sender is never counted, in the
    leads by chat nor in the estimated MEC potential. Whether the channel was a customer
    channel is the conversation's stored ``customer_channel``, decided when it was recorded
    (as its ``qualifies``), not the setting of the process that runs the rollup."""
    c, lead_kind = Conversation, Lead.kind
    customer = and_(c.is_test.is_(False), c.customer_channel.is_(True))
    appointments = _cell_select({"bot_appointments": func.count()}, days(c.day_key))
    leads = _cell_select(
        {
            **{name: func.count().filter(lead_kind == kind) for kind, name in _OWN_LEADS.items()},
            # Sales and financing call backs, and any other kind: sales leads.
            "leads_sales": func.count().filter(lead_kind.notin_(list(_OWN_LEADS))),
        },
        days(c.day_key),
    )
    return [
        appointments.select_from(Appointment)
        .join(c, c.id == Appointment.conversation_id)
        .where(customer),
        leads.select_from(Lead).join(c, c.id == Lead.conversation_id).where(customer),
    ]


_OWN_LEADS = {kind: name for kind, name in LEAD_COLUMNS.items() if name != "leads_sales"}
# In the covering day index's order, so the GROUP BY needs no sort.
_DAY_GROUP = ("day_key", "dealer_id", "channel", "language")


def _cell_select(counts: dict, *where) -> Select:
    """One row per day cell with every ``CELL_COUNTS`` column (0 where ``counts`` has none)."""
    c = Conversation
    group = [getattr(c, name) for name in _DAY_GROUP]
    values = [counts.get(name, literal_column("0")).label(name) for name in CELL_COUNTS]
    return select(*group, *values).where(*where).group_by(*group)


def _refresh_days(session: Session, days: list[dt.date]) -> None:
    """Recompute the day cells of ``days`` from the conversations, then their week and month
    cells from the day cells; the days' dirty marks go first, so a change committed while this
    runs leaves its mark for the next run."""
    if not days:
        return
    days = sorted(set(days))
    keys = [d.isoformat() for d in days]
    contiguous = (days[-1] - days[0]).days + 1 == len(days)

    def within(column):
        if contiguous:  # a range scan instead of one index probe per day
            return and_(column >= keys[0], column <= keys[-1])
        return column.in_(keys)

    cell = MetricCell.__table__
    session.execute(delete(DirtyDay).where(within(DirtyDay.day_key)))
    session.execute(delete(cell).where(cell.c.period_kind == "day", within(cell.c.period_key)))
    parts = union_all(
        _conversation_cells(within), *_created_cells(within), *_contact_cells(within)
    ).subquery()
    group = [parts.c[name] for name in _DAY_GROUP]
    sums = [func.sum(parts.c[name]) for name in CELL_COUNTS]
    columns = ["period_kind", "period_key", "dealer_id", "channel", "language", *CELL_COUNTS]
    query = select(literal("day"), *group, *sums).group_by(*group)
    session.execute(insert(cell).from_select(columns, query))
    # The week and month a day adds up to (the same in every time zone: keys of local days).
    session.execute(
        update(cell)
        .where(cell.c.period_kind == "day", cell.c.period_key == bindparam("day"))
        .values(week_key=bindparam("week"), month_key=bindparam("month")),
        [
            {"day": d.isoformat(), "week": period_key("week", d), "month": period_key("month", d)}
            for d in days
        ],
    )
    for kind in ("week", "month"):
        periods = sorted({period_key(kind, d) for d in days})
        source = cell.c[f"{kind}_key"]
        session.execute(
            delete(cell).where(cell.c.period_kind == kind, cell.c.period_key.in_(periods))
        )
        group = [source, cell.c.dealer_id, cell.c.channel, cell.c.language]
        query = (
            select(literal(kind), *group, *(func.sum(cell.c[name]) for name in CELL_COUNTS))
            .where(source.in_(periods))
            .group_by(*group)
        )
        names = ["period_kind", "period_key", "dealer_id", "channel", "language", *CELL_COUNTS]
        session.execute(insert(cell).from_select(names, query))


def _refresh_dirty_days(session: Session, first: dt.date, last: dt.date) -> int:
    """Recompute the marked days of ``first`` .. ``last``; returns how many there were."""
    keys = session.scalars(
        select(DirtyDay.day_key)
        .where(DirtyDay.day_key >= first.isoformat(), DirtyDay.day_key <= last.isoformat())
        .distinct()
    ).all()
    _refresh_days(session, [dt.date.fromisoformat(key) for key in keys])
    return len(keys)


def has_dirty_days(
    session_factory: sessionmaker, dealer_id: str | None, first: dt.date, last: dt.date
) -> bool:
    """Whether a day of ``first`` .. ``last`` (of ``dealer_id``; None: any dealer) is marked
    dirty: its summary rows miss a change (a new message, a late answer, an erasure)."""
    query = select(DirtyDay.day_key).where(
        DirtyDay.day_key >= first.isoformat(), DirtyDay.day_key <= last.isoformat()
    )
    if dealer_id is not None:
        query = query.where(DirtyDay.dealer_id == dealer_id)
    with session_factory() as session:
        return session.execute(query.limit(1)).first() is not None


def _contact_cells(days) -> list[Select]:
    """The contacts each day adds to the MEC and returning contacts of its day, week and month.

    A distinct count is not a sum, but it is one if each contact is counted once: on its first
    day with a qualifying conversation in the period. So per contact and day (and per contact,
    language and day) its earlier qualifying conversations at this dealer are looked up in the
    contact index: none this week means the day adds the contact to the week's MEC, and any in
    an earlier week makes it a returning contact of the week (likewise for days and months).
    A contact is counted in the cell of its first language that day; the ``_lang`` counts are
    per language, so a contact who wrote in both languages counts once in each language row.

    A "contact" here is the person (``Conversation.person``): the contact key, or the person
    key that links a contact's channels (one phone number on the web and on WhatsApp). A person
    is counted in the cell of the first channel (by name) of its first day in the period, so
    the channel rows still add up to the total.
    """
    c = Conversation
    earlier = aliased(Conversation)
    rows = []
    for per_language in (False, True):
        language = c.language if per_language else func.min(c.language)
        # One person across channels: a person who wrote on the web and on WhatsApp the same
        # day is one row, in the cell of the first channel by name.
        group = [c.day_key, c.dealer_id, c.person]
        if per_language:
            group.append(c.language)
        contact = (
            select(c.day_key, c.dealer_id, func.min(c.channel).label("channel"),
                   c.person.label("contact_key"), language.label("language"),
                   func.min(c.week_key).label("week_key"),
                   func.min(c.month_key).label("month_key"))
            .where(days(c.day_key), c.qualifies)  # never a test sender (the qualifying rule)
            .group_by(*group)
            .subquery()
        )  # fmt: skip
        join = [
            earlier.person == contact.c.contact_key,
            earlier.dealer_id == contact.c.dealer_id,
            earlier.qualifies,
            earlier.day_key < contact.c.day_key,
        ]
        if per_language:
            join.append(earlier.language == contact.c.language)
        seen = func.count(earlier.day_key)

        def none(condition):
            return case((func.count(earlier.day_key).filter(condition) == 0, 1), else_=0)

        if per_language:
            counts = {
                "mec_lang_day": literal_column("1"),
                "mec_lang_week": none(earlier.week_key == contact.c.week_key),
                "mec_lang_month": none(earlier.month_key == contact.c.month_key),
            }
        else:
            counts = {"mec_day": literal_column("1"), "ret_day": case((seen > 0, 1), else_=0)}
            for kind in ("week", "month"):
                this, mine = getattr(earlier, f"{kind}_key"), contact.c[f"{kind}_key"]
                counts[f"mec_{kind}"] = none(this == mine)
                first_here = func.count(earlier.day_key).filter(this == mine) == 0
                before = func.count(earlier.day_key).filter(this < mine) > 0
                counts[f"ret_{kind}"] = case((and_(first_here, before), 1), else_=0)
        keys = [contact.c[name] for name in _DAY_GROUP]
        values = [counts.get(name, literal_column("0")).label(name) for name in CELL_COUNTS]
        rows.append(
            select(*keys, *values)
            .select_from(contact.outerjoin(earlier, and_(*join)))
            .group_by(*keys, contact.c.contact_key, contact.c.week_key, contact.c.month_key)
        )
    return rows


_SUMMED = [name for name in CELL_COUNTS if name in MetricSummary.__table__.c]
_INSERTED = [
    "period_kind", "period_key", "dealer_id", "dimension", "dimension_value", *_SUMMED,
    "first_response_histogram", "mec", "returning_contacts", "potential", "potential_estimated",
]  # fmt: skip


def _write_summaries(session: Session, kind: str, first: str, last: str) -> int:
    """Fold the ``kind`` cells of ``first`` .. ``last`` into summary rows, all in the database:
    one INSERT .. SELECT per breakdown (``all``, ``channel``, ``language``)."""
    cell = MetricCell.__table__
    in_range = (cell.c.period_kind == kind, cell.c.period_key >= first, cell.c.period_key <= last)
    sums = [func.sum(cell.c[name]) for name in _SUMMED]
    histogram = cast(func.sum(cell.c.h0), String)
    for i in range(1, _BUCKETS):
        histogram = histogram + "," + cast(func.sum(cell.c[f"h{i}"]), String)
    mec, mec_lang = func.sum(cell.c[f"mec_{kind}"]), func.sum(cell.c[f"mec_lang_{kind}"])
    written = 0
    for dimension, count in ((CHANNEL, mec), (LANGUAGE, mec_lang)):
        value = cell.c[dimension]
        query = (
            select(literal(kind), cell.c.period_key, cell.c.dealer_id, literal(dimension), value,
                   *sums, histogram, count, null(), null(), literal(False))
            .where(*in_range)
            .group_by(cell.c.period_key, cell.c.dealer_id, value)
        )  # fmt: skip
        written += session.execute(insert(MetricSummary).from_select(_INSERTED, query)).rowcount
    g = (
        select(
            cell.c.period_key,
            cell.c.dealer_id,
            *(total.label(name) for total, name in zip(sums, _SUMMED, strict=True)),
            histogram.label("histogram"),
            mec.label("mec"),
            func.sum(cell.c[f"ret_{kind}"]).label("returning_contacts"),
        )
        .where(*in_range)
        .group_by(cell.c.period_key, cell.c.dealer_id)
        .subquery()
    )
    p = _imported(kind, first, last)
    estimate = g.c.bot_appointments  # what the bot itself created
    for name in POTENTIAL_LEAD_COLUMNS:
        estimate = estimate + g.c[name]
    query = select(
        literal(kind), g.c.period_key, g.c.dealer_id, literal(ALL), literal(""),
        *(g.c[name] for name in _SUMMED), g.c.histogram, g.c.mec, g.c.returning_contacts,
        func.coalesce(p.c.total, estimate), p.c.total.is_(None),
    ).select_from(
        g.outerjoin(p, and_(p.c.period_key == g.c.period_key, p.c.dealer_id == g.c.dealer_id))
    )  # fmt: skip
    written += session.execute(insert(MetricSummary).from_select(_INSERTED, query)).rowcount
    return written + _potential_only_rows(session, kind, first, last)


def _imported(kind: str, first: str, last: str):
    """Imported MEC potentials of ``kind`` in ``first`` .. ``last``."""
    return (
        select(
            MecPotential.dealer_id,
            MecPotential.period_key,
            (MecPotential.service_appointments + MecPotential.sales_leads).label("total"),
        )
        .where(
            MecPotential.period_kind == kind,
            MecPotential.period_key >= first,
            MecPotential.period_key <= last,
        )
        .subquery()
    )


def _potential_only_rows(session: Session, kind: str, first: str, last: str) -> int:
    """A period with an imported potential and no conversations yet still gets its row."""
    s, p = MetricSummary, _imported(kind, first, last)
    has_row = (
        select(s.dealer_id)
        .where(s.period_kind == kind, s.period_key == p.c.period_key, s.dealer_id == p.c.dealer_id)
        .exists()
    )
    rows = [
        {
            "dealer_id": dealer_id,
            "period_kind": kind,
            "period_key": period_key,
            "dimension": ALL,
            "dimension_value": "",
            **dict.fromkeys(_SUMMED, 0),
            "mec": 0,
            "first_response_histogram": ",".join("0" * _BUCKETS),
            "returning_contacts": 0,
            "potential": total,
            "potential_estimated": False,
        }  # fmt: skip
        for dealer_id, period_key, total in session.execute(select(p).where(~has_row))
    ]
    if rows:
        session.execute(insert(MetricSummary), rows)
    return len(rows)


def _spread_potentials(session: Session, kind: str, periods: list[Period]) -> int:
    """Periods without an imported potential of their own kind take one spread by days from the
    imports of the other kind (``metrics.formulas.spread_potential``): an imported month over
    its weeks, imported weeks into a month. Replaces the estimate on the ``all`` row (or writes
    a row for a period without conversations); returns the rows written."""
    if kind not in ("week", "month"):
        return 0
    other = "month" if kind == "week" else "week"
    first, last = periods[0].start, periods[-1].last_day
    around = periods_between(other, first, last)
    m = MecPotential
    total = m.service_appointments + m.sales_leads
    imports: dict[str, list] = {}
    for dealer_id, key, value in session.execute(
        select(m.dealer_id, m.period_key, total).where(
            m.period_kind == other, m.period_key.in_([p.key for p in around])
        )
    ):
        span = parse_period(key)
        imports.setdefault(dealer_id, []).append((key, span.start, span.last_day, value))
    if not imports:
        return 0
    own = set(session.execute(
        select(m.dealer_id, m.period_key).where(
            m.period_kind == kind, m.period_key.in_([p.key for p in periods]))
    ).all())  # fmt: skip
    s, written = MetricSummary, 0
    for dealer_id, items in sorted(imports.items()):
        for period in periods:
            if (dealer_id, period.key) in own:
                continue
            spread = spread_potential(period.start, period.last_day, items)
            if spread is None:
                continue
            values = {"potential": round(spread.value), "potential_estimated": False,
                      "potential_spread": spread.text[:200]}  # fmt: skip
            where = (s.dealer_id == dealer_id, s.period_kind == kind,
                     s.period_key == period.key, s.dimension == ALL)  # fmt: skip
            if not session.execute(update(s).where(*where).values(**values)).rowcount:
                session.execute(insert(s).values(
                    dealer_id=dealer_id, period_kind=kind, period_key=period.key, dimension=ALL,
                    dimension_value="", **dict.fromkeys(_SUMMED, 0), mec=0,
                    first_response_histogram=",".join("0" * _BUCKETS), returning_contacts=0,
                    **values,
                ))  # fmt: skip
                written += 1
    return written


def retention_floor(now: dt.datetime | None = None) -> dt.date:
    """The first local day whose conversations the retention purge has not touched."""
    settings = get_settings()
    moment = now or utc_now()
    cutoff = moment - dt.timedelta(days=settings.retention_days)
    # In every dealer's time zone: the latest of their first untouched days.
    return local_days(cutoff)[1] + dt.timedelta(days=1)


_WORK_MEM = re.compile(r"^\d+\s*(kB|MB|GB)$")


def _tune(session: Session) -> None:
    """PostgreSQL: room for the hash aggregates of a rebuild, for this transaction only.

    With the default 4 MB ``work_mem`` a full rebuild's GROUP BY spills to disk (about 1.5x
    slower). ``DEALERBOT_ROLLUP_WORK_MEM`` (default 64MB; empty: the server's setting).
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    value = os.environ.get("DEALERBOT_ROLLUP_WORK_MEM", "64MB").strip()
    if not value:
        return
    if not _WORK_MEM.match(value):
        raise ValueError(f"DEALERBOT_ROLLUP_WORK_MEM={value!r}: use a size such as 64MB")
    session.execute(text(f"SET LOCAL work_mem = '{value}'"))


def rebuild(
    session_factory: sessionmaker | None,
    kind: str,
    start: dt.date,
    end: dt.date,
    *,
    now: dt.datetime | None = None,
) -> RebuildResult:
    """Recompute the ``kind`` summary rows of every dealer for the periods touching
    ``start`` .. ``end`` (local dates, inclusive), in one unit of work.

    Periods that begin before the retention period are left as they are: their
    conversations may be purged already, and their summary rows are all that is left.
    """
    session_factory = session_factory or default_session_factory()
    periods = periods_between(kind, start, end)
    floor = retention_floor(now)
    kept = [p for p in periods if p.start >= floor]
    skipped = len(periods) - len(kept)
    if not kept:
        return RebuildResult(kind, None, None, 0, skipped)
    first, last = kept[0].key, kept[-1].key
    with session_factory.begin() as session:
        _tune(session)
        if kind == "day":  # day cells from scratch: the conversations are the truth
            days = kept[0].start, kept[-1].last_day
            _refresh_days(
                session, [days[0] + dt.timedelta(n) for n in range((days[1] - days[0]).days + 1)]
            )
        else:  # weeks and months are sums of day cells: bring the changed days up to date
            _refresh_dirty_days(session, kept[0].start, kept[-1].last_day)
        session.execute(
            delete(MetricSummary).where(
                MetricSummary.period_kind == kind,
                MetricSummary.period_key >= first,
                MetricSummary.period_key <= last,
            )
        )
        rows = _write_summaries(session, kind, first, last)
        rows += _spread_potentials(session, kind, kept)
    return RebuildResult(kind, first, last, rows, skipped)


def rebuild_period(
    session_factory: sessionmaker | None, period: Period | str, *, now: dt.datetime | None = None
) -> RebuildResult:
    """Recompute one period (e.g. ``"2026-W47"`` or ``"2026-11"``) for every dealer."""
    target = parse_period(period) if isinstance(period, str) else period
    return rebuild(session_factory, target.kind, target.start, target.last_day, now=now)


def rollup(session_factory: sessionmaker | None = None, now: dt.datetime | None = None) -> int:
    """The hourly job: the current and previous day, week and month. Returns the rows written.

    Late survey answers arrive within a session or two, so two periods of each kind are enough.
    """
    session_factory = session_factory or default_session_factory()
    moment = now or utc_now()
    first_today, today = local_days(moment)  # in the dealers' time zones
    fill_period_keys(session_factory)
    with session_factory.begin() as session:  # marks of purged days would never be used
        floor = retention_floor(now).isoformat()
        session.execute(delete(DirtyDay).where(DirtyDay.day_key < floor))
    written = 0
    for kind in KINDS:
        current = period_of(kind, first_today)
        written += rebuild(session_factory, kind, current.previous().start, today, now=now).rows
    return written


def fill_period_keys(session_factory: sessionmaker | None = None, batch: int = 5000) -> int:
    """Period keys for conversations stored without them (written before migration 0003)."""
    session_factory = session_factory or default_session_factory()
    c, filled = Conversation, 0
    while True:
        with session_factory.begin() as session:
            rows = session.execute(
                select(c.id, c.dealer_id, c.started_at).where(c.week_key.is_(None)).limit(batch)
            ).all()
            if not rows:
                return filled
            days = []
            for cid, dealer_id, started_at in rows:
                keys = conversation_keys(dealer_id, started_at)
                session.execute(
                    update(c)
                    .where(c.id == cid)
                    .values(**keys)
                    .execution_options(synchronize_session=False)
                )
                days.append((keys["day_key"], dealer_id))
            mark_days(session.connection(), days)  # their cells are out of date now
            filled += len(rows)


def backfill(
    session_factory: sessionmaker | None,
    start: dt.date,
    end: dt.date,
    *,
    kinds: Iterable[str] = KINDS,
    now: dt.datetime | None = None,
    progress: TextIO | bool | None = True,
) -> list[RebuildResult]:
    """Recompute every summary row of ``start`` .. ``end`` (local dates, inclusive).

    Works in steps of a few periods (each its own unit of work) and draws a tqdm progress bar on
    ``progress``: True, stderr when it is a terminal (quiet in logs and pipes); a stream, that
    stream; None or False, silence.
    """
    session_factory = session_factory or default_session_factory()
    if end < start:
        raise PeriodError(f"--to {end} is before --from {start}")
    fill_period_keys(session_factory)
    steps: list[tuple[str, Period, Period]] = []
    for kind in kinds:
        periods = periods_between(kind, start, end)
        size = _CHUNK[kind]
        for i in range(0, len(periods), size):
            chunk = periods[i : i + size]
            steps.append((kind, chunk[0], chunk[-1]))
    stream = sys.stderr if progress is True else progress or None
    quiet = stream is None or (progress is True and not stream.isatty())
    results = []
    with tqdm(total=len(steps), file=stream, disable=quiet, unit="step", ascii=True) as bar:
        for kind, first, last in steps:
            bar.set_description(f"{kind} {first.key}..{last.key}")
            results.append(rebuild(session_factory, kind, first.start, last.last_day, now=now))
            bar.update()
    return results
