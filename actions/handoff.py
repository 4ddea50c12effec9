"""Handing the conversation over to a person."""

from __future__ import annotations

import datetime as dt

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import sessionmaker

from actions.common import (
    StoreMixin,
    add_outcome,
    channel_of,
    current_conversation_id,
    dealer_of,
    language,
    now_for,
    transcript,
)
from core.store.repositories import create_lead
from dealer.hours import is_open_at, next_opening
from dealer.i18n import format_when

FALLBACK_INTENTS = ("nlu_fallback",)


def hand_off(
    dispatcher: CollectingDispatcher, tracker: Tracker, session_factory: sessionmaker, reason: str
) -> list[EventType]:
    """Create a handoff lead with a short transcript and tell the customer when a person replies."""
    dealer, lang = dealer_of(tracker), language(tracker)
    lead = create_lead(
        session_factory,
        key_parts=(tracker.sender_id, "handoff", len(tracker.events)),
        dealer_id=dealer.id,
        kind="handoff",
        note=reason,
        transcript=transcript(tracker),
        language=lang,
        channel=channel_of(tracker),
        sender_id=tracker.sender_id,
        conversation_id=current_conversation_id(tracker),
    )
    department = dealer.handoff_department
    now = now_for(dealer)
    reply_by = now + dt.timedelta(minutes=dealer.handoff_reply_within_min)
    if is_open_at(dealer, department, now) and is_open_at(dealer, department, reply_by):
        dispatcher.utter_message(
            response="utter_handoff_open",
            minutes=dealer.handoff_reply_within_min,
            reference=lead.reference,
        )
    else:
        opening = next_opening(dealer, department, now)
        dispatcher.utter_message(
            response="utter_handoff_closed",
            next_open=format_when(opening, lang) if opening else "",
            reference=lead.reference,
        )
    return [add_outcome(tracker, "handed_off")]


class ActionHandoff(StoreMixin, Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        reason = "offered" if tracker.get_slot("handoff_offered") else "requested"
        events = hand_off(dispatcher, tracker, self.session_factory, reason=reason)
        if tracker.get_slot("handoff_offered"):
            events.append(SlotSet("handoff_offered", False))
        self.record(tracker, events)
        return events


class ActionOfferHandoff(Action):
    """A fair question without an answer in the dealer file (warranty, an APK's price, delivery
    times, the parts desk): say so honestly and offer a colleague; "yes" hands off (rules)."""

    def name(self) -> str:
        return "action_offer_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        dispatcher.utter_message(response="utter_offer_handoff")
        return [SlotSet("handoff_offered", True)]


class ActionHandleFallback(StoreMixin, Action):
    """Ask again after a message the bot did not understand; hand off after two in a row."""

    def name(self) -> str:
        return "action_handle_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        intents = [
            (e.get("parse_data") or {}).get("intent", {}).get("name")
            for e in tracker.events
            if e.get("event") == "user"
        ]
        if (
            len(intents) >= 2
            and intents[-1] in FALLBACK_INTENTS
            and intents[-2] in FALLBACK_INTENTS
        ):
            events = hand_off(dispatcher, tracker, self.session_factory, reason="two_fallbacks")
            self.record(tracker, events)
            return events
        dispatcher.utter_message(response="utter_default")
        return []
