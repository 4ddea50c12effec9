"""Contact details after a handoff whose chat may be gone: asked, validated, stored, told."""

import asyncio

import pytest
from rasa_sdk.events import SlotSet
from sqlalchemy import select

from actions.handoff import (
    ActionHandoff,
    ActionHandoffContact,
    ValidateHandoffContactForm,
    needs_contact_details,
)
from core.store.models import Lead, Notification
from tests.trackers import bot_event, make_tracker, responses, slot_event, user_event

FORM = "handoff_contact_form"


@pytest.fixture
def handoff(sqlite_factory, run, dispatcher):
    """A web customer's handoff: the lead, and the pending slot the action set."""
    events = run(ActionHandoff(session_factory=sqlite_factory),
                 make_tracker(user_event("ik wil iemand spreken", "request_human")))  # fmt: skip
    dispatcher.messages.clear()
    return next(e["value"] for e in events if e.get("name") == "handoff_pending")


def asked(slot, *answers, pending, **slots):
    """The form asked ``slot`` and the customer answered (the last answer is the latest)."""
    events = []
    for text, intent in answers:
        events += [slot_event("requested_slot", slot), bot_event(f"ask {slot}"),
                   user_event(text, intent)]  # fmt: skip
    return make_tracker(*events, active_loop=FORM,
                        slots={"requested_slot": slot, "handoff_pending": pending, **slots})  # fmt: skip


def test_who_is_asked():
    assert needs_contact_details("web", False, False)
    assert needs_contact_details("rest", True, False)  # the name is still missing
    assert not needs_contact_details("web", True, True)
    assert not needs_contact_details("whatsapp", False, False)  # the chat stays


def test_form_asks_contact_then_name_only_when_needed(sqlite_factory, dispatcher, domain, handoff):
    form = ValidateHandoffContactForm(session_factory=sqlite_factory)
    slots = ["contact", "customer_name"]
    required = form.required_slots(slots, dispatcher, asked("contact", pending=handoff), domain)
    assert asyncio.run(required) == slots
    for pending in (None, {**handoff, "needed": False}, {**handoff, "stopped": True}):
        tracker = asked("contact", pending=pending)
        assert asyncio.run(form.required_slots(slots, dispatcher, tracker, domain)) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [("mn nummer is 0612345678", "+31612345678"), ("06 12345678", "+31612345678"),
     ("jan@example.nl", "jan@example.nl"), ("mail maar naar Jan@Example.nl", "jan@example.nl")],
)  # fmt: skip
def test_contact_as_customers_type_it(sqlite_factory, dispatcher, domain, handoff, text, value):
    form = ValidateHandoffContactForm(session_factory=sqlite_factory)
    tracker = asked("contact", (text, "inform"), pending=handoff)
    assert form.validate_contact(text, dispatcher, tracker, domain) == {"contact": value}
    assert dispatcher.messages == []


def test_a_refusal_ends_the_questions(sqlite_factory, dispatcher, domain, handoff):
    form = ValidateHandoffContactForm(session_factory=sqlite_factory)
    for text in ("liever niet", "dat geef ik liever niet", "no thanks, I'd rather not"):
        tracker = asked("contact", (text, "inform"), pending=handoff)
        result = form.validate_contact(text, dispatcher, tracker, domain)
        assert result == {"contact": None, "handoff_pending": {**handoff, "stopped": True}}
    assert dispatcher.messages == []


def test_two_unreadable_numbers_end_the_questions_without_way_out_buttons(
    sqlite_factory, dispatcher, domain, handoff
):
    form = ValidateHandoffContactForm(session_factory=sqlite_factory)
    once = asked("contact", ("bel me maar", "inform"), pending=handoff)
    assert form.validate_contact("bel me maar", dispatcher, once, domain) == {"contact": None}
    assert responses(dispatcher) == ["utter_invalid_contact"]
    twice = asked("contact", ("bel me maar", "inform"), ("weet ik niet", "inform"), pending=handoff)
    result = form.validate_contact("weet ik niet", dispatcher, twice, domain)
    assert result["handoff_pending"]["stopped"] is True
    assert "utter_way_out" not in responses(dispatcher)


def test_name_as_customers_type_it(sqlite_factory, dispatcher, domain, handoff):
    form = ValidateHandoffContactForm(session_factory=sqlite_factory)
    tracker = asked("customer_name", ("jan de vries", "inform"), pending=handoff)
    assert form.validate_customer_name("jan de vries", dispatcher, tracker, domain) == {
        "customer_name": "Jan de Vries"
    }
    twice = asked("customer_name", ("ja", "affirm"), ("ok", "affirm"), pending=handoff)
    result = form.validate_customer_name("ok", dispatcher, twice, domain)
    assert result["customer_name"] is None and result["handoff_pending"]["stopped"] is True


def test_details_go_to_the_handoff_and_staff_hear_of_them(sqlite_factory, dispatcher, run,
                                                          handoff):  # fmt: skip
    tracker = make_tracker(user_event("piet", "inform"), slots={
        "handoff_pending": handoff, "contact": "+31612345678", "customer_name": "Piet"})  # fmt: skip
    events = run(ActionHandoffContact(session_factory=sqlite_factory), tracker)
    assert events == [SlotSet("handoff_pending", None)]
    (message,) = dispatcher.messages
    assert message["response"] == "utter_handoff_contact_saved_live"  # the test clock: open
    assert (message["name"], message["contact"]) == (", Piet", "+31612345678")
    assert message["reference"] == handoff["reference"]
    with sqlite_factory() as session:
        lead = session.scalars(select(Lead)).one()
        kinds = session.scalars(select(Notification.kind).order_by(Notification.id)).all()
    assert (lead.customer_name, lead.phone, lead.email) == ("Piet", "+31612345678", None)
    assert kinds == ["handoff", "handoff_contact"]
    run(ActionHandoffContact(session_factory=sqlite_factory), tracker)  # again: told once
    with sqlite_factory() as session:
        assert session.scalars(select(Notification.kind)).all() == ["handoff", "handoff_contact"]


def test_no_details_the_handoff_stands_and_the_customer_can_call(
    sqlite_factory, dispatcher, run, monkeypatch
):
    monkeypatch.setenv("DEALERBOT_FIXED_NOW", "2026-11-28T18:30:00+01:00")  # Saturday evening
    events = run(ActionHandoff(session_factory=sqlite_factory),
                 make_tracker(user_event("medewerker", "request_human")))  # fmt: skip
    pending = next(e["value"] for e in events if e.get("name") == "handoff_pending")
    tracker = make_tracker(user_event("nee", "deny"), slots={"handoff_pending": pending})
    run(ActionHandoffContact(session_factory=sqlite_factory), tracker)
    assert responses(dispatcher) == ["utter_handoff_closed_callback",
                                     "utter_handoff_contact_declined"]  # fmt: skip
    message = dispatcher.messages[-1]
    assert message["phone"] and message["next_open"] == "maandag 30 november om 09:00"
    with sqlite_factory() as session:
        assert session.scalars(select(Lead.kind)).all() == ["handoff"]
        assert session.scalars(select(Notification.kind)).all() == ["handoff"]


def test_nothing_to_say_when_nothing_was_asked(sqlite_factory, dispatcher, run):
    tracker = make_tracker(user_event("ok", "affirm"), slots={"handoff_pending": None})
    assert run(ActionHandoffContact(session_factory=sqlite_factory), tracker) == [
        SlotSet("handoff_pending", None)
    ]
    assert dispatcher.messages == []
