"""The customer's right to be forgotten, from the chat."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import StoreMixin, channel_of
from core.settings import get_settings
from core.store.privacy import erase_contact


class ActionDeleteMyData(StoreMixin, Action):
    """Erase the contact's data now; Rasa's events follow in the nightly purge once idle."""

    def name(self) -> str:
        return "action_delete_my_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:  # fmt: skip
        erased = erase_contact(
            self.session_factory,
            secret=get_settings().contact_key_secret,
            senders=[tracker.sender_id],
            channels=[channel_of(tracker)],
        )
        dispatcher.utter_message(
            response="utter_data_deleted", appointments=erased.appointments, leads=erased.leads
        )
        if channel_of(tracker) == "web":
            # The widget keeps the messages on the customer's device: this tells it to erase them.
            dispatcher.utter_message(json_message={"dealerbot": "erased"})
        return []
