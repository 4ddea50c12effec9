"""Staff notifications and customer confirmations over a real SMTP server (aiosmtpd).

Every kind arrives exactly once, also when the server is down in the middle: the worker's clock
is injected, so the outage and the backoffs are stepped through without waiting.
"""

import datetime as dt
from collections import Counter

import icalendar
from sqlalchemy import select

from core.settings import get_settings
from core.store.models import Notification, OutboxMessage, utcnow
from core.store.outbox import STALE_CLAIM, claim
from core.store.repositories import add_lead_contact, create_lead
from notifications.worker import run_once
from tests.integration.notifications.seed import (
    CUSTOMER,
    HANDOFF,
    SALES,
    WORKSHOP,
    every_kind,
)

STAFF = {"booking": WORKSHOP, "change": WORKSHOP, "cancellation": WORKSHOP, "handoff": HANDOFF,
         "test_drive": SALES, "trade_in": SALES, "financing": SALES, "callback": SALES}  # fmt: skip
SUBJECT_WORDS = {"booking": "Nieuwe werkplaatsafspraak", "change": "Werkplaatsafspraak verzet",
                 "cancellation": "Werkplaatsafspraak geannuleerd",
                 "handoff": "Klant wil een medewerker spreken", "test_drive": "Proefrit",
                 "trade_in": "Inruil-taxatie", "financing": "Terugbelverzoek financiering",
                 "callback": "Terugbelverzoek verkoop"}  # fmt: skip


def kinds_received(inbox):
    found = Counter()
    for rcpt, message in inbox.received:
        for kind, words in SUBJECT_WORDS.items():
            if words in message["Subject"]:
                assert rcpt == [STAFF[kind]], (kind, rcpt)
                found[kind] += 1
    return found


def test_every_kind_arrives_once_at_its_address(store, dealer, mail, notify_dealers):
    refs = every_kind(store, dealer)
    with store() as session:
        kinds = sorted(session.scalars(select(Notification.kind)))
    assert kinds == sorted(STAFF)  # one notification row per event, written with the row
    now = utcnow()
    result = run_once(store, get_settings(), now)
    assert not result.failed
    assert kinds_received(mail.inbox) == Counter(dict.fromkeys(STAFF, 1))
    customer = mail.inbox.to(CUSTOMER)
    assert sorted(m["Subject"].split(":")[0].strip() for m in customer) == sorted(
        ["Uw afspraak bij Autohuis De Vries", "Uw afspraak bij Autohuis De Vries is verzet",
         "Uw afspraak bij Autohuis De Vries is geannuleerd"]
    )  # fmt: skip
    # a second pass, and a pass much later, send nothing again
    assert run_once(store, get_settings(), now + dt.timedelta(seconds=5)).sent == []
    assert run_once(store, get_settings(), now + dt.timedelta(hours=2)).sent == []
    assert len(mail.inbox.received) == len(STAFF) + 3
    ids = [m["Message-ID"] for _, m in mail.inbox.received]
    assert len(set(ids)) == len(ids)
    # the staff e-mail: summary, customer's details (escaped in HTML), transcript, link
    handoff = next(m for _, m in mail.inbox.received if "medewerker spreken" in m["Subject"])
    text = handoff.get_body(("plain",)).get_content()
    assert refs["handoff"] in handoff["Subject"] and "+31687654321" in text
    assert "Klant: ik wil een mens spreken" in text and "Bot: Ik geef u door." in text
    booking = next(m for _, m in mail.inbox.received if "Nieuwe werkplaatsafspraak" in m["Subject"])
    html = booking.get_body(("html",)).get_content()
    assert "Jan &lt;b&gt;de Vries&lt;/b&gt;" in html and "<b>de Vries" not in html
    assert "dinsdag 24 november 2026 10:00" in booking["Subject"]
    assert booking["Reply-To"] == CUSTOMER


def test_dashboard_link(store, dealer, mail, notify_dealers, monkeypatch):
    monkeypatch.setenv("DEALERBOT_DASHBOARD_URL", "https://dash.example/")
    every_kind(store, dealer)
    run_once(store, get_settings(), utcnow())
    for message in mail.inbox.to(HANDOFF):
        assert (
            f"https://dash.example/conversations/{'d' * 32}"
            in message.get_body(("plain",)).get_content()
        )


def test_smtp_down_for_30_seconds_loses_nothing_and_sends_nothing_twice(
    store,
    dealer,
    mail,
    notify_dealers,
):
    every_kind(store, dealer)
    t0 = utcnow()
    # The server goes down before the first pass and stays down for 30 s of the worker's clock.
    settings = get_settings()
    mail.stop()
    for second in (0, 5, 15):
        result = run_once(store, settings, t0 + dt.timedelta(seconds=second))
        assert result.sent == []
    with store() as session:
        pending = session.scalars(select(OutboxMessage)).all()
    assert {m.status for m in pending} == {"pending"}  # nothing lost, nothing given up
    assert any(m.last_error for m in pending)
    # 30 s later the server is back: the passes that follow send every message once
    mail.start()
    sent = []
    for second in range(30, 330, 5):
        sent += run_once(store, settings, t0 + dt.timedelta(seconds=second)).sent
    assert len(sent) == len(set(sent)) == len(STAFF) + 3
    assert kinds_received(mail.inbox) == Counter(dict.fromkeys(STAFF, 1))
    assert len(mail.inbox.to(CUSTOMER)) == 3


def test_a_claim_whose_worker_died_is_sent_again_with_the_same_message_id(
    store,
    dealer,
    mail,
    notify_dealers,
):
    every_kind(store, dealer)
    now = utcnow()
    run_once(store, get_settings(), now)
    first = {m["Message-ID"] for _, m in mail.inbox.received}
    # a worker claimed a message, sent it, and died before marking it: simulate by resetting one
    with store.begin() as session:
        message = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
        message.status, message.attempts = "pending", 0
        message_id = message.id
    assert claim(store, message_id, now)
    assert run_once(store, get_settings(), now + dt.timedelta(seconds=30)).sent == []
    later = now + STALE_CLAIM + dt.timedelta(seconds=1)
    assert run_once(store, get_settings(), later).sent == [message_id]
    again = mail.inbox.received[-1][1]["Message-ID"]
    assert again in first  # the recipient's mail system sees the same message


def test_customer_invite_follows_the_appointment(store, dealer, mail, notify_dealers):
    every_kind(store, dealer)
    run_once(store, get_settings(), utcnow())
    invites = []
    for message in mail.inbox.to(CUSTOMER):
        part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
        invites.append((part.get_param("method"), icalendar.Calendar.from_ical(part.get_content())))
    by_sequence = sorted(invites, key=lambda i: int(i[1].walk("VEVENT")[0]["SEQUENCE"]))
    methods = [m for m, _ in by_sequence]
    events = [c.walk("VEVENT")[0] for _, c in by_sequence]
    assert methods == ["REQUEST", "REQUEST", "CANCEL"]
    assert len({str(e["UID"]) for e in events}) == 1  # one calendar entry, updated
    assert [int(e["SEQUENCE"]) for e in events] == [0, 1, 2]
    assert [e.decoded("DTSTART").hour for e in events] == [10, 10, 10]
    assert [e.decoded("DTSTART").day for e in events] == [24, 25, 25]
    assert str(events[2]["STATUS"]) == "CANCELLED"


def test_contact_details_after_a_handoff_reach_the_handoff_address(
    store, dealer, mail, notify_dealers
):
    """The handoff's e-mail goes out at once, before the customer answers the contact question;
    the details follow in a second e-mail to the same people, once."""
    handoff = create_lead(
        store, key_parts=("web-anna", "handoff"), dealer_id=dealer.id, kind="handoff",
        note="requested", language="nl", channel="web", sender_id="web-anna",
        conversation_id="e" * 32, transcript="customer: mag ik iemand spreken",
    )  # fmt: skip
    now = utcnow()
    run_once(store, get_settings(), now)
    first = mail.inbox.to(HANDOFF)
    assert len(first) == 1 and "Telefoon: -" in first[0].get_body(("plain",)).get_content()
    add_lead_contact(store, handoff.id, customer_name="Anna", phone="+31612345678")
    add_lead_contact(store, handoff.id, customer_name="Anna", phone="+31612345678")  # again
    run_once(store, get_settings(), now + dt.timedelta(seconds=5))
    run_once(store, get_settings(), now + dt.timedelta(seconds=10))
    details = [m for m in mail.inbox.to(HANDOFF) if "Contactgegevens" in m["Subject"]]
    assert len(details) == 1
    assert "Anna" in details[0]["Subject"] and handoff.reference in details[0]["Subject"]
    assert "+31612345678" in details[0].get_body(("plain",)).get_content()
