"""Writing engagement records: upserts that are idempotent, spooled when the database is down."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from core.engagement import (
    ConversationRecord,
    bucket_index,
    recorded_on_customer_channel,
    summarize,
)
from core.periods import conversation_keys
from core.settings import get_settings
from core.store.inbox import REVISED, inbox_row, recorded_items, revised
from core.store.models import (
    CELL_INPUTS,
    SURVEY_SCORE_COLUMNS,
    Conversation,
    Erasure,
    NluInboxItem,
    SurveyAnswer,
    dirty_days,
    mark_dirty,
)
from core.store.session import default_session_factory
from core.store.spool import Spool, default_spool_path

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

    With the session's ``events``, the op also carries its NLU inbox items (``core.store.inbox``).
    """
    data = {"id": record.id}
    for key in _CONVERSATION_FIELDS:
        value = getattr(record, key)
        data[key] = value.isoformat() if isinstance(value, dt.datetime) else value
    data["intents"] = ",".join(record.intents)
    op = {"op": "conversation", "data": data, "answers": answers or []}
    if events is not None:
        op["inbox"] = recorded_items(events, record.id, record.dealer_id)
    return op


def record_session(
    recorder: Any,
    sender_id: str,
    events: list,
    default_dealer: str,
    answers: list[dict] | None = None,
) -> ConversationRecord | None:
    """Write the record of the current session of ``events`` (Rasa's event dicts) through
    ``recorder`` (a ``Recorder`` or ``WriteBehind``): the action server after each turn, the
    dashboard when staff hand a conversation back (while paused no action runs). None before
    the customer wrote, or with ``DEALERBOT_ENGAGEMENT_LOG=off``."""
    settings = get_settings()
    if not settings.engagement_log:
        return None  # DEALERBOT_ENGAGEMENT_LOG=off: the baseline without logging
    record = summarize(
        events,
        sender_id=sender_id,
        secret=settings.contact_key_secret,
        default_dealer=default_dealer,
        test_senders=settings.test_senders,
        customer_channels=settings.customer_channels,
    )
    if record is not None:
        recorder.write(conversation_op(record, answers, events=events))
    return record


def answer(question: str, *, score: int | None = None, comment: str | None = None,
           at: dt.datetime | None = None) -> dict:  # fmt: skip
    at = at or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    return {"question": question, "score": score, "comment": comment, "answered_at": at.isoformat()}


def _bucket(ms: int | None) -> int | None:
    return None if ms is None else bucket_index(ms)


def _snapshot(row: dict[str, Any]) -> tuple:
    """How far a snapshot of a conversation got: a later one is at least as far in each."""
    return row["customer_messages"], row["bot_messages"], row["last_message_at"]


def _same_keys(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The rows grouped by their keys: one executemany each (old spooled ops may lack a field)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    return list(groups.values())


_C = Conversation.__table__
_A = SurveyAnswer.__table__
_E = Erasure.__table__
_I = NluInboxItem.__table__
_KEYS = ("day_key", "week_key", "month_key")
# What a conversation op writes on its row: the record, the period keys, the speed bucket.
_WRITTEN = (*_CONVERSATION_FIELDS, *_KEYS, "first_response_bucket", "person")
# With the survey scores stored on the row: what ``dirty_days`` compares.
_ROWS = select(_C.c.id, *(_C.c[name] for name in (*_WRITTEN, *SURVEY_SCORE_COLUMNS))).where(
    _C.c.id.in_(bindparam("ids", expanding=True))
)
# Per contact its latest erasure: erased when that is at or after the conversation's start.
_ERASURES = (
    select(_E.c.contact_key, func.max(_E.c.requested_at))
    .where(_E.c.contact_key.in_(bindparam("keys", expanding=True)))
    .group_by(_E.c.contact_key)
)
# Per contact the person its conversations are linked to (core.engagement.person_key).
_PERSONS = (
    select(_C.c.contact_key, func.max(_C.c.person))
    .where(_C.c.contact_key.in_(bindparam("keys", expanding=True)), _C.c.person_key.isnot(None))
    .group_by(_C.c.contact_key)
)
# A contact's conversations not yet linked to its person, with what the dirty-day rule reads.
_UNLINKED = select(*(_C.c[name] for name in CELL_INPUTS)).where(
    _C.c.contact_key == bindparam("contact"), _C.c.person != bindparam("person")
)
_LINK = (
    update(_C)
    .where(_C.c.contact_key == bindparam("contact"), _C.c.person != bindparam("person"))
    .values(person=bindparam("person"))
)
_ANSWERS = select(_A.c.conversation_id, _A.c.question, _A.c.answered_at).where(
    _A.c.conversation_id.in_(bindparam("ids", expanding=True))
)
_INBOX = select(
    _I.c.id, _I.c.conversation_id, _I.c.sent_at, _I.c.status, *(_I.c[k] for k in REVISED)
).where(_I.c.conversation_id.in_(bindparam("ids", expanding=True)))
_INSERT_CONVERSATION = insert(_C)
_INSERT_ANSWER = insert(_A)
_INSERT_ITEM = insert(_I)
_UPDATE_ITEM = update(_I).where(_I.c.id == bindparam("_id"))
_UPDATE_CONVERSATION = update(_C).where(_C.c.id == bindparam("_id"))
_UPDATE_ANSWER = update(_A).where(
    _A.c.conversation_id == bindparam("_conversation_id"), _A.c.question == bindparam("_question")
)
_SCORE = {q: update(_C).where(_C.c.id == bindparam("_id")) for q in SURVEY_SCORE_COLUMNS}


class _Batch:
    """The writes of a list of ops, decided in order from one read of what is stored.

    It stores what applying the ops one by one with the ORM stored (models' mapper events
    included): the speed bucket, survey scores on the conversation, and the dirty-day marks
    (``models.dirty_days`` per written row, written once for the batch by ``models.mark_dirty``).
    """

    def __init__(self, connection: Connection, ops: list[dict]) -> None:
        self.connection = connection
        self.ops = ops
        self.rows: dict[str, dict[str, Any]] = {}  # conversation id -> its row as written
        self.inserts: dict[str, dict[str, Any]] = {}
        self.updates: dict[str, dict[str, Any]] = {}
        self.answers: dict[tuple[str, str], dict[str, Any]] = {}  # (conversation, question) ->
        self.stored_answers: dict[tuple[str, str], dt.datetime] = {}
        self.new_answers: set[tuple[str, str]] = set()
        self.scores: dict[str, list[dict[str, Any]]] = {q: [] for q in SURVEY_SCORE_COLUMNS}
        self.items: dict[tuple[str, dt.datetime], dict[str, Any]] = {}
        self.stored_items: dict[tuple[str, dt.datetime], dict[str, Any]] = {}  # as stored
        self.item_updates: dict[int, dict[str, Any]] = {}  # item id -> columns to change
        self.days: set[tuple[str, str]] = set()  # models.dirty_days of every write, joined
        self.since: set[tuple[str, str, str]] = set()
        self.persons: dict[str, str] = {}  # contact key -> the person it is linked to
        self.links: dict[str, str] = {}  # contacts whose stored conversations to link

    def run(self) -> None:
        ids = {op["data"]["id"] if op["op"] == "conversation" else op["conversation_id"]
               for op in self.ops if op["op"] in _KINDS}  # fmt: skip
        keys = {op["data"]["contact_key"] for op in self.ops if op["op"] == "conversation"}
        execute = self.connection.execute
        for row in execute(_ROWS, {"ids": sorted(ids)}).mappings():
            self.rows[row["id"]] = dict(row)
        erasures = dict(execute(_ERASURES, {"keys": sorted(keys)}).all()) if keys else {}
        if keys:
            self.persons = dict(execute(_PERSONS, {"keys": sorted(keys)}).all())
        if any(op.get("answers") for op in self.ops):
            for cid, question, answered_at in execute(_ANSWERS, {"ids": sorted(ids)}):
                self.stored_answers[cid, question] = answered_at
        if any(op.get("inbox") for op in self.ops):
            for row in execute(_INBOX, {"ids": sorted(ids)}).mappings():
                self.stored_items[row["conversation_id"], row["sent_at"]] = dict(row)
        for op in self.ops:
            if op["op"] == "conversation":
                self._conversation(op, erasures)
            elif op["op"] == "answers":
                self._late_answers(op)
            else:
                raise KeyError(op["op"])
        self._write()

    def _conversation(self, op: dict, erasures: dict) -> None:
        data = {k: v for k, v in op["data"].items() if k in _CONVERSATION_FIELDS or k == "id"}
        data.setdefault("fallback_messages", 0)  # spooled before migration 0013
        data.setdefault("person_key", None)
        if "customer_channel" not in data:  # spooled before migration 0015
            data["customer_channel"] = recorded_on_customer_channel(data["qualify_reason"])
        for key in ("started_at", "last_message_at", "survey_offered_at"):
            data[key] = _time(data.get(key))
        cid = data.pop("id")
        erased_at = erasures.get(data["contact_key"])
        if erased_at is not None and erased_at >= data["started_at"]:
            return  # the contact asked to be forgotten after this conversation
        data["person"] = self._person(data["contact_key"], data.get("person_key"))
        row = self.rows.get(cid)
        if row is None:
            row = {**data, **conversation_keys(data["dealer_id"], data["started_at"])}
            row["first_response_bucket"] = _bucket(row.get("first_response_ms"))
            self.rows[cid] = self.inserts[cid] = row
            self._dirty(None, row)
        elif _snapshot(row) <= _snapshot(data):  # else an older one (replayed late): keep ours
            new = {**row, **data}
            changed = {k for k, v in data.items() if row[k] != v}
            if changed & {"dealer_id", "started_at"} or new["day_key"] is None:
                new.update(conversation_keys(new["dealer_id"], new["started_at"]))
            if changed or new["day_key"] != row["day_key"]:
                new["first_response_bucket"] = _bucket(new["first_response_ms"])
                self.rows[cid] = new
                if cid in self.inserts:
                    self.inserts[cid] = new
                else:
                    self.updates[cid] = new
                self._dirty(row, new)
        for item in op.get("answers") or []:
            self._answer(cid, item)
        for item in op.get("inbox") or []:  # a session's items come again with every message
            sent_at = _time(item["sent_at"])
            assert sent_at is not None  # inbox.item_dicts always writes the message's time
            row = {**inbox_row(item), "conversation_id": cid, "sent_at": sent_at}
            stored = self.stored_items.get((cid, sent_at))
            if stored is None:
                self.items[cid, sent_at] = row  # the latest finding of a message not stored yet
            elif changes := revised(stored, row):
                stored.update(changes)
                self.item_updates.setdefault(stored["id"], {}).update(changes)

    def _person(self, contact: str, learned: str | None) -> str:
        """Whom MEC counts for a conversation of ``contact``: the person key it showed, else the
        one an earlier conversation of the contact showed, else the contact itself. A new
        person key links the contact's stored conversations too (in ``_write``)."""
        linked = self.persons.get(contact)
        if learned and learned != linked:
            self.persons[contact] = self.links[contact] = learned
            return learned
        return linked or contact

    def _late_answers(self, op: dict) -> None:
        """Late answers for a conversation recorded earlier (e.g. after its session expired)."""
        if self.rows.get(op["conversation_id"]) is None:
            log.warning("survey answer for an unknown conversation dropped")
            return
        for item in op["answers"]:
            self._answer(op["conversation_id"], item)

    def _answer(self, cid: str, item: dict) -> None:
        key = (cid, item["question"])
        answered_at = _time(item["answered_at"])
        assert answered_at is not None  # ``answer`` always writes the time of the answer
        stored = self.stored_answers.get(key)
        if stored is not None and answered_at < stored:
            return  # an earlier answer than the stored one
        if stored is None:
            self.new_answers.add(key)
        self.stored_answers[key] = answered_at
        self.answers[key] = {"score": item.get("score"), "comment": item.get("comment"),
                             "answered_at": answered_at}  # fmt: skip
        if item["question"] in self.scores:  # the rollups read the score on the conversation
            score = item.get("score")
            self.scores[item["question"]].append({"_id": cid, item["question"]: score})
            row = self.rows[cid]
            scored = {**row, item["question"]: score}
            self._dirty(row, scored)
            row[item["question"]] = score  # the row as written (an insert writes it too)

    def _dirty(self, old: dict | None, new: dict) -> None:
        """Collect what writing ``new`` over ``old`` puts out of date (``models.dirty_days``)."""
        days, since = dirty_days(old, new)
        if days:
            self.days.update(days)
            self.since.update(since)

    def _update(self, statement: Any, rows: list[dict[str, Any]]) -> None:
        """Update rows read before; one deleted since (erasure, retention) fails the batch, as
        the ORM's flush did, so that it is applied again from a new read."""
        matched = self.connection.execute(statement, rows).rowcount
        if self.connection.dialect.supports_sane_multi_rowcount and matched != len(rows):
            raise StaleDataError(f"{len(rows)} rows to update, {matched} found")

    def _write(self) -> None:
        execute = self.connection.execute
        for rows in _same_keys([{**row, "id": cid} for cid, row in self.inserts.items()]):
            execute(_INSERT_CONVERSATION, rows)
        if self.updates:
            self._update(_UPDATE_CONVERSATION, [{"_id": cid, **{k: row[k] for k in _WRITTEN}}
                                                for cid, row in self.updates.items()])  # fmt: skip
        added, again = [], []
        for (cid, question), values in self.answers.items():
            if (cid, question) in self.new_answers:
                added.append({"conversation_id": cid, "question": question, **values})
            else:
                again.append({"_conversation_id": cid, "_question": question, **values})
        if added:
            execute(_INSERT_ANSWER, added)
        if again:
            self._update(_UPDATE_ANSWER, again)
        for question, scores in self.scores.items():
            if scores:
                execute(_SCORE[question], scores)
        if self.items:  # read as absent: a concurrent insert fails the batch (retried)
            for rows in _same_keys(list(self.items.values())):
                execute(_INSERT_ITEM, rows)
        for item_id, changes in self.item_updates.items():
            execute(_UPDATE_ITEM, {"_id": item_id, **changes})
        for contact, person in sorted(self.links.items()):
            params = {"contact": contact, "person": person}
            for row in execute(_UNLINKED, params).mappings():
                self._dirty(dict(row), {**row, "person": person})
            execute(_LINK, params)
        if self.days:
            mark_dirty(self.connection, self.days, self.since)


_KINDS = ("conversation", "answers")


def apply_ops(session: Session, ops: list[dict]) -> None:
    """Apply ops in order in the session's transaction: a few statements for all of them."""
    _Batch(session.connection(), ops).run()


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
                apply_ops(session, [op])
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
                apply_ops(session, ops)
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
    return default_spool_path()


@lru_cache(maxsize=4)
def _recorder_for(url: str, path: Path) -> Recorder:
    return Recorder(default_session_factory(), Spool(path))


def default_recorder() -> Recorder:
    settings = get_settings()
    return _recorder_for(settings.database_url, spool_path())
