import asyncio
import datetime as dt

import pytest
from rasa_sdk.events import FollowupAction, SlotSet
from sqlalchemy import func, select

from actions.appointments import (
    ActionAskAppointmentTime,
    ActionAskConfirmed,
    ActionSubmitAppointment,
    ActionSubmitCancel,
    ActionSubmitReschedule,
    ValidateCancelForm,
    ValidateRescheduleForm,
)
from core.store.models import Appointment, SlotReservation
from tests.trackers import make_tracker, responses, slot_event, user_event

BOOKING = {
    "service_type": "apk",
    "plate": "12-ABC-3",
    "mileage": "85000",
    "appointment_time": "2026-11-27T09:00:00+01:00",  # Friday: one bay
    "customer_name": "Jan de Vries",
    "contact": "+31612345678",
    "confirmed": True,
}


def booking_tracker(sender="customer-1", **overrides):
    return make_tracker(user_event("ja", "affirm"), slots={**BOOKING, **overrides},
                        sender_id=sender)  # fmt: skip


def test_appointment_not_found_twice_offers_a_way_out(sqlite_factory, booked, dispatcher, domain):
    form = ValidateRescheduleForm(session_factory=sqlite_factory)
    tracker = make_tracker(user_event("0611122233", "inform"),
                           slots={"plate": "12-ABC-3", "lookup_tries": 1.0},
                           active_loop="reschedule_form")  # fmt: skip
    result = form.validate_contact("0611122233", dispatcher, tracker, domain)
    assert result["lookup_tries"] == 2.0 and result["plate"] is None
    assert responses(dispatcher)[-2:] == ["utter_appointment_not_found", "utter_way_out"]
    assert dispatcher.messages[-1]["phone"]  # the dealer's phone number
    # The way out ends the search: no third ask for the same plate (a dead end in the simulator).
    assert "requested_slot" in result and result["requested_slot"] is None


@pytest.mark.parametrize("action", [ActionSubmitReschedule, ActionSubmitCancel])
def test_a_search_ended_by_the_way_out_submits_nothing(sqlite_factory, dispatcher, run, action):
    tracker = make_tracker(slots={"lookup_tries": 2.0, "confirmed": None})
    assert run(action(session_factory=sqlite_factory), tracker) == []
    assert dispatcher.messages == []  # not "your appointment stays as it is"


def test_time_volunteered_early_is_offered_when_the_question_comes(
    sqlite_factory, dispatcher, domain, run
):
    """A moment like "sometime next Thursday morning" in the opening message: no word about it before
    the first question; the time question offers the free times of that morning."""
    from actions.appointments import ValidateAppointmentForm

    form = ValidateAppointmentForm(session_factory=sqlite_factory)
    text = "sometime next Thursday morning"
    tracker = make_tracker(user_event(text, "book_service"), slots={"requested_slot": None},
                           active_loop="appointment_form")  # fmt: skip
    result = form.validate_appointment_time(text, dispatcher, tracker, domain)
    assert result == {"appointment_time": None, "time_window": text}
    assert dispatcher.messages == []

    ask = make_tracker(slots={"time_window": text, "service_type": "maintenance",
                              "language": "en", "requested_slot": "appointment_time"})  # fmt: skip
    run(ActionAskAppointmentTime(session_factory=sqlite_factory), ask)
    (message,) = dispatcher.messages
    assert message["response"] == "utter_time_pick_hour"
    assert message["day"] == "Thursday 26 November"
    starts = [b["payload"].split('"')[3] for b in message["buttons"]]
    assert starts and all(s.startswith("2026-11-26T") and s[11:13] < "12" for s in starts)


def test_a_volunteered_time_cut_short_by_the_entity_is_read_to_the_end_of_its_clause(
    sqlite_factory, dispatcher, domain
):
    """Simulator: the `time` entity of "... to this friday at eleven" was "friday at"."""
    from actions.appointments import ValidateAppointmentForm

    form = ValidateAppointmentForm(session_factory=sqlite_factory)
    text = "I'd like to book an MOT for GX-123-T this friday at eleven, name Tom Smith"
    tracker = make_tracker(user_event(text, "book_service"), slots={"requested_slot": None,
                           "service_type": "apk"}, active_loop="appointment_form")  # fmt: skip
    result = form.validate_appointment_time("friday at", dispatcher, tracker, domain)
    assert result == {"appointment_time": "2026-11-27T11:00:00+01:00", "time_window": None}
    assert dispatcher.messages == []


def test_an_answer_without_a_day_is_read_within_the_window(sqlite_factory, dispatcher, domain):
    from actions.appointments import ValidateAppointmentForm

    form = ValidateAppointmentForm(session_factory=sqlite_factory)
    tracker = make_tracker(
        slot_event("requested_slot", "appointment_time"),
        user_event("10 uur", "inform"),
        slots={"requested_slot": "appointment_time", "time_window": "donderdag",
               "service_type": "apk"},
        active_loop="appointment_form",
    )  # fmt: skip
    result = form.validate_appointment_time("10 uur", dispatcher, tracker, domain)
    assert result == {"appointment_time": "2026-11-26T10:00:00+01:00", "time_window": None}


def test_next_week_gets_the_free_times_of_next_week(sqlite_factory, dispatcher, domain):
    from actions.appointments import ValidateAppointmentForm

    form = ValidateAppointmentForm(session_factory=sqlite_factory)
    tracker = make_tracker(
        slot_event("requested_slot", "appointment_time"),
        user_event("next week", "inform"),
        slots={"requested_slot": "appointment_time", "service_type": "apk", "language": "en"},
        active_loop="appointment_form",
    )  # fmt: skip
    result = form.validate_appointment_time("next week", dispatcher, tracker, domain)
    assert result == {"appointment_time": None, "time_window": "next week"}
    assert responses(dispatcher) == ["utter_time_pick_free"]
    days = {b["payload"].split('"')[3][:10] for b in dispatcher.messages[0]["buttons"]}
    assert len(days) >= 2 and all("2026-11-30" <= d <= "2026-12-06" for d in days)


def test_submit_books_once_even_when_retried(sqlite_factory, dispatcher, run):
    action = ActionSubmitAppointment(session_factory=sqlite_factory)
    events = run(action, booking_tracker())
    assert responses(dispatcher) == ["utter_appointment_booked"]
    assert dispatcher.messages[0]["when"] == "vrijdag 27 november om 09:00"
    run(action, booking_tracker())  # Rasa retries an action: still one booking
    with sqlite_factory() as session:
        rows = session.scalars(select(Appointment)).all()
        assert len(rows) == 1 and rows[0].plate == "12-ABC-3" and rows[0].phone == "+31612345678"
        assert session.scalar(select(func.count()).select_from(SlotReservation)) == 2  # 60 min
    assert SlotSet("appointment_id", rows[0].id) in events


def test_last_seat_goes_to_one_customer_the_other_gets_alternatives(
    sqlite_factory, dispatcher, run
):
    action = ActionSubmitAppointment(session_factory=sqlite_factory)
    run(action, booking_tracker("first"))
    events = run(action, booking_tracker("second", plate="AB-123-C"))
    assert responses(dispatcher) == ["utter_appointment_booked", "utter_slot_taken"]
    assert FollowupAction("appointment_form") in events
    assert SlotSet("appointment_time", None) in events


def test_ask_time_offers_free_slots(sqlite_factory, dispatcher, run):
    run(ActionAskAppointmentTime(session_factory=sqlite_factory), make_tracker())
    (message,) = dispatcher.messages
    assert message["response"] == "utter_ask_appointment_time"
    assert [b["title"] for b in message["buttons"]] == ["ma 23 nov 11:00", "ma 23 nov 11:30",
                                                        "ma 23 nov 12:00"]  # fmt: skip


def test_a_contact_known_from_an_earlier_task_looks_up_on_the_plate(
    sqlite_factory, booked, dispatcher, domain
):
    """A second change in one conversation: the contact is still known, so only the plate is
    asked; the look-up must run on the plate (it never ran, and the form asked a time for an
    appointment it had not found)."""
    form = ValidateRescheduleForm(session_factory=sqlite_factory)
    known = make_tracker(user_event("0612345678", "inform"), slots={"plate": "12-ABC-3"},
                         active_loop="reschedule_form")  # fmt: skip
    contact = form.validate_contact("06 12345678", dispatcher, known, domain)["contact"]
    again = make_tracker(user_event("12-abc-3", "inform"), slot_event("plate", "12-abc-3"),
                         slots={"plate": "12-abc-3", "contact": contact},
                         active_loop="reschedule_form")  # fmt: skip
    result = form.validate_plate("12-abc-3", dispatcher, again, domain)
    assert result["plate"] == "12-ABC-3" and result["appointment_id"] == booked.id
    assert responses(dispatcher)[-1] == "utter_appointment_found"


@pytest.fixture
def booked(sqlite_factory, run):
    run(ActionSubmitAppointment(session_factory=sqlite_factory), booking_tracker())
    with sqlite_factory() as session:
        return session.scalars(select(Appointment)).one()


def test_reschedule_finds_by_plate_and_contact_and_moves(
    sqlite_factory, booked, dispatcher, domain, run
):
    form = ValidateRescheduleForm(session_factory=sqlite_factory)
    tracker = make_tracker(user_event("0612345678", "inform"), slots={"plate": "12-ABC-3"},
                           active_loop="reschedule_form")  # fmt: skip
    found = form.validate_contact("06 12345678", dispatcher, tracker, domain)
    assert found["appointment_id"] == booked.id
    wrong = form.validate_contact("0611122233", dispatcher, tracker, domain)
    assert wrong == {"plate": None, "contact": None, "appointment_id": None, "lookup_tries": 1.0}
    assert responses(dispatcher)[-2:] == ["utter_appointment_found", "utter_appointment_not_found"]

    slots = {"plate": "12-ABC-3", "appointment_id": booked.id, "confirmed": True,
             "appointment_time": "2026-11-30T14:00:00+01:00"}  # fmt: skip
    run(ActionAskConfirmed(session_factory=sqlite_factory),
        make_tracker(slots=slots, active_loop="reschedule_form"))  # fmt: skip
    assert dispatcher.messages[-1]["old"] == "vrijdag 27 november om 09:00"
    run(ActionSubmitReschedule(session_factory=sqlite_factory), make_tracker(slots=slots))
    assert responses(dispatcher)[-1] == "utter_appointment_rescheduled"
    with sqlite_factory() as session:
        moved = session.get(Appointment, booked.id)
        assert moved.starts_at == dt.datetime(2026, 11, 30, 13, 0)  # UTC
        starts = session.scalars(select(SlotReservation.slot_start)).all()
        assert sorted(starts) == [
            dt.datetime(2026, 11, 30, 13, 0),
            dt.datetime(2026, 11, 30, 13, 30),
        ]


def test_cancel_needs_a_yes(sqlite_factory, booked, dispatcher, domain, run):
    form = ValidateCancelForm(session_factory=sqlite_factory)
    assert not form.accepts_corrections  # "no" keeps the appointment
    slots = {"plate": "12-ABC-3", "appointment_id": booked.id}
    run(ActionSubmitCancel(session_factory=sqlite_factory),
        make_tracker(slots={**slots, "confirmed": False}))  # fmt: skip
    run(ActionSubmitCancel(session_factory=sqlite_factory),
        make_tracker(slots={**slots, "confirmed": True}))  # fmt: skip
    assert responses(dispatcher)[-2:] == ["utter_appointment_kept", "utter_appointment_cancelled"]
    with sqlite_factory() as session:
        assert session.get(Appointment, booked.id).status == "cancelled"
        assert session.scalar(select(func.count()).select_from(SlotReservation)) == 0


def test_summary_in_english(sqlite_factory, dispatcher, run):
    tracker = make_tracker(slots={**BOOKING, "language": "en", "confirmed": None},
                           active_loop="appointment_form")  # fmt: skip
    run(ActionAskConfirmed(session_factory=sqlite_factory), tracker)
    (message,) = dispatcher.messages
    assert message["response"] == "utter_summary_appointment"
    assert message["service"] == "MOT (APK inspection)"
    assert message["when"] == "Friday 27 November at 09:00"
    assert message["mileage"] == "85,000 km"


def test_a_volunteered_time_that_cannot_be_booked_is_explained_when_the_question_comes(
    sqlite_factory, dispatcher, domain, run
):
    """Simulator: "... moved to tomorrow morning at 10?" (entity "tomorrow morning", 10:00 full)
    was asked "What time on Tuesday?" as if the hour had not been said. The clause is kept, and
    the question says why that hour cannot be booked and offers the nearest free times."""
    from actions.appointments import ValidateAppointmentForm

    form = ValidateAppointmentForm(session_factory=sqlite_factory)
    text = "can my appointment be moved to friday at 20:00?"
    tracker = make_tracker(user_event(text, "reschedule_appointment"), slots={
                           "requested_slot": None}, active_loop="appointment_form")  # fmt: skip
    result = form.validate_appointment_time("friday", dispatcher, tracker, domain)
    assert result == {"appointment_time": None, "time_window": "friday at 20:00"}
    assert dispatcher.messages == []

    ask = make_tracker(slots={"time_window": "friday at 20:00", "service_type": "apk",
                              "language": "en", "requested_slot": "appointment_time"})  # fmt: skip
    run(ActionAskAppointmentTime(session_factory=sqlite_factory), ask)
    assert responses(dispatcher)[0] != "utter_time_pick_hour"
    starts = [b["payload"].split('"')[3] for m in dispatcher.messages for b in m.get("buttons", [])]
    assert starts and all(s[11:16] != "20:00" for s in starts)


def test_a_booking_for_a_car_with_an_appointment_offers_to_move_it(
    sqlite_factory, booked, dispatcher, domain, run
):
    """A move read as a booking had booked the car twice (tuning seeds). The booking form finds
    the car's appointment by plate and contact, as a move does, and a yes moves that one."""
    from actions.appointments import ActionAskMoveExisting, ValidateAppointmentForm

    form = ValidateAppointmentForm(session_factory=sqlite_factory)
    dispatcher.messages.clear()  # the booking of the fixture
    tracker = make_tracker(user_event("0612345678", "inform"), slots={"plate": "12-ABC-3"},
                           active_loop="appointment_form")  # fmt: skip
    found = form.validate_contact("06 12345678", dispatcher, tracker, domain)
    assert found == {"contact": "+31612345678", "appointment_id": booked.id,
                     "move_existing": None}  # fmt: skip
    assert dispatcher.messages == []  # the question comes in its turn
    slots = {**BOOKING, "appointment_time": "2026-11-30T14:00:00+01:00", "confirmed": None,
             "appointment_id": booked.id}  # fmt: skip
    asking = make_tracker(slots=slots, active_loop="appointment_form")
    required = asyncio.run(form.required_slots(form.domain_slots(domain), dispatcher, asking,
                                               domain))  # fmt: skip
    assert "move_existing" in required

    run(ActionAskMoveExisting(session_factory=sqlite_factory), asking)
    (question,) = dispatcher.messages
    assert question["response"] == "utter_ask_move_existing"
    assert (question["old"], question["when"]) == ("vrijdag 27 november om 09:00",
                                                   "maandag 30 november om 14:00")  # fmt: skip
    yes = form.validate_move_existing(True, dispatcher, asking, domain)
    assert yes == {"move_existing": True, "confirmed": True}  # the question was the summary

    events = run(ActionSubmitAppointment(session_factory=sqlite_factory),
                 make_tracker(slots={**slots, **yes}))  # fmt: skip
    assert responses(dispatcher)[-1] == "utter_appointment_rescheduled"
    assert SlotSet("outcomes", ["appointment_changed"]) in events
    with sqlite_factory() as session:
        (row,) = session.scalars(select(Appointment)).all()  # moved, not booked twice
        assert row.id == booked.id and row.starts_at == dt.datetime(2026, 11, 30, 13, 0)


def test_no_to_moving_books_another_appointment(sqlite_factory, booked, dispatcher, domain, run):
    from actions.appointments import ValidateAppointmentForm

    form = ValidateAppointmentForm(session_factory=sqlite_factory)
    dispatcher.messages.clear()  # the booking of the fixture
    slots = {**BOOKING, "appointment_time": "2026-11-30T14:00:00+01:00", "confirmed": None,
             "appointment_id": booked.id}  # fmt: skip
    tracker = make_tracker(slots=slots, active_loop="appointment_form")
    no = form.validate_move_existing(False, dispatcher, tracker, domain)
    assert no == {"move_existing": False, "appointment_id": None}
    after = make_tracker(slots={**slots, **no}, active_loop="appointment_form")
    required = asyncio.run(form.required_slots(form.domain_slots(domain), dispatcher, after,
                                               domain))  # fmt: skip
    assert "move_existing" not in required  # asked once
    run(ActionAskConfirmed(session_factory=sqlite_factory), after)
    assert responses(dispatcher) == ["utter_summary_appointment"]  # the booking's own summary
    run(ActionSubmitAppointment(session_factory=sqlite_factory),
        make_tracker(slots={**slots, **no, "confirmed": True}))  # fmt: skip
    with sqlite_factory() as session:
        starts = sorted(session.scalars(select(Appointment.starts_at)).all())
    assert starts == [dt.datetime(2026, 11, 27, 8, 0), dt.datetime(2026, 11, 30, 13, 0)]


def test_a_booking_with_another_contact_finds_no_appointment(
    sqlite_factory, booked, dispatcher, domain
):
    """Only plate and contact together find an appointment: a plate alone tells nobody about
    another person's booking."""
    from actions.appointments import ValidateAppointmentForm

    form = ValidateAppointmentForm(session_factory=sqlite_factory)
    dispatcher.messages.clear()  # the booking of the fixture
    tracker = make_tracker(user_event("0611122233", "inform"), slots={"plate": "12-ABC-3"},
                           active_loop="appointment_form")  # fmt: skip
    result = form.validate_contact("0611122233", dispatcher, tracker, domain)
    assert result["appointment_id"] is None and dispatcher.messages == []
