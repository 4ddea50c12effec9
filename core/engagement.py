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
from typing import Any, overload

from core.whatsapp import WHATSAPP_SENDER_PREFIX
from dealer.i18n import DEFAULT_LANGUAGE

BUSINESS_INTENTS = frozenset(
    {
        "book_service", "reschedule_appointment", "cancel_appointment",
        "ask_opening_hours", "ask_location",
        "ask_car_availability", "ask_price", "book_test_drive", "trade_in", "ask_financing",
        "request_human", "ask_unanswerable",
    }
)  # fmt: skip
# Questions the bot answers in its reply (dealer info, stock, price, financing): a conversation
# that got one of these answered was served, even when a task started later was left unfinished.
ANSWERED_INTENTS = frozenset(
    {"ask_opening_hours", "ask_location", "ask_car_availability", "ask_price", "ask_financing"}
)
# Customer messages NLU could not place (the FallbackClassifier's intent): "not understood".
FALLBACK_INTENT = "nlu_fallback"
# Most valuable first: a conversation's outcome is the best one it reached.
TASK_OUTCOMES = (
    "appointment_booked",
    "appointment_changed",
    "appointment_cancelled",
    "test_drive_booked",
    "lead_created",
    "handed_off",
)
# Off-topic messages, spam, suppliers, sales pitches and job applicants (data/out_of_scope).
OUT_OF_SCOPE_INTENTS = frozenset({"out_of_scope", "not_a_customer"})
OUT_OF_SCOPE = "out_of_scope"  # the outcome of a conversation that was not a customer's
OUTCOMES = (*TASK_OUTCOMES, "self_served", "abandoned", OUT_OF_SCOPE)
TASK_FORMS = frozenset(
    {"appointment_form", "reschedule_form", "cancel_form", "test_drive_form", "trade_in_form",
     "callback_form"}
)  # fmt: skip
# The store keeps each conversation's bucket (a rollup then needs no CASE chain).
# Upper bounds (ms) of the first-response histogram buckets; the last bucket is open-ended.
FIRST_RESPONSE_BUCKETS_MS: tuple[int, ...] = (
    250, 500, 1_000, 2_000, 3_000, 5_000, 10_000, 20_000, 30_000, 60_000,
)  # fmt: skip
SURVEY_FORM = "survey_form"
CUSTOMER_CHANNELS = ("web", "whatsapp")


def bucket_index(value_ms: int) -> int:
    """The first-response bucket of ``value_ms``: the first with an upper bound >= it."""
    for i, bound in enumerate(FIRST_RESPONSE_BUCKETS_MS):
        if value_ms <= bound:
            return i
    return len(FIRST_RESPONSE_BUCKETS_MS)


def contact_key(secret: str, channel: str, sender_id: str) -> str:
    """Pseudonymous contact: HMAC-SHA256 of channel + sender id (hex, 64 chars)."""
    return hmac.new(secret.encode(), f"{channel}:{sender_id}".encode(), hashlib.sha256).hexdigest()


def person_key(secret: str, identifier: str | None) -> str | None:
    """One person across channels: HMAC-SHA256 (with the contact-key secret) of a normalised
    phone number (E.164, ``+31612345678``) or e-mail address (case-folded); never the raw value.

    None when ``identifier`` is neither. The same number given on the web and used on WhatsApp
    gives the same key; a phone number and an e-mail address of one person give two keys.
    """
    text = (identifier or "").strip()
    if text.startswith("+") and text[1:].isdigit() and len(text) > 6:
        value = f"phone:{text}"
    elif "@" in text and " " not in text:
        value = f"email:{text.casefold()}"
    else:
        return None
    return hmac.new(secret.encode(), f"person|{value}".encode(), hashlib.sha256).hexdigest()


def customer_identifier(channel: str, sender_id: str, slots: dict[str, Any]) -> str | None:
    """The phone number or e-mail address that identifies the customer of a session: on
    WhatsApp the number the sender id holds; elsewhere the ``contact`` slot (the E.164 phone or
    e-mail address the customer gave for a booking or lead), if any."""
    if channel == "whatsapp" and sender_id.casefold().startswith(WHATSAPP_SENDER_PREFIX):
        number = sender_id[len(WHATSAPP_SENDER_PREFIX) :].split("/", 1)[0]
        return number if number.startswith("+") else f"+{number}"
    contact = slots.get("contact")
    return contact if isinstance(contact, str) else None


def channel_name(input_channel: str | None) -> str:
    """Our channel names: web (socketio), whatsapp (Twilio or Cloud API), or the raw name."""
    name = (input_channel or "rest").lower()
    if name in ("socketio", "web"):
        return "web"
    if "whatsapp" in name or name == "twilio":
        return "whatsapp"
    return name


_SESSION_STARTS = ("session_started", "restart")


def sessions(events: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """A sender's events cut into sessions: each from a session start or restart up to the next
    (the events before the first start, if any, are a session of their own)."""
    starts = [i for i, event in enumerate(events) if event.get("event") in _SESSION_STARTS]
    bounds = ([0] if not starts or starts[0] != 0 else []) + starts + [len(events)]
    return [list(events[a:b]) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def from_staff(event: dict[str, Any]) -> bool:
    """A ``bot`` event a person sent from the staff inbox (``metadata.staff``), or the inbox's
    own message on a hand-back (``metadata.system``): not the bot's (``metrics.web.rasa_api``)."""
    metadata = event.get("metadata") or {}
    return bool(metadata.get("staff") or metadata.get("system"))


def session_events(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events of the current session (after the last session start or restart)."""
    start = 0
    for i, event in enumerate(events):
        if event.get("event") in _SESSION_STARTS:
            start = i
    return list(events[start:])


def conversation_id(sender_id: str, events: Sequence[dict[str, Any]]) -> str:
    """Stable id of the current (last) session of ``events``: same sender + same session start
    = same id. The one definition: the actions, the engagement log and the dashboard (which
    finds a stored conversation among a sender's ``sessions``) all compute it here."""
    session = session_events(events)
    first = session[0].get("timestamp") if session else None
    return hashlib.sha256(f"{sender_id}|{first}".encode()).hexdigest()[:32]


# The qualifying rule's reason for a conversation on another channel (it checks that first).
NOT_A_CUSTOMER_CHANNEL = "channel '{}' is not a one-to-one customer channel"


def is_customer_channel(channel: str, customer_channels: Iterable[str] = CUSTOMER_CHANNELS) -> bool:
    """Whether ``channel`` is a one-to-one customer channel (``DEALERBOT_CUSTOMER_CHANNELS``).

    Decided once, when a conversation is recorded, and stored with it (``customer_channel``):
    the rollup counts its appointments and leads by that, so a rebuild of an old period, or a
    rollup in a process with other settings, counts what the servers decided then.
    """
    return channel in set(customer_channels)


def recorded_on_customer_channel(qualify_reason: str) -> bool:
    """``customer_channel`` of a record written before it was stored (an op spooled before
    migration 0015): the qualifying rule checks the channel first, so its reason tells."""
    prefix = NOT_A_CUSTOMER_CHANNEL.split("{}", 1)[0]
    return not qualify_reason.startswith(prefix)


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
    2. its outcome is not ``out_of_scope`` (see :func:`outcome_of`): off-topic chat, spam, a
       supplier, a sales pitch or a job applicant, even when one of their messages was read as a
       business intent or they were handed off;
    3. it reached a task outcome (booked, changed, cancelled, test drive, lead, handoff), with
       any number of customer messages: a one-shot booking request the bot completes in the next
       turns, or one message that gets the customer to a person, is a meaningful conversation;
    4. or, without a task outcome, the customer sent at least two messages and at least one
       business intent was recognised (appointments, sales, dealer info, handoff).
    Greeting-only, spam, fallback-only and one-message questions without an outcome therefore do
    not qualify.
    """
    if not is_customer_channel(channel, customer_channels):
        return False, NOT_A_CUSTOMER_CHANNEL.format(channel)
    if is_test:
        return False, "test or demo sender"
    if outcome == OUT_OF_SCOPE:
        return False, "out of scope: not a customer's conversation"
    if outcome in TASK_OUTCOMES:
        return True, f"outcome {outcome}"
    if customer_messages < 2:
        return False, "fewer than two customer messages and no task outcome"
    intents = sorted(set(business_intents) & BUSINESS_INTENTS)
    if intents:
        return True, "business intent " + ", ".join(intents)
    return False, "no business intent and no outcome"


def outcome_of(
    outcomes: Sequence[str], intents: Sequence[str], off_topic: Iterable[str], task_started: bool
) -> str:
    """What a conversation achieved, the one definition of its outcome:

    - its best task outcome (``TASK_OUTCOMES``, most valuable first);
    - else ``out_of_scope`` when only off-topic messages were recognised;
    - else ``self_served`` when the bot answered a question (``ANSWERED_INTENTS``: opening hours,
      address, stock, price, financing), even when a task started afterwards was left
      unfinished: an answered question counts as served;
    - else ``abandoned`` when a task was started and not finished, or nothing was asked;
    - else (a business intent handled without starting a task) ``self_served``.

    A supplier, sales pitch or job applicant (``not_a_customer``) makes it ``out_of_scope``
    unless a customer task was completed: a pitch misread as a financing question, or a pitch
    passed on to staff, is still a pitch.
    """
    off_topic = set(off_topic)
    best = min(outcomes, key=TASK_OUTCOMES.index) if outcomes else None
    if "not_a_customer" in off_topic and best in (None, "handed_off"):
        return OUT_OF_SCOPE
    if best:
        return best
    if off_topic and not intents:
        return OUT_OF_SCOPE
    if ANSWERED_INTENTS.intersection(intents):
        return "self_served"
    return "abandoned" if task_started or not intents else "self_served"


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
    customer_channel: bool  # on a customer channel when recorded (:func:`is_customer_channel`)
    survey_offered_at: dt.datetime | None
    outcomes: tuple[str, ...] = field(default=())
    fallback_messages: int = 0  # customer messages NLU did not understand (FALLBACK_INTENT)
    # The person behind the contact, when this session shows it (``person_key``): WhatsApp's
    # number, or the phone or e-mail address given on the web. None: not known from this session.
    person_key: str | None = None


@overload
def _utc(timestamp: float) -> dt.datetime: ...
@overload
def _utc(timestamp: None) -> None: ...
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
            if event.get("name") is not None:  # a slot event without a name sets nothing read
                slots[event["name"]] = event.get("value")
        elif event.get("event") == "active_loop" and event.get("name"):
            forms_started.add(event["name"])
            if event["name"] == SURVEY_FORM and survey_offered is None:
                survey_offered = event.get("timestamp")
    intents = []
    off_topic = set()
    fallbacks = 0
    for user in users:
        name = ((user.get("parse_data") or {}).get("intent") or {}).get("name")
        fallbacks += name == FALLBACK_INTENT
        if name in BUSINESS_INTENTS and name not in intents:
            intents.append(name)
        elif name in OUT_OF_SCOPE_INTENTS:
            off_topic.add(name)
    outcomes = tuple(o for o in slots.get("outcomes") or () if o in TASK_OUTCOMES)
    outcome = outcome_of(outcomes, intents, off_topic, bool(forms_started & TASK_FORMS))
    channel = channel_name(users[0].get("input_channel"))
    is_test = any(sender_id.startswith(prefix) for prefix in test_senders)
    contact = slots.get("contact") or _last_slot(events, "contact")
    identifier = customer_identifier(channel, sender_id, {"contact": contact})
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
        language=slots.get("language") or _last_slot(events, "language") or DEFAULT_LANGUAGE,
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
        customer_channel=is_customer_channel(channel, customer_channels),
        survey_offered_at=_utc(survey_offered),
        outcomes=outcomes,
        fallback_messages=fallbacks,
        person_key=person_key(secret, identifier),
    )


def _last_slot(events: Sequence[dict[str, Any]], name: str) -> Any:
    for event in reversed(events):
        if event.get("event") == "slot" and event.get("name") == name:
            return event.get("value")
    return None
