"""The notification outbox: enqueue in the writer's unit of work, claim and finish deliveries.

``enqueue_*`` take the caller's open session, so the notification is committed together with
the appointment or lead it is about, or not at all (``core.store.repositories``). Sending
lives in ``notifications.worker``; this module only moves rows between states:

- an outbox message is ``pending`` until a worker claims it (compare-and-set to ``sending``);
- the worker then finishes it in one transaction: ``sent``, or ``pending`` again with a later
  ``next_attempt_at`` (exponential backoff), or ``failed`` when it has been due for too long;
- a ``sending`` claim older than ``STALE_CLAIM`` (the worker died mid-send) is claimed again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.store.models import (
    LEAD_NOTIFICATION_KINDS,
    Appointment,
    Lead,
    Notification,
    OutboxMessage,
    WebhookAttempt,
)

WORKER = f"{socket.gethostname()}:{os.getpid()}"[:64]
STALE_CLAIM = dt.timedelta(minutes=5)  # longer than any SMTP or HTTP timeout of one send
BACKOFF_BASE = dt.timedelta(seconds=5)
BACKOFF_MAX = dt.timedelta(minutes=5)  # so a mail server back after hours is used within 5 min
GIVE_UP_AFTER = dt.timedelta(hours=48)


def backoff(attempts: int) -> dt.timedelta:
    """Wait before attempt ``attempts + 1``: 5 s, 10 s, 20 s, ... doubling, at most 5 minutes."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


def _key(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:64]


def lead_notification_kind(lead_kind: str) -> str:
    """The notification kind of a lead: its own kind, or ``callback`` for call-back topics."""
    return lead_kind if lead_kind in LEAD_NOTIFICATION_KINDS else "callback"


def enqueue_for_lead(session: Session, lead: Lead) -> Notification:
    """Add the notification of a new lead (handoffs are leads) to the caller's unit of work."""
    session.flush()  # the lead's id
    notification = Notification(
        dealer_id=lead.dealer_id,
        kind=lead_notification_kind(lead.kind),
        conversation_id=lead.conversation_id,
        lead_id=lead.id,
        dedupe_key=_key("lead", lead.id),
        status="new",
    )
    session.add(notification)
    return notification


def enqueue_lead_contact(session: Session, lead: Lead) -> Notification | None:
    """Add the notification that a handoff's customer left contact details (once per lead) to
    the caller's unit of work; None when it was added before."""
    return _enqueue_once_per_lead(session, lead, "lead-contact", "handoff_contact")


def enqueue_handoff_template(session: Session, lead: Lead) -> Notification | None:
    """Add the WhatsApp template staff send to a handoff's customer outside the 24-hour window
    (once per lead) to the caller's unit of work; None when it was added before."""
    return _enqueue_once_per_lead(session, lead, "handoff-template", "handoff_template")


def _enqueue_once_per_lead(
    session: Session, lead: Lead, prefix: str, kind: str
) -> Notification | None:
    key = _key(prefix, lead.id)
    if session.scalar(select(Notification.id).where(Notification.dedupe_key == key)) is not None:
        return None
    notification = Notification(
        dealer_id=lead.dealer_id,
        kind=kind,
        conversation_id=lead.conversation_id,
        lead_id=lead.id,
        dedupe_key=key,
        status="new",
    )
    session.add(notification)
    return notification


def enqueue_for_appointment(session: Session, appointment: Appointment, kind: str) -> Notification:
    """Add a booking, change or cancellation notification to the caller's unit of work.

    ``sequence`` counts the appointment's earlier notifications: the calendar invite's SEQUENCE,
    so a calendar applies a move or a cancellation to the entry it already has.
    """
    session.flush()  # the appointment's id and its new start
    earlier = session.scalar(
        select(func.count()).where(
            Notification.appointment_id == appointment.id, Notification.kind != "reminder"
        )
    )
    notification = Notification(
        dealer_id=appointment.dealer_id,
        kind=kind,
        conversation_id=appointment.conversation_id,
        appointment_id=appointment.id,
        starts_at=appointment.starts_at,
        sequence=earlier or 0,
        dedupe_key=_key("appointment", appointment.id, kind, earlier, appointment.starts_at),
        status="new",
    )
    session.add(notification)
    return notification


def enqueue_reminder(session_factory: sessionmaker, appointment: Appointment) -> bool:
    """The reminder of one appointment at its current start, once: False if already there."""
    try:
        with session_factory.begin() as session:
            session.add(
                Notification(
                    dealer_id=appointment.dealer_id,
                    kind="reminder",
                    conversation_id=appointment.conversation_id,
                    appointment_id=appointment.id,
                    starts_at=appointment.starts_at,
                    dedupe_key=_key("reminder", appointment.id, appointment.starts_at),
                    status="new",
                )
            )
        return True
    except IntegrityError:
        return False


def appointments_to_remind(
    session_factory: sessionmaker,
    dealer_id: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    whatsapp: bool = False,
) -> list[Appointment]:
    """A dealer's booked appointments starting in ``[start, end)`` (naive UTC) with an e-mail
    address, or (``whatsapp``: the dealer has a reminder template) made on WhatsApp."""
    reachable = Appointment.email.isnot(None)
    if whatsapp:
        reachable = or_(reachable, Appointment.sender_id.startswith("whatsapp:"))
    query = select(Appointment).where(
        Appointment.dealer_id == dealer_id,
        Appointment.status == "booked",
        reachable,
        Appointment.starts_at >= start,
        Appointment.starts_at < end,
    )
    with session_factory() as session:
        return list(session.scalars(query))


# -- fan-out and claims ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One outbox message to create: channel, recipient, and for a webhook its secret's name."""

    channel: str
    recipient: str
    secret_env: str | None = None


def pending_fan_out(session_factory: sessionmaker, limit: int = 100) -> list[Notification]:
    """Notifications whose outbox messages are not created yet (oldest first)."""
    query = (
        select(Notification)
        .where(Notification.fanned_out_at.is_(None))
        .order_by(Notification.id)
        .limit(limit)
    )
    with session_factory() as session:
        return list(session.scalars(query))


def fan_out(
    session_factory: sessionmaker,
    notification_id: int,
    deliveries: Iterable[Delivery],
    now: dt.datetime,
) -> int:
    """Create the notification's outbox messages, once (a second call adds nothing)."""
    with session_factory.begin() as session:
        done = session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.fanned_out_at.is_(None))
            .values(fanned_out_at=now),
            execution_options={"synchronize_session": False},
        )
        if done.rowcount != 1:
            return 0  # another worker did it
        dealer_id = session.scalar(
            select(Notification.dealer_id).where(Notification.id == notification_id)
        )
        unique = dict.fromkeys(deliveries)
        for delivery in unique:
            session.add(
                OutboxMessage(
                    notification_id=notification_id,
                    dealer_id=dealer_id,
                    channel=delivery.channel,
                    recipient=delivery.recipient,
                    secret_env=delivery.secret_env,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        return len(unique)


def due_messages(session_factory: sessionmaker, now: dt.datetime, limit: int = 50) -> list[int]:
    """Ids of outbox messages to try now: pending and due, or claimed by a worker that died."""
    query = (
        select(OutboxMessage.id)
        .where(
            or_(
                and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
                and_(
                    OutboxMessage.status == "sending",
                    OutboxMessage.claimed_at < now - STALE_CLAIM,
                ),
            )
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    with session_factory() as session:
        return list(session.scalars(query))


def claim(session_factory: sessionmaker, message_id: int, now: dt.datetime) -> bool:
    """Take one message for sending; exactly one worker wins (compare-and-set on the status)."""
    with session_factory.begin() as session:
        taken = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                or_(
                    and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
                    and_(
                        OutboxMessage.status == "sending",
                        OutboxMessage.claimed_at < now - STALE_CLAIM,
                    ),
                ),
            )
            .values(
                status="sending",
                claimed_at=now,
                claimed_by=WORKER,
                attempts=OutboxMessage.attempts + 1,
            ),
            execution_options={"synchronize_session": False},
        )
        return taken.rowcount == 1


def finish(
    session_factory: sessionmaker,
    message_id: int,
    now: dt.datetime,
    *,
    sent_as: str | None = None,
    error: str | None = None,
    attempt: dict | None = None,
) -> str:
    """End a claim in one transaction: ``sent`` (``sent_as``: Message-ID or file name), or
    back to ``pending`` after a backoff, or ``failed`` after ``GIVE_UP_AFTER``. ``attempt``
    (status_code, error, duration_ms) is logged for a webhook call. Returns the new status."""
    with session_factory.begin() as session:
        message = session.get(OutboxMessage, message_id)
        if attempt is not None:
            session.add(
                WebhookAttempt(
                    outbox_message_id=message_id,
                    dealer_id=message.dealer_id,
                    url=message.recipient,
                    attempted_at=now,
                    **attempt,
                )
            )
        if error is None:
            message.status, message.sent_at = "sent", now
            message.message_id, message.last_error = sent_as, None
        else:
            message.last_error = error[:2000]
            gave_up = message.created_at + GIVE_UP_AFTER <= now
            message.status = "failed" if gave_up else "pending"
            message.next_attempt_at = now + backoff(message.attempts)
        return message.status


def messages_of(session_factory: sessionmaker, notification_id: int) -> list[OutboxMessage]:
    with session_factory() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.notification_id == notification_id)
                .order_by(OutboxMessage.id)
            )
        )


def webhook_attempts(
    session_factory: sessionmaker, dealer_id: str, limit: int = 200
) -> list[WebhookAttempt]:
    """The webhook delivery log of one dealer, newest first (for the dashboard)."""
    query = (
        select(WebhookAttempt)
        .where(WebhookAttempt.dealer_id == dealer_id)
        .order_by(WebhookAttempt.id.desc())
        .limit(limit)
    )
    with session_factory() as session:
        return list(session.scalars(query))
