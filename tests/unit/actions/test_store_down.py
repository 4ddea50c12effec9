"""With the database unreachable, actions still answer, forms ask again, records are spooled."""

import pytest
from rasa_sdk.events import SlotSet

from actions.appointments import ActionSubmitAppointment, ValidateAppointmentForm
from actions.session import ActionValidateSlotMappings
from core.store.recorder import Recorder
from core.store.session import make_engine, make_session_factory
from core.store.spool import Spool
from tests.trackers import make_tracker, responses, slot_event, user_event
from tests.unit.actions.test_appointments import booking_tracker


@pytest.fixture
def down(tmp_path):
    engine = make_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none",
                         connect_args={"connect_timeout": 1})  # fmt: skip
    factory = make_session_factory(engine)
    return factory, Recorder(factory, Spool(tmp_path / "spool.jsonl"))


def test_booking_apologises_with_the_phone_number(down, run, dispatcher):
    factory, recorder = down
    assert (
        run(ActionSubmitAppointment(session_factory=factory, recorder=recorder), booking_tracker())
        == []
    )
    assert responses(dispatcher) == ["utter_store_unavailable"]
    assert dispatcher.messages[0]["phone"] == "+31 30 123 4567"


def test_a_form_asks_again(down, run, dispatcher):
    factory, recorder = down
    tracker = make_tracker(user_event("morgen om 10 uur", "inform"),
                           slot_event("appointment_time", "morgen om 10 uur"),
                           slots={"service_type": "apk", "requested_slot": "appointment_time"},
                           active_loop="appointment_form")  # fmt: skip
    events = run(ValidateAppointmentForm(session_factory=factory, recorder=recorder), tracker)
    assert SlotSet("appointment_time", None) in events


def test_every_turn_is_spooled_not_lost(down, run):
    factory, recorder = down
    action = ActionValidateSlotMappings(session_factory=factory, recorder=recorder)
    run(action, make_tracker(user_event("wat kost de golf", "ask_price", channel="socketio")))
    assert len(recorder.spool) == 1
