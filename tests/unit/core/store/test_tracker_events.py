"""The one module that reads and deletes Rasa's ``events`` table, on a SQLite tracker store."""

import datetime as dt
import json

import sqlalchemy as sa

from core.engagement import contact_key, conversation_id
from core.store.models import Conversation
from core.store.tracker_events import (
    all_senders,
    delete_idle_senders,
    delete_senders,
    events_of,
    senders_writing_between,
    tracker_connection,
)
from metrics.web.data import transcript


def tracker_store(path, rows):
    """A table shaped like Rasa's SQL tracker store's (rasa.core.tracker_store.SQLTrackerStore)."""
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("create table events (id integer primary key, sender_id text, "
                             "type_name text, timestamp float, intent_name text, data text)"))  # fmt: skip
        for sender, kind, at in rows:
            data = json.dumps({"event": kind, "timestamp": at, "text": f"{sender} {at}"})
            conn.execute(sa.text("insert into events (sender_id, type_name, timestamp, data) "
                                 "values (:s, :k, :t, :d)"), {"s": sender, "k": kind, "t": at, "d": data})  # fmt: skip
    engine.dispose()
    return f"sqlite:///{path}"


def test_reads_and_deletes_by_sender(tmp_path):
    url = tracker_store(tmp_path / "t.db", [("a", "user", 100.0), ("a", "bot", 101.0),
                                            ("b", "bot", 100.5), ("b", "user", 300.0),
                                            ("c", "user", 50.0)])  # fmt: skip
    with tracker_connection(url) as conn:
        assert sorted(all_senders(conn)) == ["a", "b", "c"]
        assert senders_writing_between(conn, 99.0, 101.0) == ["a"]  # b's event there is a bot's
        assert [e["timestamp"] for e in events_of(conn, "a")] == [100.0, 101.0]
    with tracker_connection(url, write=True) as conn:
        assert delete_senders(conn, ["a", "a", "nobody"]) == 2
    with tracker_connection(url, write=True) as conn:
        assert delete_idle_senders(conn, cutoff=200.0) == 1  # c: idle; b wrote at 300
    with tracker_connection(url) as conn:
        assert all_senders(conn) == ["b"]


def test_no_events_table_and_no_file_is_none_and_creates_nothing(tmp_path):
    with tracker_connection(f"sqlite:///{tmp_path / 'missing.db'}") as conn:
        assert conn is None
    assert not (tmp_path / "missing.db").exists()
    sa.create_engine(f"sqlite:///{tmp_path / 'empty.db'}").connect().close()
    with tracker_connection(f"sqlite:///{tmp_path / 'empty.db'}", write=True) as conn:
        assert conn is None


def test_the_dashboard_transcript_is_the_session_with_the_conversations_id(
    tmp_path, sqlite_factory
):
    """``web.data.transcript`` finds the sender by the contact key and the session by
    ``engagement.conversation_id``: the second session here, not the first or another sender's."""
    secret, sender, t0 = "s3cret", "customer-7", 1_795_420_000.0
    rows = [(sender, "session_started", t0), (sender, "user", t0 + 0.4), (sender, "bot", t0 + 1),
            (sender, "session_started", t0 + 5000), (sender, "user", t0 + 5000.3),
            (sender, "bot", t0 + 5001), ("someone-else", "user", t0 + 5000.5)]  # fmt: skip
    url = tracker_store(tmp_path / "t.db", rows)
    events = [{"event": kind, "timestamp": at} for who, kind, at in rows if who == sender]
    conversation = Conversation(
        id=conversation_id(sender, events), channel="web",
        contact_key=contact_key(secret, "web", sender),
        started_at=dt.datetime.fromtimestamp(t0 + 5000, dt.timezone.utc).replace(tzinfo=None),
    )  # fmt: skip
    found = transcript(sqlite_factory, url, conversation, secret)
    assert found.found
    assert [(line.who, line.text) for line in found.lines] == [
        ("customer", f"{sender} {t0 + 5000.3}"), ("bot", f"{sender} {t0 + 5001}")
    ]  # fmt: skip
    other = Conversation(**{**{c: getattr(conversation, c) for c in ("id", "channel", "started_at")},
                            "contact_key": contact_key(secret, "web", "nobody")})  # fmt: skip
    assert not transcript(sqlite_factory, url, other, secret).found
