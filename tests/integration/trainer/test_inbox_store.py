"""The NLU inbox in the store (SQLite and PostgreSQL): recorded with the conversation,
idempotent, listed, exported, marked done, and erased with its conversation."""

import dataclasses

import yaml
from sqlalchemy import func, select

from cli.trainer import add_trainer_commands  # noqa: F401 - the CLI module imports cleanly
from core.engagement import contact_key, summarize
from core.store.models import NluInboxItem
from core.store.privacy import erase_contact
from core.store.recorder import Recorder, conversation_op
from core.store.spool import Spool
from tests.unit.core.store.test_inbox import user
from trainer.inbox import export_yaml, mark_done, open_items, render_list

SECRET = "s3cret"


def session(sender="31612345678"):
    return [
        {"event": "session_started", "timestamp": 1795420800.0},
        {"event": "slot", "name": "dealer_id", "value": "autohuis-demo", "timestamp": 1795420800.0},
        user("hallo", "greet", at=1),
        user(
            "mijn nummer is 06-12345678, bak maakt herrie",
            "nlu_fallback",
            0.3,
            at=2,
            ranking=[("nlu_fallback", 0.3), ("book_service", 0.2)],
        ),
        user("wat kost die ongeveer", "ask_price", 0.4, at=3),
        user("swap my car pls", "trade_in", 0.5, at=4, language="en"),
    ]


def record_session(recorder, events, sender="31612345678"):
    record = summarize(events, sender_id=sender, secret=SECRET, default_dealer="autohuis-demo")
    key = contact_key(SECRET, "whatsapp", sender)
    record = dataclasses.replace(record, channel="whatsapp", contact_key=key)
    assert recorder.write(conversation_op(record, events=events)) is True
    return record


def count(store, **where):
    with store() as s:
        query = select(func.count()).select_from(NluInboxItem).filter_by(**where)
        return s.scalar(query)


def test_recording_stores_the_items_once(store, tmp_path):
    recorder = Recorder(store, Spool(tmp_path / "spool.jsonl"))
    events = session()
    record = record_session(recorder, events)
    record_session(recorder, events)  # recorded again on the next turn: nothing new
    rows = open_items(store)
    assert [(r.text, r.intent, r.reason, r.language) for r in rows] == [
        ("mijn nummer is <phone>, bak maakt herrie", "nlu_fallback", "fallback", "nl"),
        ("wat kost die ongeveer", "ask_price", "low_confidence", "nl"),
        ("swap my car pls", "trade_in", "language_switch", "en"),  # low confidence too
    ]
    assert {(r.conversation_id, r.dealer_id) for r in rows} == {(record.id, "autohuis-demo")}
    # The session goes on: one more item; the earlier ones are not duplicated.
    record_session(recorder, [*events, user("huh??", "nlu_fallback", 0.1, at=9)])
    assert count(store) == 4
    text = render_list(open_items(store))
    assert text.startswith("4 open items (en 1, nl 3)") and "nlu_fallback: 2" in text


def test_spooled_records_bring_their_items(store, tmp_path):
    spool = Spool(tmp_path / "spool.jsonl")
    events = session()
    record = summarize(events, sender_id="x", secret=SECRET, default_dealer="autohuis-demo")
    spool.append(conversation_op(record, events=events))  # the database was down
    Recorder(store, spool).replay()
    assert count(store) == 3


def test_mark_done_keeps_handled_items_out(store, tmp_path):
    recorder = Recorder(store, Spool(tmp_path / "spool.jsonl"))
    events = session()
    record_session(recorder, events)
    first = open_items(store)[0]
    assert mark_done(store, ids=[first.id]) == 1
    assert mark_done(store, ids=[first.id]) == 0  # already done
    assert mark_done(store, language="en") == 1
    assert [r.intent for r in open_items(store)] == ["ask_price"]
    record_session(recorder, events)  # recording again does not reopen them
    assert count(store, status="open") == 1 and count(store, status="done") == 2
    assert mark_done(store, everything=True) == 1
    assert open_items(store) == []


def test_export_of_stored_items(store, tmp_path):
    record_session(Recorder(store, Spool(tmp_path / "spool.jsonl")), session())
    files = export_yaml(open_items(store))
    nl = yaml.safe_load(files["nl"])["nlu"]
    assert [(b["intent"], b["examples"]) for b in nl] == [
        ("ask_price", "- wat kost die ongeveer\n"),
        ("book_service", "- mijn nummer is <phone>, bak maakt herrie\n"),
    ]
    assert yaml.safe_load(files["en"])["nlu"][0]["intent"] == "trade_in"


def test_erasing_the_contact_erases_its_items(store, tmp_path):
    record_session(Recorder(store, Spool(tmp_path / "spool.jsonl")), session())
    erase_contact(store, secret=SECRET, senders=["31612345678"], channels=["whatsapp"])
    assert count(store) == 0


def test_upsert_items_adds_only_items_not_stored_yet(store, tmp_path):
    from core.store.inbox import upsert_items

    recorder = Recorder(store, Spool(tmp_path / "spool.jsonl"))
    record = record_session(recorder, session()[:4])  # one item stored with the record
    (stored,) = open_items(store)
    mark_done(store, ids=[stored.id])
    items = [{"text": "wat?", "intent": "nlu_fallback", "confidence": 0.2, "reason": "fallback",
              "language": "nl", "dealer_id": "autohuis-demo", "sent_at": sent_at}
             for sent_at in ("2026-11-23T08:00:05", "2026-11-23T08:00:05")]  # fmt: skip
    same = {**items[0], "sent_at": stored.sent_at.isoformat(), "text": "other"}
    with store.begin() as s:
        assert upsert_items(s, record.id, [*items, same]) == 1
    with store.begin() as s:
        assert upsert_items(s, record.id, items) == 0 and upsert_items(s, record.id, []) == 0
    assert count(store, status="done") == 1 and count(store, status="open") == 1
    assert [(r.text, r.suggested_intent) for r in open_items(store)] == [("wat?", None)]
