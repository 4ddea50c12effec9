from rasa_sdk.events import SlotSet
from sqlalchemy import select

from actions.handoff import ActionHandleFallback, ActionHandoff
from core.store.models import Lead, Notification
from tests.trackers import bot_event, make_tracker, responses, user_event


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
