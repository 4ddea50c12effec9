"""The action first: what a dealer reads before the figures of the week (issue 20, section 2).

One sentence on how the week went (MEC against last week and against the MEC potential) and a
to-do list:

- ``csat_low``: the week's conversations rated CSAT 1-2, with a way to reach the customer (name,
  phone, e-mail from the leads, handoffs and appointments of that conversation, when known);
- ``open_item``: handoffs and leads still open in the staff inbox (status new or claimed, not
  done, won or lost; ``core.store.staff_inbox.inbox_lists``);
- ``not_understood``: the week's messages the bot did not understand most often (the NLU
  inbox, ``metrics.summary``'s top fallback messages), for the bot trainer.

This module is data only: :class:`Digest` and :func:`build_digest`. The texts, in Dutch and
English, are in ``metrics.report.digest`` (plain text and HTML, for the e-mail and the
dashboard). The figures come from the weekly summary (``metrics.summary`` over the registry
``metrics.figures``); nothing here computes a figure again.

The contact details are for the dealer's staff (the e-mail goes to the dealer, the dashboard is
behind a log-in). Nothing here logs them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from core.periods import Period, dealer_timezone, iso_week
from core.settings import utc_now
from core.store.models import Appointment, Lead, from_utc_naive
from core.store.session import default_session_factory
from core.store.staff_inbox import inbox_lists
from metrics.summary import WeeklySummary, build_weekly_summary, low_rated_conversations

LOW_RATED_LIMIT = 20  # CSAT 1-2 conversations in the to-do list; the drill-down lists them all
OPEN_LIMIT = 20  # open handoffs and leads in the to-do list; the staff inbox lists them all


@dataclass(frozen=True)
class Sentence:
    """The parts of the opening sentence, all read from the summary's figures."""

    week: str
    mec: int  # engaged contacts this week (figure ``mec``)
    mec_previous: int  # last week's
    potential: int | None  # figure ``mec_potential`` (None: not known)
    potential_estimated: bool
    share: float | None  # figure ``mec_share``, 0-1 (None: no potential to compare with)

    @property
    def difference(self) -> int:
        """More (positive) or fewer (negative) engaged contacts than last week."""
        return self.mec - self.mec_previous


@dataclass(frozen=True)
class Contact:
    """How to reach the customer; every part may be unknown."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None

    def __bool__(self) -> bool:
        return bool(self.name or self.phone or self.email)


@dataclass(frozen=True)
class ToDo:
    """One thing to act on. ``kind`` says which fields are filled:

    - ``csat_low``: conversation_id, at (start, dealer's time zone), channel, score, comment,
      contact;
    - ``open_item``: item_id (the lead), lead_kind (``handoff`` or a lead's kind), status
      (``new``/``claimed``), staff (who claimed it), at (created, dealer's time zone), contact,
      conversation_id when known;
    - ``not_understood``: text (pseudonymised by the NLU inbox), count, language,
      conversation_id (where the latest variant was sent).
    """

    kind: str
    conversation_id: str | None = None
    at: dt.datetime | None = None
    channel: str | None = None
    score: int | None = None
    comment: str | None = None
    contact: Contact = field(default_factory=Contact)
    item_id: str | None = None
    lead_kind: str | None = None
    status: str | None = None
    staff: str | None = None
    text: str | None = None
    count: int = 0
    language: str | None = None


@dataclass(frozen=True)
class Digest:
    dealer_id: str
    week: str
    sentence: Sentence
    todos: list[ToDo] = field(default_factory=list)
    low_rated_total: int = 0  # CSAT 1-2 conversations of the week (the list may be cut)
    open_total: int = 0  # open handoffs and leads (the list may be cut)

    def of_kind(self, kind: str) -> list[ToDo]:
        return [todo for todo in self.todos if todo.kind == kind]


def sentence_of(summary: WeeklySummary) -> Sentence:
    """The opening sentence's parts from the summary's figures (``metrics.figures``)."""
    potential = summary.mec_potential.value
    return Sentence(
        week=summary.week,
        mec=int(summary.mec.value or 0),
        mec_previous=int(summary.mec.previous or 0),
        potential=None if potential is None else int(potential),
        potential_estimated=summary.potential_estimated,
        share=summary.mec_share.value,
    )


def contacts_of(session_factory: sessionmaker, conversation_ids: list[str]) -> dict[str, Contact]:
    """Name, phone and e-mail per conversation from its leads (handoffs included) and
    appointments: of each, the newest record that has it. Conversations without any: absent."""
    if not conversation_ids:
        return {}
    found: dict[str, dict[str, str]] = {}
    with session_factory() as session:
        for model in (Lead, Appointment):
            rows = session.execute(
                select(model.conversation_id, model.customer_name, model.phone, model.email)
                .where(model.conversation_id.in_(conversation_ids))
                .order_by(model.created_at.desc(), model.id)
            ).all()  # fmt: skip
            for cid, name, phone, email in rows:
                parts = found.setdefault(cid, {})
                for key, value in (("name", name), ("phone", phone), ("email", email)):
                    if value and key not in parts:
                        parts[key] = value
    return {cid: Contact(**parts) for cid, parts in found.items() if parts}


def _lead_contact(lead: Lead) -> Contact:
    """The lead's name, phone and e-mail; none when the lead names no conversation, because the
    erasure finds the outbox files holding the digest by the conversation they name
    (``core.store.privacy.drop_outbox_files``). The inbox link still leads to it."""
    if not lead.conversation_id:
        return Contact()
    return Contact(lead.customer_name or None, lead.phone or None, lead.email or None)


def build_digest(
    session_factory: sessionmaker | None,
    dealer_id: str,
    week: Period | str,
    *,
    summary: WeeklySummary | None = None,
    now: dt.datetime | None = None,
) -> Digest:
    """The digest of ``dealer_id``'s ISO ``week``. Pass the week's ``summary`` when it is built
    already (the e-mail and the dashboard do), else it is built here. Open items are those open
    at ``now`` (default: the clock), whatever the week."""
    session_factory = session_factory or default_session_factory()
    period = iso_week(week)
    if summary is None:
        summary = build_weekly_summary(session_factory, dealer_id, period)
    now = now or utc_now()
    zone = dealer_timezone(dealer_id)

    low_rated = low_rated_conversations(session_factory, dealer_id, period)
    inbox = inbox_lists(session_factory, dealer_id, now, now)
    open_rows = sorted(
        [*inbox.handoffs, *inbox.leads, *inbox.test_drives],
        key=lambda pair: (pair[0].created_at, pair[0].id),
    )
    contacts = contacts_of(
        session_factory, [x.conversation_id for x in low_rated[:LOW_RATED_LIMIT]]
    )

    todos = [
        ToDo(
            "csat_low",
            conversation_id=x.conversation_id,
            at=x.started_at,
            channel=x.channel,
            score=x.csat,
            comment=x.comment,
            contact=contacts.get(x.conversation_id, Contact()),
        )
        for x in low_rated[:LOW_RATED_LIMIT]
    ]
    todos += [
        ToDo(
            "open_item",
            conversation_id=lead.conversation_id,
            item_id=lead.id,
            lead_kind=lead.kind,
            status=status.action,
            staff=status.staff,
            at=from_utc_naive(lead.created_at).astimezone(zone),
            channel=lead.channel,
            contact=_lead_contact(lead),
        )
        for lead, status in open_rows[:OPEN_LIMIT]  # oldest first: who waits longest
    ]
    todos += [
        ToDo(
            "not_understood",
            conversation_id=m.conversation_id,
            text=m.text,
            count=m.count,
            language=m.language,
        )
        for m in summary.top_fallbacks
    ]
    return Digest(
        dealer_id=dealer_id,
        week=period.key,
        sentence=sentence_of(summary),
        todos=todos,
        low_rated_total=len(low_rated),
        open_total=len(open_rows),
    )
