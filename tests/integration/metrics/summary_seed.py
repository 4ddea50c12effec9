"""A small, fixed week of conversations for the weekly summary tests (dealer autohuis-demo)."""

from __future__ import annotations

import datetime as dt
import hashlib

from metrics.periods import conversation_keys
from metrics.store.models import Conversation, SurveyAnswer

DEALER = "autohuis-demo"
WEEK = "2026-W47"  # Monday 16 - Sunday 22 November 2026; the frozen clock is Monday 23, 09:00
NASTY = '<script>alert("x")</script> & =SUM(A1) | *bold*'

# (started UTC, channel, language, outcome, qualifies, csat, ces, comment, contact)
ROWS = [
    (dt.datetime(2026, 11, 16, 9, 0), "web", "nl", "appointment_booked", True, 5, 7, None, "a"),
    (dt.datetime(2026, 11, 17, 10, 0), "whatsapp", "nl", "lead_created", True, 4, 6, None, "b"),
    (dt.datetime(2026, 11, 18, 11, 0), "web", "en", "handed_off", True, 1, 2, NASTY, "c"),
    (dt.datetime(2026, 11, 19, 12, 0), "web", "nl", "self_served", True, 2, None, "traag", "d"),
    (dt.datetime(2026, 11, 20, 13, 0), "web", "nl", "abandoned", False, None, None, None, "e"),
    (dt.datetime(2026, 11, 22, 22, 30), "web", "nl", "self_served", True, None, None, None, "a"),
    # last week (W46), for the week-over-week change
    (dt.datetime(2026, 11, 10, 9, 0), "web", "nl", "appointment_booked", True, 5, 6, None, "f"),
    (dt.datetime(2026, 11, 11, 9, 0), "web", "nl", "self_served", True, 3, 4, None, "g"),
]


def seed_week(session_factory, dealer_id: str = DEALER) -> list[str]:
    """Insert the conversations and answers above; returns the ids of the W47 conversations."""
    ids = []
    with session_factory.begin() as session:
        for i, (started, channel, lang, outcome, ok, csat, ces, comment, who) in enumerate(ROWS):
            cid = hashlib.sha256(f"{dealer_id}-{i}".encode()).hexdigest()[:32]
            session.add(
                Conversation(
                    id=cid,
                    dealer_id=dealer_id,
                    channel=channel,
                    contact_key=hashlib.sha256(who.encode()).hexdigest(),
                    language=lang,
                    started_at=started,
                    last_message_at=started + dt.timedelta(minutes=5),
                    customer_messages=3,
                    bot_messages=3,
                    first_response_ms=1200 + 100 * i,
                    intents="book_service" if outcome == "appointment_booked" else "ask_price",
                    outcome=outcome,
                    qualifies=ok,
                    qualify_reason="seeded",
                    is_test=False,
                    survey_offered_at=started + dt.timedelta(minutes=4) if csat else None,
                    **conversation_keys(dealer_id, started),
                )
            )
            session.flush()
            for question, score in (("csat", csat), ("ces", ces)):
                if score is not None:
                    session.add(SurveyAnswer(conversation_id=cid, question=question, score=score))
            if comment:
                session.add(SurveyAnswer(conversation_id=cid, question="comment", comment=comment))
            if started >= dt.datetime(2026, 11, 16):
                ids.append(cid)
    return ids
