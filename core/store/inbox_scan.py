"""Inbox items of ended conversations, found again from Rasa's stored events.

The recorder stores a conversation's items after every turn (``core.store.recorder``), but it
runs before the bot's reply: the replies to the last message, and whether a conversation ended
without a task, are only known afterwards. ``scan_ended`` reads the sessions of the senders who
wrote in a time window from Rasa's tracker store (``core.store.tracker_events``), derives the
items of each with ``core.store.inbox.inbox_items`` (``ended`` for a session that is over) and
stores them like the recorder does. `dealerbot trainer inbox` runs it before listing.

Only conversations the store holds get items: an erased or purged conversation stays gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from core.engagement import sessions, summarize
from core.settings import get_settings
from core.store.inbox import InboxItem, inbox_items, item_dicts, upsert_items
from core.store.models import Conversation
from core.store.tracker_events import events_of, senders_writing_between, tracker_connection

# A session is over when a later one started, or after Rasa's session expiry without a message
# (bot/domain/core.yml: session_expiration_time 60 minutes).
SESSION_EXPIRY_S = 60 * 60


def session_items(
    sender_id: str,
    events: Sequence[dict[str, Any]],
    *,
    ended: bool,
    threshold: float | None = None,
) -> list[tuple[str, list[InboxItem]]]:
    """The inbox items of the current session of ``events`` as (conversation id, items), with
    the conversation's outcome from its engagement record (``core.engagement.summarize``);
    empty before the customer wrote."""
    settings = get_settings()
    record = summarize(
        events,
        sender_id=sender_id,
        secret=settings.contact_key_secret,
        default_dealer=settings.default_dealer or "",
        test_senders=settings.test_senders,
        customer_channels=settings.customer_channels,
    )
    if record is None:
        return []
    items = inbox_items(
        events,
        conversation_id=record.id,
        dealer_id=record.dealer_id,
        threshold=threshold,
        outcome=record.outcome,
        ended=ended,
    )
    return [(record.id, items)]


@dataclass(frozen=True)
class ScanResult:
    conversations: int  # stored conversations looked at
    added: int  # items stored now


def scan_ended(
    session_factory: sessionmaker,
    tracker_db_url: str,
    *,
    since: float,
    now: float,
    expiry_s: float = SESSION_EXPIRY_S,
    threshold: float | None = None,
) -> ScanResult:
    """Store the inbox items of every session of the senders who wrote between ``since`` and
    ``now`` (Unix times); a session counts as ended when a later one started or its last event
    is ``expiry_s`` or more before ``now``. Returns what it looked at and added."""
    looked = added = 0
    with tracker_connection(tracker_db_url) as conn:
        if conn is None:
            return ScanResult(0, 0)
        for sender in senders_writing_between(conn, since, now):
            events = events_of(conn, sender)
            parts = sessions(events)
            end = 0
            found = []
            for n, part in enumerate(parts):
                end += len(part)
                last = max((e.get("timestamp") or 0.0) for e in part)
                ended = n + 1 < len(parts) or last <= now - expiry_s
                found += session_items(sender, events[:end], ended=ended, threshold=threshold)
            if not found:
                continue
            with session_factory.begin() as session:
                stored = set(
                    session.scalars(
                        select(Conversation.id).where(Conversation.id.in_([c for c, _ in found]))
                    )
                )
                for cid, items in found:
                    if cid in stored:
                        looked += 1
                        added += upsert_items(session, cid, item_dicts(items))
    return ScanResult(looked, added)
