"""A small, fixed week of conversations for the weekly summary tests (dealer autohuis-demo)."""

from __future__ import annotations

import datetime as dt
import hashlib

from core.periods import conversation_keys
from core.store.models import Conversation, SurveyAnswer

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
                    customer_channel=True,
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


# NLU inbox rows for the conversations of test_aggregate's table (seed it first), plus one
# conversation of another dealer. Amsterdam is UTC+1 in November.
OTHER_DEALER = "garage-elders"
# (conversation, sent (month, day, hour, minute) UTC, reason, language, text)
INBOX = [
    # W47, fallback: these count
    ("c5", (11, 20, 11, 1), "fallback", "nl", "heb je ook winterbanden?"),
    ("c5", (11, 20, 11, 3), "fallback", "nl", "Heb je ook  WINTERBANDEN"),
    ("c7", (11, 21, 10, 1), "fallback", "nl", "heb je ook winterbanden ?!"),  # 1 message: no MEC
    ("c3", (11, 17, 9, 1), "fallback", "en", "Do you sell tyres?"),
    ("c2", (11, 18, 14, 1), "fallback", "en", "do you sell tyres"),
    ("c1", (11, 16, 10, 1), "fallback", "nl", "Bel me op <phone>"),
    ("c11", (11, 15, 23, 31), "fallback", "nl", "Kan ik mijn auto hier wassen?"),  # Mon local
    ("c8", (11, 21, 11, 1), "fallback", "nl", "Waar is de koffie"),  # rest channel
    ("c9", (11, 22, 12, 1), "fallback", "en", "Zijn jullie open op tweede paasdag"),  # 6th
    # these do not count
    ("c10", (11, 22, 23, 31), "fallback", "nl", "heb je ook winterbanden"),  # W48 local
    ("c6", (11, 20, 12, 1), "fallback", "nl", "heb je ook winterbanden"),  # test sender
    ("c20", (11, 10, 9, 1), "fallback", "nl", "heb je ook winterbanden"),  # W46
    ("c9", (11, 22, 12, 2), "low_confidence", "en", "do you sell tyres"),
    ("c4", (11, 19, 16, 1), "handoff", "nl", "waar is de koffie"),
    ("c3", (11, 17, 9, 2), "denied", "en", "Kan ik mijn auto hier wassen"),
    ("o1", (11, 18, 9, 1), "fallback", "nl", "heb je ook winterbanden"),  # another dealer
    ("o1", (11, 18, 9, 2), "fallback", "nl", "Bel me op <phone>"),
]


def seed_inbox(session_factory) -> None:
    """The INBOX rows, stored as the recorder stores them (``core.store.inbox.upsert_items``)."""
    from core.store.inbox import upsert_items

    started = dt.datetime(2026, 11, 18, 9, 0)
    with session_factory.begin() as session:
        session.add(
            Conversation(
                id="o1", dealer_id=OTHER_DEALER, channel="web", contact_key="o" * 64,
                language="nl", started_at=started, last_message_at=started,
                customer_messages=2, bot_messages=2, intents="", outcome="abandoned",
                qualifies=False, qualify_reason="seeded", is_test=False, customer_channel=True,
                **conversation_keys(OTHER_DEALER, started),
            )
        )  # fmt: skip
        session.flush()
        for cid, when, reason, language, text in INBOX:
            dealer = OTHER_DEALER if cid == "o1" else DEALER
            item = {
                "dealer_id": dealer, "language": language, "text": text,
                "intent": "nlu_fallback" if reason == "fallback" else "ask_price",
                "confidence": 0.3, "suggested_intent": None, "reason": reason,
                "sent_at": dt.datetime(2026, *when),
            }  # fmt: skip
            upsert_items(session, cid, [item])


# A fallback message that is a spreadsheet formula and HTML at once, sent twice in W47 (c1, c2):
# ranks second after "heb je ook winterbanden" (3), before "do you sell tyres" (2) by its text.
FORMULA = '=HYPERLINK("http://x.example","<script>alert(1)</script>")'


def seed_formula_fallbacks(session_factory) -> None:
    """Two INBOX-style fallback rows with ``FORMULA`` (after ``seed_inbox``)."""
    from core.store.inbox import upsert_items

    with session_factory.begin() as session:
        for cid, when in (("c1", (11, 16, 10, 2)), ("c2", (11, 18, 14, 2))):
            item = {
                "dealer_id": DEALER, "language": "en", "text": FORMULA, "intent": "nlu_fallback",
                "confidence": 0.3, "suggested_intent": None, "reason": "fallback",
                "sent_at": dt.datetime(2026, *when),
            }  # fmt: skip
            upsert_items(session, cid, [item])
