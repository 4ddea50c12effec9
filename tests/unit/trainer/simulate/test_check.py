"""A finished conversation judged by the store: outcome, exactly one expected row, survey."""

import datetime as dt

import pytest

from core.engagement import contact_key
from core.periods import conversation_keys
from core.store.models import Appointment, Conversation, Lead, SurveyAnswer, utc_naive
from trainer.simulate.customer import Profile, Transcript
from trainer.simulate.runner import business_share, check

SECRET = "test-secret"
START = dt.datetime(2026, 11, 23, 8, 0)


def transcript(flow="book", **expect):
    expect = {"outcome": "appointment_booked", **expect}
    profile = Profile(id=f"sim-{flow}", flow=flow, language="nl", opening="x", expect=expect)
    return Transcript(profile)


def add_conversation(session, sender, outcome="appointment_booked", qualifies=True, cid="c1"):
    session.add(Conversation(
        id=cid, dealer_id="autohuis-demo", channel="rest",
        contact_key=contact_key(SECRET, "rest", sender), language="nl", started_at=START,
        last_message_at=START, customer_messages=5, bot_messages=5, outcome=outcome,
        qualifies=qualifies, qualify_reason="test", customer_channel=True,  # as the simulator runs
        **conversation_keys("autohuis-demo", START),
    ))  # fmt: skip


def add_appointment(session, sender, at="2026-11-24T10:00", plate="12-ABC-3", **extra):
    start = dt.datetime.fromisoformat(at).replace(tzinfo=dt.timezone(dt.timedelta(hours=1)))
    fields = {
        "reference": f"W{plate}{at[8:10]}", "dealer_id": "autohuis-demo", "service_id": "apk",
        "plate": plate, "starts_at": utc_naive(start),
        "ends_at": utc_naive(start + dt.timedelta(hours=1)), "customer_name": "Jan de Vries",
        "phone": "+31612345678", "mileage_km": 85000, "sender_id": sender,
        "idempotency_key": f"k-{plate}-{at}", **extra,
    }  # fmt: skip
    session.add(Appointment(**fields))


BOOKED = {"plate": "12-ABC-3", "service_id": "apk", "mileage_km": 85000,
          "at": "2026-11-24T10:00", "phone": "+31612345678", "name": "jan de vries"}  # fmt: skip


def test_a_booking_with_its_row_and_survey_succeeds(sqlite_factory):
    t = transcript(appointment=BOOKED)
    t.survey_given = {"csat": 5, "comment": "top"}
    with sqlite_factory.begin() as session:
        add_conversation(session, "sim-book")
        add_appointment(session, "sim-book")
        session.flush()
        session.add(SurveyAnswer(conversation_id="c1", question="csat", score=5))
        session.add(SurveyAnswer(conversation_id="c1", question="comment", comment="top"))
    assert check(sqlite_factory, t, SECRET) == []


def test_wrong_outcome_time_survey_and_name_are_each_reported(sqlite_factory):
    t = transcript(appointment={**BOOKED, "at": "2026-11-26T09:00", "name": "Jan"})
    t.survey_given = {"csat": 3}
    with sqlite_factory.begin() as session:
        add_conversation(session, "sim-book", outcome="abandoned")
        add_appointment(session, "sim-book")
    problems = check(sqlite_factory, t, SECRET)
    assert any("outcome abandoned" in p for p in problems)
    assert any("appointment at 2026-11-24T10:00" in p for p in problems)
    assert any("name 'Jan de Vries'" in p for p in problems)
    assert any("survey answers stored {}" in p for p in problems)


def test_a_time_the_customer_took_from_the_offered_buttons_is_not_checked(sqlite_factory):
    t = transcript(appointment={**BOOKED, "at": "2026-11-26T09:00"})
    t.time_flexible = True
    with sqlite_factory.begin() as session:
        add_conversation(session, "sim-book")
        add_appointment(session, "sim-book")
    assert check(sqlite_factory, t, SECRET) == []


def test_two_bookings_or_none_fail(sqlite_factory):
    t = transcript(appointment=BOOKED)
    with sqlite_factory.begin() as session:
        add_conversation(session, "sim-book")
        add_appointment(session, "sim-book")
        add_appointment(session, "sim-book", at="2026-11-25T10:00")
    assert check(sqlite_factory, t, SECRET) == ["2 appointments for 12-ABC-3, expected 1"]
    assert "0 conversation rows" in check(sqlite_factory, transcript(flow="hours"), SECRET)[0]


def test_a_lead_where_none_belongs_and_a_qualifying_off_topic_chat_fail(sqlite_factory):
    t = transcript(flow="off_topic", outcome="abandoned")
    with sqlite_factory.begin() as session:
        add_conversation(session, "sim-off_topic", outcome="abandoned", qualifies=True)
        session.add(Lead(reference="L1", dealer_id="autohuis-demo", kind="handoff",
                         sender_id="sim-off_topic", idempotency_key="l1"))  # fmt: skip
    problems = check(sqlite_factory, t, SECRET)
    assert problems == ["an off-topic conversation qualifies (test)",
                        "1 leads (handoff), expected none"]  # fmt: skip


def test_a_dead_end_or_a_missing_reply_fails_whatever_the_store_says(sqlite_factory):
    t = transcript(flow="hours", outcome="self_served", replies=("utter_hours_day",))
    t.dead_end = "plate"
    t.asks["plate"] = 5
    with sqlite_factory.begin() as session:
        add_conversation(session, "sim-hours", outcome="self_served")
    assert check(sqlite_factory, t, SECRET) == [
        "dead end: plate asked 5 times", "no utter_hours_day reply"]  # fmt: skip


@pytest.mark.parametrize(
    ("intents", "share"),
    [(["out_of_scope", "nlu_fallback", "greet"], 0.0), (["ask_location", "greet"], 0.5), ([], 0.0)],
)
def test_business_share_counts_business_intents_only(intents, share):
    assert business_share(intents) == share


def test_a_task_outcome_that_does_not_qualify_fails(sqlite_factory):
    t = transcript(flow="handoff", outcome="handed_off", lead={"kind": "handoff"})
    with sqlite_factory.begin() as session:
        add_conversation(session, "sim-handoff", outcome="handed_off", qualifies=False)
        session.add(Lead(reference="L1", dealer_id="autohuis-demo", kind="handoff",
                         sender_id="sim-handoff", idempotency_key="l1"))  # fmt: skip
    problems = check(sqlite_factory, t, SECRET)
    assert problems == ["a conversation with outcome handed_off does not qualify (test)"]
