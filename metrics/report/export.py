"""The CSVs of one dealer's week: one row per (non-test) conversation (``export_csv``), and the
week's top intents and top fallback messages (``export_top_csv``, a second file so the first
keeps one row per conversation)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.orm import aliased, sessionmaker

from core.periods import parse_period
from core.store.models import Conversation, SurveyAnswer
from metrics.report.render import local_time
from metrics.summary import FallbackMessage, top_lists

COLUMNS = ("conversation_id", "date", "channel", "language", "outcome", "qualifying", "csat",
           "ces", "comment")  # fmt: skip
# One header for both lists, so a spreadsheet filter on ``list`` shows either.
TOP_COLUMNS = ("list", "rank", "item", "count", "language", "conversation_id")
# A cell starting with one of these is a formula in spreadsheet programs; customer text must not be.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str | None) -> str:
    """Customer text as an inert CSV cell (no formula injection, one line)."""
    value = " ".join((text or "").split())
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def conversation_rows(
    session_factory: sessionmaker, dealer_id: str, week: str, tz: ZoneInfo
) -> Iterator[tuple]:
    """The rows of the export, oldest conversation first (streamed, not all loaded at once)."""
    period = parse_period(week)
    if period.kind != "week":
        raise ValueError(f"{week!r} is not an ISO week like 2026-W47")
    csat, ces, comment = (aliased(SurveyAnswer) for _ in range(3))

    def answer(alias, question):  # noqa: ANN001, ANN202
        return and_(alias.conversation_id == Conversation.id, alias.question == question)

    query = (
        select(
            Conversation.id,
            Conversation.started_at,
            Conversation.channel,
            Conversation.language,
            Conversation.outcome,
            Conversation.qualifies,
            csat.score,
            ces.score,
            comment.comment,
        )
        .outerjoin(csat, answer(csat, "csat"))
        .outerjoin(ces, answer(ces, "ces"))
        .outerjoin(comment, answer(comment, "comment"))
        .where(
            Conversation.dealer_id == dealer_id,
            Conversation.week_key == period.key,
            Conversation.is_test.is_(False),
        )
        .order_by(Conversation.started_at, Conversation.id)
    )
    with session_factory() as session:
        for row in session.execute(query.execution_options(yield_per=1000)):
            yield (
                row[0],
                local_time(row[1], tz),
                row[2],
                row[3],
                row[4],
                1 if row[5] else 0,
                "" if row[6] is None else row[6],
                "" if row[7] is None else row[7],
                safe_cell(row[8]),
            )


def export_csv(session_factory: sessionmaker, dealer_id: str, week: str, tz: ZoneInfo | str) -> str:
    """The CSV text: a header row, then one row per conversation of the dealer's ISO week."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(conversation_rows(session_factory, dealer_id, week, zone))
    return buffer.getvalue()


def top_rows(intents: list[tuple[str, int]], fallbacks: list[FallbackMessage]) -> list[tuple]:
    """The rows of the top-lists CSV: the intents (``list`` = intent, ``item`` = intent name),
    then the fallback messages (``list`` = fallback, ``item`` = the customer's text, made inert),
    each ranked from 1, most frequent first, as in the weekly summary."""
    rows: list[tuple] = [
        ("intent", rank, safe_cell(name), count, "", "")
        for rank, (name, count) in enumerate(intents, 1)
    ]
    rows += [
        ("fallback", rank, safe_cell(m.text), m.count, m.language, m.conversation_id)
        for rank, m in enumerate(fallbacks, 1)
    ]
    return rows


def top_csv(intents: list[tuple[str, int]], fallbacks: list[FallbackMessage]) -> str:
    """The CSV text of top lists (``TOP_COLUMNS``), e.g. a ``WeeklySummary``'s."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TOP_COLUMNS)
    writer.writerows(top_rows(intents, fallbacks))
    return buffer.getvalue()


def export_top_csv(session_factory: sessionmaker, dealer_id: str, week: str) -> str:
    """The CSV text of the week's top intents and top fallback messages (``TOP_COLUMNS``).
    A ``week`` that is not an ISO week raises ``PeriodError`` (a ``ValueError``)."""
    return top_csv(*top_lists(session_factory, dealer_id, week))
