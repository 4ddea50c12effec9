"""Erasure on request and the retention purge. Only anonymous aggregate counts stay behind."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, inspect, or_, select, text
from sqlalchemy.orm import sessionmaker

from metrics.engagement import contact_key
from metrics.store.models import (
    Appointment,
    Conversation,
    Erasure,
    Lead,
    SlotReservation,
    SurveyAnswer,
    WhatsAppMessage,
    utcnow,
)
from metrics.store.session import make_engine

KNOWN_CHANNELS = ("web", "whatsapp", "rest", "cmdline")
_NO_SYNC = {"synchronize_session": False}


def sender_hash(sender_id: str) -> str:
    return hashlib.sha256(sender_id.encode()).hexdigest()


def senders_for_phone(phone: str) -> set[str]:
    """The sender ids a WhatsApp customer with this number can have (Twilio and Cloud API)."""
    e164 = phone if phone.startswith("+") else f"+{phone}"
    # bot/channels keeps one WhatsApp conversation per customer and dealer location.
    from dealer.config import all_dealers

    per_dealer = {f"whatsapp:{e164}/{dealer_id}" for dealer_id in all_dealers()}
    return {e164, e164[1:], f"whatsapp:{e164}"} | per_dealer


@dataclass(frozen=True)
class Erased:
    conversations: int
    survey_answers: int
    appointments: int
    leads: int
    tracker_events: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def erase_contact(
    session_factory: sessionmaker,
    *,
    secret: str,
    senders: Iterable[str] = (),
    phones: Iterable[str] = (),
    channels: Iterable[str] = KNOWN_CHANNELS,
    tracker_db_url: str | None = None,
) -> Erased:
    """Erase everything about a contact: conversations, answers, appointments, leads.

    Rasa's tracker events are deleted now when ``tracker_db_url`` is given; otherwise the
    tombstone left here lets the nightly purge delete them once the conversation is idle.
    """
    senders, phones = set(senders), set(phones)
    for phone in phones:
        senders |= senders_for_phone(phone)
    keys = {contact_key(secret, ch, s) for s in senders for ch in channels}
    with session_factory.begin() as session:
        conversation_ids = select(Conversation.id).where(Conversation.contact_key.in_(keys))
        answers = session.execute(
            delete(SurveyAnswer).where(SurveyAnswer.conversation_id.in_(conversation_ids)),
            execution_options=_NO_SYNC,
        ).rowcount
        conversations = session.execute(
            delete(Conversation).where(Conversation.contact_key.in_(keys)),
            execution_options=_NO_SYNC,
        ).rowcount
        whose = [Appointment.sender_id.in_(senders)]
        if phones:
            whose.append(Appointment.phone.in_(phones))
        appointment_ids = select(Appointment.id).where(or_(*whose))
        session.execute(
            delete(SlotReservation).where(SlotReservation.appointment_id.in_(appointment_ids)),
            execution_options=_NO_SYNC,
        )
        appointments = session.execute(
            delete(Appointment).where(or_(*whose)), execution_options=_NO_SYNC
        ).rowcount
        # The WhatsApp message ids carry the contact key too (dedup and the 24-hour window).
        session.execute(
            delete(WhatsAppMessage).where(WhatsAppMessage.contact_key.in_(keys)),
            execution_options=_NO_SYNC,
        )
        lead_whose = [Lead.sender_id.in_(senders)] + ([Lead.phone.in_(phones)] if phones else [])
        leads = session.execute(
            delete(Lead).where(or_(*lead_whose)), execution_options=_NO_SYNC
        ).rowcount
        now = utcnow()
        for sender in senders:
            for channel in channels:
                session.add(
                    Erasure(
                        contact_key=contact_key(secret, channel, sender),
                        sender_id_hash=sender_hash(sender),
                        requested_at=now,
                    )
                )
    events = 0
    if tracker_db_url:
        events = delete_tracker_events(tracker_db_url, senders)
        with session_factory.begin() as session:
            session.execute(
                Erasure.__table__.update()
                .where(Erasure.sender_id_hash.in_([sender_hash(s) for s in senders]))
                .values(tracker_purged_at=utcnow())
            )
    return Erased(conversations, answers, appointments, leads, events)


def delete_tracker_events(tracker_db_url: str, senders: Iterable[str]) -> int:
    """Delete Rasa's stored events (SQL tracker store table ``events``) of these senders."""
    engine = make_engine(tracker_db_url)
    try:
        if not inspect(engine).has_table("events"):
            return 0
        with engine.begin() as conn:
            return sum(
                conn.execute(text("delete from events where sender_id = :s"), {"s": s}).rowcount
                for s in senders
            )
    finally:
        engine.dispose()


def purge_pending_erasures(
    session_factory: sessionmaker, tracker_db_url: str, idle_before: dt.datetime
) -> int:
    """Delete tracker events for erasures asked in chat, once those conversations are idle."""
    with session_factory() as session:
        pending = {
            row.sender_id_hash
            for row in session.scalars(
                select(Erasure).where(
                    Erasure.tracker_purged_at.is_(None), Erasure.requested_at < idle_before
                )
            )
        }
    if not pending:
        return 0
    engine = make_engine(tracker_db_url)
    try:
        if not inspect(engine).has_table("events"):
            senders = []
        else:
            with engine.connect() as conn:
                senders = [
                    s for (s,) in conn.execute(text("select distinct sender_id from events"))
                    if sender_hash(s) in pending
                ]  # fmt: skip
    finally:
        engine.dispose()
    deleted = delete_tracker_events(tracker_db_url, senders) if senders else 0
    with session_factory.begin() as session:
        session.execute(
            Erasure.__table__.update()
            .where(Erasure.sender_id_hash.in_(pending), Erasure.tracker_purged_at.is_(None))
            .values(tracker_purged_at=utcnow())
        )
    return deleted


def purge_older_than(session_factory: sessionmaker, days: int, now: dt.datetime) -> dict:
    """Retention: delete personal data older than ``days`` (aggregates are kept elsewhere)."""
    cutoff = now.astimezone(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(days=days)
    with session_factory.begin() as session:
        old = select(Conversation.id).where(Conversation.last_message_at < cutoff)
        answers = session.execute(
            delete(SurveyAnswer).where(SurveyAnswer.conversation_id.in_(old)),
            execution_options=_NO_SYNC,
        ).rowcount
        conversations = session.execute(
            delete(Conversation).where(Conversation.last_message_at < cutoff),
            execution_options=_NO_SYNC,
        ).rowcount
        old_appointments = select(Appointment.id).where(Appointment.ends_at < cutoff)
        session.execute(
            delete(SlotReservation).where(SlotReservation.appointment_id.in_(old_appointments)),
            execution_options=_NO_SYNC,
        )
        appointments = session.execute(
            delete(Appointment).where(Appointment.ends_at < cutoff), execution_options=_NO_SYNC
        ).rowcount
        leads = session.execute(
            delete(Lead).where(Lead.created_at < cutoff), execution_options=_NO_SYNC
        ).rowcount
        whatsapp = session.execute(
            delete(WhatsAppMessage).where(WhatsAppMessage.received_at < cutoff),
            execution_options=_NO_SYNC,
        ).rowcount
        session.execute(
            delete(Erasure).where(Erasure.requested_at < cutoff), execution_options=_NO_SYNC
        )
    return {"conversations": conversations, "survey_answers": answers,
            "appointments": appointments, "leads": leads,
            "whatsapp_messages": whatsapp}  # fmt: skip
