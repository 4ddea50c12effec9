"""Every action answers bad input with a normal reply: no crash, no junk stored."""

import pytest

from actions.dealer_info import ActionLocation, ActionOpeningHours
from actions.handoff import ActionHandleFallback, ActionHandoff
from actions.sales import ActionCarPrice, ActionFinancing, ActionSearchStock
from actions.session import ActionClearFormSlots, ActionValidateSlotMappings
from tests.trackers import make_tracker, user_event

BAD = [
    "",
    "x" * 5000,
    "😀🚗😀",
    "<img src=x onerror=alert(1)>",
    "'; DROP TABLE leads; --",
    "\x00\x1f",
]


@pytest.mark.parametrize("text", BAD)
@pytest.mark.parametrize(
    "make_action",
    [ActionSearchStock, ActionCarPrice, ActionFinancing, ActionOpeningHours, ActionLocation,
     ActionClearFormSlots, ActionValidateSlotMappings],
)  # fmt: skip
def test_actions_survive_bad_messages(make_action, text, run, dispatcher):
    tracker = make_tracker(
        user_event(text, "nlu_fallback", entities=[{"entity": "model", "value": text}])
    )
    run(make_action(), tracker)
    for message in dispatcher.messages:
        assert message.get("response", "").startswith("utter_")


@pytest.mark.parametrize("text", BAD)
def test_handoff_and_fallback_store_bad_text_as_plain_data(text, sqlite_factory, run, dispatcher):
    tracker = make_tracker(user_event(text, "nlu_fallback"), user_event(text, "nlu_fallback"))
    run(ActionHandleFallback(session_factory=sqlite_factory), tracker)
    run(ActionHandoff(session_factory=sqlite_factory), tracker)
    assert [m["response"] for m in dispatcher.messages] == ["utter_handoff_open"] * 2
