"""Store functions for appointments and leads. Each public function is one unit of work."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.settings import now as clock
from core.store.models import Appointment, Lead, SlotReservation, utc_naive, utcnow
from core.store.outbox import enqueue_for_appointment, enqueue_for_lead, enqueue_lead_contact
from dealer.config import Dealer
from dealer.hours import slot_starts

_REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_RETRIES = 5


class SlotTaken(Exception):
    """Every seat in one of the requested workshop slots is taken."""


def idempotency_key(*parts: object) -> str:
    """A stable key for one logical write, so a retried action does not write twice."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:64]


def _reference(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_REF_ALPHABET) for _ in range(6))


def reservation_counts(
    session_factory: sessionmaker,
    dealer_id: str,
    start: dt.datetime,
    end: dt.datetime,
    exclude_appointment_id: str | None = None,
) -> dict[dt.datetime, int]:
    """Seats taken per slot (naive UTC keys) in ``[start, end)``, one GROUP BY query."""
    query = (
        select(SlotReservation.slot_start, func.count())
        .where(
            SlotReservation.dealer_id == dealer_id,
            SlotReservation.slot_start >= utc_naive(start),
            SlotReservation.slot_start < utc_naive(end),
        )
        .group_by(SlotReservation.slot_start)
    )
    if exclude_appointment_id:
        query = query.where(SlotReservation.appointment_id != exclude_appointment_id)
    with session_factory() as session:
        return {row[0]: row[1] for row in session.execute(query)}


def free_slot_checker(
    session_factory: sessionmaker,
    dealer: Dealer,
    duration_min: int,
    exclude_appointment_id: str | None = None,
):
    """A fast ``is_free(start)`` for suggestions: one query over the whole booking horizon.

    Only a hint for what to offer; :func:`book_appointment` checks the seats again.
    """
    now = clock(dealer.timezone)
    counts = reservation_counts(
        session_factory,
        dealer.id,
        now - dt.timedelta(days=1),
        now + dt.timedelta(days=dealer.booking_horizon_days + 2),
        exclude_appointment_id,
    )

    def is_free(start: dt.datetime) -> bool:
        return all(
            counts.get(utc_naive(slot), 0) < dealer.capacity(slot.date())
            for slot in slot_starts(dealer, start, duration_min)
        )

    return is_free


def _reserve(session: Session, dealer: Dealer, appointment: Appointment) -> None:
    start = appointment.starts_at.replace(tzinfo=dt.timezone.utc).astimezone(dealer.timezone)
    minutes = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
    for slot in slot_starts(dealer, start, minutes):
        key = utc_naive(slot)
        taken = set(
            session.scalars(
                select(SlotReservation.seat).where(
                    SlotReservation.dealer_id == dealer.id, SlotReservation.slot_start == key
                )
            )
        )
        seat = next((s for s in range(1, dealer.capacity(slot.date()) + 1) if s not in taken), None)
        if seat is None:
            raise SlotTaken(slot)
        session.add(
            SlotReservation(appointment=appointment, dealer_id=dealer.id, slot_start=key, seat=seat)
        )
    # Flush now: a seat taken by a concurrent booking fails here, inside the retry loop.
    session.flush()


def _with_retries(work):
    """Run ``work()``; retry when a concurrent writer took the same seat or held the lock."""
    for attempt in range(_RETRIES):
        try:
            return work()
        except (IntegrityError, OperationalError):
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class AppointmentRequest:
    dealer_id: str
    service_id: str
    plate: str
    starts_at: dt.datetime  # aware
    duration_min: int
    customer_name: str
    phone: str | None
    email: str | None
    mileage_km: int | None
    language: str
    channel: str
    sender_id: str
    conversation_id: str | None = None


def book_appointment(
    session_factory: sessionmaker, dealer: Dealer, request: AppointmentRequest
) -> Appointment:
    """Book one appointment and reserve its workshop seats, or raise :class:`SlotTaken`.

    Idempotent: the same sender booking the same car at the same time gets the first booking.
    """
    key = idempotency_key("appointment", request.sender_id, request.plate, request.starts_at)

    def work() -> Appointment:
        with session_factory.begin() as session:
            existing = session.scalar(select(Appointment).where(Appointment.idempotency_key == key))
            if existing is not None:
                return existing
            appointment = Appointment(
                reference=_reference("W"),
                dealer_id=dealer.id,
                service_id=request.service_id,
                plate=request.plate,
                starts_at=utc_naive(request.starts_at),
                ends_at=utc_naive(request.starts_at + dt.timedelta(minutes=request.duration_min)),
                customer_name=request.customer_name,
                phone=request.phone,
                email=request.email,
                mileage_km=request.mileage_km,
                status="booked",
                language=request.language,
                channel=request.channel,
                sender_id=request.sender_id,
                conversation_id=request.conversation_id,
                idempotency_key=key,
            )
            session.add(appointment)
            _reserve(session, dealer, appointment)
            enqueue_for_appointment(session, appointment, "booking")
            return appointment

    return _with_retries(work)


def find_appointment(
    session_factory: sessionmaker,
    dealer_id: str,
    plate: str,
    phone: str | None = None,
    email: str | None = None,
    now: dt.datetime | None = None,
) -> Appointment | None:
    """The next booked appointment for this plate whose phone or e-mail matches."""
    contact = []
    if phone:
        contact.append(Appointment.phone == phone)
    if email:
        contact.append(func.lower(Appointment.email) == email.lower())
    if not contact:
        return None
    query = (
        select(Appointment)
        .where(
            Appointment.dealer_id == dealer_id,
            Appointment.plate == plate,
            Appointment.status == "booked",
            Appointment.starts_at >= (utc_naive(now) if now else utcnow()),
            or_(*contact),
        )
        .order_by(Appointment.starts_at)
        .limit(1)
    )
    with session_factory() as session:
        return session.scalar(query)


def reschedule_appointment(
    session_factory: sessionmaker, dealer: Dealer, appointment_id: str, new_start: dt.datetime
) -> Appointment:
    """Move a booked appointment and its seats to ``new_start``, or raise :class:`SlotTaken`."""

    def work() -> Appointment:
        with session_factory.begin() as session:
            appointment = session.get(Appointment, appointment_id)
            if appointment is None or appointment.status != "booked":
                raise LookupError(appointment_id)
            if appointment.starts_at == utc_naive(new_start):
                return appointment  # a retried action: already moved
            duration = appointment.ends_at - appointment.starts_at
            session.execute(
                delete(SlotReservation).where(SlotReservation.appointment_id == appointment.id)
            )
            session.expire(appointment, ["reservations"])
            appointment.starts_at = utc_naive(new_start)
            appointment.ends_at = utc_naive(new_start + duration)
            appointment.updated_at = utcnow()
            _reserve(session, dealer, appointment)
            enqueue_for_appointment(session, appointment, "change")
            return appointment

    return _with_retries(work)


def cancel_appointment(session_factory: sessionmaker, appointment_id: str) -> Appointment:
    """Cancel an appointment and free its seats (cancelling twice is harmless)."""
    with session_factory.begin() as session:
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            raise LookupError(appointment_id)
        if appointment.status != "cancelled":
            appointment.status = "cancelled"
            appointment.cancelled_at = utcnow()
            session.execute(
                delete(SlotReservation).where(SlotReservation.appointment_id == appointment.id)
            )
            enqueue_for_appointment(session, appointment, "cancellation")
        return appointment


def add_lead_contact(
    session_factory: sessionmaker,
    lead_id: str,
    *,
    customer_name: str | None = None,
    phone: str | None = None,
    email: str | None = None,
) -> Lead | None:
    """Add the name, phone or e-mail a customer gave after their handoff was stored. Values the
    lead has are kept; when one is new, staff are told (a ``handoff_contact`` notification, once).
    None when the lead is gone (erased)."""
    given = {"customer_name": customer_name, "phone": phone, "email": email}

    def work() -> Lead | None:
        with session_factory.begin() as session:
            lead = session.get(Lead, lead_id)
            if lead is None:
                return None
            new = {k: v for k, v in given.items() if v and not getattr(lead, k)}
            for column, value in new.items():
                setattr(lead, column, value)
            if new:
                enqueue_lead_contact(session, lead)
            return lead

    return _with_retries(work)


def create_lead(session_factory: sessionmaker, *, key_parts: tuple, **fields) -> Lead:
    """Store a lead once; the same ``key_parts`` again return the first lead."""
    key = idempotency_key("lead", *key_parts)
    preferred = fields.get("preferred_at")
    if preferred is not None and preferred.tzinfo is not None:
        fields["preferred_at"] = utc_naive(preferred)

    def work() -> Lead:
        with session_factory.begin() as session:
            existing = session.scalar(select(Lead).where(Lead.idempotency_key == key))
            if existing is not None:
                return existing
            lead = Lead(reference=_reference("L"), idempotency_key=key, status="open", **fields)
            session.add(lead)
            enqueue_for_lead(session, lead)
            return lead

    return _with_retries(work)
