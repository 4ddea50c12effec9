"""The store on SQLite and PostgreSQL: bookings, races for the last seat, leads, erasure."""

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from core.store.models import Appointment, Lead, Notification, SlotReservation
from core.store.repositories import (
    AppointmentRequest,
    SlotTaken,
    add_lead_contact,
    book_appointment,
    cancel_appointment,
    create_lead,
    find_appointment,
    free_slot_checker,
    reschedule_appointment,
)


def request(dealer, sender, start, plate="12-ABC-3", minutes=60):
    return AppointmentRequest(
        dealer_id=dealer.id, service_id="apk", plate=plate, starts_at=start, duration_min=minutes,
        customer_name="Jan", phone="+31612345678", email=None, mileage_km=1000, language="nl",
        channel="rest", sender_id=sender,
    )  # fmt: skip


def at(dealer, *args):
    return dt.datetime(*args, tzinfo=dealer.timezone)


def count(factory, model):
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_booking_fills_seats_up_to_capacity(store, dealer):
    tuesday = at(dealer, 2026, 11, 24, 10, 0)  # two bays
    book_appointment(store, dealer, request(dealer, "a", tuesday, "11-AAA-1"))
    book_appointment(store, dealer, request(dealer, "b", tuesday, "22-BBB-2"))
    with pytest.raises(SlotTaken):
        book_appointment(store, dealer, request(dealer, "c", tuesday, "33-CCC-3"))
    assert count(store, Appointment) == 2 and count(store, SlotReservation) == 4
    is_free = free_slot_checker(store, dealer, 60)
    assert not is_free(tuesday) and is_free(tuesday + dt.timedelta(hours=1))


def test_two_customers_race_for_the_last_seat(store, dealer):
    friday = at(dealer, 2026, 11, 27, 9, 0)  # one bay on Friday
    results: list[str] = []
    barrier = threading.Barrier(6)

    def customer(i: int) -> None:
        barrier.wait()
        try:
            book_appointment(store, dealer, request(dealer, f"racer-{i}", friday, f"1{i}-ABC-1"))
            results.append("booked")
        except SlotTaken:
            results.append("taken")

    threads = [threading.Thread(target=customer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["booked"] + ["taken"] * 5
    assert count(store, Appointment) == 1 and count(store, SlotReservation) == 2


def test_find_reschedule_cancel(store, dealer, now):
    booked = book_appointment(store, dealer, request(dealer, "a", at(dealer, 2026, 11, 24, 10)))
    found = find_appointment(store, dealer.id, "12-ABC-3", phone="+31612345678", now=now)
    assert found.id == booked.id
    assert find_appointment(store, dealer.id, "12-ABC-3", email="x@y.nl", now=now) is None
    blocker = book_appointment(store, dealer, request(dealer, "b", at(dealer, 2026, 11, 27, 9),
                                                      "99-ZZZ-9"))  # fmt: skip
    with pytest.raises(SlotTaken):
        reschedule_appointment(store, dealer, booked.id, at(dealer, 2026, 11, 27, 9))
    with store() as session:  # the failed move kept the original seats
        assert session.get(Appointment, booked.id).starts_at == dt.datetime(2026, 11, 24, 9)
    reschedule_appointment(store, dealer, booked.id, at(dealer, 2026, 11, 25, 8))
    cancel_appointment(store, blocker.id)
    cancel_appointment(store, blocker.id)  # twice is harmless
    assert count(store, SlotReservation) == 2


def test_leads_are_idempotent(store, dealer):
    fields = dict(dealer_id=dealer.id, kind="trade_in", language="nl", channel="web",
                  sender_id="me", note="Robert'); DROP TABLE leads;--")  # fmt: skip
    first = create_lead(store, key_parts=("me", 1), **fields)
    again = create_lead(store, key_parts=("me", 1), **fields)
    assert first.id == again.id and count(store, Lead) == 1
    with store() as session:
        assert session.get(Lead, first.id).note == fields["note"]  # stored as plain data


def test_contact_details_added_to_a_handoff_keep_what_was_known(store, dealer):
    handoff = create_lead(store, key_parts=("web-1", "handoff"), dealer_id=dealer.id,
                          kind="handoff", language="nl", channel="web", sender_id="web-1",
                          email="anna@example.nl")  # fmt: skip
    add_lead_contact(store, handoff.id, customer_name="Anna", phone="+31612345678",
                     email="other@example.nl")  # fmt: skip
    with store() as session:
        lead = session.get(Lead, handoff.id)
        kinds = sorted(session.scalars(select(Notification.kind)))
    assert (lead.customer_name, lead.phone, lead.email) == (
        "Anna", "+31612345678", "anna@example.nl")  # fmt: skip
    assert kinds == ["handoff", "handoff_contact"]
    add_lead_contact(store, handoff.id, customer_name="Anna")  # nothing new: nobody told
    assert count(store, Notification) == 2
    assert add_lead_contact(store, "no-such-lead", phone="+31612345678") is None
