"""Handing the conversation over to a person, and the contact details for a call back."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import sessionmaker

from actions.common import (
    StoreMixin,
    add_outcome,
    channel_of,
    contact_fields,
    current_conversation_id,
    dealer_of,
    language,
    latest_text,
    now_for,
    transcript,
)
from actions.validation import MAX_TRIES, BaseFormValidation, tries
from core.store.repositories import add_lead_contact, create_lead
from dealer.config import Dealer
from dealer.hours import is_open_at, next_opening
from dealer.i18n import format_when

FALLBACK_INTENTS = ("nlu_fallback",)
# Channels whose chat stays open for a reply hours later: WhatsApp (the customer's own app). A
# web widget or a REST client may be gone by the time a person replies.
LASTING_CHANNELS = ("whatsapp",)
# An answer to the contact question that declines it ("nee", "stop" are rules, not slots).
_REFUSAL = re.compile(
    r"\b(liever niet|wil ik niet|geef ik niet|hoeft niet|niet nodig|geen (nummer|telefoon|mail|"
    r"e-?mail)|zeg ik niet|rather not|no thanks|not needed|don'?t want|won'?t give|no number)\b",
    re.I,
)


def reply_window(dealer: Dealer, now: dt.datetime) -> tuple[bool, dt.datetime | None]:
    """Whether a person replies live (the handoff department is open now and still open when
    the promised minutes are up), and else the next opening time (None without opening hours)."""
    department = dealer.handoff_department
    reply_by = now + dt.timedelta(minutes=dealer.handoff_reply_within_min)
    if is_open_at(dealer, department, now) and is_open_at(dealer, department, reply_by):
        return True, None
    return False, next_opening(dealer, department, now)


def needs_contact_details(channel: str, has_contact: bool, has_name: bool) -> bool:
    """Ask for a phone number or e-mail and a name after a handoff: when the chat may be gone by
    the time a person replies (every channel but WhatsApp) and the customer did not give them."""
    return channel not in LASTING_CHANNELS and not (has_contact and has_name)


def hand_off(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    session_factory: sessionmaker,
    reason: str,
    ask_contact: bool = True,
) -> list[EventType]:
    """Create a handoff lead with a short transcript and the name and contact the customer gave
    before, and tell the customer when and how a person replies. With ``ask_contact`` the
    ``handoff_pending`` slot tells the contact form (rules) whether to ask for details."""
    dealer, lang = dealer_of(tracker), language(tracker)
    channel = channel_of(tracker)
    name, contact = tracker.get_slot("customer_name"), tracker.get_slot("contact")
    lead = create_lead(
        session_factory,
        key_parts=(tracker.sender_id, "handoff", len(tracker.events)),
        dealer_id=dealer.id,
        kind="handoff",
        note=reason,
        transcript=transcript(tracker),
        language=lang,
        channel=channel,
        sender_id=tracker.sender_id,
        conversation_id=current_conversation_id(tracker),
        customer_name=name,
        **contact_fields(contact),
    )
    live, opening = reply_window(dealer, now_for(dealer))
    if live:
        dispatcher.utter_message(
            response="utter_handoff_open",
            minutes=dealer.handoff_reply_within_min,
            reference=lead.reference,
        )
    else:  # honest: when a person replies, and how (in the chat, or by phone or e-mail)
        dispatcher.utter_message(
            response="utter_handoff_closed"
            if channel in LASTING_CHANNELS
            else "utter_handoff_closed_callback",
            next_open=format_when(opening, lang) if opening else "",
            reference=lead.reference,
        )
    pending = {
        "lead_id": lead.id,
        "reference": lead.reference,
        "needed": ask_contact and needs_contact_details(channel, bool(contact), bool(name)),
    }
    return [add_outcome(tracker, "handed_off"), SlotSet("handoff_pending", pending)]


def form_given_its_contact(tracker: Tracker) -> str | None:
    """The form whose contact question the latest message answered with a phone number or an
    e-mail address, or None. Such an answer can read as ``request_human`` ("bellen kan op
    0612856978", "call me on ..."), and the rules hand over during a form on that intent; rules
    cannot see the question asked (``requested_slot`` does not influence the policies)."""
    entities = {e.get("entity") for e in tracker.latest_message.get("entities") or []}
    if not entities & {"phone", "email"}:
        return None
    before = itertools.dropwhile(lambda e: e.get("event") != "user", reversed(tracker.events))
    next(before, None)  # the latest message itself
    requested = None
    for event in before:
        if event.get("event") == "slot" and event.get("name") == "requested_slot":
            requested = event.get("value") if requested is None else requested
        elif event.get("event") == "active_loop":
            return event.get("name") if requested == "contact" else None
    return None


class ActionHandoff(StoreMixin, Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        stuck = tracker.get_slot("stuck_question")  # set when a form question ended in a handoff
        if not stuck and (form := form_given_its_contact(tracker)):
            return [FollowupAction(form)]  # the form goes on with the contact (its mapping)
        offered = tracker.get_slot("handoff_offered")
        reason = "stuck" if stuck else "offered" if offered else "requested"
        # Stuck on the phone or e-mail: not asked for it once more in the handoff.
        events = hand_off(dispatcher, tracker, self.session_factory, reason=reason,
                          ask_contact=stuck != "contact")  # fmt: skip
        if offered:
            events.append(SlotSet("handoff_offered", False))
        if stuck:
            events.append(SlotSet("stuck_question", None))
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
            events = hand_off(dispatcher, tracker, self.session_factory, reason="two_fallbacks",
                              ask_contact=False)  # no contact form follows (rules)  # fmt: skip
            self.record(tracker, events)
            return events
        dispatcher.utter_message(response="utter_default")
        return []


class ValidateHandoffContactForm(BaseFormValidation):
    """After a handoff whose chat may be gone by the reply: a phone number or e-mail, then a
    name. Asks nothing when they are not needed (:func:`needs_contact_details`). A customer who
    declines ("liever niet"; "nee" and "stop" are rules) or cannot give a number in two tries
    ends the questions; the handoff stands either way."""

    hands_over_when_stuck = False  # the handoff is made already

    def name(self) -> str:
        return "validate_handoff_contact_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        pending = tracker.get_slot("handoff_pending") or {}
        if not pending.get("needed") or pending.get("stopped"):
            return []
        return await super().required_slots(domain_slots, dispatcher, tracker, domain)

    def _stop(self, tracker: Tracker, slot: str) -> dict[str, Any]:
        pending = tracker.get_slot("handoff_pending") or {}
        return {slot: None, "handoff_pending": {**pending, "stopped": True}}

    def validate_contact(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: dict) -> dict[str, Any]:  # fmt: skip
        if tries(tracker, "contact") and _REFUSAL.search(latest_text(tracker)[:300]):
            return self._stop(tracker, "contact")
        if tries(tracker, "contact") >= MAX_TRIES:  # no way-out buttons: the handoff is made
            result = super().validate_contact(value, CollectingDispatcher(), tracker, domain)
            return result if result["contact"] else self._stop(tracker, "contact")
        return super().validate_contact(value, dispatcher, tracker, domain)

    def validate_customer_name(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: dict) -> dict[str, Any]:  # fmt: skip
        answers = tries(tracker, "customer_name")
        if answers and _REFUSAL.search(latest_text(tracker)[:300]):
            return self._stop(tracker, "customer_name")
        if answers >= MAX_TRIES:  # the name is nice to have: go on
            result = super().validate_customer_name(value, CollectingDispatcher(), tracker, domain)
            return result if result["customer_name"] else self._stop(tracker, "customer_name")
        return super().validate_customer_name(value, dispatcher, tracker, domain)


class ActionHandoffContact(StoreMixin, Action):
    """After the contact questions: the details go to the handoff (and staff are told), and
    the customer hears when and how a colleague gets back to them; without details, how to
    reach the dealer. The handoff stands either way."""

    def name(self) -> str:
        return "action_handoff_contact"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        pending = tracker.get_slot("handoff_pending") or {}
        done = [SlotSet("handoff_pending", None)]
        if not pending.get("needed") or not pending.get("lead_id"):
            return done
        dealer, lang = dealer_of(tracker), language(tracker)
        live, opening = reply_window(dealer, now_for(dealer))
        next_open = format_when(opening, lang) if opening else ""
        name, contact = tracker.get_slot("customer_name"), tracker.get_slot("contact")
        reference = pending.get("reference", "")
        if contact:
            add_lead_contact(self.session_factory, pending["lead_id"], customer_name=name,
                             **contact_fields(contact))  # fmt: skip
            dispatcher.utter_message(
                response="utter_handoff_contact_saved_live"
                if live
                else "utter_handoff_contact_saved",
                name=f", {name}" if name else "",
                contact=contact,
                next_open=next_open,
                reference=reference,
            )
        else:
            dispatcher.utter_message(
                response="utter_handoff_contact_declined_live"
                if live
                else "utter_handoff_contact_declined",
                phone=dealer.phone,
                next_open=next_open,
                reference=reference,
            )
        return done
