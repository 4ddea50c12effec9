"""Erasure on request and the retention purge, on SQLite and PostgreSQL."""

import datetime as dt

from sqlalchemy import create_engine, func, select, text

from bot.channels import inbox
from core.engagement import contact_key
from core.store.models import (
    Appointment,
    Conversation,
    Erasure,
    Lead,
    SurveyAnswer,
    WhatsAppMessage,
)
from core.store.privacy import erase_contact, purge_older_than, purge_pending_erasures
from core.store.recorder import Recorder, answer, conversation_op
from core.store.repositories import AppointmentRequest, book_appointment, create_lead
from core.store.spool import Spool
from tests.integration.core.store.test_recorder import T0, record

SECRET = "s3cret"


def seed(store, dealer, tmp_path, sender="31612345678", other="someone-else"):
    recorder = Recorder(store, Spool(tmp_path / "spool.jsonl"))
    for who, cid in ((sender, "mine"), (other, "theirs")):
        key = contact_key(SECRET, "whatsapp", who)
        recorder.write(conversation_op(record(cid=cid, contact_key=key, channel="whatsapp"),
                                       [answer("comment", comment="prima", at=T0)]))  # fmt: skip
        now = dt.datetime.now(dt.timezone.utc)
        inbox.claim(store, provider="cloud", message_id=f"wamid.{cid}", contact_key=key,
                    business_number="100", sent_at=now, now=now)  # fmt: skip
        create_lead(store, key_parts=(who,), dealer_id=dealer.id, kind="handoff", language="nl",
                    channel="whatsapp", sender_id=who, transcript="customer: help")  # fmt: skip
    book_appointment(store, dealer, AppointmentRequest(
        dealer_id=dealer.id, service_id="apk", plate="12-ABC-3",
        starts_at=dt.datetime(2026, 11, 24, 10, tzinfo=dealer.timezone), duration_min=60,
        customer_name="Jan", phone="+31612345678", email=None, mileage_km=None, language="nl",
        channel="web", sender_id="web-visitor-7"))  # fmt: skip


def count(store, model):
    with store() as session:
        return session.scalar(select(func.count()).select_from(model))


def tracker_db(tmp_path, senders):
    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("create table events (id integer primary key, sender_id text, data text)")
        )
        for s in senders:
            conn.execute(text("insert into events (sender_id, data) values (:s, '{}')"), {"s": s})
    engine.dispose()
    return url


def test_erase_by_phone_removes_everything_about_that_contact(store, dealer, tmp_path):
    seed(store, dealer, tmp_path)
    url = tracker_db(tmp_path, ["31612345678", "31612345678", "someone-else"])
    erased = erase_contact(store, secret=SECRET, phones=["+31612345678"], tracker_db_url=url)
    assert erased.as_dict() == {"conversations": 1, "survey_answers": 1, "appointments": 1,
                                "leads": 1, "tracker_events": 2, "inbox_items": 0,
                                "whatsapp_messages": 1, "spool_lines": 0, "outbox_files": 0}  # fmt: skip
    with store() as session:
        assert [c.id for c in session.scalars(select(Conversation))] == ["theirs"]
        assert [lead.sender_id for lead in session.scalars(select(Lead))] == ["someone-else"]
    assert count(store, Appointment) == 0 and count(store, SurveyAnswer) == 1
    with store() as session:  # the WhatsApp message ids of the contact went too
        assert session.scalars(select(WhatsAppMessage.message_id)).all() == ["wamid.theirs"]
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("select sender_id from events")).scalars().all() == [
            "someone-else"
        ]
    engine.dispose()


def test_erasure_from_chat_purges_tracker_events_once_idle(store, dealer, tmp_path):
    seed(store, dealer, tmp_path)
    url = tracker_db(tmp_path, ["31612345678", "someone-else"])
    erase_contact(store, secret=SECRET, senders=["31612345678"], channels=["whatsapp"])
    assert count(store, Conversation) == 1 and count(store, Erasure) == 1
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert (
        purge_pending_erasures(store, url, idle_before=now - dt.timedelta(hours=1), secret=SECRET)
        == 0
    )
    assert (
        purge_pending_erasures(store, url, idle_before=now + dt.timedelta(seconds=1), secret=SECRET)
        == 1
    )
    assert (
        purge_pending_erasures(store, url, idle_before=now + dt.timedelta(seconds=1), secret=SECRET)
        == 0
    )


def test_retention_purge(store, dealer, tmp_path):
    seed(store, dealer, tmp_path)
    assert purge_older_than(store, 365, dt.datetime(2027, 6, 1, tzinfo=dt.timezone.utc)) == {
        "conversations": 0, "survey_answers": 0, "appointments": 0, "leads": 0,
        "whatsapp_messages": 0}  # fmt: skip
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=400)
    purged = purge_older_than(store, 365, later)
    assert purged == {"conversations": 2, "survey_answers": 2, "appointments": 1, "leads": 2,
                      "whatsapp_messages": 2}  # fmt: skip
