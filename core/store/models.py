"""SQL models. Times are stored as naive UTC (``utc_naive``); SQLite has no time zones."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeMeta, registry, relationship

from core.engagement import bucket_index

mapper_registry = registry()


class Base(metaclass=DeclarativeMeta):
    """The declarative base, spelled out as a class (what ``declarative_base()`` builds) so
    that the type checker sees a class to derive the models from."""

    __abstract__ = True
    registry = mapper_registry
    metadata = mapper_registry.metadata
    __init__ = mapper_registry.constructor


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


# The columns a rollup reads; channel and language first, so GROUP BY needs no sort.
ROLLUP_COLUMNS = (
    "channel", "language", "qualifies", "is_test", "outcome", "first_response_bucket",
    "survey_offered_at", "csat", "ces", "nps", "contact_key", "id", "fallback_messages",
)  # fmt: skip
SURVEY_SCORE_COLUMNS = ("csat", "ces", "nps")  # survey_answers.question -> conversations column
CONTACT_PERIOD_COLUMNS = (
    "contact_key", "dealer_id", "qualifies", "day_key", "week_key", "month_key", "language",
)  # fmt: skip
# The same for the person (MEC counts persons): a person's earlier conversations at a dealer.
PERSON_PERIOD_COLUMNS = ("person", *CONTACT_PERIOD_COLUMNS[1:], "channel")


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
    # On a customer channel (DEALERBOT_CUSTOMER_CHANNELS) when recorded: the rollup counts the
    # conversation's appointments and leads by this, not by the setting of the day (0015).
    customer_channel = Column(Boolean, nullable=False)
    survey_offered_at = Column(DateTime)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    # Period keys in the dealer's time zone (core.periods), so rollups GROUP BY a stored key.
    day_key = Column(String(10))
    week_key = Column(String(8))
    month_key = Column(String(7))
    # Kept in step by the mapper events below, so a rollup reads no join and no CASE chain:
    # the core.engagement.bucket_index of first_response_ms, and the survey_answers scores.
    first_response_bucket = Column(SmallInteger)
    csat = Column(SmallInteger)
    ces = Column(SmallInteger)
    nps = Column(SmallInteger)
    # Customer messages NLU did not understand (core.engagement.FALLBACK_INTENT): the fallback rate.
    fallback_messages = Column(Integer, nullable=False, default=0, server_default="0")
    # One person across channels (migration 0013): ``person_key`` is what this session showed
    # (core.engagement.person_key: HMAC of WhatsApp's number or the phone or e-mail given on the
    # web); ``person`` is whom MEC counts: the contact's person key once any of its
    # conversations showed one (the recorder links them all), else the contact key.
    person_key = Column(String(64))
    person = Column(String(64))

    __table_args__ = (
        Index("ix_conversations_dealer_started", "dealer_id", "started_at"),
        # Erasure finds a contact by its key; the rollup looks up each contact's earlier
        # conversations (new or returning, first in its week or month).
        Index("ix_conversations_contact_periods", *CONTACT_PERIOD_COLUMNS),
        Index("ix_conversations_person_periods", *PERSON_PERIOD_COLUMNS),
        # Covering index: the day cells of the rollup (metrics.aggregate) read only the index.
        Index(
            "ix_conversations_day", "day_key", "dealer_id", *ROLLUP_COLUMNS, "week_key", "month_key"
        ),  # fmt: skip
        Index("ix_conversations_week", "week_key", "dealer_id"),  # a week's conversations
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


@event.listens_for(Conversation, "before_insert")
def _person(_mapper, _connection, target: Conversation) -> None:
    """A conversation written through the ORM counts as its own person unless told otherwise
    (the recorder links a contact's conversations to its person key)."""
    if target.person is None:
        target.person = target.person_key or target.contact_key


@event.listens_for(Conversation, "before_insert")
@event.listens_for(Conversation, "before_update")
def _first_response_bucket(_mapper, _connection, target: Conversation) -> None:
    ms = target.first_response_ms
    target.first_response_bucket = None if ms is None else bucket_index(ms)


@event.listens_for(SurveyAnswer, "after_insert")
@event.listens_for(SurveyAnswer, "after_update")
def _copy_score(_mapper, connection, target: SurveyAnswer) -> None:
    """Copy a CSAT, CES or NPS score onto its conversation, where the rollups read it."""
    _set_score(connection, target, target.score)


@event.listens_for(SurveyAnswer, "after_delete")
def _drop_score(_mapper, connection, target: SurveyAnswer) -> None:
    _set_score(connection, target, None)


def _set_score(connection, answer: SurveyAnswer, score: int | None) -> None:
    if answer.question in SURVEY_SCORE_COLUMNS:
        table = Conversation.__table__
        where = table.c.id == answer.conversation_id
        old = connection.execute(select(*(table.c[n] for n in CELL_INPUTS)).where(where)).first()
        connection.execute(table.update().where(where).values({answer.question: score}))
        if old is not None:
            old = dict(old._mapping)
            mark_dirty(connection, *dirty_days(old, {**old, answer.question: score}))


class Erasure(Base):
    """A contact asked to be forgotten: tracker events still to purge, and a tombstone."""

    __tablename__ = "erasures"

    id = Column(Integer, primary_key=True, autoincrement=True)
    contact_key = Column(String(64), nullable=False)
    # HMAC of the sender (privacy.sender_hash) until its tracker events are purged, then NULL
    sender_id_hash = Column(String(64))
    requested_at = Column(DateTime, nullable=False, default=utcnow)
    tracker_purged_at = Column(DateTime)


class ReportDelivery(Base):
    """The delivery log of the weekly summary: one row per dealer, week, recipient and channel.

    A sender claims the row before sending (the unique key lets only one process win), so two
    scheduler processes never send a summary twice.
    """

    __tablename__ = "report_deliveries"

    id = Column(Integer, primary_key=True, autoincrement=True)
    dealer_id = Column(String(64), nullable=False)
    week = Column(String(8), nullable=False)  # ISO week, e.g. 2026-W47
    recipient = Column(String(254), nullable=False)  # an e-mail address, or the outbox folder
    channel = Column(String(16), nullable=False)  # email | outbox
    status = Column(String(16), nullable=False)  # sending | sent | failed
    attempts = Column(Integer, nullable=False, default=1)
    owner = Column(String(64), nullable=False)  # host:pid of the process that claimed it
    claimed_at = Column(DateTime, nullable=False, default=utcnow)
    sent_at = Column(DateTime)
    message_id = Column(String(255))
    error = Column(Text)

    __table_args__ = (
        UniqueConstraint("dealer_id", "week", "recipient", "channel", name="uq_report_delivery"),
    )


class JobLock(Base):
    """A named lease held by one scheduler process (works the same on SQLite and PostgreSQL)."""

    __tablename__ = "job_locks"

    name = Column(String(128), primary_key=True)
    owner = Column(String(64), nullable=False)
    acquired_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False)


class MetricSummary(Base):
    """Counts per dealer and period that every metric formula needs (``metrics.aggregate``).

    One row per dealer, period (``day``, ``week`` or ``month`` + key) and breakdown:
    ``dimension`` ``all`` (value ``""``), ``channel`` or ``language``. Rebuilt idempotently:
    the same conversations always give the same rows. Outcome, survey and speed counts are over
    qualifying conversations; ``conversations`` counts all non-test conversations.
    """

    __tablename__ = "metric_summaries"

    dealer_id = Column(String(64), primary_key=True)
    period_kind = Column(String(5), primary_key=True)
    period_key = Column(String(10), primary_key=True)
    dimension = Column(String(8), primary_key=True)
    dimension_value = Column(String(16), primary_key=True)
    conversations = Column(Integer, nullable=False, default=0)
    qualifying = Column(Integer, nullable=False, default=0)
    mec = Column(Integer, nullable=False, default=0)
    returning_contacts = Column(Integer)  # only on the ``all`` row
    appointments_booked = Column(Integer, nullable=False, default=0)
    appointments_changed = Column(Integer, nullable=False, default=0)
    appointments_cancelled = Column(Integer, nullable=False, default=0)
    test_drives = Column(Integer, nullable=False, default=0)
    leads_created = Column(Integer, nullable=False, default=0)
    handoffs = Column(Integer, nullable=False, default=0)
    self_served = Column(Integer, nullable=False, default=0)
    abandoned = Column(Integer, nullable=False, default=0)
    # Non-test conversations with at least one message NLU did not understand (all, not only
    # qualifying ones: a fallback-only conversation never qualifies).
    fallback_conversations = Column(Integer, nullable=False, default=0, server_default="0")
    surveys_offered = Column(Integer, nullable=False, default=0)
    csat_n = Column(Integer, nullable=False, default=0)
    csat_sum = Column(Integer, nullable=False, default=0)
    csat_top2 = Column(Integer, nullable=False, default=0)  # answers 4-5
    ces_n = Column(Integer, nullable=False, default=0)
    ces_sum = Column(Integer, nullable=False, default=0)
    ces_top3 = Column(Integer, nullable=False, default=0)  # answers 5-7
    nps_n = Column(Integer, nullable=False, default=0)
    nps_promoters = Column(Integer, nullable=False, default=0)  # 9-10
    nps_detractors = Column(Integer, nullable=False, default=0)  # 0-6
    first_response_n = Column(Integer, nullable=False, default=0)
    first_response_30s = Column(Integer, nullable=False, default=0)
    # Counts per core.engagement.FIRST_RESPONSE_BUCKETS_MS bucket, comma separated.
    first_response_histogram = Column(String(200), nullable=False, default="")
    # Appointments and leads the bot created in this period's non-test conversations.
    bot_appointments = Column(Integer, nullable=False, default=0)
    leads_test_drive = Column(Integer, nullable=False, default=0)
    leads_trade_in = Column(Integer, nullable=False, default=0)
    leads_sales = Column(Integer, nullable=False, default=0)  # sales and financing call backs
    leads_handoff = Column(Integer, nullable=False, default=0)
    potential = Column(Integer)  # MEC potential; only on the ``all`` row
    potential_estimated = Column(Boolean, nullable=False, default=False)
    # How a potential spread from imports of the other period kind was made (an imported month
    # over its weeks, imported weeks into a month), e.g. "2026-11: 120 × 7/30"; else NULL.
    potential_spread = Column(String(200))

    __table_args__ = (
        Index("ix_metric_summaries_period", "period_kind", "period_key", "dealer_id"),
    )


# The additive counts of a rollup cell: MetricSummary columns, the first-response buckets, and
# the contacts a day adds to a period's MEC (first qualifying day of the contact in that day,
# week or month; ``_lang``: in that language) and to its returning contacts.
CONTACT_COUNTS = tuple(
    f"{name}_{kind}" for kind in ("day", "week", "month") for name in ("mec", "mec_lang", "ret")
)
CELL_COUNTS = (
    "conversations", "qualifying", "appointments_booked", "appointments_changed",
    "appointments_cancelled", "test_drives", "leads_created", "handoffs", "self_served",
    "abandoned", "surveys_offered", "csat_n", "csat_sum", "csat_top2", "ces_n", "ces_sum",
    "ces_top3", "nps_n", "nps_promoters", "nps_detractors", "first_response_n",
    "first_response_30s", *(f"h{i}" for i in range(11)), "bot_appointments", "leads_test_drive",
    "leads_trade_in", "leads_sales", "leads_handoff", *CONTACT_COUNTS, "fallback_conversations",
)  # fmt: skip


class MetricCell(Base):
    """Additive counts per dealer, period, channel and language (``metrics.aggregate``).

    Day cells are counted from the conversations of that day; week and month cells are sums of
    day cells, recomputed whenever one of their days is. Summary rows are folded from cells, so
    a weekly rebuild reads tens of thousands of cells instead of every conversation. Distinct
    contacts become additive by counting each contact on its first qualifying day of the period.
    """

    __table__ = Table(
        "metric_cells",
        Base.metadata,
        Column("period_kind", String(5), primary_key=True),
        Column("period_key", String(10), primary_key=True),
        Column("dealer_id", String(64), primary_key=True),
        Column("channel", String(16), primary_key=True),
        Column("language", String(2), primary_key=True),
        Column("week_key", String(8)),  # day cells only: the week and month they add up to
        Column("month_key", String(7)),
        *(Column(name, Integer, nullable=False, default=0) for name in CELL_COUNTS),
        Index("ix_metric_cells_week", "week_key", "dealer_id", "channel", "language"),
        Index("ix_metric_cells_month", "month_key", "dealer_id", "channel", "language"),
    )


class DirtyDay(Base):
    """A day whose cells are out of date: written with every change to what the cells count.

    The mapper events below mark the day of every conversation, survey score, appointment and
    lead written through the ORM; the rollup recomputes the marked days and removes the marks.
    """

    __tablename__ = "metric_dirty_days"

    day_key = Column(String(10), primary_key=True)
    dealer_id = Column(String(64), primary_key=True)


def _insert_mark(connection):
    """An INSERT into ``metric_dirty_days`` that skips marks already there (both dialects)."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(DirtyDay.__table__)


# Insert-if-absent on SQLite and PostgreSQL alike. As text, as the dialects' ON CONFLICT inserts
# are compiled again on every execution in SQLAlchemy 1.4 (they have no cache key).
_MARK = text(
    f"INSERT INTO {DirtyDay.__tablename__} (day_key, dealer_id) VALUES (:day_key, :dealer_id) "
    "ON CONFLICT DO NOTHING"
)


def mark_days(connection, pairs) -> None:
    """Mark ``(day_key, dealer_id)`` pairs dirty."""
    rows = [{"day_key": day, "dealer_id": dealer}
            for day, dealer in sorted(set(pairs)) if day is not None]  # fmt: skip
    if rows:
        connection.execute(_MARK, rows)


def mark_conversation_day(connection, conversation_id: str | None) -> None:
    """Mark the day of a stored conversation dirty (nothing for an unknown id): an appointment
    or lead made in it changed, which the cells of that day count."""
    if conversation_id is None:
        return
    c = Conversation.__table__
    # The WHERE also keeps SQLite from reading ON CONFLICT as part of the SELECT.
    rows = select(c.c.day_key, c.c.dealer_id).where(
        c.c.id == conversation_id, c.c.day_key.isnot(None)
    )
    statement = _insert_mark(connection).from_select(["day_key", "dealer_id"], rows)
    connection.execute(statement.on_conflict_do_nothing())


# What the cells count of a conversation (metrics.aggregate): an update that changes none of
# these (a new message's counts and times, the intents list) leaves the cells as they are.
CELL_INPUTS = ("dealer_id", "channel", "language", "contact_key", "day_key", "week_key",
               "month_key", "is_test", "qualifies", "outcome", "survey_offered_at",
               "first_response_bucket", "csat", "ces", "nps", "fallback_messages",
               "person", "customer_channel")  # fmt: skip
# Of those, what decides whether a contact is new or returning in its later conversations (not
# the survey scores, nor how many messages the bot did not understand).
_CONTACT_INPUTS = tuple(
    name for name in CELL_INPUTS if name not in (*SURVEY_SCORE_COLUMNS, "fallback_messages")
)


class Dirty(NamedTuple):
    """What a write puts out of date: ``days`` as ``(day_key, dealer_id)``, and ``since`` as
    ``(person, dealer_id, day_key)``: that person's days after that day (MEC counts persons;
    ``Conversation.person``, the contact key when no person is known)."""

    days: frozenset
    since: frozenset


CLEAN = Dirty(frozenset(), frozenset())


def joined(results: Iterable[Dirty]) -> Dirty:
    """Several ``dirty_days`` results as one (for one ``mark_dirty`` of a batch)."""
    days: set = set()
    since: set = set()
    for result in results:
        days |= result.days
        since |= result.since
    return Dirty(frozenset(days), frozenset(since))


def dirty_days(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> Dirty:
    """The dirty-day rule: which cells a write of one conversation row puts out of date.

    ``old`` and ``new`` are the row's column values before and after the write (``None``: not
    there, so an insert or a delete); at least the ``CELL_INPUTS``. The one rule the mapper
    events (the ORM: repositories, erasure), the recorder's batched writes and the survey
    scores copied onto the conversation all follow:

    - no ``CELL_INPUTS`` value changed (a new message's counts and times): nothing;
    - otherwise the row's day before and after, each of its own dealer;
    - and, unless only survey scores or the not-understood count changed, the contact's later
      days of that dealer: the first conversation of a contact in a day, week or month makes
      the later ones returning.

    Pure and cheap (the recorder calls it for every written conversation).
    """
    if old is not None and new is not None:
        changed = [name for name in CELL_INPUTS if old.get(name) != new.get(name)]
        if not changed:
            return CLEAN
        later = any(name in _CONTACT_INPUTS for name in changed)
    else:
        later = True
    days, since = set(), set()
    for row in (old, new):
        if row is not None and row.get("day_key") is not None:
            days.add((row["day_key"], row["dealer_id"]))
            person = row.get("person") or row.get("contact_key")
            if later and person is not None:
                since.add((person, row["dealer_id"], row["day_key"]))
    return Dirty(frozenset(days), frozenset(since))


_CONTACT_DAYS = select(Conversation.person, Conversation.dealer_id, Conversation.day_key).where(
    Conversation.person.in_(bindparam("keys", expanding=True)),
    Conversation.day_key.isnot(None),
)


def mark_dirty(connection, days: Iterable = (), since: Iterable = ()) -> None:
    """Write the marks of one or more ``dirty_days`` results (their ``days`` and ``since``
    joined): one read of the contacts' days for all ``since``, one insert of all marks."""
    pairs = set(days)
    first: dict[tuple[str, str], str] = {}
    for contact, dealer, day in since:
        first[contact, dealer] = min(day, first.get((contact, dealer), day))
    if first:
        found = connection.execute(_CONTACT_DAYS, {"keys": sorted({c for c, _d in first})})
        for contact, dealer, day in found:
            if (contact, dealer) in first and day > first[contact, dealer]:
                pairs.add((day, dealer))
    mark_days(connection, pairs)


_CELL_ROWS = select(*(Conversation.__table__.c[name] for name in CELL_INPUTS)).where(
    Conversation.id.in_(bindparam("ids", expanding=True))
)


def delete_conversations(connection, ids: Iterable[str]) -> int:
    """Delete conversation rows in one statement, with the marks the dirty-day rule asks for
    (the rows' days and their contacts' later days): the erasure's bulk delete, which the
    mapper events do not see. Their survey answers must be gone first. Returns the rows
    deleted."""
    ids = sorted(set(ids))
    if not ids:
        return 0
    rows = connection.execute(_CELL_ROWS, {"ids": ids}).mappings().all()
    table = Conversation.__table__
    deleted = connection.execute(table.delete().where(table.c.id.in_(ids))).rowcount
    mark_dirty(connection, *joined(dirty_days(row, None) for row in rows))
    return deleted


def _values(target: Conversation, old: bool) -> dict[str, Any]:
    """The cell inputs of a conversation as stored (``old``: before this flush) or as now."""
    state = inspect(target)
    values = {}
    for name in CELL_INPUTS:
        history = state.attrs[name].history
        values[name] = history.deleted[0] if old and history.deleted else getattr(target, name)
    return values


@event.listens_for(Conversation, "after_insert")
def _mark_inserted_conversation(_mapper, connection, target: Conversation) -> None:
    mark_dirty(connection, *dirty_days(None, _values(target, old=False)))


@event.listens_for(Conversation, "after_update")
def _mark_updated_conversation(_mapper, connection, target: Conversation) -> None:
    mark_dirty(connection, *dirty_days(_values(target, old=True), _values(target, old=False)))


@event.listens_for(Conversation, "after_delete")
def _mark_deleted_conversation(_mapper, connection, target: Conversation) -> None:
    mark_dirty(connection, *dirty_days(_values(target, old=True), None))


@event.listens_for(Appointment, "after_insert")
@event.listens_for(Appointment, "after_update")
@event.listens_for(Appointment, "after_delete")
@event.listens_for(Lead, "after_insert")
@event.listens_for(Lead, "after_update")
@event.listens_for(Lead, "after_delete")
def _mark_created(_mapper, connection, target) -> None:
    mark_conversation_day(connection, target.conversation_id)


class MecPotential(Base):
    """MEC potential supplied by the dealer: service appointments and sales leads, all sources."""

    __tablename__ = "mec_potentials"

    dealer_id = Column(String(64), primary_key=True)
    period_kind = Column(String(5), primary_key=True)  # week or month
    period_key = Column(String(10), primary_key=True)
    service_appointments = Column(Integer, nullable=False)
    sales_leads = Column(Integer, nullable=False)
    source = Column(String(200), nullable=False)
    imported_at = Column(DateTime, nullable=False, default=utcnow)


class WhatsAppMessage(Base):
    """An incoming WhatsApp message id (Twilio or Cloud API): deduplicates provider retries,
    also across restarts and Rasa replicas, and dates the customer's last message for the
    24-hour window. No phone number here: ``contact_key`` is the conversation log's HMAC."""

    __tablename__ = "whatsapp_messages"

    id = Column(Integer, primary_key=True, autoincrement=True)
    provider = Column(String(16), nullable=False)  # cloud | twilio
    message_id = Column(String(255), nullable=False)  # Meta wamid / Twilio MessageSid
    contact_key = Column(String(64), nullable=False)
    business_number = Column(String(32), nullable=False)  # Meta phone number id / Twilio To
    sent_at = Column(DateTime, nullable=False)  # when the customer sent it
    received_at = Column(DateTime, nullable=False, default=utcnow)
    status = Column(String(16), nullable=False)  # processing | done

    __table_args__ = (
        UniqueConstraint("provider", "message_id", name="uq_whatsapp_message"),
        Index("ix_whatsapp_messages_contact", "contact_key", "business_number", "sent_at"),
        Index("ix_whatsapp_messages_received", "received_at"),
    )


class NluInboxItem(Base):
    """A customer message where the bot went wrong, for the trainers' NLU inbox (issues 7, 21).

    Written with the conversation record (``core.store.inbox``); one row per conversation and
    message time, so recording again changes nothing. The text is pseudonymised
    (``core.store.inbox.pseudonymise``: names, addresses, postcodes, dates of birth, IBANs, phones,
    e-mails, plates masked). Deleted with its conversation (erasure, retention).
    """

    __tablename__ = "nlu_inbox"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(
        String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    )
    sent_at = Column(DateTime, nullable=False)  # the message's time, naive UTC
    dealer_id = Column(String(64), nullable=False)
    language = Column(String(2), nullable=False)
    text = Column(Text, nullable=False)
    intent = Column(String(64), nullable=False)  # predicted intent (may be nlu_fallback)
    confidence = Column(Float, nullable=False)
    suggested_intent = Column(String(64))  # best real intent, the export's suggestion
    reason = Column(String(16), nullable=False)  # one of core.store.inbox.REASONS
    detail = Column(Text)  # what happened, e.g. 'answered "did not understand" (deny 1.00)'
    context = Column(Text)  # JSON list of the pseudonymised messages before it (a low rating)
    status = Column(String(8), nullable=False, default="open")  # open | done
    done_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("conversation_id", "sent_at", name="uq_nlu_inbox_message"),
        Index("ix_nlu_inbox_status", "status", "language", "intent"),
    )


# Notification kinds: a lead's kind (handoff, test_drive, trade_in, financing; other call-back
# topics are "callback"), an appointment's booking, change or cancellation, and the customer's
# reminder the day before (notifications/), and the contact details a customer left after a
# handoff (``handoff_contact``: the handoff's e-mail went out before the customer gave them), and
# the approved WhatsApp template staff send from the inbox outside the 24-hour window
# (``handoff_template``: to the customer only).
LEAD_NOTIFICATION_KINDS = ("handoff", "test_drive", "trade_in", "financing", "callback")
APPOINTMENT_NOTIFICATION_KINDS = ("booking", "change", "cancellation")
NOTIFICATION_KINDS = (
    *LEAD_NOTIFICATION_KINDS,
    *APPOINTMENT_NOTIFICATION_KINDS,
    "reminder",
    "handoff_contact",
    "handoff_template",
)
# Kinds that go to the customer only: no staff e-mail, no webhook.
CUSTOMER_ONLY_KINDS = ("reminder", "handoff_template")


class Notification(Base):
    """Something staff must be told about: one row per handoff, lead, booking, change,
    cancellation or reminder, written in the same unit of work as the row it is about
    (``core.store.outbox.enqueue``), so no event is lost. The staff inbox lists these rows;
    ``status`` is the inbox's (new, claimed, done). Sending is tracked per recipient in
    :class:`OutboxMessage`, created by the worker (``notifications.worker``).
    """

    __tablename__ = "notifications"

    id = Column(Integer, primary_key=True, autoincrement=True)
    event_id = Column(String(32), nullable=False, unique=True, default=new_id)  # webhook id
    dealer_id = Column(String(64), nullable=False)
    kind = Column(String(16), nullable=False)  # NOTIFICATION_KINDS
    conversation_id = Column(String(32))
    appointment_id = Column(String(32), ForeignKey("appointments.id", ondelete="CASCADE"))
    lead_id = Column(String(32), ForeignKey("leads.id", ondelete="CASCADE"))
    # The appointment's start when this was written (a later move does not change this e-mail)
    starts_at = Column(DateTime)
    sequence = Column(Integer, nullable=False, default=0)  # iCalendar SEQUENCE of the booking
    status = Column(String(16), nullable=False, default="new")  # inbox: new | claimed | done
    dedupe_key = Column(String(64), nullable=False, unique=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    fanned_out_at = Column(DateTime)  # when the worker created the outbox messages

    __table_args__ = (
        Index("ix_notifications_dealer_created", "dealer_id", "created_at"),
        Index("ix_notifications_fan_out", "fanned_out_at"),
        Index("ix_notifications_conversation", "conversation_id"),
        Index("ix_notifications_appointment", "appointment_id"),
        Index("ix_notifications_lead", "lead_id"),
    )


class OutboxMessage(Base):
    """One delivery of a notification: a staff e-mail, a customer e-mail or a webhook call.

    Claimed by a compare-and-set on ``status`` (pending -> sending), marked sent or rescheduled
    with backoff when the send is over. A claim whose sender died is taken over after a while;
    the e-mail's Message-ID and the webhook's event id are derived from the row, so a re-send
    after a crash is recognisable as the same message.
    """

    __tablename__ = "outbox_messages"

    id = Column(Integer, primary_key=True, autoincrement=True)
    notification_id = Column(
        Integer, ForeignKey("notifications.id", ondelete="CASCADE"), nullable=False
    )
    dealer_id = Column(String(64), nullable=False)
    # staff_email | customer_email | customer_whatsapp | webhook
    channel = Column(String(24), nullable=False)
    recipient = Column(String(1000), nullable=False)  # e-mail address, URL or WhatsApp number
    secret_env = Column(String(128))  # webhook: the environment variable holding the secret
    status = Column(String(16), nullable=False, default="pending")  # pending|sending|sent|failed
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=False, default=utcnow)
    claimed_at = Column(DateTime)
    claimed_by = Column(String(64))
    sent_at = Column(DateTime)
    message_id = Column(String(255))  # e-mail Message-ID, or the outbox file's name
    last_error = Column(Text)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("notification_id", "channel", "recipient", name="uq_outbox_message"),
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
    )


class WebhookAttempt(Base):
    """One webhook call: its HTTP status or error, for the dashboard's delivery log."""

    __tablename__ = "webhook_attempts"

    id = Column(Integer, primary_key=True, autoincrement=True)
    outbox_message_id = Column(
        Integer, ForeignKey("outbox_messages.id", ondelete="CASCADE"), nullable=False
    )
    dealer_id = Column(String(64), nullable=False)
    url = Column(String(1000), nullable=False)
    attempted_at = Column(DateTime, nullable=False, default=utcnow)
    status_code = Column(Integer)  # None: no HTTP answer (see error)
    error = Column(String(500))
    duration_ms = Column(Integer, nullable=False, default=0)

    __table_args__ = (Index("ix_webhook_attempts_message", "outbox_message_id"),)


class ModelLoad(Base):
    """A model put live in a Rasa server, by ``dealerbot run`` at the start or ``dealerbot
    reload`` (docs/training.md): the dashboard shows since when the model a server runs is live.
    Rasa's ``GET /status`` says which model runs, not since when."""

    __tablename__ = "model_loads"

    id = Column(Integer, primary_key=True, autoincrement=True)
    server = Column(String(255), nullable=False)  # the Rasa server's URL
    model_file = Column(String(255), nullable=False)  # the file's name, as /status gives it
    model_id = Column(String(64), nullable=False)
    loaded_at = Column(DateTime, nullable=False)  # naive UTC

    __table_args__ = (Index("ix_model_loads_server", "server", "loaded_at"),)


class InboxEvent(Base):
    """One change in the staff inbox, with who made it and when (core/store/staff_inbox.py).

    Items are leads (handoffs are leads of kind ``handoff``), appointments and conversations
    (``item_id`` the Rasa sender id). An item's status is its latest event's action; the rows
    are its history. Staff messages are ``replied`` events of the conversation, so the first
    human response time needs no tracker.
    """

    __tablename__ = "inbox_events"

    id = Column(Integer, primary_key=True, autoincrement=True)
    dealer_id = Column(String(64), nullable=False)
    item_kind = Column(String(16), nullable=False)  # lead | appointment | conversation
    item_id = Column(String(255), nullable=False)
    action = Column(String(16), nullable=False)  # see core.store.staff_inbox.ITEM_ACTIONS
    staff = Column(String(100), nullable=False)
    at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_inbox_events_item", "item_kind", "item_id"),
        Index("ix_inbox_events_dealer_at", "dealer_id", "at"),
    )
