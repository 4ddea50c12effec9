"""The human part of the conversations, counted (issue 19, section 4; docs/metrics.md).

Definitions (per dealer and period, over the handoffs created in the period, test senders left
out). The sources are the store's ``leads`` (kind ``handoff``) and the staff inbox's
``inbox_events`` (``replied``: one per staff message; ``core.store.staff_inbox``). A staff message
answers a handoff when it was sent in the same conversation (sender id) at or after the handoff
and before that sender's next handoff:

- **human-handled conversations**: handoffs a staff member answered in the chat;
- **first human response time**: from the handoff to the first staff message that answers it,
  over the answered handoffs; p50 and p90 (nearest rank, in minutes), and the share answered
  within the dealer's promised minutes (``handoff.reply_within_min`` of the dealer file);
- **unanswered handoffs**: handoffs no staff message answered (a call back by phone is not seen
  here: an item marked done in the inbox without a chat message still counts as unanswered).

The bot's first response time (``first_response_*``, ``core.engagement``) leaves staff
messages out and stays a separate figure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from core.periods import Period, dealer_timezone
from core.settings import get_settings
from core.store.models import Lead
from core.store.staff_inbox import first_replies
from dealer.config import DealerConfigError, all_dealers
from metrics.formulas import nearest_rank

DEFAULT_PROMISED_MIN = 15  # the dealer file's default for handoff.reply_within_min


def first_response_minutes(
    handoff_at: dt.datetime, replies: Sequence[dt.datetime], until: dt.datetime | None = None
) -> float | None:
    """Minutes from the handoff to the first staff message at or after it and before ``until``
    (the same conversation's next handoff, None: no later handoff); None: unanswered."""
    after = [r for r in replies if r >= handoff_at and (until is None or r < until)]
    return (min(after) - handoff_at).total_seconds() / 60 if after else None


@dataclass(frozen=True)
class HumanFigures:
    handoffs: int
    human_handled: int  # answered handoffs
    unanswered: int
    first_response_p50_min: float | None
    first_response_p90_min: float | None
    within_promised: float | None  # share of the answered handoffs, 0..1
    promised_min: int


def summarize_handoffs(times: Sequence[float | None], promised_min: int) -> HumanFigures:
    """The figures of the handoffs' first human response times in minutes (None: unanswered).

    human-handled = answered handoffs; unanswered = handoffs - answered; p50/p90 by nearest rank
    over the answered ones; within promised = answered within ``promised_min`` minutes (inclusive)
    / answered, None when none was answered.
    """
    answered = [t for t in times if t is not None]
    within = sum(1 for t in answered if t <= promised_min)
    return HumanFigures(
        handoffs=len(times),
        human_handled=len(answered),
        unanswered=len(times) - len(answered),
        first_response_p50_min=nearest_rank(answered, 0.5),
        first_response_p90_min=nearest_rank(answered, 0.9),
        within_promised=within / len(answered) if answered else None,
        promised_min=promised_min,
    )


def response_times(
    handoffs: Sequence[tuple[str, dt.datetime]],
    later_handoffs: Sequence[tuple[str, dt.datetime]],
    replies: Mapping[str, Sequence[dt.datetime]],
) -> list[float | None]:
    """The first human response time (minutes, None: unanswered) of each of ``handoffs``
    ((sender id, time) pairs); ``later_handoffs`` are the same senders' handoffs up to now, which
    bound the replies that answer an earlier one (``first_response_minutes``)."""
    out = []
    for sender, at in handoffs:
        nexts = [b for s, b in later_handoffs if s == sender and b > at]
        out.append(first_response_minutes(at, replies.get(sender, ()), min(nexts, default=None)))
    return out


def promised_minutes(dealer_id: str) -> int:
    """The minutes the dealer promises a person replies in (``handoff.reply_within_min``)."""
    try:
        dealer = all_dealers().get(dealer_id)
    except DealerConfigError:
        dealer = None
    return dealer.handoff_reply_within_min if dealer else DEFAULT_PROMISED_MIN


def human_figures(session_factory: sessionmaker, dealer_id: str, period: Period) -> HumanFigures:
    """The dealer's figures for the handoffs created in ``period`` (the dealer's local days)."""
    start, end = period.utc_bounds(dealer_timezone(dealer_id))
    test_senders = get_settings().test_senders
    with session_factory() as session:
        rows = session.execute(
            select(Lead.sender_id, Lead.created_at)
            .where(Lead.dealer_id == dealer_id, Lead.kind == "handoff", Lead.created_at >= start)
            .order_by(Lead.created_at)
        ).all()  # fmt: skip
        rows = [(s, at) for s, at in rows if not s.startswith(test_senders)]
        handoffs = [(s, at) for s, at in rows if at < end]
        replies = first_replies(session, dealer_id, sorted({s for s, _ in handoffs}))
    return summarize_handoffs(response_times(handoffs, rows, replies), promised_minutes(dealer_id))
