"""The weekly summary of one dealer, read from ``metric_summaries`` (plus a few small queries).

Run the rollup for the week first (``metrics.aggregate.rebuild_period`` or the hourly job):
this module only reads. Every headline figure carries its n, last week's value and the change.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import and_, select
from sqlalchemy.orm import aliased, sessionmaker

from core.periods import Period, dealer_timezone, iso_week, last_weeks
from core.store.inbox import nlu_fallback_items
from core.store.models import (
    Conversation,
    MetricSummary,
    NluInboxItem,
    SurveyAnswer,
    from_utc_naive,
)
from core.store.session import default_session_factory
from metrics import formulas as f
from metrics.aggregate import ALL, CHANNEL, LANGUAGE
from metrics.figures import BY_NAME, FIGURES, FigureDef
from metrics.human import HumanFigures, human_figures

TOP_INTENTS = 10
LOW_RATED = 5
TOP_FALLBACKS = 5


@dataclass(frozen=True)
class Figure:
    """A headline figure: value (None = "n/a"), sample size, last week's value and the change.

    ``change`` is relative for counts (0.25 = +25%) and a difference for shares, means and
    times (0.05 = +5 points); see ``metrics.formulas.change``. ``unit`` is count, share, mean,
    score, ms (the bot's response times) or min (the staff's).
    """

    name: str
    value: float | None
    n: int
    previous: float | None
    change: float | None
    unit: str = "count"

    @property
    def text(self) -> str:
        return f.display(self.value, self.unit)


@dataclass(frozen=True)
class TrendPoint:
    week: str
    mec: int
    potential: int | None
    csat: float | None  # share of 4-5
    ces: float | None  # mean 1-7
    potential_estimated: bool = False


@dataclass(frozen=True)
class LowRated:
    conversation_id: str
    started_at: dt.datetime  # in the dealer's time zone
    channel: str
    outcome: str
    csat: int
    comment: str | None


@dataclass(frozen=True)
class FallbackMessage:
    """A customer message the bot fell back on, with how often it (or a variant) came in."""

    text: str  # the latest variant, as the customer wrote it (pseudonymised by core.store.inbox)
    count: int  # messages that normalise to the same text (case, spaces, trailing punctuation)
    language: str  # of the latest variant
    conversation_id: str  # where the latest variant was sent


@dataclass(frozen=True)
class WeeklySummary:
    dealer_id: str
    week: str
    start: dt.date  # Monday
    end: dt.date  # Sunday (inclusive)
    conversations: int
    qualifying: int
    # One field per figure of metrics.figures.FIGURES (their values: build_weekly_summary).
    mec: Figure
    mec_potential: Figure
    potential_estimated: bool
    mec_share: Figure
    csat: Figure  # share of 4-5
    csat_mean: Figure
    csat_response_rate: Figure
    ces_mean: Figure
    ces_share_5_7: Figure
    nps: Figure  # value None when not asked
    appointments_booked: Figure
    appointments_changed: Figure
    appointments_cancelled: Figure
    test_drives: Figure
    leads_trade_in: Figure
    leads_sales: Figure
    handoffs: Figure
    automation_rate: Figure
    handoff_rate: Figure
    abandonment_rate: Figure
    resolved_by_bot: Figure
    fallback_rate: Figure
    first_response_p50: Figure
    first_response_p90: Figure
    answered_within_30s: Figure
    returning_contacts: Figure
    # The human part (metrics.human; FigureDef.source "human")
    human_handled: Figure
    human_first_response_p50: Figure
    human_first_response_p90: Figure
    human_within_promised: Figure
    handoffs_unanswered: Figure
    # how an imported month was spread over this week ("2026-11: 120 × 7/30"); None otherwise
    potential_spread: str | None = None
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)
    by_language: dict[str, dict[str, int]] = field(default_factory=dict)
    trend: list[TrendPoint] = field(default_factory=list)
    low_rated: list[LowRated] = field(default_factory=list)
    top_intents: list[tuple[str, int]] = field(default_factory=list)
    top_fallbacks: list[FallbackMessage] = field(default_factory=list)

    def headline(self) -> list[Figure]:
        """The figures in report order (``metrics.figures.FIGURES``)."""
        return [getattr(self, figure.name) for figure in FIGURES]


class _Counts:
    """One summary row's counts (zeros when the period has no row) and the formulas over them."""

    def __init__(self, row: MetricSummary | None, first_responses: list[int] | None = None) -> None:
        self.row = row
        # the exact bot first-response times (ms) of the period's qualifying conversations
        self.first_responses = first_responses

    def __getattr__(self, name: str) -> int:
        value = getattr(self.row, name, None) if self.row is not None else None
        return int(value or 0)

    @property
    def potential(self) -> int | None:
        """The week's potential; a week without a row has the estimate of a week without
        bookings and leads, 0 (so an empty week reads like an equal week with a row)."""
        return 0 if self.row is None else self.row.potential

    @property
    def potential_estimated(self) -> bool:
        return True if self.row is None else bool(self.row.potential_estimated)

    @property
    def potential_spread(self) -> str | None:
        return None if self.row is None else self.row.potential_spread

    @property
    def histogram(self) -> list[int]:
        text = self.row.first_response_histogram if self.row is not None else ""
        return [int(x) for x in text.split(",")] if text else []


# what a figure's formula reads (FigureDef.source): the row's counts or the handoffs' figures
_Source = _Counts | HumanFigures


def _figure(figure: FigureDef, now: _Source, before: _Source) -> Figure:
    value, n = figure.formula(now)
    previous = figure.formula(before)[0]
    change = f.change(value, previous, relative=figure.unit == "count")
    return Figure(figure.name, value, n, previous, change, figure.unit)


def _breakdown(rows: dict, dimension: str) -> dict[str, dict[str, int]]:
    result = {}
    for (dim, value), row in sorted(rows.items()):
        if dim != dimension:
            continue
        result[value] = {
            "conversations": row.conversations,
            "qualifying": row.qualifying,
            "mec": row.mec,
            "appointments_booked": row.appointments_booked,
            "handoffs": row.handoffs,
            "csat_n": row.csat_n,
            "csat_4_5": row.csat_top2,
        }
    return result


def build_weekly_summary(
    session_factory: sessionmaker | None, dealer_id: str, week: Period | str, *, weeks: int = 12
) -> WeeklySummary:
    """The summary of ``dealer_id`` for the ISO ``week`` (e.g. ``"2026-W47"``), with a trend of
    ``weeks`` weeks ending with it. Reads the weekly summary rows (run the rollup first)."""
    session_factory = session_factory or default_session_factory()
    period = iso_week(week)
    trend_weeks = last_weeks(period, max(weeks, 1))
    keys = [p.key for p in trend_weeks] + [period.previous().key]
    with session_factory() as session:
        rows = session.scalars(
            select(MetricSummary).where(
                MetricSummary.dealer_id == dealer_id,
                MetricSummary.period_kind == "week",
                MetricSummary.period_key.in_(keys),
            )
        ).all()
        by_key = {r.period_key: r for r in rows if r.dimension == ALL}
        this_week = {(r.dimension, r.dimension_value): r for r in rows
                     if r.period_key == period.key and r.dimension != ALL}  # fmt: skip
        low_rated = _low_rated(session, dealer_id, period)
        top_intents = _top_intents(session, dealer_id, period)
        top_fallbacks = _top_fallbacks(session, dealer_id, period)
        speeds = {p.key: _first_responses(session, dealer_id, p)
                  for p in (period, period.previous())}  # fmt: skip
    now = _Counts(by_key.get(period.key), speeds[period.key])
    before = _Counts(by_key.get(period.previous().key), speeds[period.previous().key])
    sources: dict[str, tuple[_Source, _Source]] = {
        "counts": (now, before),
        "human": (human_figures(session_factory, dealer_id, period),
                  human_figures(session_factory, dealer_id, period.previous())),
    }  # fmt: skip

    return WeeklySummary(
        dealer_id=dealer_id,
        week=period.key,
        start=period.start,
        end=period.last_day,
        conversations=now.conversations,
        qualifying=now.qualifying,
        potential_estimated=now.potential_estimated,
        potential_spread=now.potential_spread,
        **{figure.name: _figure(figure, *sources[figure.source]) for figure in FIGURES},
        by_channel=_breakdown(this_week, CHANNEL),
        by_language=_breakdown(this_week, LANGUAGE),
        trend=[_trend_point(p, _Counts(by_key.get(p.key))) for p in trend_weeks],
        low_rated=low_rated,
        top_intents=top_intents,
        top_fallbacks=top_fallbacks,
    )


def top_lists(
    session_factory: sessionmaker | None, dealer_id: str, week: Period | str
) -> tuple[list[tuple[str, int]], list[FallbackMessage]]:
    """The ISO ``week``'s top intents and top fallback messages of ``dealer_id``, the same
    lists as ``WeeklySummary.top_intents`` / ``top_fallbacks``. For the CSV export: these read
    the conversations and the NLU inbox directly, so they need no rollup and no other figure."""
    session_factory = session_factory or default_session_factory()
    period = iso_week(week)
    with session_factory() as session:
        return _top_intents(session, dealer_id, period), _top_fallbacks(session, dealer_id, period)


def _trend_point(period: Period, counts: _Counts) -> TrendPoint:
    return TrendPoint(
        week=period.key,
        mec=counts.mec,
        potential=counts.potential,
        csat=BY_NAME["csat"].formula(counts)[0],
        ces=BY_NAME["ces_mean"].formula(counts)[0],
        potential_estimated=counts.potential_estimated,
    )


def low_rated_conversations(
    session_factory: sessionmaker | None, dealer_id: str, week: Period | str
) -> list[LowRated]:
    """Every qualifying conversation of the ISO ``week`` rated CSAT 1 or 2, worst first: the
    list ``WeeklySummary.low_rated`` shows the first five of (for the to-do list,
    ``metrics.digest``)."""
    session_factory = session_factory or default_session_factory()
    with session_factory() as session:
        return _low_rated(session, dealer_id, iso_week(week), limit=None)


def _low_rated(
    session, dealer_id: str, period: Period, limit: int | None = LOW_RATED
) -> list[LowRated]:
    """Up to ``limit`` (None: all) qualifying conversations of the week rated CSAT 1 or 2,
    worst first."""
    c = Conversation
    score, comment = aliased(SurveyAnswer), aliased(SurveyAnswer)
    query = (
        select(c.id, c.started_at, c.channel, c.outcome, score.score, comment.comment)
        .join(score, and_(score.conversation_id == c.id, score.question == "csat"))
        .outerjoin(comment, and_(comment.conversation_id == c.id, comment.question == "comment"))
        .where(c.dealer_id == dealer_id, c.week_key == period.key, c.qualifies, score.score <= 2)
        .order_by(score.score, c.started_at, c.id)
        .limit(limit)
    )
    zone = dealer_timezone(dealer_id)
    return [
        LowRated(cid, from_utc_naive(started).astimezone(zone), channel, outcome, csat, text)
        for cid, started, channel, outcome, csat, text in session.execute(query)
    ]


def _first_responses(session, dealer_id: str, period: Period) -> list[int]:
    """The bot's exact first-response times (ms) of the week's qualifying conversations with a
    reply: the same conversations the summary row's histogram counts."""
    c = Conversation
    query = select(c.first_response_ms).where(
        c.dealer_id == dealer_id, c.week_key == period.key, c.qualifies,
        c.is_test.is_(False), c.first_response_ms.isnot(None),
    )  # fmt: skip
    return [int(ms) for (ms,) in session.execute(query)]


def _top_intents(session, dealer_id: str, period: Period) -> list[tuple[str, int]]:
    """Business intents of the week's qualifying conversations, most frequent first."""
    c = Conversation
    counts: Counter[str] = Counter()
    query = select(c.intents).where(c.dealer_id == dealer_id, c.week_key == period.key, c.qualifies)
    for (intents,) in session.execute(query):
        counts.update(i for i in (intents or "").split(",") if i)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_INTENTS]


def fallback_key(text: str) -> str:
    """The text messages are grouped by: case-folded, whitespace collapsed, trailing
    punctuation dropped ("Heb je  WINTERBANDEN?" -> "heb je winterbanden")."""
    key = " ".join(text.casefold().split())
    while key and (key[-1].isspace() or unicodedata.category(key[-1]).startswith("P")):
        key = key[:-1]
    return key


def _top_fallbacks(session, dealer_id: str, period: Period) -> list[FallbackMessage]:
    """The messages of the week the NLU fell back on (``core.store.inbox.nlu_fallback_items``),
    grouped by ``fallback_key``, most frequent first, ties by that key; the top five.

    The week is the conversation's (its stored ``week_key``, in the dealer's time zone), as for
    every other figure. All non-test conversations count, qualifying or not, as in the
    ``conversations`` total: a conversation of fallbacks only never qualifies, yet its messages
    are the ones worth reading. Grouped in Python: a week holds a few rows, and SQLite's
    ``lower()`` folds ASCII only.
    """
    c, item = Conversation, NluInboxItem
    query = (
        select(item.text, item.language, item.conversation_id)
        .join(c, c.id == item.conversation_id)
        .where(
            c.dealer_id == dealer_id,
            c.week_key == period.key,
            c.is_test.is_(False),
            nlu_fallback_items(),
        )
        .order_by(item.sent_at, item.id)  # oldest first: the last one seen represents the group
    )
    groups: dict[str, FallbackMessage] = {}
    for text, language, conversation_id in session.execute(query):
        key = fallback_key(text)
        count = groups[key].count + 1 if key in groups else 1
        groups[key] = FallbackMessage(text, count, language, conversation_id)
    ranked = sorted(groups.items(), key=lambda pair: (-pair[1].count, pair[0]))
    return [message for _key, message in ranked[:TOP_FALLBACKS]]
