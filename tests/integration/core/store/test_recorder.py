"""Recording is idempotent, keeps the newest snapshot, and never loses a record (spool)."""

import contextlib
import dataclasses
import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from core.engagement import ConversationRecord
from core.store import recorder as recorder_module
from core.store.migrate import upgrade
from core.store.models import Conversation, Erasure, SurveyAnswer
from core.store.recorder import Recorder, answer, apply_ops, coalesce, conversation_op
from core.store.session import make_engine, make_session_factory
from core.store.spool import Spool
from tests.conftest import pg_schema
from tests.integration.core.store.orm_recorder import orm_apply

T0 = dt.datetime(2026, 11, 23, 8, 0)


def record(cid="c1", messages=2, **kw):
    base = dict(id=cid, dealer_id="autohuis-demo", channel="web", contact_key="k" * 64,
                language="nl", started_at=T0, last_message_at=T0 + dt.timedelta(minutes=messages),
                customer_messages=messages, bot_messages=messages, first_response_ms=800,
                intents=("ask_price",), outcome="self_served", qualifies=True,
                qualify_reason="business intent ask_price", is_test=False, customer_channel=True,
                survey_offered_at=None)  # fmt: skip
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


def test_an_op_spooled_before_0015_gets_its_customer_channel_from_its_reason(store, tmp_path):
    """An op written before ``customer_channel`` was recorded (still in a spool at the upgrade)
    gets it from the qualifying reason, as the migration back-filled the stored rows."""
    recorder = Recorder(store, Spool(tmp_path / "spool.jsonl"))
    rest = record("r1", channel="rest", qualifies=False,
                  qualify_reason="channel 'rest' is not a one-to-one customer channel")  # fmt: skip
    for op in (conversation_op(rest), conversation_op(record("w1"))):
        del op["data"]["customer_channel"]
        recorder.write(op)
    assert {row.id: row.customer_channel for row in rows(store)} == {"r1": False, "w1": True}


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
    from core.store.models import DirtyDay

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


# --- the batched writes store what the ORM's writes, op by op, stored ---------------------------


def inbox_item(cid, minute, text="huh?"):
    return {"text": text, "intent": "nlu_fallback", "confidence": 0.3, "suggested_intent": None,
            "reason": "fallback", "language": "nl", "conversation_id": cid,
            "dealer_id": "autohuis-demo",
            "sent_at": (T0 + dt.timedelta(minutes=minute)).isoformat()}  # fmt: skip


def scenario() -> list[dict]:
    """Ops that reach every rule: new and growing conversations (cell inputs changing or not),
    the same contact on a later day, older snapshots, answers earlier and later than stored,
    late answers (also for an unknown conversation), erased contacts, a dealer that changes,
    replays, and inbox items (repeated ones included)."""
    day_before = T0 - dt.timedelta(days=7)
    a = [record(cid="a", messages=m, started_at=day_before, first_response_ms=None if m < 3 else 40_000,
                outcome="appointment_booked" if m >= 4 else "self_served",
                last_message_at=day_before + dt.timedelta(minutes=m)) for m in (2, 3, 4, 5)]  # fmt: skip
    at = T0 + dt.timedelta(hours=3)
    return [
        {**conversation_op(a[0]), "inbox": [inbox_item("a", 1)]},
        conversation_op(record(cid="b", messages=2)),
        {
            **conversation_op(a[1]),
            "inbox": [inbox_item("a", 1), inbox_item("a", 2), inbox_item("a", 2)],
        },
        conversation_op(record(cid="c", messages=6, outcome="handed_off")),
        conversation_op(record(cid="c", messages=4)),  # older: kept out
        conversation_op(a[2], [answer("csat", score=2, at=at)]),
        {
            "op": "answers",
            "conversation_id": "a",
            "answers": [answer("csat", score=5, at=T0)],
        },  # earlier
        {"op": "answers", "conversation_id": "zzz", "answers": [answer("csat", score=1, at=at)]},
        conversation_op(record(cid="e", contact_key="e" * 64)),  # erased
        conversation_op(
            record(
                cid="f",
                contact_key="e" * 64,
                started_at=T0 + dt.timedelta(hours=2),
                last_message_at=T0 + dt.timedelta(hours=2, minutes=2),
            )
        ),
        conversation_op(
            a[3], [answer("ces", score=6, at=at), answer("comment", comment="ok", at=at)]
        ),
        {
            "op": "answers",
            "conversation_id": "a",
            "answers": [answer("csat", score=4, at=at)],
        },  # same time: wins
        conversation_op(record(cid="b", messages=3, dealer_id="elsewhere")),
        conversation_op(record(cid="b", messages=3, dealer_id="elsewhere")),  # replayed
        conversation_op(record(cid="g", messages=2), [answer("nps", score=9, at=at)]),
        {
            "op": "answers",
            "conversation_id": "g",
            "answers": [answer("nps", score=9, at=at)],
        },  # replayed
        conversation_op(
            record(
                cid="b",
                messages=4,
                dealer_id="autohuis-demo",
                intents=("ask_price", "book_service"),
            )
        ),
        # one person across channels: a web contact without a number, the same person on
        # WhatsApp, then the web contact gives the number (its earlier conversation is linked),
        # and comes back without it (linked at once)
        conversation_op(
            record(
                cid="p1",
                contact_key="p" * 64,
                started_at=T0 - dt.timedelta(days=2),
                last_message_at=T0 - dt.timedelta(days=2, minutes=-2),
            )
        ),
        conversation_op(
            record(cid="w1", contact_key="w" * 64, channel="whatsapp", person_key="P" * 64)
        ),
        conversation_op(
            record(
                cid="p2",
                contact_key="p" * 64,
                person_key="P" * 64,
                started_at=T0 + dt.timedelta(hours=1),
                last_message_at=T0 + dt.timedelta(hours=1, minutes=2),
            )
        ),
        conversation_op(
            record(
                cid="p3",
                contact_key="p" * 64,
                started_at=T0 + dt.timedelta(hours=5),
                last_message_at=T0 + dt.timedelta(hours=5, minutes=2),
            )
        ),
        {  # the same item time written otherwise, and a new item
            **conversation_op(a[3]),
            "inbox": [
                {**inbox_item("a", 2), "sent_at": inbox_item("a", 2)["sent_at"] + ".000000"},
                inbox_item("a", 9),
            ],
        },
    ]


def stored_state(factory) -> list:
    from core.store.models import DirtyDay, NluInboxItem

    skip = {"id", "updated_at", "created_at"}
    tables = {Conversation: {"updated_at", "created_at"}, SurveyAnswer: skip, NluInboxItem: skip,
              DirtyDay: set()}  # fmt: skip
    return [sorted((tuple((c, getattr(r, c)) for c in sorted(m.__table__.columns.keys())
                          if c not in leave_out) for r in rows(factory, m)), key=repr)
            for m, leave_out in tables.items()]  # fmt: skip


def taken_marks(factory) -> list:
    """The dirty-day marks so far, removed as a rollup removes them."""
    from core.store.models import DirtyDay

    with factory.begin() as session:
        marks = sorted((m.day_key, m.dealer_id) for m in session.scalars(select(DirtyDay)))
        session.query(DirtyDay).delete()
    return marks


@pytest.fixture(params=["sqlite", "postgresql"])
def two_stores(request, tmp_path):
    """Two empty stores on the same backend, each with the same erasure."""
    with contextlib.ExitStack() as stack:
        factories = []
        for name in ("reference", "batched"):
            if request.param == "sqlite":
                engine = make_engine(f"sqlite:///{tmp_path / name}.sqlite3")
                stack.callback(engine.dispose)
                upgrade(engine)
                factory = make_session_factory(engine)
            else:
                _url, factory = stack.enter_context(pg_schema(request.getfixturevalue("pg_url")))
            with factory.begin() as session:
                session.add(Erasure(contact_key="e" * 64, sender_id_hash="h",
                                    requested_at=T0 + dt.timedelta(hours=1)))  # fmt: skip
            factories.append(factory)
        yield factories


def by_orm(factory, ops) -> None:
    """As the recorder wrote a batch: the ops in order, in one unit of work."""
    with factory.begin() as session:
        for op in ops:
            orm_apply(session, op)


@pytest.mark.parametrize("size", [1, 4, 50])
def test_batches_store_what_the_orm_stored_op_by_op(two_stores, tmp_path, size):
    reference, batched = two_stores
    recorder = Recorder(batched, Spool(tmp_path / "spool.jsonl"))
    ops = scenario()
    expected, got = [], []
    for i in range(0, len(ops), size):
        by_orm(reference, coalesce(ops[i : i + size]))
        expected.append(taken_marks(reference))
        recorder.write_many(coalesce(ops[i : i + size]))
        got.append(taken_marks(batched))
    assert recorder.spool.is_empty() and not (tmp_path / "spool.bad").exists()
    assert got == expected
    assert stored_state(batched) == stored_state(reference)
    (a,) = [r for r in rows(batched) if r.id == "a"]
    assert (a.csat, a.ces, a.first_response_bucket) == (4, 6, 9)  # the check checks something
    persons = {r.id: r.person for r in rows(batched) if r.id in ("p1", "p2", "p3", "w1", "b")}
    assert persons == {"p1": "P" * 64, "p2": "P" * 64, "p3": "P" * 64, "w1": "P" * 64,
                       "b": "k" * 64}  # fmt: skip


def test_one_batch_with_every_op_uncoalesced_stores_the_same(two_stores, tmp_path):
    reference, batched = two_stores
    ops = scenario()
    by_orm(reference, ops)
    with batched.begin() as session:
        apply_ops(session, ops)
    assert stored_state(batched) == stored_state(reference)


def test_a_row_deleted_after_the_read_fails_the_batch_and_is_written_again(
    store, tmp_path, monkeypatch
):
    recorder = Recorder(store, Spool(tmp_path / "spool.jsonl"))
    recorder.write(conversation_op(record(cid="a")))
    write = recorder_module._Batch._write

    def deleted_meanwhile(batch):  # e.g. retention, between the batch's read and its write
        if batch.updates:
            batch.connection.execute(Conversation.__table__.delete())
        write(batch)

    monkeypatch.setattr(recorder_module._Batch, "_write", deleted_meanwhile)
    with pytest.raises(StaleDataError), store.begin() as session:
        apply_ops(session, [conversation_op(record(cid="a", messages=3))])
    assert [r.customer_messages for r in rows(store)] == [2]  # rolled back
    monkeypatch.setattr(recorder_module._Batch, "_write", write)
    recorder.write_many(
        [conversation_op(record(cid="a", messages=4)), conversation_op(record(cid="b"))]
    )
    assert sorted((r.id, r.customer_messages) for r in rows(store)) == [("a", 4), ("b", 2)]


def test_a_row_without_period_keys_gets_them_from_the_same_snapshot(two_stores, tmp_path):
    reference, batched = two_stores
    op = conversation_op(record(cid="old"))
    for factory in two_stores:  # a row from before the period keys: written without the ORM
        with factory.begin() as session:
            legacy = {
                **op["data"],
                "started_at": T0,
                "last_message_at": T0 + dt.timedelta(minutes=2),
            }
            session.execute(Conversation.__table__.insert().values(**legacy))
    by_orm(reference, [op])
    Recorder(batched, Spool(tmp_path / "spool.jsonl")).write(op)
    assert taken_marks(batched) == taken_marks(reference) == [("2026-11-23", "autohuis-demo")]
    assert stored_state(batched) == stored_state(reference)
    assert rows(batched)[0].week_key == "2026-W48"


def test_the_op_holds_the_record_json_safe():
    rec = record(
        survey_offered_at=T0, intents=("ask_price", "book_service"), outcomes=("lead_created",)
    )
    expected = {**dataclasses.asdict(rec), "intents": "ask_price,book_service"}
    del expected["outcomes"]
    for key in ("started_at", "last_message_at", "survey_offered_at"):
        expected[key] = getattr(rec, key).isoformat()
    op = conversation_op(rec, [answer("csat", score=4, at=T0)])
    assert op == {"op": "conversation", "data": expected,
                  "answers": [answer("csat", score=4, at=T0)]}  # fmt: skip
    assert "inbox" not in op and conversation_op(rec, events=[])["inbox"] == []
