"""What every action needs: the dealer and language of a conversation, and the store."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.forms import FormValidationAction
from sqlalchemy.orm import sessionmaker

from core.engagement import ConversationRecord, channel_name, conversation_id
from core.settings import now
from core.store.recorder import DATABASE_DOWN, Recorder, record_session
from core.store.session import default_session_factory
from core.store.write_behind import WriteBehind, default_write_behind
from dealer.config import Dealer, get_dealer
from dealer.i18n import lang_or_default

log = logging.getLogger(__name__)
MAX_MESSAGE_CHARS = 1000

# Slots that belong to one task; cleared when a new task starts so old answers do not leak in.
TASK_SLOTS = (
    "service_type",
    "plate",
    "mileage",
    "appointment_time",
    "time_window",
    "appointment_id",
    "move_existing",
    "lookup_tries",
    "confirmed",
    "change_field",
    "car",
    "test_drive_time",
    "trade_in_condition",
)  # not callback_topic: the offer sets it, and accepting the call back clears the task slots


class StoreMixin:
    """Gives an action the store and the engagement recorder: injected in tests, else from
    settings. Every action that changes what a conversation achieved records it; by default the
    record is written after the reply (core.store.write_behind).

    When the database is unreachable, the action still answers: it apologises and gives the
    dealer's phone number, and a form asks the same question again.
    """

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        run = cls.run
        if getattr(run, "_store_guarded", False):
            return

        @functools.wraps(run)
        async def guarded(self, dispatcher, tracker, domain):
            try:
                return await run(self, dispatcher, tracker, domain)
            except DATABASE_DOWN as exc:
                log.warning("%s: store unreachable (%s)", self.name(), exc.__class__.__name__)
                dispatcher.utter_message(
                    response="utter_store_unavailable", phone=dealer_of(tracker).phone
                )
                if isinstance(self, FormValidationAction):
                    return [SlotSet(slot, None) for slot in tracker.slots_to_validate()]
                return []

        guarded._store_guarded = True
        cls.run = guarded

    def __init__(
        self,
        session_factory: sessionmaker | None = None,
        recorder: Recorder | WriteBehind | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._recorder = recorder

    @property
    def session_factory(self) -> sessionmaker:
        if self._session_factory is None:
            self._session_factory = default_session_factory()
        return self._session_factory

    @property
    def recorder(self) -> Recorder | WriteBehind:
        """Writes records after the reply (``WriteBehind``) unless a test injects another."""
        if self._recorder is None:
            self._recorder = default_write_behind()
        return self._recorder

    def record(
        self, tracker: Tracker, new_events: list | tuple = (), answers: list | None = None
    ) -> ConversationRecord | None:
        """Update the conversation record from the tracker's events (plus this action's)."""
        return record_conversation(self.recorder, tracker, new_events, answers)


def record_conversation(
    recorder: Recorder | WriteBehind, tracker: Tracker, new_events=(), answers: list | None = None
) -> ConversationRecord | None:
    return record_session(
        recorder,
        tracker.sender_id,
        [*tracker.events, *new_events],
        get_dealer(tracker.get_slot("dealer_id")).id,
        answers,
    )


def current_conversation_id(tracker: Tracker) -> str:
    return conversation_id(tracker.sender_id, tracker.events)


def add_outcome(tracker: Tracker, outcome: str) -> SlotSet:
    """The event that marks what this conversation achieved (read back by summarize())."""
    return SlotSet("outcomes", [*(tracker.get_slot("outcomes") or []), outcome])


def language(tracker: Tracker) -> str:
    return lang_or_default(tracker.get_slot("language"))


def dealer_of(tracker: Tracker) -> Dealer:
    return get_dealer(tracker.get_slot("dealer_id"))


def channel_of(tracker: Tracker) -> str:
    """The input channel of the conversation: web, whatsapp or rest."""
    return channel_name(tracker.get_latest_input_channel())


def now_for(dealer: Dealer) -> dt.datetime:
    return now(dealer.timezone).replace(second=0, microsecond=0)


def latest_entity(tracker: Tracker, entity: str) -> Any:
    return next(tracker.get_latest_entity_values(entity), None)


def latest_text(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("text") or ""


def latest_intent(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def latest_confidence(tracker: Tracker) -> float:
    return float(((tracker.latest_message or {}).get("intent") or {}).get("confidence") or 0.0)


def local_time(dealer: Dealer, iso: str | None) -> dt.datetime | None:
    """A validated ISO slot value back to an aware datetime in the dealer's time zone."""
    if not iso:
        return None
    moment = dt.datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dealer.timezone)
    return moment.astimezone(dealer.timezone)


def contact_fields(contact: str | None) -> dict[str, str | None]:
    """A validated contact slot as the phone / e-mail columns of a row."""
    if contact and "@" in contact:
        return {"phone": None, "email": contact}
    return {"phone": contact, "email": None}


def transcript(tracker: Tracker, last: int = 12) -> str:
    """The last messages of the conversation as plain text lines, for a colleague."""
    lines = []
    for event in tracker.events:
        if event.get("event") == "user" and event.get("text"):
            lines.append(f"customer: {event['text'][:MAX_MESSAGE_CHARS]}")
        elif event.get("event") == "bot" and event.get("text"):
            lines.append(f"bot: {event['text'][:MAX_MESSAGE_CHARS]}")
    return "\n".join(lines[-last:])


def last_response(tracker: Tracker, this_turn: bool = False) -> str | None:
    """The name of the bot's last response (``utter_…``), or None; with ``this_turn``, only a
    response sent since the customer's latest message."""
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            return (event.get("metadata") or {}).get("utter_action")
        if this_turn and event.get("event") == "user":
            return None
    return None
