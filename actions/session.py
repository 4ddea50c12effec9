"""Conversation plumbing: session start, language, task slots, confirmations of offers."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import (
    ActionExecuted,
    ActiveLoop,
    EventType,
    FollowupAction,
    SessionStarted,
    SlotSet,
)
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction

from actions.common import (
    TASK_SLOTS,
    StoreMixin,
    current_conversation_id,
    dealer_of,
    latest_intent,
)
from actions.survey import QUESTIONS
from core.engagement import SURVEY_FORM
from dealer.config import get_dealer
from dealer.i18n import LANGUAGES
from dealer.language import message_language

OFFER_ANSWERS = ("affirm", "deny")
# Answers an elliptical follow-up ("en zondag?", "and hybrids?") can ask again.
FOLLOW_UP_ANSWERS = ("action_opening_hours", "action_car_price", "action_search_stock")


def is_first_message(tracker: Tracker) -> bool:
    """True when the latest message is the customer's first one in this session."""
    users = 0
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            break
        users += event.get("event") == "user"
    return users <= 1


class ActionSessionStart(StoreMixin, Action):
    """Start a conversation: record the one that ended, pick the dealer, keep the language.

    A survey left open by the previous session continues, and its answers still go to the
    conversation it was asked in.
    """

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        self.record(tracker)  # the previous session, now complete
        metadata = tracker.get_slot("session_started_metadata") or {}
        dealer = get_dealer(metadata.get("dealer") or tracker.get_slot("dealer_id"))
        lang = metadata.get("language") or tracker.get_slot("language") or dealer.default_language
        events: list[EventType] = [
            SessionStarted(),
            SlotSet("dealer_id", dealer.id),
            SlotSet("dealer_name", dealer.name),
            SlotSet("language", lang if lang in LANGUAGES else dealer.default_language),
        ]
        pending = tracker.get_slot("requested_slot")
        if (tracker.active_loop or {}).get("name") == SURVEY_FORM and pending in QUESTIONS:
            owner = tracker.get_slot("survey_conversation") or current_conversation_id(tracker)
            events += [SlotSet(q, tracker.get_slot(q)) for q in QUESTIONS if tracker.get_slot(q)]
            events += [
                SlotSet("survey_offered", True),
                SlotSet("survey_conversation", owner),
                ActiveLoop(SURVEY_FORM),
                SlotSet("requested_slot", pending),
            ]
        return [*events, ActionExecuted("action_listen")]


class ActionValidateSlotMappings(StoreMixin, ValidationAction):
    """Runs after every customer message: fills the custom-mapped global slots and records the
    conversation so far, so a customer who stops typing still leaves a complete record."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        events = await super().run(dispatcher, tracker, domain)
        self.record(tracker, events)
        return events

    async def extract_language(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: dict) -> dict[str, Any]:  # fmt: skip
        # The language changes only on clear evidence (bot.nlu.language); the first message of
        # a conversation may set it on one word ("hello").
        detected = message_language(
            (tracker.latest_message or {}).get("language"), first_message=is_first_message(tracker)
        )
        if detected and detected != tracker.get_slot("language"):
            return {"language": detected}
        return {}

    async def extract_dealer_id(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: dict) -> dict[str, Any]:  # fmt: skip
        if tracker.get_slot("dealer_id"):
            return {}
        dealer = get_dealer(((tracker.latest_message or {}).get("metadata") or {}).get("dealer"))
        return {"dealer_id": dealer.id, "dealer_name": dealer.name}

    async def extract_callback_offered(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                       domain: dict) -> dict[str, Any]:  # fmt: skip
        # An offer stands for one answer only.
        if tracker.get_slot("callback_offered") and latest_intent(tracker) not in OFFER_ANSWERS:
            return {"callback_offered": False}
        return {}

    async def extract_handoff_offered(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                      domain: dict) -> dict[str, Any]:  # fmt: skip
        # The same for the offer to pass a question on to a colleague.
        if tracker.get_slot("handoff_offered") and latest_intent(tracker) not in OFFER_ANSWERS:
            return {"handoff_offered": False}
        return {}


def cleared_task_slots(tracker: Tracker) -> list[EventType]:
    """The previous task's answers forgotten; the slots the latest message set are kept."""
    set_this_turn = set()
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            break
        if event.get("event") == "slot":
            set_this_turn.add(event.get("name"))
    return [
        SlotSet(slot, None)
        for slot in TASK_SLOTS
        if slot not in set_this_turn and tracker.get_slot(slot) is not None
    ]


class ActionClearFormSlots(Action):
    """Before a new task: forget the previous task's answers, keep what this message said."""

    def name(self) -> str:
        return "action_clear_form_slots"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        return cleared_task_slots(tracker)


_CONTACT_ONLY = frozenset({"phone", "email", "customer_name"})


class ActionOpeningAnswer(Action):
    """A first message read as a bare answer (``inform``), which no rule covers as no question
    was asked. One that names a service is a one-shot booking ("a full service for PK-174-S
    monday at 8:30, name Sophie", found by the simulator): the booking starts with what it said.
    One that leaves nothing but a phone number or e-mail address, perhaps with a name ("bel me
    op 0612345678"), asks to be contacted: a colleague gets it (the handoff, with the contact).
    Not one that says more (a car, a time, a plate): that is a request the classifier missed,
    and handing it over made a lead nobody asked for (tuning seed 417). Anything else goes to
    Rasa's ``action_default_fallback`` ("did not understand"), as before."""

    def name(self) -> str:
        return "action_opening_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        dealer = dealer_of(tracker)
        entities = [  # "belt" in "als u me even belt" was a service_type: no service of ours
            e for e in tracker.latest_message.get("entities") or []
            if e.get("entity") != "service_type" or dealer.match_service(str(e.get("value")))
        ]  # fmt: skip
        if any(entity.get("entity") == "service_type" for entity in entities):
            return [*cleared_task_slots(tracker), FollowupAction("appointment_form")]
        contacts = [e["value"] for e in entities if e.get("entity") in ("phone", "email")]
        if contacts and all(e.get("entity") in _CONTACT_ONLY for e in entities):
            return [SlotSet("contact", contacts[0]), FollowupAction("action_handoff")]
        return [FollowupAction("action_default_fallback")]


class ActionDeclineOffer(Action):
    def name(self) -> str:
        return "action_decline_offer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        dispatcher.utter_message(response="utter_offer_declined")
        offers = ("callback_offered", "handoff_offered")
        return [SlotSet(offer, False) for offer in offers if tracker.get_slot(offer)]


class ActionFollowUp(Action):
    """An elliptical follow-up after an offer was declined ("no thanks" to a call-back, then
    "and hybrids?"): the latest answer of this session is given again for the new words."""

    def name(self) -> str:
        return "action_follow_up"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        for event in reversed(tracker.events):
            if event.get("event") == "session_started":
                break
            if event.get("event") == "action" and event.get("name") in FOLLOW_UP_ANSWERS:
                return [FollowupAction(event["name"])]
        dispatcher.utter_message(response="utter_default")
        return []
