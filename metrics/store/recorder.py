"""Writing engagement records: upserts that are idempotent, spooled when the database is down."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from metrics.engagement import ConversationRecord
from metrics.periods import conversation_keys
from metrics.settings import get_settings
from metrics.store.models import Conversation, Erasure, SurveyAnswer
from metrics.store.session import default_session_factory
from metrics.store.spool import Spool
from trainer.inbox import recorded_items, upsert_items

log = logging.getLogger(__name__)
DATABASE_DOWN = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
# A write replays at most this many spooled records first (under a second on PostgreSQL). After a
# long outage the backlog drains over the next writes instead of stalling one reply (and the
# action server's event loop) for all of it.
REPLAY_PER_WRITE = 100
_CONVERSATION_FIELDS = [
    f.name for f in dataclasses.fields(ConversationRecord) if f.name not in ("id", "outcomes")
]


def _time(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value)


def conversation_op(
    record: ConversationRecord, answers: list[dict] | None = None, events: list | None = None
) -> dict:
    """A JSON-safe write of one conversation record, with any survey answers given now.

    With the session's ``events``, the op also carries its NLU inbox items (``trainer.inbox``).
    """
    data = dataclasses.asdict(record)
    data["intents"] = ",".join(record.intents)
    data.pop("outcomes")
    for key, value in data.items():
        if isinstance(value, dt.datetime):
            data[key] = value.isoformat()
    op = {"op": "conversation", "data": data, "answers": answers or []}
    if events is not None:
        op["inbox"] = recorded_items(events, record.id, record.dealer_id)
    return op


def answer(question: str, *, score: int | None = None, comment: str | None = None,
           at: dt.datetime | None = None) -> dict:  # fmt: skip
    at = at or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    return {"question": question, "score": score, "comment": comment, "answered_at": at.isoformat()}


def _erased(contact_key: str, started_at: dt.datetime):
    """Whether the contact asked to be forgotten after this conversation started (EXISTS)."""
    return (
        select(Erasure.id)
        .where(Erasure.contact_key == contact_key, Erasure.requested_at >= started_at)
        .exists()
    )


def _apply_conversation(session: Session, op: dict) -> None:
    data = {k: v for k, v in op["data"].items() if k in _CONVERSATION_FIELDS or k == "id"}
    for key in ("started_at", "last_message_at", "survey_offered_at"):
        data[key] = _time(data.get(key))
    erased = _erased(data["contact_key"], data["started_at"])
    # One round trip for the row and the erasure check (a write per customer message).
    found = session.execute(select(Conversation, erased).where(Conversation.id == data["id"]))
    row, is_erased = found.first() or (None, None)
    if row is None:
        is_erased = session.scalar(select(erased))
    if is_erased:
        return  # the contact asked to be forgotten after this conversation
    if row is None:
        row = Conversation(id=data["id"])
        session.add(row)
    elif (row.customer_messages, row.bot_messages, row.last_message_at) > (
        data["customer_messages"], data["bot_messages"], data["last_message_at"]
    ):  # fmt: skip
        data = {}  # an older snapshot (e.g. replayed late): keep the newer record
    changed = {k: v for k, v in data.items() if k != "id" and getattr(row, k) != v}
    for key, value in changed.items():
        setattr(row, key, value)
    if changed.keys() & {"dealer_id", "started_at"} or (data and row.day_key is None):
        # period keys in the dealer's time zone, for the rollups (metrics.aggregate)
        for key, value in conversation_keys(row.dealer_id, row.started_at).items():
            setattr(row, key, value)
    if changed or row in session.new:  # an unchanged snapshot writes nothing
        session.flush()
    for item in op.get("answers") or []:
        _apply_answer(session, row.id, item)
    if op.get("inbox"):  # the trainers' NLU inbox: insert-if-absent, so replays add nothing
        upsert_items(session, row.id, op["inbox"])


def _apply_answer(session: Session, conversation_id: str, item: dict) -> None:
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


def _apply_answers(session: Session, op: dict) -> None:
    """Late answers for a conversation recorded earlier (e.g. after its session expired)."""
    if session.get(Conversation, op["conversation_id"]) is None:
        log.warning("survey answer for an unknown conversation dropped")
        return
    for item in op["answers"]:
        _apply_answer(session, op["conversation_id"], item)


_OPS = {"conversation": _apply_conversation, "answers": _apply_answers}


def coalesce(ops: list[dict]) -> list[dict]:
    """The same writes in fewer ops: the conversation ops of one conversation become one, in
    the place of the first, with the last snapshot and every survey answer and inbox item of
    them all, in order. Applying the result stores what applying ``ops`` one by one stores
    (a later snapshot of a conversation replaces an earlier one; answers and inbox items are
    keyed upserts), with one write per conversation instead of one per message.
    """
    merged: list[dict] = []
    first: dict[str, dict] = {}  # conversation id -> its merged op
    for op in ops:
        if op["op"] != "conversation":
            merged.append(op)
            continue
        into = first.get(op["data"]["id"])
        if into is None:
            into = first[op["data"]["id"]] = {**op, "answers": list(op.get("answers") or [])}
            if "inbox" in op:
                into["inbox"] = list(op["inbox"])
            merged.append(into)
            continue
        into["data"] = op["data"]
        into["answers"] += op.get("answers") or []
        if "inbox" in op:
            into["inbox"] = [*into.get("inbox", []), *op["inbox"]]
    return merged


def apply(session_factory: sessionmaker, op: dict) -> None:
    """Apply one op in its own unit of work (retrying once if a concurrent insert won)."""
    for attempt in range(2):
        try:
            with session_factory.begin() as session:
                _OPS[op["op"]](session, op)
            return
        except IntegrityError:
            if attempt:
                raise


class Recorder:
    """Writes ops to the store; when the store is unreachable, to the spool instead."""

    def __init__(self, session_factory: sessionmaker, spool: Spool) -> None:
        self.session_factory = session_factory
        self.spool = spool

    def write(self, op: dict) -> bool:
        """True when stored now, False when spooled for a later replay."""
        try:
            self.replay(limit=REPLAY_PER_WRITE)
            if not self.spool.is_empty():
                self.spool.append(op)  # older records still wait: keep the order
                return False
            apply(self.session_factory, op)
            return True
        except DATABASE_DOWN as exc:
            log.warning("store unreachable (%s): record spooled", exc.__class__.__name__)
            self.spool.append(op)
            return False

    def write_many(self, ops: list[dict]) -> None:
        """Write ops in order, in one unit of work when they all go through (what piled up in
        the write-behind queue), else one at a time. Each op ends up stored, spooled, or, when it
        can never be stored, set aside in the spool's ``.bad`` file: none is dropped."""
        if len(ops) > 1 and self._write_together(ops):
            return
        for op in ops:
            try:
                self.write(op)
            except Exception as exc:
                log.error("record set aside in %s: %r", self.spool.path.with_suffix(".bad"), exc)
                self.spool.set_aside(json.dumps(op, default=str, ensure_ascii=False))

    def _write_together(self, ops: list[dict]) -> bool:
        try:
            self.replay(limit=REPLAY_PER_WRITE)
            if not self.spool.is_empty():
                return False  # older records wait: write() spools these behind them
            with self.session_factory.begin() as session:
                for op in ops:
                    _OPS[op["op"]](session, op)
            return True
        except DATABASE_DOWN as exc:
            log.warning("store unreachable (%s): %d records spooled", type(exc).__name__, len(ops))
            for op in ops:
                self.spool.append(op)
            return True
        except Exception:  # e.g. a concurrent insert, or one bad op: retry them one by one
            return False

    def replay(self, limit: int | None = None) -> int:
        if self.spool.is_empty():
            return 0
        return self.spool.replay(lambda op: apply(self.session_factory, op), DATABASE_DOWN, limit)


def spool_path() -> Path:
    return get_settings().var_dir / "spool" / "records.jsonl"


@lru_cache(maxsize=4)
def _recorder_for(url: str, path: Path) -> Recorder:
    return Recorder(default_session_factory(), Spool(path))


def default_recorder() -> Recorder:
    settings = get_settings()
    return _recorder_for(settings.database_url, spool_path())
