"""The day-before reminder (once, and not for a moved or cancelled appointment), the outbox
folder without SMTP, and the invite of a booking on the other side of a DST change."""

import datetime as dt
import email
from email.policy import default as default_policy

import icalendar
from sqlalchemy import select

from core.settings import get_settings
from core.store.models import Notification, OutboxMessage, utcnow
from core.store.repositories import (
    book_appointment,
    cancel_appointment,
    reschedule_appointment,
)
from dealer.config import all_dealers
from metrics.scheduler import NOTIFICATIONS, NOTIFY_EVERY_S, job_specs
from notifications.jobs import enqueue_reminders
from notifications.worker import run_once
from tests.integration.notifications.seed import CUSTOMER, appointment_request, every_kind


def at(dealer, *args):
    return dt.datetime(*args, tzinfo=dealer.timezone)


def test_the_worker_runs_often_enough_to_send_within_a_minute():
    (spec,) = [s for s in job_specs(all_dealers().values()) if s.id == NOTIFICATIONS]
    assert spec.trigger.interval == dt.timedelta(seconds=NOTIFY_EVERY_S) <= dt.timedelta(seconds=60)


def test_reminder_the_day_before_once(store, dealer, mail, notify_dealers):
    tuesday = book_appointment(
        store, dealer, appointment_request(dealer, at(dealer, 2026, 11, 24, 10, 0))
    )
    moved = book_appointment(
        store, dealer, appointment_request(dealer, at(dealer, 2026, 11, 24, 11, 0), sender="web-2")
    )
    gone = book_appointment(
        store, dealer, appointment_request(dealer, at(dealer, 2026, 11, 24, 14, 0), sender="web-3")
    )
    later = book_appointment(
        store, dealer, appointment_request(dealer, at(dealer, 2026, 11, 26, 10, 0), sender="web-4")
    )
    run_once(store, get_settings(), utcnow())  # the confirmations
    cancel_appointment(store, gone.id)
    dealers = [dealer]
    assert enqueue_reminders(store, dealers, at(dealer, 2026, 11, 23, 8, 59)) == 0  # before 09:00
    assert enqueue_reminders(store, dealers, at(dealer, 2026, 11, 23, 9, 0)) == 2
    assert enqueue_reminders(store, dealers, at(dealer, 2026, 11, 23, 9, 15)) == 0  # once
    # moved to Thursday after its reminder was written: that reminder is void when sent
    reschedule_appointment(store, dealer, moved.id, at(dealer, 2026, 11, 26, 11, 0))
    before = len(mail.inbox.received)
    run_once(store, get_settings(), utcnow())
    reminders = [m for _, m in mail.inbox.received[before:] if "Herinnering" in m["Subject"]]
    assert len(reminders) == 1
    text = reminders[0].get_body(("plain",)).get_content()
    assert tuesday.reference in text and "dinsdag 24 november 2026 10:00" in text
    assert run_once(store, get_settings(), utcnow() + dt.timedelta(hours=1)).sent == []
    with store() as session:
        kinds = session.scalars(
            select(Notification.appointment_id).where(Notification.kind == "reminder")
        ).all()
    assert sorted(kinds) == sorted([tuesday.id, moved.id]) and later.id not in kinds


def test_without_smtp_the_emails_are_files_in_the_outbox(store, dealer, notify_dealers, tmp_path,
                                                         monkeypatch):  # fmt: skip
    monkeypatch.delenv("DEALERBOT_SMTP_HOST", raising=False)
    monkeypatch.setenv("DEALERBOT_OUTBOX_DIR", str(tmp_path / "outbox"))
    every_kind(store, dealer)
    first = run_once(store, get_settings(), utcnow())
    files = sorted((tmp_path / "outbox" / "notifications" / dealer.id).glob("*.eml"))
    assert len(files) == len(first.sent) == 8 + 3 and not first.failed
    assert run_once(store, get_settings(), utcnow() + dt.timedelta(minutes=10)).sent == []
    assert len(list((tmp_path / "outbox" / "notifications" / dealer.id).glob("*.eml"))) == 11
    with store() as session:
        assert {m.status for m in session.scalars(select(OutboxMessage))} == {"sent"}
    parsed = [email.message_from_bytes(f.read_bytes(), policy=default_policy) for f in files]
    assert sum(m["To"] == CUSTOMER for m in parsed) == 3


def test_invite_across_the_dst_change(store, dealer, mail, notify_dealers):
    # booked in November (UTC+1) for a Tuesday after the clocks went forward (UTC+2)
    start = at(dealer, 2027, 3, 30, 9, 0)
    book_appointment(store, dealer, appointment_request(dealer, start))
    run_once(store, get_settings(), utcnow())
    (message,) = mail.inbox.to(CUSTOMER)
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    event = icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")[0]
    begins = event.decoded("DTSTART")
    assert (begins.hour, begins.minute) == (9, 0) and begins.utcoffset() == dt.timedelta(hours=2)
    assert begins.astimezone(dt.timezone.utc) == dt.datetime(
        2027, 3, 30, 7, 0, tzinfo=dt.timezone.utc
    )
    assert "dinsdag 30 maart 2027 09:00" in message["Subject"]


def test_erasure_removes_the_outbox_emails_of_the_contact(store, dealer, notify_dealers, tmp_path,
                                                         monkeypatch):  # fmt: skip
    from core.store.privacy import erase_contact

    monkeypatch.delenv("DEALERBOT_SMTP_HOST", raising=False)
    monkeypatch.setenv("DEALERBOT_OUTBOX_DIR", str(tmp_path / "outbox"))
    every_kind(store, dealer)  # Jan's appointment (conversation c...), Piet's leads (d...)
    run_once(store, get_settings(), utcnow())
    folder = tmp_path / "outbox" / "notifications" / dealer.id
    assert len(list(folder.glob("*.eml"))) == 11
    erased = erase_contact(
        store, secret="s", phones=["+31687654321"], outbox_dir=tmp_path / "outbox"
    )
    assert erased.leads == 5 and erased.outbox_files == 5
    left = [
        email.message_from_bytes(f.read_bytes(), policy=default_policy)
        for f in folder.glob("*.eml")
    ]
    assert {m["X-Dealerbot-Conversation"] for m in left} == {"c" * 32}
    with store() as session:  # the notifications and their outbox rows went with the leads
        assert set(session.scalars(select(Notification.kind))) == {
            "booking",
            "change",
            "cancellation",
        }
        assert len(session.scalars(select(OutboxMessage)).all()) == 6


def test_the_scheduled_reminder_job_reads_the_clock(store, dealer, notify_dealers, monkeypatch):
    """The job calls without ``now``: it raised AttributeError every 15 minutes (found in a
    `dealerbot run` log), so no reminder was ever sent by the scheduler."""
    book_appointment(
        store, dealer, appointment_request(dealer, at(dealer, 2026, 11, 24, 10, 0), sender="web-9")
    )
    monkeypatch.setenv("DEALERBOT_FIXED_NOW", "2026-11-23T09:30:00+01:00")
    assert enqueue_reminders(store, [dealer]) == 1
