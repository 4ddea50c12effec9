"""The staff inbox's store: open handoffs, leads and appointments of a location, their statuses,
and the takeovers of conversations, each change with who made it and when.

Handoffs, leads and appointments are read from their own tables (``leads``, ``appointments``);
what staff do with them is a row of ``inbox_events`` (:class:`InboxEvent`). An item's status is
the action of its latest event, ``new`` without one. A conversation is ``taken_over`` by a staff
member until ``handed_back``; each staff message is a ``replied`` event, so the first human
response time (``metrics.human``) needs only this table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.store.models import Appointment, InboxEvent, Lead, utc_naive, utcnow
from core.store.outbox import enqueue_handoff_template

# The actions staff may take on each kind of item. A lead closes as won or lost; a handoff (a
# lead of kind ``handoff``) and an appointment as done. ``reopened`` puts an item back to new.
ITEM_ACTIONS: dict[str, frozenset[str]] = {
    "handoff": frozenset({"claimed", "done", "reopened"}),
    "lead": frozenset({"claimed", "won", "lost", "reopened"}),
    "appointment": frozenset({"claimed", "done", "reopened"}),
    "conversation": frozenset({"taken_over", "handed_back", "replied", "template_sent"}),
}
CLOSED = frozenset({"done", "won", "lost"})
MAX_STAFF_CHARS = 100


class InboxError(ValueError):
    """An action that does not fit the item (unknown action, or another dealer's item)."""


@dataclass(frozen=True)
class Status:
    action: str  # new | claimed | done | won | lost | reopened
    staff: str | None
    at: dt.datetime | None  # naive UTC

    @property
    def closed(self) -> bool:
        return self.action in CLOSED


NEW = Status("new", None, None)


@dataclass(frozen=True)
class Takeover:
    """Who holds a conversation, since when, and their latest action in it (naive UTC)."""

    staff: str
    since: dt.datetime
    last_activity: dt.datetime


def item_kind_of(lead: Lead) -> str:
    """Handoffs are leads of kind ``handoff`` with their own statuses (done, not won/lost)."""
    return "handoff" if lead.kind == "handoff" else "lead"


def _store_kind(kind: str) -> str:
    return "lead" if kind == "handoff" else kind


def record_event(
    session_factory: sessionmaker,
    *,
    dealer_id: str,
    kind: str,
    item_id: str,
    action: str,
    staff: str,
    at: dt.datetime | None = None,
) -> InboxEvent:
    """Keep one change (who, when). ``kind`` is handoff, lead, appointment or conversation;
    an action that does not belong to the kind is refused with :class:`InboxError`."""
    if action not in ITEM_ACTIONS.get(kind, ()):
        raise InboxError(f"{action!r} is not an action on a {kind}")
    staff = staff.strip()[:MAX_STAFF_CHARS]
    if not staff:
        raise InboxError("a change needs the staff member's name")
    with session_factory.begin() as session:
        row = InboxEvent(
            dealer_id=dealer_id,
            item_kind=_store_kind(kind),
            item_id=item_id,
            action=action,
            staff=staff,
            at=utc_naive(at) if at is not None and at.tzinfo else (at or utcnow()),
        )
        session.add(row)
    return row


def send_template(session_factory: sessionmaker, lead_id: str, staff: str) -> bool:
    """Queue the approved WhatsApp template for a handoff's customer (the outbox sends it) and
    keep who asked for it, in one unit of work. False when it was queued before."""
    staff = staff.strip()[:MAX_STAFF_CHARS]
    if not staff:
        raise InboxError("a change needs the staff member's name")
    with session_factory.begin() as session:
        lead = session.get(Lead, lead_id)
        if lead is None or enqueue_handoff_template(session, lead) is None:
            return False
        session.add(InboxEvent(dealer_id=lead.dealer_id, item_kind="conversation",
                               item_id=lead.sender_id, action="template_sent", staff=staff,
                               at=utcnow()))  # fmt: skip
    return True


def template_sent(session_factory: sessionmaker, sender_id: str) -> bool:
    """Whether staff sent the WhatsApp template in the conversation of ``sender_id``."""
    with session_factory() as session:
        return session.scalar(
            select(InboxEvent.id).where(
                InboxEvent.item_kind == "conversation", InboxEvent.item_id == sender_id,
                InboxEvent.action == "template_sent").limit(1)
        ) is not None  # fmt: skip


def statuses(session: Session, kind: str, ids: list[str]) -> dict[str, Status]:
    """The latest status-changing event of each item (``replied`` does not change a status)."""
    if not ids:
        return {}
    rows = session.execute(
        select(InboxEvent.item_id, InboxEvent.action, InboxEvent.staff, InboxEvent.at)
        .where(InboxEvent.item_kind == _store_kind(kind), InboxEvent.item_id.in_(ids),
               InboxEvent.action != "replied")
        .order_by(InboxEvent.at, InboxEvent.id)
    ).all()  # fmt: skip
    out: dict[str, Status] = {}
    for item_id, action, staff, at in rows:  # later rows overwrite earlier ones
        out[item_id] = NEW if action == "reopened" else Status(action, staff, at)
    return out


def statuses_of(session_factory: sessionmaker, kind: str, item_id: str) -> Status:
    """The status of one item."""
    with session_factory() as session:
        return statuses(session, kind, [item_id]).get(item_id, NEW)


def history(session_factory: sessionmaker, kind: str, item_id: str) -> list[InboxEvent]:
    """Every change of the item, oldest first."""
    with session_factory() as session:
        return list(session.scalars(
            select(InboxEvent)
            .where(InboxEvent.item_kind == _store_kind(kind), InboxEvent.item_id == item_id)
            .order_by(InboxEvent.at, InboxEvent.id)
        ))  # fmt: skip


def takeover_of(session_factory: sessionmaker, sender_id: str) -> Takeover | None:
    """The staff member holding the conversation of ``sender_id``, or None."""
    with session_factory() as session:
        rows = session.execute(
            select(InboxEvent.action, InboxEvent.staff, InboxEvent.at)
            .where(InboxEvent.item_kind == "conversation", InboxEvent.item_id == sender_id)
            .order_by(InboxEvent.at, InboxEvent.id)
        ).all()  # fmt: skip
    held: Takeover | None = None
    for action, staff, at in rows:
        if action == "taken_over":
            held = Takeover(staff, at, at)
        elif action == "handed_back":
            held = None
        elif held is not None:  # replied
            held = Takeover(held.staff, held.since, at)
    return held


def expired_takeovers(
    session_factory: sessionmaker, now: dt.datetime, timeout: dt.timedelta
) -> list[tuple[str, str]]:
    """(dealer id, sender id) of the conversations held with no staff action for ``timeout``."""
    with session_factory() as session:
        held = session.execute(
            select(InboxEvent.dealer_id, InboxEvent.item_id)
            .where(InboxEvent.item_kind == "conversation")
            .group_by(InboxEvent.dealer_id, InboxEvent.item_id)
        ).all()  # fmt: skip
    cutoff = utc_naive(now) - timeout
    out = []
    for dealer_id, sender_id in held:
        takeover = takeover_of(session_factory, sender_id)
        if takeover is not None and takeover.last_activity <= cutoff:
            out.append((dealer_id, sender_id))
    return out


def held_conversations(session_factory: sessionmaker, dealer_id: str) -> dict[str, Takeover]:
    """The dealer's conversations a staff member holds now, by sender id."""
    with session_factory() as session:
        senders = session.scalars(
            select(InboxEvent.item_id)
            .where(InboxEvent.dealer_id == dealer_id, InboxEvent.item_kind == "conversation",
                   InboxEvent.action == "taken_over")
            .distinct()
        ).all()  # fmt: skip
    out = {}
    for sender_id in senders:
        takeover = takeover_of(session_factory, sender_id)
        if takeover is not None:
            out[sender_id] = takeover
    return out


@dataclass(frozen=True)
class InboxLists:
    handoffs: list[tuple[Lead, Status]]
    leads: list[tuple[Lead, Status]]
    test_drives: list[tuple[Lead, Status]]
    appointments: list[tuple[Appointment, Status]]
    held: dict[str, Takeover]


LIST_DAYS = 14  # closed items and older leads drop off the lists
LIST_LIMIT = 100


def inbox_lists(
    session_factory: sessionmaker, dealer_id: str, now: dt.datetime, day_start: dt.datetime
) -> InboxLists:
    """The location's lists: handoffs and leads not yet closed from the last ``LIST_DAYS``
    days, newest first; appointments (booked, not cancelled) from ``day_start`` (the dealer's
    today) on, soonest first. Test drives are the leads of kind ``test_drive``."""
    since = utc_naive(now) - dt.timedelta(days=LIST_DAYS)
    with session_factory() as session:
        leads = list(session.scalars(
            select(Lead).where(Lead.dealer_id == dealer_id, Lead.created_at >= since)
            .order_by(Lead.created_at.desc(), Lead.id).limit(LIST_LIMIT)
        ))  # fmt: skip
        appointments = list(session.scalars(
            select(Appointment)
            .where(Appointment.dealer_id == dealer_id, Appointment.status == "booked",
                   Appointment.starts_at >= utc_naive(day_start))
            .order_by(Appointment.starts_at, Appointment.id).limit(LIST_LIMIT)
        ))  # fmt: skip
        lead_status = statuses(session, "lead", [lead.id for lead in leads])
        appointment_status = statuses(session, "appointment", [a.id for a in appointments])
        for row in (*leads, *appointments):
            session.expunge(row)

    def open_(lead: Lead) -> tuple[Lead, Status] | None:
        status = lead_status.get(lead.id, NEW)
        return None if status.closed else (lead, status)

    rows = [r for r in map(open_, leads) if r is not None]
    return InboxLists(
        handoffs=[r for r in rows if r[0].kind == "handoff"],
        leads=[r for r in rows if r[0].kind not in ("handoff", "test_drive")],
        test_drives=[r for r in rows if r[0].kind == "test_drive"],
        appointments=[(a, appointment_status.get(a.id, NEW)) for a in appointments],
        held=held_conversations(session_factory, dealer_id),
    )


def latest_handoff(session_factory: sessionmaker, sender_id: str) -> Lead | None:
    """The newest handoff of the sender (for the first human response time)."""
    with session_factory() as session:
        lead = session.scalar(
            select(Lead).where(Lead.sender_id == sender_id, Lead.kind == "handoff")
            .order_by(Lead.created_at.desc()).limit(1)
        )  # fmt: skip
        if lead is not None:
            session.expunge(lead)
        return lead


def first_replies(session: Session, dealer_id: str, senders: list[str]) -> dict[str, list]:
    """The ``replied`` times (naive UTC) of each sender's conversation, oldest first."""
    out: dict[str, list] = {}
    if not senders:
        return out
    rows = session.execute(
        select(InboxEvent.item_id, InboxEvent.at)
        .where(InboxEvent.dealer_id == dealer_id, InboxEvent.item_kind == "conversation",
               InboxEvent.action == "replied", InboxEvent.item_id.in_(senders))
        .order_by(InboxEvent.at)
    ).all()  # fmt: skip
    for sender, at in rows:
        out.setdefault(sender, []).append(at)
    return out


__all__ = [
    "CLOSED", "ITEM_ACTIONS", "InboxError", "InboxLists", "Status", "Takeover", "expired_takeovers",
    "first_replies", "history", "inbox_lists", "item_kind_of", "latest_handoff", "record_event",
    "send_template", "statuses", "statuses_of", "takeover_of", "template_sent",
]  # fmt: skip
