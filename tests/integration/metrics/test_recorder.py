"""Recording is idempotent, keeps the newest snapshot, and never loses a record (spool)."""

import dataclasses
import datetime as dt

from sqlalchemy import func, select

from metrics.engagement import ConversationRecord
from metrics.store.models import Conversation, Erasure, SurveyAnswer
from metrics.store.recorder import Recorder, answer, conversation_op
from metrics.store.session import make_engine, make_session_factory
from metrics.store.spool import Spool

T0 = dt.datetime(2026, 11, 23, 8, 0)


def record(cid="c1", messages=2, **kw):
    base = dict(id=cid, dealer_id="autohuis-demo", channel="web", contact_key="k" * 64,
                language="nl", started_at=T0, last_message_at=T0 + dt.timedelta(minutes=messages),
                customer_messages=messages, bot_messages=messages, first_response_ms=800,
                intents=("ask_price",), outcome="self_served", qualifies=True,
                qualify_reason="business intent ask_price", is_test=False, survey_offered_at=None)  # fmt: skip
    return ConversationRecord(**{**base, **kw})


def rows(factory, model=Conversation):
    with factory() as session:
        return session.scalars(select(model)).all()


def test_recording_twice_changes_nothing(store, tmp_path):
    recorder = Recorder(store, Spool(tmp_path / "spool.jsonl"))
    op = conversation_op(record(), [answer("csat", score=4, at=T0)])
    assert recorder.write(op) and recorder.write(op)
    (first,) = rows(store)
    assert first.customer_messages == 2 and len(rows(store, SurveyAnswer)) == 1
    snapshot = {c.name: getattr(first, c.name) for c in Conversation.__table__.columns}
    recorder.write(op)
    (again,) = rows(store)
    assert {c.name: getattr(again, c.name) for c in Conversation.__table__.columns
            if c.name != "updated_at"} == {k: v for k, v in snapshot.items() if k != "updated_at"}  # fmt: skip


def test_newer_snapshot_wins_and_late_answers_update(store, tmp_path):
    recorder = Recorder(store, Spool(tmp_path / "spool.jsonl"))
    recorder.write(conversation_op(record(messages=5, outcome="appointment_booked")))
    recorder.write(conversation_op(record(messages=3)))  # an older snapshot replayed late
    (row,) = rows(store)
    assert (row.customer_messages, row.outcome) == (5, "appointment_booked")
    recorder.write({"op": "answers", "conversation_id": "c1",
                    "answers": [answer("csat", score=2, at=T0), answer("comment", comment="<b>hm</b>", at=T0)]})  # fmt: skip
    recorder.write({"op": "answers", "conversation_id": "c1",
                    "answers": [answer("csat", score=5, at=T0 + dt.timedelta(hours=2))]})  # fmt: skip
    answers = {a.question: (a.score, a.comment) for a in rows(store, SurveyAnswer)}
    assert answers == {"csat": (5, None), "comment": (None, "<b>hm</b>")}


def test_database_down_spools_and_replays_exactly_once(store, tmp_path):
    spool = Spool(tmp_path / "spool.jsonl")
    down = make_session_factory(make_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none",
                                            connect_args={"connect_timeout": 1}))  # fmt: skip
    offline = Recorder(down, spool)
    for i in range(5):
        assert (
            offline.write(conversation_op(record(cid=f"c{i}"), [answer("csat", score=4, at=T0)]))
            is False
        )
    assert offline.write(conversation_op(record(cid="c0", messages=4))) is False
    assert len(spool) == 6
    # The action server restarts: a new recorder finds the same spool on disk.
    online = Recorder(store, Spool(tmp_path / "spool.jsonl"))
    assert online.write(conversation_op(record(cid="c9"))) is True
    assert len(spool) == 0
    by_id = {r.id: r for r in rows(store)}
    assert sorted(by_id) == ["c0", "c1", "c2", "c3", "c4", "c9"]
    assert by_id["c0"].customer_messages == 4
    assert len(rows(store, SurveyAnswer)) == 5
    online.write(conversation_op(record(cid="c9")))
    with store() as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 6


def test_a_half_written_spool_line_is_set_aside(store, tmp_path):
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append(conversation_op(record(cid="ok")))
    with open(spool.path, "a") as handle:
        handle.write('{"op": "conversation", "data": {"id": "cut')  # a crash mid-write
    assert Recorder(store, spool).replay() == 2
    assert [r.id for r in rows(store)] == ["ok"]
    assert (tmp_path / "spool.bad").exists()


def test_erased_contacts_are_not_recorded_again(store, tmp_path):
    with store.begin() as session:
        session.add(
            Erasure(
                contact_key="k" * 64, sender_id_hash="h", requested_at=T0 + dt.timedelta(hours=1)
            )
        )
    recorder = Recorder(store, Spool(tmp_path / "spool.jsonl"))
    recorder.write(conversation_op(record()))
    assert rows(store) == []
    later = dataclasses.replace(record(cid="later"), started_at=T0 + dt.timedelta(hours=2))
    recorder.write(conversation_op(later))
    assert [r.id for r in rows(store)] == ["later"]


def test_an_unchanged_snapshot_writes_nothing(store, tmp_path):
    from metrics.store.models import DirtyDay

    recorder = Recorder(store, Spool(tmp_path / "spool.jsonl"))
    recorder.write(conversation_op(record()))
    (first,) = rows(store)
    with store.begin() as session:
        session.query(DirtyDay).delete()  # as a rollup does once it has read the marks
    recorder.write(conversation_op(record()))  # e.g. a second action in the same turn
    (again,) = rows(store)
    assert again.updated_at == first.updated_at and rows(store, DirtyDay) == []
    recorder.write(conversation_op(record(messages=3)))  # the next message: written again
    assert rows(store)[0].customer_messages == 3
    assert rows(store, DirtyDay) == []  # but no cell counts messages: the day stays clean
