"""From a conversation's events to its engagement record, and the qualifying rule (pure).

A conversation is one Rasa session: the events after the last ``session_started`` or
``restart``. Everything here is derived from those events alone, so recording the same session
again gives the same record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

BUSINESS_INTENTS = frozenset(
    {
        "book_service", "reschedule_appointment", "cancel_appointment",
        "ask_opening_hours", "ask_location",
        "ask_car_availability", "ask_price", "book_test_drive", "trade_in", "ask_financing",
        "request_human",
    }
)  # fmt: skip
# Most valuable first: a conversation's outcome is the best one it reached.
TASK_OUTCOMES = (
    "appointment_booked",
    "appointment_changed",
    "appointment_cancelled",
    "test_drive_booked",
    "lead_created",
    "handed_off",
)
OUTCOMES = (*TASK_OUTCOMES, "self_served", "abandoned")
TASK_FORMS = frozenset(
    {"appointment_form", "reschedule_form", "cancel_form", "test_drive_form", "trade_in_form",
     "callback_form"}
)  # fmt: skip
SURVEY_FORM = "survey_form"
CUSTOMER_CHANNELS = ("web", "whatsapp")


def contact_key(secret: str, channel: str, sender_id: str) -> str:
    """Pseudonymous contact: HMAC-SHA256 of channel + sender id (hex, 64 chars)."""
    return hmac.new(secret.encode(), f"{channel}:{sender_id}".encode(), hashlib.sha256).hexdigest()


def channel_name(input_channel: str | None) -> str:
    """Our channel names: web (socketio), whatsapp (Twilio or Cloud API), or the raw name."""
    name = (input_channel or "rest").lower()
    if name in ("socketio", "web"):
        return "web"
    if "whatsapp" in name or name == "twilio":
        return "whatsapp"
    return name


def from_staff(event: dict[str, Any]) -> bool:
    """A ``bot`` event a person sent from the staff inbox (``metadata.staff``), or the inbox's
    own message on a hand-back (``metadata.system``): not the bot's (``metrics.web.rasa_api``)."""
    metadata = event.get("metadata") or {}
    return bool(metadata.get("staff") or metadata.get("system"))


def session_events(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events of the current session (after the last session start or restart)."""
    start = 0
    for i, event in enumerate(events):
        if event.get("event") in ("session_started", "restart"):
            start = i
    return list(events[start:])


def conversation_id(sender_id: str, events: Sequence[dict[str, Any]]) -> str:
    """Stable id of the current session: same sender + same session start = same id."""
    session = session_events(events)
    first = session[0].get("timestamp") if session else None
    return hashlib.sha256(f"{sender_id}|{first}".encode()).hexdigest()[:32]


def qualifies(
    *,
    channel: str,
    is_test: bool,
    customer_messages: int,
    business_intents: Iterable[str],
    outcome: str,
    customer_channels: Iterable[str] = CUSTOMER_CHANNELS,
) -> tuple[bool, str]:
    """Whether a conversation counts for the MEC index, and why.

    A conversation qualifies when all of these hold:
    1. it is on a one-to-one customer channel (web or WhatsApp by default) and not from a test or
       demo sender;
    2. the customer sent at least two messages;
    3. at least one business intent was recognised (appointments, sales, dealer info, handoff)
       or a task outcome was reached (booked, changed, cancelled, test drive, lead, handoff).
    Greeting-only, spam and fallback-only conversations therefore do not qualify.
    """
    if channel not in set(customer_channels):
        return False, f"channel '{channel}' is not a one-to-one customer channel"
    if is_test:
        return False, "test or demo sender"
    if customer_messages < 2:
        return False, "fewer than two customer messages"
    intents = sorted(set(business_intents) & BUSINESS_INTENTS)
    if outcome in TASK_OUTCOMES:
        return True, f"outcome {outcome}"
    if intents:
        return True, "business intent " + ", ".join(intents)
    return False, "no business intent and no outcome"


@dataclass(frozen=True)
class ConversationRecord:
    id: str
    dealer_id: str
    channel: str
    contact_key: str
    language: str
    started_at: dt.datetime  # naive UTC
    last_message_at: dt.datetime
    customer_messages: int
    bot_messages: int
    first_response_ms: int | None
    intents: tuple[str, ...]
    outcome: str
    qualifies: bool
    qualify_reason: str
    is_test: bool
    survey_offered_at: dt.datetime | None
    outcomes: tuple[str, ...] = field(default=())


def _utc(timestamp: float | None) -> dt.datetime | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).replace(tzinfo=None)


def summarize(
    events: Sequence[dict[str, Any]],
    *,
    sender_id: str,
    secret: str,
    default_dealer: str,
    test_senders: Iterable[str] = (),
    customer_channels: Iterable[str] = CUSTOMER_CHANNELS,
) -> ConversationRecord | None:
    """The engagement record of the current session, or None before the customer wrote."""
    session = session_events(events)
    users = [e for e in session if e.get("event") == "user"]
    if not users:
        return None
    bots = [e for e in session if e.get("event") == "bot" and not from_staff(e)]
    staff = [e for e in session if e.get("event") == "bot" and from_staff(e)]
    slots: dict[str, Any] = {}
    forms_started: set[str] = set()
    survey_offered = None
    for event in session:
        if event.get("event") == "slot":
            slots[event.get("name")] = event.get("value")
        elif event.get("event") == "active_loop" and event.get("name"):
            forms_started.add(event["name"])
            if event["name"] == SURVEY_FORM and survey_offered is None:
                survey_offered = event.get("timestamp")
    intents = []
    for user in users:
        name = ((user.get("parse_data") or {}).get("intent") or {}).get("name")
        if name in BUSINESS_INTENTS and name not in intents:
            intents.append(name)
    outcomes = tuple(o for o in slots.get("outcomes") or () if o in TASK_OUTCOMES)
    if outcomes:
        outcome = min(outcomes, key=TASK_OUTCOMES.index)
    elif forms_started & TASK_FORMS or not intents:
        outcome = "abandoned"
    else:
        outcome = "self_served"
    channel = channel_name(users[0].get("input_channel"))
    is_test = any(sender_id.startswith(prefix) for prefix in test_senders)
    ok, reason = qualifies(
        channel=channel,
        is_test=is_test,
        customer_messages=len(users),
        business_intents=intents,
        outcome=outcome,
        customer_channels=customer_channels,
    )
    stamps = [e["timestamp"] for e in users + bots + staff if e.get("timestamp") is not None]
    if not stamps:  # events without times (hand-built trackers): use the time of recording
        stamps = [dt.datetime.now(dt.timezone.utc).timestamp()]
    first_user = users[0].get("timestamp") or min(stamps)
    replies = [b["timestamp"] for b in bots if (b.get("timestamp") or 0) >= first_user]
    first_bot = replies[0] if replies else None
    return ConversationRecord(
        id=conversation_id(sender_id, events),
        dealer_id=slots.get("dealer_id") or _last_slot(events, "dealer_id") or default_dealer,
        channel=channel,
        contact_key=contact_key(secret, channel, sender_id),
        language=slots.get("language") or _last_slot(events, "language") or "nl",
        started_at=_utc(first_user),
        last_message_at=_utc(max(stamps)),
        customer_messages=len(users),
        bot_messages=len(bots),
        first_response_ms=round((first_bot - first_user) * 1000) if first_bot else None,
        intents=tuple(intents),
        outcome=outcome,
        qualifies=ok,
        qualify_reason=reason,
        is_test=is_test,
        survey_offered_at=_utc(survey_offered),
        outcomes=outcomes,
    )


def _last_slot(events: Sequence[dict[str, Any]], name: str) -> Any:
    for event in reversed(events):
        if event.get("event") == "slot" and event.get("name") == name:
            return event.get("value")
    return None
