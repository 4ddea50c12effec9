"""The inbox at a conversation's end and from an item to training data (issue 21 section 2):
the scan over Rasa's stored events (SQLite and PostgreSQL store), and ``add_to_data`` writing
examples into a copy of ``data/`` that Rasa reads and the lint passes."""

import json
import shutil

import pytest
import sqlalchemy as sa
import yaml

from core.settings import REPO_ROOT
from core.store.inbox_scan import scan_ended
from core.store.recorder import Recorder, record_session
from core.store.spool import Spool
from tests.trackers import action_event, bot_event, slot_event, user_event
from trainer.inbox import (
    ExportError,
    add_to_data,
    annotate,
    mark_done,
    open_items,
    unmasked,
)
from trainer.lint import lint_project

HOLDOUT = REPO_ROOT / "tests" / "nlu_holdout"


def tracker_store(path, senders):
    """A table shaped like Rasa's SQL tracker store's, holding these senders' events."""
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("create table events (id integer primary key, sender_id text, "
                             "type_name text, timestamp float, intent_name text, data text)"))  # fmt: skip
        for sender, events in senders.items():
            for event in events:
                conn.execute(
                    sa.text("insert into events (sender_id, type_name, timestamp, data) "
                            "values (:s, :k, :t, :d)"),
                    {"s": sender, "k": event["event"], "t": event["timestamp"],
                     "d": json.dumps(event)},
                )  # fmt: skip
    engine.dispose()
    return f"sqlite:///{path}"


def start():
    return [{"event": "session_started", "timestamp": 1_795_420_000.0},
            slot_event("dealer_id", "autohuis-demo"), slot_event("language", "nl")]  # fmt: skip


def pitch():
    return [
        *start(),
        user_event("Wij doen SEO, mail info@seo-bureau.nl", "ask_financing", confidence=0.97,
                   language="nl", channel="socketio"),
        bot_event("U kunt bij ons financieren.", "utter_financing"),
    ]  # fmt: skip


def misread_then_handoff():
    return [
        *start(),
        user_event("de koppeling slipt bij GX-123-T", "book_service", language="nl",
                   channel="socketio"),
        action_event("action_default_fallback"),
        bot_event("Sorry, dat begreep ik niet.", "utter_default"),
        user_event("mens graag", "request_human", language="nl", channel="socketio"),
        slot_event("outcomes", ["handed_off"]),
    ]  # fmt: skip


def test_the_scan_finds_what_only_the_end_shows_once_and_only_for_stored_chats(store, tmp_path):
    recorder = Recorder(store, Spool(tmp_path / "spool.jsonl"))
    chats = {"31611111111": pitch(), "31622222222": misread_then_handoff(),
             "31633333333": pitch()}  # fmt: skip
    # The recorder ran at each customer message, before the bot's reply.
    record_session(recorder, "31611111111", chats["31611111111"][:4], "autohuis-demo")
    handoff = chats["31622222222"]
    record_session(recorder, "31622222222", handoff[:6], "autohuis-demo")  # after the fallback
    assert [(r.reason, r.text) for r in open_items(store)] == [
        ("fallback_reply", "de koppeling slipt bij <plate>")
    ]
    # 31633333333 was never stored (say, erased): it gets no items.
    url = tracker_store(tmp_path / "tracker.db", chats)
    now = handoff[-1]["timestamp"] + 3600
    found = scan_ended(store, url, since=now - 86400, now=now, threshold=0.6)
    assert (found.conversations, found.added) == (2, 1)
    rows = open_items(store)
    assert sorted((r.reason, r.text) for r in rows) == [
        ("fallback_handoff", "de koppeling slipt bij <plate>"),  # the open item took it
        ("no_outcome", "Wij doen SEO, mail <email>"),
    ]
    assert all("@" not in r.text and "GX-123-T" not in r.text for r in rows)
    again = scan_ended(store, url, since=now - 86400, now=now, threshold=0.6)
    assert again.added == 0 and len(open_items(store)) == 2
    # A handled item stays handled.
    mark_done(store, everything=True)
    scan_ended(store, url, since=now - 86400, now=now, threshold=0.6)
    assert open_items(store) == []


def test_a_session_not_over_yet_has_no_ending_items(store, tmp_path):
    recorder = Recorder(store, Spool(tmp_path / "spool.jsonl"))
    events = pitch()
    record_session(recorder, "31611111111", events, "autohuis-demo")
    url = tracker_store(tmp_path / "tracker.db", {"31611111111": events})
    now = events[-1]["timestamp"] + 60  # a minute later: the customer may still answer
    assert scan_ended(store, url, since=now - 86400, now=now, threshold=0.6).added == 0


@pytest.fixture
def data(tmp_path):
    """A copy of the project's data/ (the dealer folders left out)."""
    copy = tmp_path / "data"
    shutil.copytree(REPO_ROOT / "data", copy, ignore=shutil.ignore_patterns("dealers"))
    return copy


def nlu(path):
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    return RasaYAMLReader().read(path)


def test_export_writes_examples_where_rasa_reads_them_and_the_lint_passes(data):
    before = {str(p) for p in lint_project(data, REPO_ROOT / "bot" / "domain")}
    masked = "wat kost een distributieriem vervangen bij <plate>, bel <phone>"
    example = annotate(unmasked(masked, "nl"), {"service_type": "distributieriem"})
    assert example == ("wat kost een [distributieriem](service_type) vervangen bij GX-123-T, "
                       "bel 0612345678")  # fmt: skip
    done = add_to_data(data, intent="ask_price", language="nl", examples=[example],
                       holdout_dir=HOLDOUT)  # fmt: skip
    assert done.path == data / "sales" / "nlu_nl.yml" and done.added == (example,)
    parsed = nlu(done.path)
    texts = {m.get("text"): m for m in parsed.intent_examples}
    added = texts["wat kost een distributieriem vervangen bij GX-123-T, bel 0612345678"]
    assert added.get("intent") == "ask_price"
    assert [e["entity"] for e in added.get("entities")] == ["service_type"]
    raw = yaml.safe_load(done.path.read_text())
    block = next(b for b in raw["nlu"] if b["intent"] == "ask_price")
    assert block["metadata"] == {"language": "nl"} and example in block["examples"]
    after = {str(p) for p in lint_project(data, REPO_ROOT / "bot" / "domain")}
    assert after - before == set()
    # The same words again: skipped, the file unchanged.
    text = done.path.read_text()
    again = add_to_data(data, intent="ask_price", language="nl", examples=[example])
    assert again.added == () and again.skipped == (example,) and done.path.read_text() == text


def test_export_finds_the_topic_and_language_of_an_intent(data):
    done = add_to_data(data, intent="trade_in", language="en",
                       examples=["what would you give me for my old clio"])  # fmt: skip
    assert done.path == data / "sales" / "nlu_en.yml"
    assert "what would you give me for my old clio" in {
        m.get("text") for m in nlu(done.path).intent_examples if m.get("intent") == "trade_in"
    }
    with pytest.raises(ExportError, match="no topic"):
        add_to_data(data, intent="no_such_intent", language="nl", examples=["hallo daar"])


def test_export_refuses_a_held_out_message_and_never_writes_there(data):
    files = sorted(HOLDOUT.rglob("*.yml"))
    block = next(b for f in files for b in (yaml.safe_load(f.read_text()).get("nlu") or [])
                 if "intent" in b and f.stem.endswith("_nl"))  # fmt: skip
    line = next(x.strip()[2:] for x in block["examples"].splitlines() if x.strip().startswith("-"))
    stamps = {f: f.stat().st_mtime_ns for f in files}
    before = {p: p.read_text() for p in data.rglob("nlu_*.yml")}
    with pytest.raises(ExportError, match="held-out"):
        add_to_data(data, intent=block["intent"], language="nl", examples=[line],
                    holdout_dir=HOLDOUT)  # fmt: skip
    assert {p: p.read_text() for p in data.rglob("nlu_*.yml")} == before
    assert {f: f.stat().st_mtime_ns for f in files} == stamps


def test_annotate_refuses_words_not_in_the_text():
    with pytest.raises(ExportError, match="not in the text"):
        annotate("ik wil een apk", {"service_type": "grote beurt"})
    with pytest.raises(ExportError, match="brackets"):
        annotate("ik wil [iets]", {})
