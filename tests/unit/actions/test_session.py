import json

from rasa_sdk.events import FollowupAction, SlotSet

from actions.privacy import ActionDeleteMyData
from actions.session import (
    ActionClearFormSlots,
    ActionFollowUp,
    ActionOpeningAnswer,
    ActionSessionStart,
    ActionValidateSlotMappings,
)
from tests.trackers import action_event, make_tracker, responses, slot_event, user_event


def test_session_start_picks_dealer_and_keeps_language(run):
    tracker = make_tracker(slots={"language": "en", "dealer_id": None,
                                  "session_started_metadata": {"dealer": "autohuis-demo"}})  # fmt: skip
    events = run(ActionSessionStart(), tracker)
    assert events[0]["event"] == "session_started"
    assert SlotSet("dealer_id", "autohuis-demo") in events
    assert SlotSet("language", "en") in events
    assert (events[-1]["event"], events[-1]["name"]) == ("action", "action_listen")


def test_language_follows_the_customer_and_stays_without_signal(run):
    action = ActionValidateSlotMappings()
    english = make_tracker(user_event("hello there", "greet", language="en"))
    assert SlotSet("language", "en") in run(action, english)
    neutral = make_tracker(user_event("12-ABC-3", "inform"), slots={"language": "en"})
    assert not [e for e in run(action, neutral) if e.get("name") == "language"]


def test_offer_expires_after_another_question(run):
    action = ActionValidateSlotMappings()
    tracker = make_tracker(user_event("wat zijn de openingstijden", "ask_opening_hours"),
                           slots={"callback_offered": True})  # fmt: skip
    assert SlotSet("callback_offered", False) in run(action, tracker)


def test_clear_keeps_what_this_message_said(run):
    tracker = make_tracker(
        user_event("apk", "book_service"),
        slot_event("service_type", "apk"),
        slots={"service_type": "apk", "plate": "12-ABC-3", "confirmed": True},
    )
    events = run(ActionClearFormSlots(), tracker)
    assert SlotSet("plate", None) in events and SlotSet("confirmed", None) in events
    assert SlotSet("service_type", None) not in events


def test_an_opening_answer_that_names_a_service_starts_the_booking(run, dispatcher):
    """The first message "a full service for PK-174-S monday at 8:30", read as ``inform``."""
    service = {"entity": "service_type", "value": "full service"}
    tracker = make_tracker(user_event("a full service for PK-174-S", "inform", [service]),
                           slots={"plate": "99-XX-9"})  # fmt: skip
    events = run(ActionOpeningAnswer(), tracker)
    assert events[-1] == FollowupAction("appointment_form")
    assert SlotSet("plate", None) in events  # an earlier session's answer is not reused
    assert responses(dispatcher) == []


def test_an_opening_that_only_leaves_a_phone_number_is_passed_to_a_colleague(run, dispatcher):
    """The first message "bel me op 0612345678" was read as a bare answer and got "did not
    understand": the customer wants to be called, so the handoff takes the number."""
    phone = {"entity": "phone", "value": "+31612345678", "start": 10, "end": 20}
    events = run(ActionOpeningAnswer(),
                 make_tracker(user_event("bel me op 0612345678", "inform", entities=[phone])))  # fmt: skip
    assert events == [SlotSet("contact", "+31612345678"), FollowupAction("action_handoff")]
    assert responses(dispatcher) == []


def test_a_service_word_the_dealer_does_not_offer_starts_no_booking(run, dispatcher):
    """ "als u me even belt op 0612345678": DIET read "belt" (Dutch: calls) as a service_type,
    and the wish to be called started a booking. Only a service of the dealer's starts one."""
    entities = [{"entity": "service_type", "value": "belt"},
                {"entity": "phone", "value": "+31612345678"}]  # fmt: skip
    tracker = make_tracker(user_event("als u me even belt op 0612345678", "inform",
                                      entities=entities))  # fmt: skip
    events = run(ActionOpeningAnswer(), tracker)
    assert events == [SlotSet("contact", "+31612345678"), FollowupAction("action_handoff")]


def test_any_other_opening_answer_is_not_understood(run, dispatcher):
    events = run(ActionOpeningAnswer(), make_tracker(user_event("Sophie", "inform")))
    assert events == [FollowupAction("action_default_fallback")]
    # A request with a number in it is no wish to be called: a handoff made a lead nobody
    # asked for ("verzetten naar donderdag 9 uur, kenteken lsb-19-h, bereikbaar op 06...").
    entities = [{"entity": "time", "value": "donderdag 9 uur"},
                {"entity": "plate", "value": "LSB-19-H"},
                {"entity": "phone", "value": "+31612342291"}]  # fmt: skip
    tracker = make_tracker(user_event("verzetten naar ...", "inform", entities=entities))
    assert run(ActionOpeningAnswer(), tracker) == [FollowupAction("action_default_fallback")]
    assert responses(dispatcher) == []


def test_accepting_a_financing_call_back_keeps_its_topic(run):
    """The "call back accepted" rule clears the task slots first: the topic the offer set must
    survive, or a financing lead was stored as a sales lead (found by the simulator)."""
    tracker = make_tracker(user_event("ja hoor", "affirm"),
                           slots={"callback_topic": "financing", "callback_offered": True})  # fmt: skip
    assert SlotSet("callback_topic", None) not in run(ActionClearFormSlots(), tracker)


def test_delete_my_data(sqlite_factory, dispatcher, run):
    from actions.appointments import ActionSubmitAppointment
    from tests.unit.actions.test_appointments import booking_tracker

    run(ActionSubmitAppointment(session_factory=sqlite_factory), booking_tracker("me"))
    run(ActionDeleteMyData(session_factory=sqlite_factory), make_tracker(sender_id="me"))
    assert responses(dispatcher)[-1] == "utter_data_deleted"
    assert dispatcher.messages[-1]["appointments"] == 1


def test_delete_my_data_in_chat_erases_through_the_same_function(sqlite_factory, dispatcher, run):
    """The chat erasure reaches the spooled records too and leaves an HMAC tombstone, not a
    plain hash of the sender id (issue 15, items 4 and 6)."""
    import hashlib

    from sqlalchemy import select

    from core.engagement import contact_key
    from core.settings import get_settings
    from core.store.models import Erasure
    from core.store.privacy import sender_hash
    from core.store.recorder import conversation_op, spool_path
    from core.store.spool import Spool
    from tests.integration.core.store.test_recorder import record

    secret = get_settings().contact_key_secret
    spool = Spool(spool_path())
    for sender, cid in (("me", "mine"), ("you", "yours")):
        key = contact_key(secret, "rest", sender)
        spool.append(conversation_op(record(cid=cid, contact_key=key, channel="rest")))
    run(ActionDeleteMyData(session_factory=sqlite_factory), make_tracker(sender_id="me"))
    assert [
        line["data"]["id"] for line in map(json.loads, spool.path.read_text().splitlines())
    ] == ["yours"]
    with sqlite_factory() as session:
        (tombstone,) = session.scalars(select(Erasure)).all()
    assert tombstone.contact_key == contact_key(secret, "rest", "me")
    assert tombstone.sender_id_hash == sender_hash(secret, "me")
    assert tombstone.sender_id_hash != hashlib.sha256(b"me").hexdigest()


def test_delete_my_data_tells_the_web_widget_to_erase_its_copy(sqlite_factory, dispatcher, run):
    web = make_tracker(user_event("ja", "affirm", channel="socketio"), sender_id="w" * 32)
    run(ActionDeleteMyData(session_factory=sqlite_factory), web)
    assert dispatcher.messages[-1]["custom"] == {"dealerbot": "erased"}
    assert responses(dispatcher)[-2] == "utter_data_deleted"
    rest = make_tracker(user_event("ja", "affirm"), sender_id="r" * 32)
    dispatcher.messages.clear()
    run(ActionDeleteMyData(session_factory=sqlite_factory), rest)
    assert not [m for m in dispatcher.messages if m.get("custom")]  # REST and WhatsApp: none


def test_language_changes_only_on_clear_evidence(run):
    """The detector's ``code`` needs several words of a language; its one-word ``hint`` counts
    only for the first message of a conversation ("hello")."""
    action = ActionValidateSlotMappings()

    def said(*texts, hint):
        events = [user_event(t, "inform") for t in texts]
        events[-1]["parse_data"]["language"] = {"code": None, "hint": hint, "confidence": 0.99}
        return make_tracker(*events, slots={"language": "nl"})

    assert SlotSet("language", "en") in run(action, said("hello", hint="en"))
    later = run(action, said("ik wil een afspraak", "diagnosis", hint="en"))
    assert not [e for e in later if e.get("name") == "language"]


def test_a_follow_up_after_a_declined_offer_asks_the_latest_answer_again(run, dispatcher):
    """Simulator: "and hybrids?" after "no thanks" to the stock search's call-back offer."""
    tracker = make_tracker(
        user_event("do you have electric cars?", "ask_car_availability"),
        action_event("action_search_stock"),
        user_event("no thanks", "deny"),
        action_event("action_decline_offer"),
        user_event("and hybrids?", "inform"),
    )
    assert run(ActionFollowUp(), tracker) == [{"event": "followup", "timestamp": None,
                                              "name": "action_search_stock"}]  # fmt: skip


def test_a_follow_up_with_nothing_to_follow_is_not_understood(run, dispatcher):
    tracker = make_tracker(user_event("and hybrids?", "inform"))
    assert run(ActionFollowUp(), tracker) == []
    assert responses(dispatcher) == ["utter_default"]
