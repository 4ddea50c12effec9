"""Rollups in the database: conversations -> ``metric_summaries`` per dealer, period, breakdown.

Every count is a GROUP BY on a stored period key (``day_key``, ``week_key``, ``month_key``)
served by a covering index; only the grouped rows (dealer x period x channel x language) come
back to Python, where they are folded into the ``all``, ``channel`` and ``language`` rows.
A rebuild deletes and re-inserts the summary rows of its periods in one unit of work, so running
it again gives identical rows, and late survey answers or potential imports are picked up by the
next run of that period. The same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TextIO

from sqlalchemy import and_, case, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker
from sqlalchemy.sql.functions import FunctionFilter

from metrics.formulas import FIRST_RESPONSE_BUCKETS_MS, WITHIN_MS
from metrics.periods import (
    DEFAULT_TIMEZONE,
    KINDS,
    Period,
    PeriodError,
    conversation_keys,
    local_day,
    period_of,
    periods_between,
)
from metrics.settings import get_settings
from metrics.store.models import (
    Appointment,
    Conversation,
    Lead,
    MecPotential,
    MetricSummary,
)
from metrics.store.session import default_session_factory

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
# Lead kinds (metrics.store.models.Lead.kind) -> summary column; other kinds count as sales.
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


def _flag(condition) -> case:
    return case((condition, 1), else_=0)


def _conversation_counts(session: Session, kind: str, first: str, last: str, cells) -> None:
    """Counts per dealer, period, channel and language: one GROUP BY over the covering index.

    Survey scores and the first-response bucket are stored on the conversation (migration
    0007), so this one pass also yields the CSAT, CES, NPS and histogram counts.
    """
    c, key = Conversation, key_column(kind)
    qualifying, bucket = c.qualifies, c.first_response_bucket

    # Aggregate FILTER (PostgreSQL, SQLite >= 3.30): cheaper per row than SUM(CASE ...).
    def among_qualifying(condition) -> FunctionFilter:
        return func.count().filter(and_(qualifying, condition))

    within = FIRST_RESPONSE_BUCKETS_MS.index(WITHIN_MS)
    columns = {
        "conversations": func.count(),
        "qualifying": func.count().filter(qualifying),
        **{name: among_qualifying(c.outcome == value) for value, name in OUTCOME_COLUMNS.items()},
        # An answered survey was offered, even if the offer itself was not recorded.
        "surveys_offered": among_qualifying(
            or_(*(col.isnot(None) for col in (c.survey_offered_at, c.csat, c.ces, c.nps)))
        ),
        "first_response_n": func.count(bucket).filter(qualifying),
        "first_response_30s": among_qualifying(bucket <= within),
        **{f"h{i}": among_qualifying(bucket == i) for i in range(_BUCKETS)},
        "csat_n": func.count(c.csat).filter(qualifying),
        "csat_sum": func.sum(c.csat).filter(qualifying),
        "csat_top2": among_qualifying(c.csat >= 4),
        "ces_n": func.count(c.ces).filter(qualifying),
        "ces_sum": func.sum(c.ces).filter(qualifying),
        "ces_top3": among_qualifying(c.ces >= 5),
        "nps_n": func.count(c.nps).filter(qualifying),
        "nps_promoters": among_qualifying(c.nps >= 9),
        "nps_detractors": among_qualifying(c.nps <= 6),
    }
    names = list(columns)
    query = (
        select(key, c.dealer_id, c.channel, c.language, *columns.values())
        .where(key >= first, key <= last, c.is_test.is_(False))
        .group_by(key, c.dealer_id, c.channel, c.language)
    )
    for period_key, dealer_id, channel, language, *values in session.execute(query):
        counts = {name: int(value) for name, value in zip(names, values, strict=True) if value}
        for dimension, value in ((ALL, ""), (CHANNEL, channel), (LANGUAGE, language)):
            cells[(dealer_id, period_key, dimension, value)].update(counts)


_GROUP_FIELDS = {"period_key", "dealer_id", "channel", "language", "kind"}


def _fold(cells, row, counts: dict[str, int]) -> None:
    """Add one (dealer, period, channel, language) group to its all/channel/language rows."""
    period_key = row["period_key"]
    dealer_id, channel, language = row["dealer_id"], row["channel"], row["language"]
    for dimension, value in ((ALL, ""), (CHANNEL, channel), (LANGUAGE, language)):
        cells[(dealer_id, period_key, dimension, value)].update(counts)


def _distinct_contacts(session: Session, kind: str, first: str, last: str, cells) -> None:
    """MEC: distinct contacts with a qualifying conversation, per channel and per language.

    A contact key is an HMAC of channel + sender, so no contact is in two channels: the sum of
    the channel counts is the exact total. A contact who wrote in both languages counts once
    in each language row.
    """
    c, key = Conversation, key_column(kind)
    where = (key >= first, key <= last, c.qualifies)
    for dimension, column in ((CHANNEL, c.channel), (LANGUAGE, c.language)):
        query = (
            select(key, c.dealer_id, column, func.count(func.distinct(c.contact_key)))
            .where(*where)
            .group_by(key, c.dealer_id, column)
        )
        for period_key, dealer_id, value, count in session.execute(query):
            cells[(dealer_id, period_key, dimension, value)]["mec"] += count
            if dimension == CHANNEL:
                cells[(dealer_id, period_key, ALL, "")]["mec"] += count


# Up to this many periods, returning contacts look only at the contacts engaged in them;
# for longer ranges one pass over every contact is cheaper than the lookups.
_FEW_PERIODS = 3


def _returning_contacts(
    session: Session, kind: str, first: str, last: str, cells, periods: int
) -> None:
    """Contacts engaged this period who had a qualifying conversation in an earlier period.

    Counted as MEC minus the new contacts: a contact engaged in a period is new there exactly
    when that period is the first one with a qualifying conversation of theirs (at this
    dealer). Each contact's first period is a MIN over the contact index, not a self-join.
    Run after ``_distinct_contacts``.
    """
    c, key = Conversation, key_column(kind)
    firsts = (
        select(c.dealer_id, func.min(key).label("first_key"))
        .where(c.qualifies)
        .group_by(c.contact_key, c.dealer_id)
    )
    if periods <= _FEW_PERIODS:
        engaged = aliased(Conversation)
        engaged_key = key_column(kind, engaged)
        firsts = firsts.where(
            c.contact_key.in_(
                select(engaged.contact_key).where(
                    engaged_key >= first, engaged_key <= last, engaged.qualifies
                )
            )
        )
    f = firsts.subquery()
    query = (
        select(f.c.first_key, f.c.dealer_id, func.count())
        .where(f.c.first_key >= first, f.c.first_key <= last)
        .group_by(f.c.first_key, f.c.dealer_id)
    )
    new = {(dealer_id, period_key): n for period_key, dealer_id, n in session.execute(query)}
    for (dealer_id, period_key, dimension, _value), counts in cells.items():
        if dimension == ALL and counts["mec"]:
            counts["returning_contacts"] = counts["mec"] - new.get((dealer_id, period_key), 0)


def _created_by_bot(session: Session, kind: str, first: str, last: str, cells) -> None:
    """Appointments and leads created in this period's non-test conversations."""
    c, key = Conversation, key_column(kind)
    where = (key >= first, key <= last, c.is_test.is_(False))
    appointments = (
        select(key.label("period_key"), c.dealer_id, c.channel, c.language, func.count().label("n"))
        .select_from(Appointment)
        .join(c, c.id == Appointment.conversation_id)
        .where(*where)
        .group_by(key, c.dealer_id, c.channel, c.language)
    )
    for row in session.execute(appointments).mappings():
        _fold(cells, row, {"bot_appointments": int(row["n"])})
    leads = (
        select(
            key.label("period_key"),
            c.dealer_id,
            c.channel,
            c.language,
            Lead.kind,
            func.count().label("n"),
        )
        .select_from(Lead)
        .join(c, c.id == Lead.conversation_id)
        .where(*where)
        .group_by(key, c.dealer_id, c.channel, c.language, Lead.kind)
    )
    for row in session.execute(leads).mappings():
        _fold(cells, row, {LEAD_COLUMNS.get(row["kind"], "leads_sales"): int(row["n"])})


def _imported_potential(
    session: Session, kind: str, first: str, last: str
) -> dict[tuple[str, str], int]:
    query = select(
        MecPotential.dealer_id,
        MecPotential.period_key,
        MecPotential.service_appointments + MecPotential.sales_leads,
    ).where(
        MecPotential.period_kind == kind,
        MecPotential.period_key >= first,
        MecPotential.period_key <= last,
    )
    return {(dealer_id, key): total for dealer_id, key, total in session.execute(query)}


_COUNT_COLUMNS = [
    col.name
    for col in MetricSummary.__table__.columns
    if not col.primary_key
    and col.name
    not in ("returning_contacts", "first_response_histogram", "potential", "potential_estimated")
]


def _rows(kind: str, cells, imported: dict[tuple[str, str], int]) -> list[dict]:
    for dealer_id, period_key in imported:
        cells[(dealer_id, period_key, ALL, "")]  # a period with a potential and no chats yet
    rows = []
    for (dealer_id, period_key, dimension, value), counts in sorted(cells.items()):
        row = {
            "dealer_id": dealer_id,
            "period_kind": kind,
            "period_key": period_key,
            "dimension": dimension,
            "dimension_value": value or "",
            **{name: counts.get(name, 0) for name in _COUNT_COLUMNS},
            "first_response_histogram": ",".join(
                str(counts.get(f"h{i}", 0)) for i in range(_BUCKETS)
            ),
            "returning_contacts": None,
            "potential": None,
            "potential_estimated": False,
        }
        if dimension == ALL:
            row["returning_contacts"] = counts.get("returning_contacts", 0)
            if (dealer_id, period_key) in imported:
                row["potential"] = imported[(dealer_id, period_key)]
            else:  # estimated from what the bot itself created
                row["potential"] = row["bot_appointments"] + sum(
                    row[name] for name in POTENTIAL_LEAD_COLUMNS
                )
                row["potential_estimated"] = True
        rows.append(row)
    return rows


def retention_floor(now: dt.datetime | None = None) -> dt.date:
    """The first local day whose conversations the retention purge has not touched."""
    settings = get_settings()
    moment = now or settings.fixed_now or dt.datetime.now(dt.timezone.utc)
    cutoff = moment - dt.timedelta(days=settings.retention_days)
    return local_day(cutoff, DEFAULT_TIMEZONE) + dt.timedelta(days=1)


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
    cells: dict[tuple, Counter] = defaultdict(Counter)
    with session_factory.begin() as session:
        _conversation_counts(session, kind, first, last, cells)
        _distinct_contacts(session, kind, first, last, cells)
        _returning_contacts(session, kind, first, last, cells, len(kept))
        _created_by_bot(session, kind, first, last, cells)
        rows = _rows(kind, cells, _imported_potential(session, kind, first, last))
        session.execute(
            delete(MetricSummary).where(
                MetricSummary.period_kind == kind,
                MetricSummary.period_key >= first,
                MetricSummary.period_key <= last,
            )
        )
        if rows:
            session.execute(insert(MetricSummary), rows)
    return RebuildResult(kind, first, last, len(rows), skipped)


def rebuild_period(
    session_factory: sessionmaker | None, period: Period | str, *, now: dt.datetime | None = None
) -> RebuildResult:
    """Recompute one period (e.g. ``"2026-W47"`` or ``"2026-11"``) for every dealer."""
    from metrics.periods import parse_period

    target = parse_period(period) if isinstance(period, str) else period
    return rebuild(session_factory, target.kind, target.start, target.last_day, now=now)


def rollup(session_factory: sessionmaker | None = None, now: dt.datetime | None = None) -> int:
    """The hourly job: the current and previous day, week and month. Returns the rows written.

    Late survey answers arrive within a session or two, so two periods of each kind are enough.
    """
    session_factory = session_factory or default_session_factory()
    moment = now or get_settings().fixed_now or dt.datetime.now(dt.timezone.utc)
    today = local_day(moment, DEFAULT_TIMEZONE)
    fill_period_keys(session_factory)
    written = 0
    for kind in KINDS:
        current = period_of(kind, today)
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
            for cid, dealer_id, started_at in rows:
                session.execute(
                    update(c)
                    .where(c.id == cid)
                    .values(**conversation_keys(dealer_id, started_at))
                    .execution_options(synchronize_session=False)
                )
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

    Works in steps of a few periods (each its own unit of work) and draws a progress bar on
    ``progress`` (True: stderr; None or False: silence).
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
    draw = _progress_bar(stream, len(steps))
    results = []
    for done, (kind, first, last) in enumerate(steps, start=1):
        results.append(rebuild(session_factory, kind, first.start, last.last_day, now=now))
        draw(done, f"{kind} {first.key}..{last.key}")
    return results


def _progress_bar(stream: TextIO | None, total: int, width: int = 30) -> Callable[[int, str], None]:
    def draw(done: int, label: str) -> None:
        if stream is None:
            return
        filled = width * done // max(total, 1)
        percent = 100 * done // max(total, 1)
        end = "\n" if done >= total else ""
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {percent:3d}% {label:<32}{end}")
        stream.flush()

    return draw
