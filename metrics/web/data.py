"""What the dashboard reads besides the weekly summary: drill-down lists and transcripts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import and_, inspect, select, text
from sqlalchemy.orm import aliased, sessionmaker

from core.engagement import contact_key
from core.periods import Period, dealer_timezone
from core.store.models import Conversation, SurveyAnswer, from_utc_naive
from core.store.session import make_engine

# figure -> (label, condition on Conversation and the CSAT answer alias)
DRILLS: dict[str, tuple[str, Callable]] = {
    "all": ("All conversations", lambda c, s: c.is_test.is_(False)),
    "qualifying": ("Qualifying conversations (MEC)", lambda c, s: c.qualifies),
    "csat_low": ("CSAT 1-2", lambda c, s: and_(c.qualifies, s.score <= 2)),
    "csat_high": ("CSAT 4-5", lambda c, s: and_(c.qualifies, s.score >= 4)),
    "booked": ("Appointments booked", lambda c, s: c.outcome == "appointment_booked"),
    "handoffs": ("Handed off", lambda c, s: and_(c.qualifies, c.outcome == "handed_off")),
    "abandoned": ("Abandoned", lambda c, s: and_(c.qualifies, c.outcome == "abandoned")),
}
LIST_LIMIT = 1000


@dataclass(frozen=True)
class ListedConversation:
    id: str
    started_at: dt.datetime  # dealer's time zone
    channel: str
    language: str
    outcome: str
    qualifies: bool
    contact: str  # pseudonym: the first characters of the contact key
    csat: int | None
    ces: int | None
    comment: str | None


def pseudonym(key: str) -> str:
    return f"contact-{key[:8]}"


def conversation_list(
    session_factory: sessionmaker, dealer_id: str, period: Period, drill: str
) -> list[ListedConversation]:
    """The non-test conversations of the dealer's week behind a figure, oldest first."""
    if drill not in DRILLS:
        raise KeyError(drill)
    c = Conversation
    csat, ces, comment = (aliased(SurveyAnswer) for _ in range(3))

    def answer(alias, question):  # noqa: ANN001, ANN202
        return and_(alias.conversation_id == c.id, alias.question == question)

    query = (
        select(c, csat.score, ces.score, comment.comment)
        .outerjoin(csat, answer(csat, "csat"))
        .outerjoin(ces, answer(ces, "ces"))
        .outerjoin(comment, answer(comment, "comment"))
        .where(c.dealer_id == dealer_id, c.week_key == period.key, c.is_test.is_(False))
        .where(DRILLS[drill][1](c, csat))
        .order_by(c.started_at, c.id)
        .limit(LIST_LIMIT)
    )
    zone = dealer_timezone(dealer_id)
    with session_factory() as session:
        return [
            ListedConversation(
                row.id,
                from_utc_naive(row.started_at).astimezone(zone),
                row.channel,
                row.language,
                row.outcome,
                bool(row.qualifies),
                pseudonym(row.contact_key),
                csat_score,
                ces_score,
                text_,
            )  # fmt: skip
            for row, csat_score, ces_score, text_ in session.execute(query)
        ]


@dataclass(frozen=True)
class Line:
    who: str  # customer | bot | staff
    text: str
    at: dt.datetime | None
    staff: str | None = None  # who wrote a staff message (the inbox's ``metadata.staff``)


@dataclass(frozen=True)
class Transcript:
    conversation: Conversation
    contact: str
    answers: dict[str, str]
    lines: list[Line] = field(default_factory=list)
    found: bool = False  # False: the tracker store no longer has the events (erased, purged)


def get_conversation(session_factory: sessionmaker, conversation_id: str) -> Conversation | None:
    with session_factory() as session:
        return session.get(Conversation, conversation_id)


def survey_answers(session_factory: sessionmaker, conversation_id: str) -> dict[str, str]:
    with session_factory() as session:
        rows = session.scalars(
            select(SurveyAnswer).where(SurveyAnswer.conversation_id == conversation_id)
        ).all()
    return {r.question: str(r.score) if r.score is not None else (r.comment or "") for r in rows}


def _sessions(events: list[dict]) -> list[list[dict]]:
    starts = [i for i, e in enumerate(events) if e.get("event") in ("session_started", "restart")]
    bounds = ([0] if not starts or starts[0] != 0 else []) + starts + [len(events)]
    return [events[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def _line(event: dict) -> Line:
    """A message of the transcript; a staff message (``metadata.staff``) names its writer."""
    at = event.get("timestamp")
    when = dt.datetime.fromtimestamp(at, dt.timezone.utc) if at else None
    staff = (event.get("metadata") or {}).get("staff") if event["event"] == "bot" else None
    who = "customer" if event["event"] == "user" else "staff" if staff else "bot"
    return Line(who, str(event.get("text") or ""), when, staff)


def transcript(
    session_factory: sessionmaker, tracker_db_url: str, conversation: Conversation, secret: str
) -> Transcript:
    """The conversation's messages from Rasa's SQL tracker store (table ``events``).

    The log keeps no sender id, so the sender is found among those who wrote within a second
    of the conversation's start, by recomputing the contact key; the session by its id.
    """
    import hashlib

    answers = survey_answers(session_factory, conversation.id)
    result = Transcript(conversation, pseudonym(conversation.contact_key), answers)
    engine = make_engine(tracker_db_url)
    try:
        if not inspect(engine).has_table("events"):
            return result
        started = from_utc_naive(conversation.started_at).timestamp()
        with engine.connect() as conn:
            candidates = conn.execute(
                text(
                    "select distinct sender_id from events where type_name = 'user' "
                    "and timestamp >= :a and timestamp <= :b"
                ),  # fmt: skip
                {"a": started - 1.0, "b": started + 1.0},
            ).scalars()
            sender = next(
                (s for s in candidates
                 if contact_key(secret, conversation.channel, s) == conversation.contact_key),
                None,
            )  # fmt: skip
            if sender is None:
                return result
            rows = conn.execute(
                text("select data from events where sender_id = :s order by id"), {"s": sender}
            ).scalars()
            events = [json.loads(data) for data in rows]
    finally:
        engine.dispose()
    for session in _sessions(events):
        first = session[0].get("timestamp")
        if hashlib.sha256(f"{sender}|{first}".encode()).hexdigest()[:32] != conversation.id:
            continue
        lines = [_line(e) for e in session if e.get("event") in ("user", "bot") and e.get("text")]
        return Transcript(conversation, result.contact, answers, lines, True)
    return result
