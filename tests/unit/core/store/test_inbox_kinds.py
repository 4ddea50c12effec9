"""The inbox catches what went wrong (issue 21 section 2): one conversation per kind, built
from Rasa's events, run through the detection as at a conversation's end; every item has its
reason and a masked text."""

import datetime as dt

import pytest

from core.store.inbox import REASONS, inbox_items, reply_language
from core.store.inbox_scan import session_items
from tests.trackers import action_event, bot_event, slot_event, user_event

NOT_UNDERSTOOD_NL = "Sorry, dat begreep ik niet. Kunt u het anders zeggen?"
PERSONAL = ("Emily", "Clarke", "Jan ", "Vries", "jan@devries.nl", "0612345678", "06-12345678", "GX-123-T",
            "info@seo-bureau.nl", "NL91ABNA0417164300", "Dorpsstraat 12")  # fmt: skip


@pytest.fixture(autouse=True)
def _settings(monkeypatch):
    monkeypatch.setenv("DEALERBOT_INBOX_CONFIDENCE", "0.6")


def start(language="nl"):
    return [
        {"event": "session_started", "timestamp": 1_795_420_000.0},
        slot_event("dealer_id", "autohuis-demo"),
        slot_event("language", language),
        action_event("action_listen"),
    ]


def detect(events, ended=True, sender="31600000000"):
    """Detection as the end-of-conversation scan runs it (with the engagement outcome)."""
    [(_cid, found)] = session_items(sender, events, ended=ended, threshold=0.6)
    return found


def not_understood(language="nl"):
    text = NOT_UNDERSTOOD_NL if language == "nl" else "Sorry, I didn't understand that."
    return [action_event("action_default_fallback"), bot_event(text, "utter_default", language)]


def only(found, reason):
    """The one item found, of this reason, with nothing personal in its text or context."""
    assert [i.reason for i in found] == [reason], [(i.reason, i.text, i.detail) for i in found]
    assert_masked(found[0])
    return found[0]


def assert_masked(item):
    for value in PERSONAL:
        assert value not in item.text and all(value not in line for line in item.context), item


def test_a_policy_fallback_at_high_nlu_confidence_is_an_item():
    events = [
        *start(),
        user_event("wis mijn gegevens, ik ben Jan de Vries", "delete_my_data", language="nl"),
        action_event("utter_ask_confirm_delete"),
        bot_event("Weet u zeker dat ik alles moet wissen?", "utter_ask_confirm_delete"),
        user_event("nee, niet wissen", "deny", confidence=0.9998, language="nl"),
        *not_understood(),
    ]
    item = only(detect(events), "fallback_reply")
    assert (item.text, item.intent, item.confidence) == ("nee, niet wissen", "deny", 0.9998)
    assert "deny 0.9998" in item.detail and "did not understand" in item.detail


def test_an_nlu_fallback_answered_with_did_not_understand_is_an_item():
    events = [
        *start(),
        user_event("mijn bak maakt herrie, bel 06-12345678", "nlu_fallback", confidence=0.3),
        *not_understood(),
    ]
    item = only(detect(events), "fallback")
    assert item.text == "mijn bak maakt herrie, bel <phone>"
    assert "did not understand" in item.detail


def test_a_question_reprompted_twice_in_a_row_is_an_item():
    events = [*start(), user_event("ik wil een apk", "book_service", language="nl")]
    events += [
        slot_event("requested_slot", "plate"),
        bot_event("Wat is uw kenteken?", "utter_ask_plate"),
    ]
    for answer in ("weet ik niet", "geen idee, mail jan@devries.nl maar"):
        events += [
            user_event(answer, "inform", confidence=0.8),
            slot_event("requested_slot", "plate"),
        ]
        events += [bot_event("Wat is uw kenteken?", "utter_ask_plate")]
    events.append(user_event("GX-123-T", "inform", confidence=0.9))
    events.append(slot_event("requested_slot", "mileage"))
    item = only(detect(events, ended=False), "reprompt")
    assert item.text == "geen idee, mail <email> maar"
    assert item.detail == "plate asked again 2 times in a row"


def test_one_reprompt_is_no_item():
    events = [*start(), user_event("ik wil een apk", "book_service", language="nl")]
    events += [slot_event("requested_slot", "plate"), bot_event("Kenteken?", "utter_ask_plate")]
    events += [user_event("weet ik niet", "inform", confidence=0.8)]
    events += [slot_event("requested_slot", "plate"), bot_event("Kenteken?", "utter_ask_plate")]
    assert detect(events, ended=False) == []


def test_a_reply_in_another_language_than_the_customers_is_an_item():
    events = [
        *start(),
        user_event("hoi, ik ben Emily Clarke", "greet", language="nl"),
        slot_event("customer_name", "Emily Clarke"),
        bot_event("Goedendag! Waarmee kan ik helpen?", "utter_greet"),
        user_event("Emily hier, wanneer zijn jullie open", "ask_opening_hours", language="nl"),
        bot_event("We are open from 8:00 to 17:30.", "utter_opening_hours", "en"),
    ]
    item = only(detect(events), "wrong_language")
    assert (item.text, item.language, item.detail) == (
        "<name> hier, wanneer zijn jullie open",
        "nl",
        "customer nl, reply en",
    )


def test_the_language_follows_the_bots_rule_so_an_agreed_switch_is_no_item():
    events = [
        *start(),
        user_event("hello, what time do you open tomorrow", "ask_opening_hours", language="en"),
        bot_event("We are open from 8:00 to 17:30.", "utter_opening_hours", "en"),
    ]
    assert detect(events) == []
    assert reply_language(bot_event("Hallo", "utter_greet")) == "nl"
    assert reply_language(bot_event("free text")) is None


def test_a_conversation_that_switched_language_is_an_item_at_the_switch():
    """Issue 21: "a Dutch customer whose conversation switched to English" was missed."""
    events = [
        *start(),
        user_event("ik wil een afspraak voor mijn auto maken", "book_service", language="nl"),
        bot_event("Wat kunnen we voor u doen?", "utter_service_list"),
        user_event("the engine light is on, diagnosis please", "inform", language="en"),
        bot_event("What's the licence plate?", "utter_ask_plate", "en"),
    ]
    item = only(detect(events, ended=False), "language_switch")
    assert item.text == "the engine light is on, diagnosis please"
    assert item.detail.startswith("the conversation went from nl to en here")


def test_a_handoff_after_did_not_understand_is_an_item():
    events = [
        *start(),
        user_event("de koppeling slipt, kenteken GX-123-T", "book_service", language="nl"),
        *not_understood(),
        user_event("mag ik een mens", "request_human", language="nl"),
        action_event("action_handoff"),
        slot_event("outcomes", ["handed_off"]),
        bot_event("Ik geef u door aan een collega.", "utter_handoff"),
    ]
    item = only(detect(events), "fallback_handoff")
    assert item.text == "de koppeling slipt, kenteken <plate>"
    assert "fallback_reply" in item.detail and "handoff" in item.detail


def test_a_low_csat_is_an_item_with_the_messages_before_the_rating():
    events = [
        *start(),
        user_event("mijn naam is Emily Clarke, ik wil een apk", "book_service", language="nl"),
        slot_event("customer_name", "Emily Clarke"),
        bot_event("Wat is uw telefoonnummer, Emily?", "utter_ask_phone"),
        user_event("0612345678, iban NL91ABNA0417164300", "inform", confidence=0.9),
        slot_event("outcomes", ["appointment_booked"]),
        bot_event("Geboekt. Hoe tevreden bent u (1-5)?", "utter_ask_csat"),
        user_event("2", "inform", confidence=0.7),
        slot_event("csat", "2"),
    ]
    item = only(detect(events), "low_csat")
    assert item.text == "<phone>, iban <iban>"
    assert item.detail == "rated CSAT 2"
    assert item.context == (
        "customer: mijn naam is <name>, ik wil een apk",
        "bot: Wat is uw telefoonnummer, <name>?",
        "customer: <phone>, iban <iban>",
        "bot: Geboekt. Hoe tevreden bent u (1-5)?",
    )
    assert_masked(item)
    rating = events[-2]["timestamp"]
    assert item.sent_at == dt.datetime.fromtimestamp(rating, dt.timezone.utc).replace(tzinfo=None)


def test_a_confident_business_intent_in_a_conversation_ending_without_a_result_is_an_item():
    pitch = "Wij bieden SEO voor uw website, mail info@seo-bureau.nl of Dorpsstraat 12 Utrecht"
    events = [
        *start(),
        user_event(pitch, "ask_financing", confidence=0.97, language="nl"),
        bot_event("U kunt bij ons financieren vanaf 4,9%.", "utter_financing"),
    ]
    item = only(detect(events), "no_outcome")
    assert item.text == "Wij bieden SEO voor uw website, mail <email> of <address> Utrecht"
    assert item.detail.startswith("ask_financing 0.97, ended self_served")
    assert detect(events, ended=False) == []  # while it goes on, nobody knows yet
    answered = [*start(), user_event("wanneer open", "ask_opening_hours", confidence=0.97, language="nl"),
                bot_event("Wij zijn open van 8 tot 17.30.", "utter_opening_hours")]  # fmt: skip
    assert detect(answered) == []  # an information question the bot answered


def test_every_kind_in_one_conversation_file_has_a_masked_text():
    """One session holding every kind: each reason once, every text masked."""
    events = [
        *start(),
        user_event(
            "Wij bieden SEO, info@seo-bureau.nl", "book_test_drive", confidence=0.95, language="nl"
        ),
        action_event("utter_ask_car"),
        bot_event("Voor welke auto?", "utter_ask_car"),
        user_event("nee, niet wissen", "deny", confidence=0.9998, language="nl"),
        *not_understood(),
        user_event("mijn naam is Emily Clarke", "inform", confidence=0.9, language="nl"),
        bot_event("We are open until 17:30.", "utter_opening_hours", "en"),
        user_event("bla 06-12345678", "nlu_fallback", confidence=0.2),
        *not_understood(),
        user_event("mens graag", "request_human", language="nl"),
        slot_event("outcomes", ["handed_off"]),
    ]
    found = inbox_items(events, conversation_id="c", dealer_id="d", threshold=0.6,
                        outcome="handed_off", ended=True)  # fmt: skip
    assert {i.reason for i in found} == {"fallback_reply", "wrong_language", "fallback_handoff"}
    for item in found:
        assert item.reason in REASONS and item.detail
        assert_masked(item)
