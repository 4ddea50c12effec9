"""Book, move and cancel over the REST channel against the real servers; check the store."""

import pytest
from sqlalchemy import select

from core.store.models import Appointment, Lead
from tests.e2e.conftest import say, texts

pytestmark = pytest.mark.e2e


def test_book_an_appointment_in_dutch(stack):
    sender = "e2e-book-nl"
    assert "Welkom bij Autohuis De Vries" in texts(say(stack, sender, "hoi"))
    say(stack, sender, "ik wil een apk inplannen voor mijn auto")
    assert "kilometerstand" in texts(say(stack, sender, "12-abc-3"))
    assert "Wanneer" in texts(say(stack, sender, "ongeveer 85.000 km"))
    say(stack, sender, "morgen om 10 uur")
    say(stack, sender, "Jan de Vries")
    summary = texts(say(stack, sender, "06 12345678"))
    assert "12-ABC-3" in summary and "dinsdag 24 november om 10:00" in summary
    assert "Gelukt" in texts(say(stack, sender, "ja"))
    with stack.store() as session:
        booked = session.scalars(select(Appointment).where(Appointment.sender_id == sender)).one()
    assert (booked.plate, booked.service_id, booked.mileage_km) == ("12-ABC-3", "apk", 85000)
    assert (booked.phone, booked.language, booked.status) == ("+31612345678", "nl", "booked")


def test_a_second_booking_for_the_car_moves_the_first_when_asked(stack):
    """A customer who books again for a car that has an appointment is asked whether to move
    that one (a move read as a booking had booked the car twice)."""

    def book(sender: str, when: str) -> str:
        say(stack, sender, "ik wil een onderhoudsbeurt inplannen")
        for answer in ("34-xyz-5", "ongeveer 60.000 km", when, "Els Bakker"):
            say(stack, sender, answer)
        return texts(say(stack, sender, "els@example.nl"))

    assert "woensdag 25 november om 11:00" in book("e2e-twice-1", "woensdag om 11 uur")
    assert "Gelukt" in texts(say(stack, "e2e-twice-1", "ja"))
    question = book("e2e-twice-2", "donderdag om 14 uur")
    assert "U heeft al een afspraak voor 34-XYZ-5" in question
    assert "woensdag 25 november om 11:00" in question
    moved = texts(say(stack, "e2e-twice-2", "ja graag"))
    assert "verzet naar donderdag 26 november om 14:00" in moved
    with stack.store() as session:
        (row,) = session.scalars(select(Appointment).where(Appointment.plate == "34-XYZ-5")).all()
    assert (row.sender_id, row.status) == ("e2e-twice-1", "booked")


def test_english_customer_gets_english_and_a_handoff(stack):
    sender = "e2e-en"
    assert "Welcome to Autohuis De Vries" in texts(say(stack, sender, "hello there"))
    reply = texts(say(stack, sender, "I would like to speak to a real person please"))
    assert "colleague" in reply
    with stack.store() as session:
        lead = session.scalars(select(Lead).where(Lead.sender_id == sender)).one()
    assert lead.kind == "handoff" and "real person" in lead.transcript


def test_the_bot_follows_a_language_switch(stack):
    sender = "e2e-switch"
    assert "Welkom" in texts(say(stack, sender, "goedemiddag"))
    english = texts(say(stack, sender, "do you have any electric cars?"))
    assert "matching car" in english and "€" in english
    dutch = texts(say(stack, sender, "en wat kost de golf?"))
    assert "Prijzen van de Volkswagen Golf" in dutch


def test_the_rasa_server_froze_its_heap_once_started(stack):
    """bot.rasa_speedups.freeze_heap ran in the Rasa server (full collections skip the model)."""
    log = (stack.var_dir / f"rasa-{stack.rasa_port}.log").read_text(errors="replace")
    assert "objects of the started server frozen" in log
