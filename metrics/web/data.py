"""What the dashboard reads besides the weekly summary: drill-down lists and transcripts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import and_, select
from sqlalchemy.orm import aliased, sessionmaker

from core.engagement import contact_key, conversation_id, sessions
from core.periods import Period, dealer_timezone
from core.store.models import Conversation, SurveyAnswer, from_utc_naive
from core.store.tracker_events import events_of, senders_writing_between, tracker_connection

# figure -> (label, condition on Conversation and the CSAT answer alias)
DRILLS: dict[str, tuple[str, Callable]] = {
    "all": ("All conversations", lambda c, s: c.is_test.is_(False)),
    "qualifying": ("Qualifying conversations (MEC)", lambda c, s: c.qualifies),
    "csat": ("CSAT answers (1-5)", lambda c, s: and_(c.qualifies, s.score.isnot(None))),
    "csat_low": ("CSAT 1-2", lambda c, s: and_(c.qualifies, s.score <= 2)),
    "csat_high": ("CSAT 4-5", lambda c, s: and_(c.qualifies, s.score >= 4)),
    "booked": (
        "Appointments booked",
        lambda c, s: and_(c.qualifies, c.outcome == "appointment_booked"),
    ),
    "handoffs": ("Handed off", lambda c, s: and_(c.qualifies, c.outcome == "handed_off")),
    "abandoned": ("Abandoned", lambda c, s: and_(c.qualifies, c.outcome == "abandoned")),
    "resolved": (
        "Resolved by the bot",
        lambda c, s: and_(c.qualifies, c.outcome.notin_(("handed_off", "abandoned"))),
    ),
    "fallback": ("With a message not understood", lambda c, s: c.fallback_messages > 0),
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


def _buttons(event: dict) -> dict[str, str]:
    """payload -> title of the buttons a bot message offered (Rasa's ``data.buttons``)."""
    data = event.get("data") or {}
    buttons = [b for b in data.get("buttons") or () if isinstance(b, dict) and b.get("payload")]
    return {str(b["payload"]): str(b.get("title") or b["payload"]) for b in buttons}


def customer_saw(events: list[dict]) -> list[tuple[dict, str]]:
    """The conversation's messages (``user`` and ``bot`` events with text) with the text the
    customer saw: a button press (``/affirm``, ``/inform{"csat": "4"}``) is shown as the title
    of the button the bot offered it with, not as its payload."""
    offered: dict[str, str] = {}
    out = []
    for event in events:
        kind = event.get("event")
        if kind == "bot":  # the latest offer of a payload wins (older buttons stay clickable)
            offered.update(_buttons(event))
        if kind not in ("user", "bot") or not event.get("text"):
            continue
        text = str(event["text"])
        if kind == "user" and text.startswith("/"):
            text = offered.get(text.strip(), text)
        out.append((event, text))
    return out


def _line(event: dict, text: str | None = None) -> Line:
    """A message of the transcript; a staff message (``metadata.staff``) names its writer."""
    at = event.get("timestamp")
    when = dt.datetime.fromtimestamp(at, dt.timezone.utc) if at else None
    staff = (event.get("metadata") or {}).get("staff") if event["event"] == "bot" else None
    who = "customer" if event["event"] == "user" else "staff" if staff else "bot"
    return Line(who, str(event.get("text") or "") if text is None else text, when, staff)


def transcript_lines(events: list[dict]) -> list[Line]:
    """The messages of Rasa ``events`` as the customer saw them (``customer_saw``): the
    dashboard's transcript and the staff inbox's live conversation."""
    return [_line(event, text) for event, text in customer_saw(events)]


def transcript(
    session_factory: sessionmaker, tracker_db_url: str, conversation: Conversation, secret: str
) -> Transcript:
    """The conversation's messages from Rasa's SQL tracker store (table ``events``).

    The log keeps no sender id, so the sender is found among those who wrote within a second
    of the conversation's start, by recomputing the contact key; the session by its id.
    """
    answers = survey_answers(session_factory, conversation.id)
    result = Transcript(conversation, pseudonym(conversation.contact_key), answers)
    started = from_utc_naive(conversation.started_at).timestamp()
    with tracker_connection(tracker_db_url) as conn:
        if conn is None:
            return result
        sender = next(
            (s for s in senders_writing_between(conn, started - 1.0, started + 1.0)
             if contact_key(secret, conversation.channel, s) == conversation.contact_key),
            None,
        )  # fmt: skip
        if sender is None:
            return result
        events = events_of(conn, sender)
    for session in sessions(events):
        if conversation_id(sender, session) != conversation.id:
            continue
        return Transcript(conversation, result.contact, answers,
                          transcript_lines(list(session)), True)  # fmt: skip
    return result
