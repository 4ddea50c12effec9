"""The cached check of action server replies accepts and rejects exactly what Rasa's does."""

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from bot.rasa_speedups import install

GOOD = {
    "events": [{"event": "slot", "timestamp": None, "name": "language", "value": "nl"},
               {"event": "active_loop", "name": None, "timestamp": None}],
    "responses": [{"response": "utter_greet", "buttons": [], "custom": {}}],
}  # fmt: skip
BAD = [
    {"events": [{"event": "slot", "name": 3}]},  # a slot name must be a string
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"responses": [1]},
]


@pytest.fixture(autouse=True)
def installed():
    install()  # as importing bot.channels does in the Rasa server


def rasa_original(result: dict) -> None:
    jsonschema.validate(result, RemoteAction.action_response_format_spec())


def test_installed_once_in_the_rasa_process():
    assert RemoteAction._validate_action_result._cached_validator
    patched = RemoteAction._validate_action_result
    install()
    assert RemoteAction._validate_action_result is patched


def test_valid_replies_pass():
    action = RemoteAction("action_x", None)
    rasa_original(GOOD)
    assert action._validate_action_result(GOOD) is True
    assert action._validate_action_result({}) is True


@pytest.mark.parametrize("result", BAD)
def test_invalid_replies_fail_with_rasas_error(result):
    with pytest.raises(jsonschema.ValidationError) as original:
        rasa_original(result)
    with pytest.raises(jsonschema.ValidationError) as cached:
        RemoteAction("action_x", None)._validate_action_result(result)
    assert cached.value.message.startswith(original.value.message)
    assert "Failed to validate Action server response" in cached.value.message
