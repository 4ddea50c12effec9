"""The recorder's writes as the ORM made them before ``recorder._Batch``: the reference that the
batched Core writes must store the same as (mapper events in ``core.store.models`` included:
their dirty-day marks come from the same rule, ``models.dirty_days``, as the recorder's)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.periods import conversation_keys
from core.store.models import Conversation, Erasure, NluInboxItem, SurveyAnswer
from core.store.recorder import _CONVERSATION_FIELDS, _time


def _erased(contact_key: str, started_at: dt.datetime):
    return (
        select(Erasure.id)
        .where(Erasure.contact_key == contact_key, Erasure.requested_at >= started_at)
        .exists()
    )


def _conversation(session: Session, op: dict) -> None:
    data = {k: v for k, v in op["data"].items() if k in _CONVERSATION_FIELDS or k == "id"}
    for key in ("started_at", "last_message_at", "survey_offered_at"):
        data[key] = _time(data.get(key))
    erased = _erased(data["contact_key"], data["started_at"])
    found = session.execute(select(Conversation, erased).where(Conversation.id == data["id"]))
    row, is_erased = found.first() or (None, None)
    if row is None:
        is_erased = session.scalar(select(erased))
    if is_erased:
        return
    # one person across channels: the person key shown, else the contact's linked one
    linked = session.scalar(
        select(func.max(Conversation.person)).where(
            Conversation.contact_key == data["contact_key"], Conversation.person_key.isnot(None)
        )
    )
    learned = data.get("person_key")
    data["person"] = learned or linked or data["contact_key"]
    if row is None:
        row = Conversation(id=data["id"])
        session.add(row)
    elif (row.customer_messages, row.bot_messages, row.last_message_at) > (
        data["customer_messages"], data["bot_messages"], data["last_message_at"]
    ):  # fmt: skip
        data = {}
    changed = {k: v for k, v in data.items() if k != "id" and getattr(row, k) != v}
    for key, value in changed.items():
        setattr(row, key, value)
    if changed.keys() & {"dealer_id", "started_at"} or (data and row.day_key is None):
        for key, value in conversation_keys(row.dealer_id, row.started_at).items():
            setattr(row, key, value)
    if changed or row in session.new:
        session.flush()
    if learned and learned != linked:  # link the contact's other conversations
        for other in session.scalars(
            select(Conversation).where(
                Conversation.contact_key == data["contact_key"], Conversation.person != learned
            )
        ):
            other.person = learned
        session.flush()
    for item in op.get("answers") or []:
        _answer(session, row.id, item)
    if op.get("inbox"):
        _items(session, row.id, op["inbox"])


def _answer(session: Session, conversation_id: str, item: dict) -> None:
    answered_at = _time(item["answered_at"])
    existing = session.scalar(
        select(SurveyAnswer).where(
            SurveyAnswer.conversation_id == conversation_id,
            SurveyAnswer.question == item["question"],
        )
    )
    if existing is None:
        session.add(SurveyAnswer(conversation_id=conversation_id, question=item["question"],
                                 score=item.get("score"), comment=item.get("comment"),
                                 answered_at=answered_at))  # fmt: skip
    elif answered_at >= existing.answered_at:
        existing.score, existing.comment = item.get("score"), item.get("comment")
        existing.answered_at = answered_at


def _answers(session: Session, op: dict) -> None:
    if session.get(Conversation, op["conversation_id"]) is None:
        return
    for item in op["answers"]:
        _answer(session, op["conversation_id"], item)


def _items(session: Session, conversation_id: str, items: list[dict]) -> None:
    stored = set(
        session.scalars(
            select(NluInboxItem.sent_at).where(NluInboxItem.conversation_id == conversation_id)
        )
    )
    for item in items:
        sent_at = _time(item["sent_at"])
        if sent_at in stored:
            continue
        stored.add(sent_at)
        session.add(NluInboxItem(conversation_id=conversation_id, sent_at=sent_at,
                                 dealer_id=item["dealer_id"], language=item["language"],
                                 text=item["text"], intent=item["intent"],
                                 confidence=item["confidence"],
                                 suggested_intent=item.get("suggested_intent"),
                                 reason=item["reason"], status="open"))  # fmt: skip


def orm_apply(session: Session, op: dict) -> None:
    """Apply one op with the ORM, as the recorder did."""
    {"conversation": _conversation, "answers": _answers}[op["op"]](session, op)
