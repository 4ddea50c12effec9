"""Records written after the reply: in order, batched, and never lost (journal, spool, exit)."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import select

from core.store.migrate import upgrade
from core.store.models import Conversation, SurveyAnswer
from core.store.recorder import Recorder, answer, coalesce, conversation_op
from core.store.session import make_engine, make_session_factory
from core.store.spool import Spool
from core.store.write_behind import WriteBehind, recover_journals
from tests.integration.core.store.test_recorder import T0, record, rows


def journals(tmp_path):
    return sorted(tmp_path.glob("pending-*.jsonl"))


def test_ops_are_stored_in_order_and_the_journal_is_emptied(store, tmp_path):
    writer = WriteBehind(Recorder(store, Spool(tmp_path / "spool.jsonl")), tmp_path)
    for messages in (2, 3, 4):
        writer.write(conversation_op(record(messages=messages)))
    writer.write(conversation_op(record(cid="c2"), [answer("csat", score=5, at=T0)]))
    writer.write({"op": "answers", "conversation_id": "c2",
                  "answers": [answer("ces", score=6, at=T0)]})  # fmt: skip
    assert writer.flush(timeout_s=60)
    by_id = {r.id: r for r in rows(store)}
    assert by_id["c1"].customer_messages == 4
    assert sorted((a.question, a.score) for a in rows(store, SurveyAnswer)) == [
        ("ces", 6), ("csat", 5)
    ]  # fmt: skip
    (journal,) = journals(tmp_path)
    assert journal.stat().st_size == 0
    writer.close()
    assert journals(tmp_path) == []


def test_a_batch_with_a_bad_op_stores_the_others_and_sets_the_bad_one_aside(store, tmp_path):
    spool = Spool(tmp_path / "spool.jsonl")
    recorder = Recorder(store, spool)
    bad = conversation_op(record(cid="bad"))
    bad["data"]["started_at"] = "not a time"
    recorder.write_many([conversation_op(record(cid="a")), bad, conversation_op(record(cid="b"))])
    assert sorted(r.id for r in rows(store)) == ["a", "b"]
    (aside,) = (tmp_path / "spool.bad").read_text().splitlines()
    assert json.loads(aside)["data"]["id"] == "bad" and spool.is_empty()


def test_a_batch_while_the_database_is_down_is_spooled_in_order(store, tmp_path):
    spool = Spool(tmp_path / "spool.jsonl")
    down = make_session_factory(make_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none",
                                            connect_args={"connect_timeout": 1}))  # fmt: skip
    Recorder(down, spool).write_many([conversation_op(record(messages=m)) for m in (2, 5, 3)])
    assert len(spool) == 3
    Recorder(store, spool).write_many([conversation_op(record(cid="after"))])
    assert spool.is_empty()
    by_id = {r.id: r for r in rows(store)}
    assert sorted(by_id) == ["after", "c1"] and by_id["c1"].customer_messages == 5


def test_the_journal_of_a_live_process_is_left_alone(sqlite_factory, tmp_path):
    writer = WriteBehind(Recorder(sqlite_factory, Spool(tmp_path / "spool.jsonl")), tmp_path)
    writer.write(conversation_op(record()))
    assert writer.flush(timeout_s=60)
    (journal,) = journals(tmp_path)
    journal.write_text(json.dumps(conversation_op(record(cid="queued"))) + "\n")
    assert recover_journals(tmp_path, Recorder(sqlite_factory, Spool(tmp_path / "other"))) == 0
    assert journals(tmp_path) == [journal]
    writer.close()


KILLED = """
import sys, threading
from pathlib import Path
from core.store.recorder import conversation_op
from core.store.spool import Spool
from core.store.write_behind import WriteBehind
from tests.integration.core.store.test_recorder import record

class Stuck:  # a store that never answers: the ops wait in the queue
    spool = Spool(Path(sys.argv[1]) / "spool.jsonl")
    def write_many(self, ops):
        threading.Event().wait()

writer = WriteBehind(Stuck(), Path(sys.argv[1]))
for i in range(3):
    writer.write(conversation_op(record(cid=f"k{i}")))
print("queued", flush=True)
threading.Event().wait()
"""

EXITING = """
import sys
from pathlib import Path
from core.store.recorder import Recorder, conversation_op
from core.store.session import make_engine, make_session_factory
from core.store.spool import Spool
from core.store.write_behind import WriteBehind
from tests.integration.core.store.test_recorder import record

store = make_session_factory(make_engine(sys.argv[2]))
writer = WriteBehind(Recorder(store, Spool(Path(sys.argv[1]) / "spool.jsonl")), Path(sys.argv[1]))
for i in range(50):
    writer.write(conversation_op(record(cid=f"x{i}")))
"""  # no flush: the exit drains the queue


def run_script(script: str, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args],
                            stdout=subprocess.PIPE, text=True, **kwargs)  # fmt: skip


def test_records_queued_when_the_process_is_killed_are_stored_after_a_restart(
    sqlite_factory, tmp_path
):
    process = run_script(KILLED, str(tmp_path))
    try:
        assert process.stdout.readline().strip() == "queued"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    spool = Spool(tmp_path / "spool.jsonl")
    restarted = WriteBehind(Recorder(sqlite_factory, spool), tmp_path)
    restarted.write(conversation_op(record(cid="next")))  # the first write recovers the journal
    assert restarted.flush(timeout_s=60)
    assert sorted(r.id for r in rows(sqlite_factory)) == ["k0", "k1", "k2", "next"]
    assert spool.is_empty()
    restarted.close()
    assert journals(tmp_path) == []


def test_the_queue_is_drained_when_the_process_exits(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    upgrade(make_engine(url))
    assert run_script(EXITING, str(tmp_path), url).wait(timeout=120) == 0
    with make_session_factory(make_engine(url))() as session:
        assert len(session.scalars(select(Conversation.id)).all()) == 50
    assert journals(tmp_path) == [] and Spool(tmp_path / "spool.jsonl").is_empty()


def test_write_after_close_is_refused(sqlite_factory, tmp_path):
    writer = WriteBehind(Recorder(sqlite_factory, Spool(tmp_path / "spool.jsonl")), tmp_path)
    writer.close()
    with pytest.raises(RuntimeError):
        writer.write(conversation_op(record()))


def test_coalesce_keeps_the_last_snapshot_and_every_answer_in_the_first_place():
    ops = [
        conversation_op(record(cid="a", messages=2)),
        {"op": "answers", "conversation_id": "old", "answers": [answer("csat", score=3, at=T0)]},
        conversation_op(record(cid="b")),
        conversation_op(record(cid="a", messages=3), [answer("csat", score=4, at=T0)]),
        conversation_op(record(cid="a", messages=4), [answer("ces", score=6, at=T0)]),
    ]
    merged = coalesce(ops)
    assert [(op["op"], op.get("data", {}).get("id")) for op in merged] == [
        ("conversation", "a"), ("answers", None), ("conversation", "b")
    ]  # fmt: skip
    assert merged[0]["data"]["customer_messages"] == 4
    assert [a["question"] for a in merged[0]["answers"]] == ["csat", "ces"]
    assert ops[0]["answers"] == []  # the ops given are not changed


def test_coalesced_ops_store_what_the_ops_one_by_one_store(tmp_path):
    from core.store.models import DirtyDay

    def stored(factory) -> list:
        tables = (Conversation, SurveyAnswer, DirtyDay)
        skip = {"id", "updated_at", "created_at"}
        return [sorted(tuple(sorted((c, str(v)) for c, v in vars(r).items()
                                    if not c.startswith("_") and c not in skip))
                       for r in rows(factory, table)) for table in tables]  # fmt: skip

    ops = [conversation_op(record(cid=f"c{i % 3}", messages=2 + i),
                           [answer("csat", score=1 + i % 5, at=T0)] if i % 4 == 0 else None)
           for i in range(12)]  # fmt: skip
    results = []
    for name, batch in (("one-by-one", ops), ("coalesced", coalesce(ops))):
        engine = make_engine(f"sqlite:///{tmp_path / name}.sqlite3")
        upgrade(engine)
        factory = make_session_factory(engine)
        recorder = Recorder(factory, Spool(tmp_path / f"{name}.jsonl"))
        for op in batch:
            recorder.write(op)
        results.append(stored(factory))
    assert len(coalesce(ops)) == 3
    assert results[0] == results[1]


def test_the_journal_does_not_grow_while_records_keep_coming(sqlite_factory, tmp_path):
    """Under a steady load the queue is never empty; the stored ops' segments go anyway."""
    seen: list[int] = []

    class Busy(Recorder):
        def write_many(self, ops):
            seen.append(sum(len(p.read_text().splitlines()) for p in journals(tmp_path)))
            super().write_many(ops)
            if len(seen) < 20:  # the next record arrives while this one is written
                writer.write(conversation_op(record(cid=f"k{len(seen)}")))

    writer = WriteBehind(
        Busy(sqlite_factory, Spool(tmp_path / "spool.jsonl")), tmp_path, linger_s=0
    )
    writer.write(conversation_op(record(cid="k0")))
    assert writer.flush(timeout_s=60)
    assert len(seen) == 20 and max(seen) <= 2  # this batch's segment, and the op just written
    assert len(rows(sqlite_factory)) == 20
    writer.close()
