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
