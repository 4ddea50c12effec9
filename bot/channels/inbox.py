"""Incoming WhatsApp message ids in the store: deduplication that survives a restart and holds
across Rasa replicas (a unique key decides who handles a message), and the time of the
customer's last message, for the 24-hour window."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from core.store.models import WhatsAppMessage, from_utc_naive, utc_naive

log = logging.getLogger(__name__)
# A claim older than this is taken as abandoned (a replica died mid-message): a retry may take it.
STALE_CLAIM = dt.timedelta(minutes=5)
PROCESSING, DONE = "processing", "done"


def claim(
    session_factory: sessionmaker,
    *,
    provider: str,
    message_id: str,
    contact_key: str,
    business_number: str,
    sent_at: dt.datetime,
    now: dt.datetime,
) -> bool:
    """True when this process should handle the message; False for a duplicate delivery (done,
    or being handled elsewhere right now)."""
    row = WhatsAppMessage(
        provider=provider,
        message_id=message_id,
        contact_key=contact_key,
        business_number=business_number,
        sent_at=utc_naive(sent_at),
        received_at=utc_naive(now),
        status=PROCESSING,
    )
    try:
        with session_factory.begin() as session:
            session.add(row)
        return True
    except IntegrityError:
        pass
    # Already known. Take it over only if its handler gave up long ago; the conditional update
    # lets exactly one of several replicas win.
    with session_factory.begin() as session:
        taken = session.execute(
            update(WhatsAppMessage)
            .where(
                WhatsAppMessage.provider == provider,
                WhatsAppMessage.message_id == message_id,
                WhatsAppMessage.status == PROCESSING,
                WhatsAppMessage.received_at < utc_naive(now - STALE_CLAIM),
            )
            .values(received_at=utc_naive(now))
            .execution_options(synchronize_session=False)
        ).rowcount
    return taken == 1


def finish(session_factory: sessionmaker, *, provider: str, message_id: str) -> None:
    """The message was handled: later deliveries of it are duplicates."""
    with session_factory.begin() as session:
        session.execute(
            update(WhatsAppMessage)
            .where(WhatsAppMessage.provider == provider, WhatsAppMessage.message_id == message_id)
            .values(status=DONE)
            .execution_options(synchronize_session=False)
        )


def release(session_factory: sessionmaker, *, provider: str, message_id: str) -> None:
    """Handling failed: forget the claim so the provider's retry is handled (nothing is lost)."""
    with session_factory.begin() as session:
        session.execute(
            delete(WhatsAppMessage)
            .where(
                WhatsAppMessage.provider == provider,
                WhatsAppMessage.message_id == message_id,
                WhatsAppMessage.status == PROCESSING,
            )
            .execution_options(synchronize_session=False)
        )


def last_customer_message(
    session_factory: sessionmaker, *, contact_key: str, business_number: str
) -> dt.datetime | None:
    """When the customer last wrote to this business number (aware UTC), if ever."""
    with session_factory() as session:
        latest = session.scalar(
            select(func.max(WhatsAppMessage.sent_at)).where(
                WhatsAppMessage.contact_key == contact_key,
                WhatsAppMessage.business_number == business_number,
            )
        )
    return from_utc_naive(latest) if latest else None
