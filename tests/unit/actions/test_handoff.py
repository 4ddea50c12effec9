import pytest
from rasa_sdk.events import FollowupAction, SlotSet
from sqlalchemy import select

from actions.handoff import ActionHandleFallback, ActionHandoff
from core.store.models import Lead, Notification
from tests.trackers import (
    action_event,
    bot_event,
    make_tracker,
    responses,
    slot_event,
    user_event,
)


def test_handoff_during_opening_hours(sqlite_factory, dispatcher, run):
    tracker = make_tracker(user_event("wat kost een apk", "inform"), bot_event("Sorry?"),
                           user_event("ik wil een mens spreken", "request_human"))  # fmt: skip
    run(ActionHandoff(session_factory=sqlite_factory), tracker)
    assert responses(dispatcher) == ["utter_handoff_open"]
    with sqlite_factory() as session:
        lead = session.scalars(select(Lead)).one()
    assert lead.kind == "handoff"
    assert lead.transcript.splitlines() == ["customer: wat kost een apk", "bot: Sorry?",
                                            "customer: ik wil een mens spreken"]  # fmt: skip


def test_handoff_when_closed_says_when_we_open_and_how(
    sqlite_factory, dispatcher, run, monkeypatch
):
    """Out of hours on the web: when a person replies, and that it is by phone or e-mail (the
    chat may be closed by then); the notification is written at once all the same."""
    monkeypatch.setenv("DEALERBOT_FIXED_NOW", "2026-11-28T18:30:00+01:00")  # Saturday evening
    tracker = make_tracker(user_event("can i talk to someone", "request_human", channel="socketio"),
                           slots={"language": "en"})  # fmt: skip
    events = run(ActionHandoff(session_factory=sqlite_factory), tracker)
    (message,) = dispatcher.messages
    assert message["response"] == "utter_handoff_closed_callback"
    assert message["next_open"] == "Monday 30 November at 09:00"
    (pending,) = [e["value"] for e in events if e.get("name") == "handoff_pending"]
    assert pending["needed"] is True and pending["reference"] == message["reference"]
    with sqlite_factory() as session:
        assert session.scalars(select(Notification.kind)).all() == ["handoff"]


def test_handoff_on_whatsapp_when_closed_replies_in_the_chat(
    sqlite_factory, dispatcher, run, monkeypatch
):
    monkeypatch.setenv("DEALERBOT_FIXED_NOW", "2026-11-28T18:30:00+01:00")
    tracker = make_tracker(user_event("mag ik iemand spreken", "request_human", channel="whatsapp"))
    events = run(ActionHandoff(session_factory=sqlite_factory), tracker)
    assert responses(dispatcher) == ["utter_handoff_closed"]
    assert dispatcher.messages[0]["next_open"] == "maandag 30 november om 09:00"
    (pending,) = [e["value"] for e in events if e.get("name") == "handoff_pending"]
    assert pending["needed"] is False  # the chat stays: nothing to ask


def test_details_known_from_earlier_go_into_the_handoff(sqlite_factory, dispatcher, run):
    tracker = make_tracker(user_event("medewerker", "request_human"),
                           slots={"customer_name": "Jan", "contact": "jan@example.nl"})  # fmt: skip
    events = run(ActionHandoff(session_factory=sqlite_factory), tracker)
    (pending,) = [e["value"] for e in events if e.get("name") == "handoff_pending"]
    assert pending["needed"] is False
    with sqlite_factory() as session:
        lead = session.scalars(select(Lead)).one()
    assert (lead.customer_name, lead.email, lead.phone) == ("Jan", "jan@example.nl", None)


def test_a_form_stuck_on_the_contact_hands_off_without_asking_it_again(
    sqlite_factory, dispatcher, run, monkeypatch
):
    """The contact answered in vain three times: the handoff (reason "stuck") does not ask for it
    a fourth time, even off hours on the web; stuck on another question, it does."""
    monkeypatch.setenv("DEALERBOT_FIXED_NOW", "2026-11-28T18:30:00+01:00")
    for question, needed in (("contact", False), ("plate", True)):
        tracker = make_tracker(user_event("zes", "inform", channel="socketio"),
                               slots={"stuck_question": question}, sender_id=question)  # fmt: skip
        events = run(ActionHandoff(session_factory=sqlite_factory), tracker)
        (pending,) = [e["value"] for e in events if e.get("name") == "handoff_pending"]
        assert pending["needed"] is needed
        assert SlotSet("stuck_question", None) in events
    with sqlite_factory() as session:
        assert session.scalars(select(Lead.note)).all() == ["stuck", "stuck"]


def test_two_fallbacks_in_a_row_hand_off(sqlite_factory, dispatcher, run):
    action = ActionHandleFallback(session_factory=sqlite_factory)
    first = [user_event("hallo", "greet"), user_event("blurp", "nlu_fallback")]
    run(action, make_tracker(*first))
    events = run(action, make_tracker(*first, user_event("zzz", "nlu_fallback")))
    assert responses(dispatcher) == ["utter_default", "utter_handoff_open"]
    (pending,) = [e["value"] for e in events if e.get("name") == "handoff_pending"]
    assert pending["needed"] is False  # no contact form follows a fallback (rules)


def test_a_question_without_an_answer_offers_a_colleague_and_yes_hands_off(
    sqlite_factory, dispatcher, run
):
    """Issue 16: warranty, an APK's price, delivery times: an honest answer and a handoff."""
    from rasa_sdk.events import SlotSet

    from actions.handoff import ActionOfferHandoff

    events = run(
        ActionOfferHandoff(), make_tracker(user_event("wat kost een apk", "ask_unanswerable"))
    )
    assert events == [SlotSet("handoff_offered", True)]
    tracker = make_tracker(user_event("wat kost een apk", "ask_unanswerable"),
                           user_event("ja", "affirm"), slots={"handoff_offered": True})  # fmt: skip
    events = run(ActionHandoff(session_factory=sqlite_factory), tracker)
    assert SlotSet("handoff_offered", False) in events
    assert responses(dispatcher) == ["utter_offer_handoff", "utter_handoff_open"]
    with sqlite_factory() as session:
        lead = session.scalars(select(Lead)).one()
    assert (lead.kind, lead.note) == ("handoff", "offered")
    assert "wat kost een apk" in lead.transcript


def _asked_then_handed_over(asked: str, answer: dict) -> list[dict]:
    """Events as Rasa logs them: the booking form asks ``asked``, the answer reads as
    request_human, and the rule deactivates the form before action_handoff."""
    return [
        user_event("ik wil een apk", "book_service"),
        action_event("appointment_form"),
        {"event": "active_loop", "name": "appointment_form"},
        slot_event("requested_slot", asked),
        bot_event("Op welk nummer of e-mailadres kunnen we u bereiken?"),
        action_event("action_listen"),
        answer,
        action_event("action_deactivate_loop"),
        {"event": "active_loop", "name": None},
        slot_event("requested_slot", None),
    ]


PHONE = {"entity": "phone", "value": "+31612856978", "start": 15, "end": 25}


def test_a_contact_answer_read_as_request_human_goes_back_to_the_form(
    sqlite_factory, dispatcher, run
):
    """Issue 16, tuning seed 411: "bellen kan op 0612856978" answered the contact question, was
    read as request_human, and the customer was handed over instead of booked."""
    answer = user_event("bellen kan op 0612856978", "request_human", entities=[PHONE])
    tracker = make_tracker(*_asked_then_handed_over("contact", answer),
                           slots={"contact": "+31612856978"})  # fmt: skip
    assert run(ActionHandoff(session_factory=sqlite_factory), tracker) == [
        FollowupAction("appointment_form")
    ]
    assert dispatcher.messages == []
    with sqlite_factory() as session:
        assert session.scalars(select(Lead)).all() == []


@pytest.mark.parametrize(
    ("asked", "answer"),
    [
        # another question was asked: "bel me op ..." then is a wish for a person
        ("plate", user_event("bel me op 0612856978", "request_human", entities=[PHONE])),
        # the contact question, but no phone or e-mail in the answer
        ("contact", user_event("ik wil een medewerker spreken", "request_human")),
    ],
)
def test_a_wish_for_a_person_during_a_form_is_handed_over(
    sqlite_factory, dispatcher, run, asked, answer
):
    run(ActionHandoff(session_factory=sqlite_factory),
        make_tracker(*_asked_then_handed_over(asked, answer)))  # fmt: skip
    assert responses(dispatcher) == ["utter_handoff_open"]
    with sqlite_factory() as session:
        assert session.scalars(select(Lead.kind)).all() == ["handoff"]
