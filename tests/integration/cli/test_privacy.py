"""`dealerbot privacy erase` / `purge` through the CLI, then every table, Rasa's tracker store and
the files in var/ are read back (issue 15, items 3, 4 and 6), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import func, select

from bot.runtime import tracker_store_kwargs
from cli.main import main
from core.engagement import contact_key
from core.settings import get_settings
from core.store.models import (
    Appointment,
    Conversation,
    Erasure,
    Lead,
    NluInboxItem,
    SlotReservation,
    SurveyAnswer,
    WhatsAppMessage,
)
from core.store.privacy import sender_hash
from core.store.recorder import Recorder, answer, conversation_op
from core.store.repositories import AppointmentRequest, book_appointment, create_lead
from core.store.session import make_engine, make_session_factory
from core.store.spool import Spool
from metrics.aggregate import rollup
from metrics.summary import build_weekly_summary
from tests.conftest import pg_schema
from tests.integration.core.store.test_recorder import T0, record

SECRET = "erase-test-secret"
JAN_WEB, JAN_REST, JAN_WA = "web-visitor-7", "rest-42", "whatsapp:+31612345678/autohuis-demo"
OTHER = "web-visitor-8"
DAY = 86400


@pytest.fixture(params=["sqlite", "postgresql"])
def stack(request, tmp_path, monkeypatch):
    """(session factory, tracker store URL) of the store the CLI uses, with Rasa's tables."""
    monkeypatch.setenv("DEALERBOT_CONTACT_KEY_SECRET", SECRET)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
        tracker_url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
        engine = make_engine(url)
        from core.store.migrate import upgrade

        upgrade(engine)
        monkeypatch.setenv("DEALERBOT_DATABASE_URL", url)
        monkeypatch.setenv("DEALERBOT_TRACKER_DB_URL", tracker_url)
        yield make_session_factory(engine), tracker_url
        engine.dispose()
        return
    pg_url = request.getfixturevalue("pg_url")
    with pg_schema(pg_url) as (url, factory):
        monkeypatch.setenv("DEALERBOT_DATABASE_URL", url)
        monkeypatch.setenv("DEALERBOT_TRACKER_DB_URL", url)  # Rasa's `events` in the same schema
        yield factory, url
        from core.store.session import _factory_for

        _factory_for(url).kw["bind"].dispose()  # the CLI's engine, before the schema is dropped


def save_tracker(url: str, sender: str, *sessions: float) -> None:
    """A real Rasa conversation in Rasa's SQL tracker store: one session (5 events) per time."""
    store = SQLTrackerStore(Domain.empty(), **tracker_store_kwargs(url))
    events = []
    for at in sessions:
        events += [ActionExecuted("action_session_start", timestamp=at), SessionStarted(timestamp=at),
                   ActionExecuted("action_listen", timestamp=at),
                   UserUttered("ik ben Jan, 0612345678", {"name": "greet", "confidence": 1},
                               timestamp=at + 1),
                   BotUttered("hallo Jan", timestamp=at + 2)]  # fmt: skip
    asyncio.run(store.save(DialogueStateTracker.from_events(sender, events)))
    store.engine.dispose()


def tracker_senders(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select sender_id, count(*) from events group by sender_id"))
        found = dict(rows.all())
    engine.dispose()
    return found


def count(factory, model) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def spool_lines(path: Path) -> list[dict]:
    return [json.loads(ln) for ln in path.read_text().splitlines()] if path.exists() else []


# -- item 4: erase by phone and e-mail, whatever the channel ------------------------------------


def seed_jan(factory, dealer, var: Path) -> None:
    """Jan booked on the web (phone and e-mail), left an e-mail-only lead over REST, and wrote on
    WhatsApp; someone else booked on the web. Every copy the bot keeps of them, in every place."""
    recorder = Recorder(factory, Spool(var / "spool" / "records.jsonl"))
    for cid, channel, sender in (("conv-web-jan", "web", JAN_WEB), ("conv-rest-jan", "rest", JAN_REST),
                                 ("conv-wa-jan", "whatsapp", JAN_WA), ("conv-web-other", "web", OTHER)):  # fmt: skip
        key = contact_key(SECRET, channel, sender)
        recorder.write(conversation_op(record(cid=cid, contact_key=key, channel=channel),
                                       [answer("csat", score=5, at=T0)]))  # fmt: skip
        with factory.begin() as session:
            session.add(NluInboxItem(conversation_id=cid, sent_at=T0, dealer_id=dealer.id,
                                     language="nl", text="ik ben <name>", intent="nlu_fallback",
                                     confidence=0.3, reason="fallback"))  # fmt: skip
            session.add(WhatsAppMessage(provider="cloud", message_id=f"wamid.{cid}",
                                        contact_key=key, business_number="100", sent_at=T0,
                                        status="done"))  # fmt: skip
    for sender, cid, phone, email, hour in ((JAN_WEB, "conv-web-jan", "+31612345678", "Jan@Example.com", 10),
                                            (OTHER, "conv-web-other", "+31687654321", "piet@example.com", 11)):  # fmt: skip
        book_appointment(factory, dealer, AppointmentRequest(
            dealer_id=dealer.id, service_id="apk", plate="12-ABC-3",
            starts_at=dt.datetime(2026, 11, 24, hour, tzinfo=dealer.timezone), duration_min=60,
            customer_name="Jan", phone=phone, email=email, mileage_km=None, language="nl",
            channel="web", sender_id=sender, conversation_id=cid))  # fmt: skip
    create_lead(factory, key_parts=(JAN_REST,), dealer_id=dealer.id, kind="sales",
                language="nl", channel="rest", sender_id=JAN_REST, email="jan@example.com",
                conversation_id="conv-rest-jan", customer_name="Jan")  # fmt: skip
    # Records still waiting in the spool, and one set aside in records.bad.
    spool = Spool(var / "spool" / "records.jsonl")
    for cid, channel, sender in (
        ("conv-web-jan", "web", JAN_WEB),
        ("conv-web-other", "web", OTHER),
    ):
        key = contact_key(SECRET, channel, sender)
        spool.append(conversation_op(record(cid=cid, contact_key=key, messages=9)))
    spool.set_aside(json.dumps({"op": "answers", "conversation_id": "conv-rest-jan",
                                "answers": [answer("comment", comment="bel Jan: 0612345678", at=T0)]}))  # fmt: skip
    outbox = var / "outbox" / dealer.id
    outbox.mkdir(parents=True)
    (outbox / "2026-W48.csv").write_text("conversation_id,date\nconv-web-jan,2026-11-23\n")
    (outbox / "2026-W48-top.csv").write_text("list,rank,item\nfallback,1,hallo,conv-web-ot\n")


@pytest.mark.parametrize(
    "contact",
    [
        ["--phone", "06 1234 5678", "--email", "JAN@example.com"],
        ["--phone", "+31 6 12345678"],  # the web booking's e-mail leads to the REST lead
        ["--email", "jan@EXAMPLE.com"],  # the web booking's phone leads to WhatsApp
    ],
)
def test_erase_by_phone_or_email_reaches_every_channel_and_place(stack, dealer, now, contact):
    factory, tracker_url = stack
    var = get_settings().var_dir
    seed_jan(factory, dealer, var)
    for sender in (JAN_WEB, JAN_REST, JAN_WA, OTHER):
        save_tracker(tracker_url, sender, now.timestamp() - 3600)
    rollup(factory, now)
    before = build_weekly_summary(factory, dealer.id, "2026-W48")
    assert before.conversations == 4

    assert main(["privacy", "erase", *contact]) == 0

    with factory() as session:
        assert session.scalars(select(Conversation.id)).all() == ["conv-web-other"]
        assert session.scalars(select(Appointment.sender_id)).all() == [OTHER]
        assert session.scalars(select(Lead.id)).all() == []
        assert session.scalars(select(WhatsAppMessage.message_id)).all() == ["wamid.conv-web-other"]
        assert session.scalars(select(NluInboxItem.conversation_id)).all() == ["conv-web-other"]
        assert session.scalars(select(SurveyAnswer.conversation_id)).all() == ["conv-web-other"]
        (kept,) = session.scalars(select(Appointment.id)).all()
        assert set(session.scalars(select(SlotReservation.appointment_id))) == {kept}
        hashes = set(session.scalars(select(Erasure.sender_id_hash)))
    assert tracker_senders(tracker_url) == {OTHER: 5}
    # The tracker events are gone, so the tombstones keep no sender hash at all (item 6).
    assert hashes == {None}
    spooled = spool_lines(var / "spool" / "records.jsonl")
    assert [op["data"]["id"] for op in spooled] == ["conv-web-other"]
    assert spool_lines(var / "spool" / "records.bad") == []
    assert sorted(p.name for p in (var / "outbox" / dealer.id).iterdir()) == ["2026-W48-top.csv"]
    # The erased days were marked: the next rollup recounts them, no backfill needed.
    rollup(factory, now)
    after = build_weekly_summary(factory, dealer.id, "2026-W48")
    assert after.conversations == 1 and after.mec.value == 1


def test_chat_erasure_keeps_an_hmac_tombstone_until_the_purge(stack, dealer, now):
    """In chat only the sender is proven: its own rows go, the tracker waits until it is idle."""
    from core.store.privacy import erase_contact, purge_pending_erasures

    factory, tracker_url = stack
    seed_jan(factory, dealer, get_settings().var_dir)
    save_tracker(tracker_url, JAN_REST, now.timestamp() - 3600)
    erased = erase_contact(factory, secret=SECRET, senders=[JAN_REST], channels=["rest"])
    assert (erased.conversations, erased.leads, erased.appointments) == (1, 1, 0)
    with factory() as session:
        (row,) = session.scalars(select(Erasure)).all()
        # Jan's web conversation is not erased from a REST chat that only typed the same e-mail
        assert count(factory, Conversation) == 3
    assert row.sender_id_hash == sender_hash(SECRET, JAN_REST)
    assert row.sender_id_hash != hashlib.sha256(JAN_REST.encode()).hexdigest()
    idle = row.requested_at + dt.timedelta(seconds=1)  # tombstones are stamped by the real clock
    assert purge_pending_erasures(factory, tracker_url, idle, secret=SECRET) == 5
    assert JAN_REST not in tracker_senders(tracker_url)
    with factory() as session:
        assert session.scalars(select(Erasure.sender_id_hash)).all() == [None]


def test_tombstones_from_before_0009_are_still_purged(stack, dealer, now):
    """Old tombstones hold an unsalted SHA-256; they cannot be converted, so the purge matches
    both forms, and clears the hash once the events are gone."""
    from core.store.privacy import purge_pending_erasures

    factory, tracker_url = stack
    save_tracker(tracker_url, JAN_REST, now.timestamp() - 3600)
    save_tracker(tracker_url, OTHER, now.timestamp() - 3600)
    with factory.begin() as session:
        session.add(Erasure(contact_key="k" * 64, requested_at=T0,
                            sender_id_hash=hashlib.sha256(JAN_REST.encode()).hexdigest()))  # fmt: skip
    idle = now.astimezone(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(hours=2)
    assert purge_pending_erasures(factory, tracker_url, idle, secret=SECRET) == 5
    assert tracker_senders(tracker_url) == {OTHER: 5}
    with factory() as session:
        assert session.scalars(select(Erasure.sender_id_hash)).all() == [None]


# -- item 3: the retention purge reaches Rasa's events and the files in var/ --------------------


def test_retention_purge_deletes_idle_tracker_events_and_old_files(stack, dealer, now):
    factory, tracker_url = stack
    var = get_settings().var_dir
    stamp = now.timestamp()
    save_tracker(tracker_url, "idle-for-400-days", stamp - 400 * DAY)
    save_tracker(tracker_url, "active-last-week", stamp - 7 * DAY)
    save_tracker(tracker_url, "back-after-a-year", stamp - 500 * DAY, stamp - 2 * DAY)
    spool = Spool(var / "spool" / "records.jsonl")
    old, new = T0 - dt.timedelta(days=400), T0 - dt.timedelta(days=3)
    for cid, start in (("old", old), ("new", new)):
        spool.append(conversation_op(record(cid=cid, started_at=start,
                                            last_message_at=start + dt.timedelta(minutes=5))))  # fmt: skip
        spool.set_aside(json.dumps(conversation_op(record(cid=f"bad-{cid}", started_at=start,
                                                          last_message_at=start))))  # fmt: skip
    journal = var / "spool" / "pending-123-abcd.jsonl"  # of a process gone long ago
    journal.write_text("{}\n")
    outbox = var / "outbox" / dealer.id
    outbox.mkdir(parents=True)
    for name, age in (("2025-W40.html", 410), ("2025-W40.csv", 410), ("2026-W47.html", 5)):
        (outbox / name).write_text("report")
        os.utime(outbox / name, (stamp - age * DAY, stamp - age * DAY))
    logs = var / "logs"
    logs.mkdir()
    for name, age in (("rasa-5005.log", 400), ("rasa-5006.log", 1)):
        (logs / name).write_text("log")
        os.utime(logs / name, (stamp - age * DAY, stamp - age * DAY))
    os.utime(journal, (stamp - 400 * DAY, stamp - 400 * DAY))

    assert main(["privacy", "purge"]) == 0

    assert tracker_senders(tracker_url) == {"active-last-week": 5, "back-after-a-year": 10}
    assert [op["data"]["id"] for op in spool_lines(spool.path)] == ["new"]
    assert [op["data"]["id"] for op in spool_lines(spool.bad_path)] == ["bad-new"]
    assert not journal.exists()
    assert sorted(p.name for p in outbox.iterdir()) == ["2026-W47.html"]
    assert [p.name for p in logs.iterdir()] == ["rasa-5006.log"]
