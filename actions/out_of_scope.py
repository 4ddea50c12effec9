"""Messages from people who are not customers: suppliers, sales pitches, job applicants."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import dealer_of
from dealer.config import Dealer


def business_contact(dealer: Dealer) -> str:
    """Where proposals and applications go: the dealer's e-mail address, else website or phone."""
    return dealer.email or dealer.website or dealer.phone


class ActionNotACustomer(Action):
    """A polite pointer to the dealer's e-mail address. No handoff: staff answer customers here."""

    def name(self) -> str:
        return "action_not_a_customer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        dispatcher.utter_message(
            response="utter_not_a_customer", contact=business_contact(dealer_of(tracker))
        )
        return []
