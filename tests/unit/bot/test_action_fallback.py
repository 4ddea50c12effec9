"""The apology when the action server fails: once per message, in the conversation's language,
never for a form's rejection, and the failure still reaches Rasa."""

import asyncio

import pytest
from rasa.core.actions import action as rasa_action
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.action_fallback import APOLOGY, install
from dealer.config import get_dealer

install()


def tracker(language: str | None) -> DialogueStateTracker:
    events = [SlotSet("language", language)] if language else []
    return DialogueStateTracker.from_events("customer-1", events)


def unreachable() -> rasa_action.RemoteAction:
    # nothing listens on port 9 of loopback: the connection is refused at once
    return rasa_action.RemoteAction("action_x", EndpointConfig("http://127.0.0.1:9/webhook"))


@pytest.mark.parametrize("language", ["nl", "en", None])
def test_one_apology_per_message_in_the_customer_language(language):
    channel = CollectingOutputChannel()
    conversation = tracker(language)

    async def two_failed_actions():
        for _ in range(2):  # e.g. the slot validation, then the predicted action
            with pytest.raises(rasa_action.RasaException):
                await unreachable().run(channel, None, conversation, Domain.empty())

    asyncio.run(two_failed_actions())
    expected = APOLOGY[language or "nl"].format(phone=get_dealer(None).phone)
    assert [m["text"] for m in channel.messages] == [expected]


def test_a_form_rejection_is_not_an_outage(monkeypatch):
    async def reject(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        raise rasa_action.ActionExecutionRejection("validate_x")

    monkeypatch.setattr(EndpointConfig, "request", reject)
    channel = CollectingOutputChannel()
    with pytest.raises(rasa_action.ActionExecutionRejection):
        asyncio.run(unreachable().run(channel, None, tracker("en"), Domain.empty()))
    assert channel.messages == []


def test_installing_twice_wraps_once():
    wrapped = rasa_action.RemoteAction.run
    install()
    assert rasa_action.RemoteAction.run is wrapped
