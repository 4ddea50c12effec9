"""SQL models. Times are stored as naive UTC (``utc_naive``); SQLite has no time zones."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()


def new_id() -> str:
    return uuid.uuid4().hex


def utc_naive(moment: dt.datetime) -> dt.datetime:
    """Aware datetime -> naive UTC for storage."""
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def from_utc_naive(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.timezone.utc)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Appointment(Base):
    __tablename__ = "appointments"

    id = Column(String(32), primary_key=True, default=new_id)
    reference = Column(String(12), nullable=False, unique=True)
    dealer_id = Column(String(64), nullable=False)
    service_id = Column(String(32), nullable=False)
    plate = Column(String(16), nullable=False)
    starts_at = Column(DateTime, nullable=False)
    ends_at = Column(DateTime, nullable=False)
    customer_name = Column(String(200), nullable=False)
    phone = Column(String(32))
    email = Column(String(254))
    mileage_km = Column(Integer)
    status = Column(String(16), nullable=False, default="booked")
    language = Column(String(2), nullable=False, default="nl")
    channel = Column(String(32), nullable=False, default="rest")
    sender_id = Column(String(255), nullable=False)
    conversation_id = Column(String(32), index=True)
    idempotency_key = Column(String(64), nullable=False, unique=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    cancelled_at = Column(DateTime)

    reservations = relationship(
        "SlotReservation", cascade="all, delete-orphan", back_populates="appointment"
    )

    __table_args__ = (
        Index("ix_appointments_dealer_plate", "dealer_id", "plate", "status"),
        Index("ix_appointments_sender", "sender_id"),
    )


class SlotReservation(Base):
    """One workshop seat in one slot. The unique key makes over-booking impossible."""

    __tablename__ = "slot_reservations"

    id = Column(Integer, primary_key=True, autoincrement=True)
    appointment_id = Column(
        String(32), ForeignKey("appointments.id", ondelete="CASCADE"), nullable=False
    )
    dealer_id = Column(String(64), nullable=False)
    slot_start = Column(DateTime, nullable=False)
    seat = Column(Integer, nullable=False)

    appointment = relationship("Appointment", back_populates="reservations")

    __table_args__ = (
        UniqueConstraint("dealer_id", "slot_start", "seat", name="uq_slot_seat"),
        Index("ix_slot_reservations_appointment", "appointment_id"),
    )


class Lead(Base):
    """A sales lead: test drive, trade-in appraisal, financing or sales callback, or a handoff."""

    __tablename__ = "leads"

    id = Column(String(32), primary_key=True, default=new_id)
    reference = Column(String(12), nullable=False, unique=True)
    dealer_id = Column(String(64), nullable=False)
    kind = Column(String(16), nullable=False)
    stock_id = Column(String(64))
    car = Column(String(200))
    preferred_at = Column(DateTime)
    plate = Column(String(16))
    mileage_km = Column(Integer)
    note = Column(Text)
    customer_name = Column(String(200))
    phone = Column(String(32))
    email = Column(String(254))
    transcript = Column(Text)
    status = Column(String(16), nullable=False, default="open")
    language = Column(String(2), nullable=False, default="nl")
    channel = Column(String(32), nullable=False, default="rest")
    sender_id = Column(String(255), nullable=False)
    conversation_id = Column(String(32), index=True)
    idempotency_key = Column(String(64), nullable=False, unique=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_leads_dealer_created", "dealer_id", "created_at"),
        Index("ix_leads_sender", "sender_id"),
    )


class Conversation(Base):
    """One Rasa session of one contact: the engagement log every metric rests on.

    ``id`` is derived from the sender and the session's start, so re-recording the same session
    updates the same row. No raw sender id or phone number is stored here: ``contact_key`` is an
    HMAC of channel + sender id.
    """

    __tablename__ = "conversations"

    id = Column(String(32), primary_key=True)
    dealer_id = Column(String(64), nullable=False)
    channel = Column(String(16), nullable=False)
    contact_key = Column(String(64), nullable=False)
    language = Column(String(2), nullable=False)
    started_at = Column(DateTime, nullable=False)
    last_message_at = Column(DateTime, nullable=False)
    customer_messages = Column(Integer, nullable=False, default=0)
    bot_messages = Column(Integer, nullable=False, default=0)
    first_response_ms = Column(Integer)
    intents = Column(Text, nullable=False, default="")  # business intents, comma separated
    outcome = Column(String(32), nullable=False)
    qualifies = Column(Boolean, nullable=False)
    qualify_reason = Column(String(200), nullable=False)
    is_test = Column(Boolean, nullable=False, default=False)
    survey_offered_at = Column(DateTime)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_conversations_dealer_started", "dealer_id", "started_at"),
        Index("ix_conversations_contact", "contact_key"),
    )


class SurveyAnswer(Base):
    """One answer to one survey question; one row per conversation and question."""

    __tablename__ = "survey_answers"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(
        String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    )
    question = Column(String(16), nullable=False)  # csat, ces, nps, comment
    score = Column(Integer)
    comment = Column(Text)
    answered_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("conversation_id", "question", name="uq_survey_answer"),)


class Erasure(Base):
    """A contact asked to be forgotten: tracker events still to purge, and a tombstone."""

    __tablename__ = "erasures"

    id = Column(Integer, primary_key=True, autoincrement=True)
    contact_key = Column(String(64), nullable=False)
    sender_id_hash = Column(String(64), nullable=False)
    requested_at = Column(DateTime, nullable=False, default=utcnow)
    tracker_purged_at = Column(DateTime)
