import pytest

from core.engagement import contact_key, conversation_id, qualifies, sessions, summarize
from tests.trackers import bot_event, slot_event, user_event

SECRET = "s3cret"


def rule(**kw):
    base = dict(channel="web", is_test=False, customer_messages=2,
                business_intents=["ask_price"], outcome="self_served")  # fmt: skip
    return qualifies(**{**base, **kw})


@pytest.mark.parametrize(
    ("changes", "expected", "reason"),
    [
        ({}, True, "business intent ask_price"),
        ({"channel": "whatsapp"}, True, "business intent"),
        ({"channel": "rest"}, False, "not a one-to-one customer channel"),
        ({"is_test": True}, False, "test or demo sender"),
        ({"customer_messages": 1}, False, "fewer than two"),
        # a task outcome qualifies with one customer message (issue 20)
        ({"customer_messages": 1, "outcome": "handed_off"}, True, "outcome handed_off"),
        ({"customer_messages": 1, "outcome": "appointment_booked"}, True, "outcome"),
        ({"customer_messages": 1, "outcome": "abandoned"}, False, "fewer than two"),
        ({"customer_messages": 1, "outcome": "out_of_scope"}, False, "out of scope"),
        ({"customer_messages": 1, "outcome": "handed_off", "is_test": True}, False, "test"),
        ({"customer_messages": 1, "outcome": "lead_created", "channel": "rest"}, False, "channel"),
        ({"business_intents": ["greet", "goodbye"], "outcome": "abandoned"}, False, "no business"),
        ({"business_intents": ["nlu_fallback"], "outcome": "abandoned"}, False, "no business"),
        ({"business_intents": [], "outcome": "handed_off"}, True, "outcome handed_off"),
        ({"business_intents": [], "outcome": "appointment_booked"}, True, "outcome"),
        ({"outcome": "out_of_scope"}, False, "out of scope"),
        ({"business_intents": [], "outcome": "out_of_scope"}, False, "out of scope"),
    ],
)
def test_qualifying_rule(changes, expected, reason):
    ok, why = rule(**changes)
    assert ok is expected and reason in why


def test_customer_channels_are_configurable():
    assert rule(channel="rest", customer_channels=["web", "rest"])[0]


def session(*events):
    return [{"event": "session_started", "timestamp": 1_795_420_700.0}, *events]


def summary(events, sender="customer-1", **kw):
    return summarize(events, sender_id=sender, secret=SECRET, default_dealer="autohuis-demo",
                     customer_channels=("web", "whatsapp"), **kw)  # fmt: skip


def test_a_booked_appointment():
    events = session(
        slot_event("language", "en"),
        user_event("hi", "greet", channel="socketio"),
        bot_event("Hi!"),
        user_event("I need a service", "book_service", channel="socketio"),
        {"event": "active_loop", "name": "appointment_form", "timestamp": 1_795_420_900.0},
        bot_event("Plate?"),
        slot_event("outcomes", ["appointment_booked"]),
    )
    record = summary(events)
    assert record.channel == "web" and record.language == "en"
    assert (record.customer_messages, record.bot_messages) == (2, 2)
    assert record.first_response_ms == 1000
    assert record.intents == ("book_service",)
    assert (record.outcome, record.qualifies) == ("appointment_booked", True)
    assert record.contact_key == contact_key(SECRET, "web", "customer-1")
    assert "customer-1" not in record.contact_key


def test_outcome_priority_abandoned_and_self_served():
    handoff_then_booked = session(user_event("a", "request_human"), user_event("b", "book_service"),
                                  slot_event("outcomes", ["handed_off", "appointment_booked"]))  # fmt: skip
    assert summary(handoff_then_booked).outcome == "appointment_booked"
    abandoned = session(user_event("apk", "book_service"),
                        {"event": "active_loop", "name": "appointment_form"}, user_event("12", "inform"))  # fmt: skip
    assert summary(abandoned).outcome == "abandoned"
    hours = session(user_event("hoi", "greet"), user_event("open?", "ask_opening_hours"))
    assert summary(hours).outcome == "self_served"
    greeting = session(user_event("hoi", "greet"), user_event("doei", "goodbye"))
    assert (summary(greeting).outcome, summary(greeting).qualifies) == ("abandoned", False)


def test_an_answered_question_counts_as_served_even_after_an_unfinished_task():
    """The 13-message conversation of issue 20: opening hours, address, prices and financing
    answered, then a call back accepted and left unfinished. Served, not abandoned."""
    asked = [("open?", "ask_opening_hours"), ("waar?", "ask_location"), ("prijs?", "ask_price"),
             ("lease?", "ask_financing")]  # fmt: skip
    events = [user_event("hoi", "greet", channel="socketio")]
    for text, intent in asked:
        events += [user_event(text, intent), bot_event("antwoord")]
    events += [user_event("ja bel me", "affirm"),
               {"event": "active_loop", "name": "callback_form"}]  # fmt: skip
    events += [user_event(f"x{i}", "inform") for i in range(7)]
    record = summary(session(*events))
    assert record.customer_messages == 13
    assert (record.outcome, record.qualifies) == ("self_served", True)
    # without an answered question, the unfinished task stays abandoned
    booking = session(user_event("apk", "book_service", channel="socketio"),
                      {"event": "active_loop", "name": "appointment_form"},
                      user_event("12", "inform"))  # fmt: skip
    assert (summary(booking).outcome, summary(booking).qualifies) == ("abandoned", True)


def test_a_one_shot_booking_completed_in_the_next_turns_qualifies():
    events = session(
        user_event(
            "APK voor XX-123-Y morgen 9:00, Jan, 0612345678", "book_service", channel="socketio"
        ),
        {"event": "active_loop", "name": "appointment_form"},
        bot_event("Geboekt!"),
        slot_event("outcomes", ["appointment_booked"]),
    )
    record = summary(events)
    assert record.customer_messages == 1
    assert (record.outcome, record.qualifies) == ("appointment_booked", True)
    assert record.qualify_reason == "outcome appointment_booked"
    question = session(user_event("Wanneer open?", "ask_opening_hours", channel="socketio"))
    assert summary(question).qualifies is False  # one question, no task: not yet engaged


def test_messages_the_bot_did_not_understand_are_counted():
    events = session(user_event("blrp", "nlu_fallback"), bot_event("Sorry?"),
                     user_event("prijs golf", "ask_price"), user_event("qq", "nlu_fallback"))  # fmt: skip
    assert summary(events).fallback_messages == 2
    assert summary(session(user_event("prijs", "ask_price"))).fallback_messages == 0


def test_one_session_is_one_conversation_and_ids_are_stable():
    first = session(user_event("hoi", "greet"))
    second = [*first, {"event": "session_started", "timestamp": 1_795_430_000.0},
              user_event("weer ik", "greet")]  # fmt: skip
    assert summary(second).customer_messages == 1
    assert conversation_id("x", first) == conversation_id("x", [*first, bot_event("hallo")])
    assert conversation_id("x", first) != conversation_id("x", second)
    assert summary([*first]).id == summary([*first, bot_event("hallo")]).id


def test_each_session_of_a_sender_has_the_id_it_had_while_it_was_the_current_one():
    """The dashboard finds a stored conversation among a sender's sessions by this id."""
    before = [{"event": "action", "name": "action_listen", "timestamp": 1_795_420_000.0}]
    first = session(user_event("hoi", "greet"))
    second = [{"event": "session_started", "timestamp": 1_795_430_000.0}, user_event("weer ik")]
    restart = [{"event": "restart", "timestamp": 1_795_440_000.0}, user_event("opnieuw")]
    events = [*before, *first, *second, *restart]
    cut = sessions(events)
    assert cut == [before, first, second, restart]
    assert sessions(first) == [first]
    assert [conversation_id("x", part) for part in cut[-3:]] == [
        conversation_id("x", [*before, *first]),
        conversation_id("x", [*before, *first, *second]),
        conversation_id("x", events),
    ]
    assert sessions([]) == []


def test_no_record_before_the_customer_writes_and_test_senders():
    assert summary(session()) is None
    record = summary(session(user_event("a", "ask_price", channel="socketio"),
                             user_event("b", "ask_price", channel="socketio")),
                     sender="test-123", test_senders=["test-"])  # fmt: skip
    assert record.is_test and not record.qualifies


def test_off_topic_and_pitches_are_out_of_scope_and_never_qualify():
    """Issue 16: a sales pitch read once as a financing question, or handed off, is no customer."""
    pitch = session(
        user_event(
            "wij bieden zoekmachine-optimalisatie aan", "not_a_customer", channel="socketio"
        ),
        user_event("ook financiering voor uw klanten", "ask_financing", channel="socketio"),
    )
    assert (summary(pitch).outcome, summary(pitch).qualifies) == ("out_of_scope", False)
    handed_off = session(
        user_event("can we schedule a call with your marketing manager", "not_a_customer",
                   channel="socketio"),
        user_event("a person please", "request_human", channel="socketio"),
        slot_event("outcomes", ["handed_off"]),
    )  # fmt: skip
    assert (summary(handed_off).outcome, summary(handed_off).qualifies) == ("out_of_scope", False)
    weather = session(user_event("hoi", "greet", channel="socketio"),
                      user_event("wordt het morgen mooi weer", "out_of_scope", channel="socketio"))  # fmt: skip
    assert (summary(weather).outcome, summary(weather).qualifies) == ("out_of_scope", False)


def test_a_customer_who_also_chats_off_topic_still_counts():
    events = session(
        user_event("wat een weer he", "out_of_scope", channel="socketio"),
        user_event("zijn jullie zaterdag open", "ask_opening_hours", channel="socketio"),
    )
    assert (summary(events).outcome, summary(events).qualifies) == ("self_served", True)
    booked = session(
        user_event("wij zijn een bureau", "not_a_customer", channel="socketio"),
        user_event("maar ik wil ook een apk", "book_service", channel="socketio"),
        slot_event("outcomes", ["appointment_booked"]),
    )
    assert (summary(booked).outcome, summary(booked).qualifies) == ("appointment_booked", True)


def test_a_conversation_held_by_staff_counts_like_any_other():
    """Staff messages (``metadata.staff``) and the hand-back message (``metadata.system``) are
    not the bot's: they stay out of the bot's counts and first response time. The customer's
    messages while the bot was paused count for MEC as any others."""
    ask = user_event("ik wil een medewerker", "request_human", channel="socketio")
    events = session(ask, {"event": "pause", "timestamp": ask["timestamp"] + 1})
    staff = bot_event("Goedemiddag, met Anna")
    staff["metadata"] = {"staff": "anna"}
    later = user_event("Kan ik morgen langskomen?", "book_service", channel="socketio")
    back = bot_event("Ik geef u terug aan de digitale assistent.")
    back["metadata"] = {"system": "takeover"}
    record = summary([*events, staff, later, back, {"event": "resume"}])
    assert (record.customer_messages, record.bot_messages) == (2, 0)
    assert record.first_response_ms is None  # the bot never answered
    assert record.qualifies and record.intents == ("request_human", "book_service")
    assert record.last_message_at.timestamp() == back["timestamp"]
    bot = {**bot_event("Ik verbind u door."), "timestamp": ask["timestamp"] + 2}
    replied = summary([ask, staff, bot, later])  # staff wrote 1 s, the bot 2 s after the ask
    assert (replied.bot_messages, replied.first_response_ms) == (1, 2000)


def test_one_person_key_for_a_number_on_the_web_and_on_whatsapp():
    from core.engagement import person_key

    whatsapp = summary(session(user_event("prijs golf?", "ask_price", channel="whatsapp")),
                       sender="whatsapp:+31612345678/autohuis-demo")  # fmt: skip
    web = summary(session(user_event("apk", "book_service", channel="socketio"),
                          slot_event("contact", "+31612345678")))  # fmt: skip
    assert whatsapp.person_key == web.person_key == person_key(SECRET, "+31612345678")
    assert whatsapp.contact_key != web.contact_key  # two contacts, one person
    assert "31612345678" not in whatsapp.person_key
    mail = summary(session(user_event("apk", "book_service", channel="socketio"),
                           slot_event("contact", "Jan@Example.nl")))  # fmt: skip
    assert mail.person_key == person_key(SECRET, "jan@example.nl") != web.person_key
    assert (
        summary(session(user_event("prijs?", "ask_price", channel="socketio"))).person_key is None
    )
    assert person_key(SECRET, "0612345678") is None  # only normalised numbers (E.164)
    assert person_key(SECRET, None) is None and person_key(SECRET, "hallo") is None
