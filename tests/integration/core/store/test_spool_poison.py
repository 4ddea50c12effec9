"""A spooled record that can never be applied is set aside, so it does not block the records
behind it; a database outage still stops the replay with everything kept."""

import pytest
from sqlalchemy.exc import OperationalError

from core.store.recorder import REPLAY_PER_WRITE, Recorder, conversation_op
from core.store.spool import Spool
from tests.integration.core.store.test_recorder import record, rows


def test_a_record_that_always_fails_is_set_aside(sqlite_factory, tmp_path):
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append(conversation_op(record(cid="before")))
    spool.append({"op": "no-such-op"})  # e.g. written by a newer version, or corrupt
    spool.append(conversation_op(record(cid="after")))
    recorder = Recorder(sqlite_factory, spool)
    assert recorder.write(conversation_op(record(cid="now"))) is True
    assert sorted(r.id for r in rows(sqlite_factory)) == ["after", "before", "now"]
    assert len(spool) == 0
    assert "no-such-op" in (tmp_path / "spool.bad").read_text()


def test_an_outage_stops_the_replay_and_keeps_the_rest(tmp_path):
    spool = Spool(tmp_path / "spool.jsonl")
    for cid in ("a", "b", "c"):
        spool.append(conversation_op(record(cid=cid)))
    applied = []

    def down_after_one(op):
        if applied:
            raise OperationalError("connect", {}, Exception("refused"))
        applied.append(op["data"]["id"])

    with pytest.raises(OperationalError):
        spool.replay(down_after_one, (OperationalError,))
    assert applied == ["a"] and len(spool) == 2
    # still down: the first record fails, and the spool is left as it is (not copied)
    inode = spool.path.stat().st_ino
    with pytest.raises(OperationalError):
        spool.replay(down_after_one, (OperationalError,))
    assert spool.path.stat().st_ino == inode and len(spool) == 2
    assert not (tmp_path / "spool.bad").exists()


def test_a_long_backlog_drains_over_several_writes_in_order(sqlite_factory, tmp_path):
    spool = Spool(tmp_path / "spool.jsonl")
    for i in range(REPLAY_PER_WRITE + 50):
        spool.append(conversation_op(record(cid=f"old{i}")))
    recorder = Recorder(sqlite_factory, spool)
    assert recorder.write(conversation_op(record(cid="new1"))) is False  # queued behind the rest
    assert len(spool) == 51
    assert recorder.write(conversation_op(record(cid="new2"))) is True
    assert len(spool) == 0
    assert len(rows(sqlite_factory)) == REPLAY_PER_WRITE + 52
