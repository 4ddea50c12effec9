"""Issue 16 over the REST channel: one-shot bookings in both languages, answered only with
language-neutral words after the opening; the store holds what the opening message said."""

import pytest
from sqlalchemy import select

from core.store.models import Appointment
from tests.e2e.conftest import say, texts

pytestmark = pytest.mark.e2e

NOT_UNDERSTOOD = ("didn't understand", "begreep ik niet")


def buttons(replies: list[dict]) -> list[dict]:
    return [b for r in replies for b in r.get("buttons") or []]


def booked(stack, sender: str) -> Appointment:
    with stack.store() as session:
        return session.scalars(select(Appointment).where(Appointment.sender_id == sender)).one()


def test_one_shot_booking_in_english_with_neutral_answers(stack):
    sender = "e2e-oneshot-en"
    opening = say(
        stack,
        sender,
        "I'd like to book a maintenance service for my Golf, registration GX-123-T, "
        "sometime next Thursday morning",
    )
    # Service, plate and the window are taken: the first question is the mileage, in English.
    first = texts(opening)
    assert "mileage" in first and not any(s in first for s in NOT_UNDERSTOOD), first
    thursday = say(stack, sender, "80000")
    assert "Thursday 26 November" in texts(thursday), texts(thursday)
    times = [b["payload"] for b in buttons(thursday) if "2026-11-26T" in b["payload"]]
    assert times and all(p.split('"')[3][11:13] < "12" for p in times)  # the morning only
    assert "name" in texts(say(stack, sender, times[0]))
    assert "e-mail" in texts(say(stack, sender, "Jan de Vries"))
    summary = texts(say(stack, sender, "jan@example.com"))
    assert "Let me check" in summary and "GX-123-T" in summary, summary
    assert "Done" in texts(say(stack, sender, "ok"))
    row = booked(stack, sender)
    assert (row.service_id, row.plate, row.mileage_km) == ("maintenance", "GX-123-T", 80000)
    assert (row.email, row.language) == ("jan@example.com", "en")


def test_one_shot_booking_in_dutch_with_neutral_answers(stack):
    sender = "e2e-oneshot-nl"
    first = texts(say(stack, sender, "Ik wil een APK-afspraak maken"))
    assert "kenteken" in first and "Waarvoor" not in first, first  # the service is known
    assert "kilometerstand" in texts(say(stack, sender, "GX-123-T"))
    assert "Wanneer" in texts(say(stack, sender, "ruim 142 duizend"))
    thursday = say(stack, sender, "donderdagochtend")
    assert "donderdag 26 november" in texts(thursday), texts(thursday)
    times = [b["payload"] for b in buttons(thursday) if "2026-11-26T" in b["payload"]]
    assert "naam" in texts(say(stack, sender, times[0]))
    assert "telefoonnummer" in texts(say(stack, sender, "Sarah Jones"))
    summary = texts(say(stack, sender, "sarah@example.com"))
    assert "Even controleren" in summary and "APK" in summary, summary
    assert "Gelukt" in texts(say(stack, sender, "ok"))
    row = booked(stack, sender)
    assert (row.service_id, row.plate, row.mileage_km, row.language) == (
        "apk",
        "GX-123-T",
        142000,
        "nl",
    )


def test_two_unreadable_answers_get_a_way_out(stack):
    sender = "e2e-way-out"
    say(stack, sender, "ik wil een afspraak maken")
    say(stack, sender, "GX-123-T")  # no service: asked again (the plate is kept)
    second = say(stack, sender, "iets met de auto")
    reply = texts(second)
    assert "bel ons" in reply, reply
    payloads = {b["payload"] for b in buttons(second)}
    assert "/request_human" in payloads and '/inform{"service_type": "apk"}' in payloads
