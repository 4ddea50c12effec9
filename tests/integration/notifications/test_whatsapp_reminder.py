"""The day-before reminder on WhatsApp: the dealer's approved template, through the fake Graph API
(Cloud) or the fake Twilio API, once, retried after a provider error, only for WhatsApp customers."""

import dataclasses
import datetime as dt
import json

import pytest
import yaml
from sqlalchemy import select

from core.settings import get_settings
from core.store import outbox, staff_inbox
from core.store.models import Notification, utcnow
from core.store.repositories import book_appointment, create_lead, reschedule_appointment
from dealer.config import load_dealer
from notifications.jobs import enqueue_reminders
from notifications.worker import run_once
from tests.e2e.fakes import FakeGraph, FakeTwilio
from tests.integration.notifications.seed import appointment_request

WA_ID = "31612340077"
SENDER = f"whatsapp:+{WA_ID}/autohuis-demo"
CONTENT_SID = "HX" + "0123456789abcdef" * 2


@pytest.fixture
def graph(monkeypatch):
    server = FakeGraph()
    monkeypatch.setenv("DEALERBOT_WHATSAPP_GRAPH_URL", f"{server.url}/v20.0")
    monkeypatch.setenv("DEALERBOT_WHATSAPP_ACCESS_TOKEN", "graph-token-test")
    yield server
    server.stop()


@pytest.fixture
def twilio(monkeypatch):
    server = FakeTwilio()
    monkeypatch.setenv("DEALERBOT_TWILIO_API_URL", server.url)
    monkeypatch.setenv("DEALERBOT_TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("DEALERBOT_TWILIO_AUTH_TOKEN", "twilio-token-test")
    yield server
    server.stop()


def with_reminder(path, template: dict, *, cloud: bool = True):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["reminders"] = {"whatsapp": template}
    if not cloud:
        data["channels"]["whatsapp"].pop("phone_number_ids")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_dealer(path.parent)


def at(dealer, *args):
    return dt.datetime(*args, tzinfo=dealer.timezone)


def book(store, dealer, hour: int, sender: str, **fields):
    request = appointment_request(dealer, at(dealer, 2026, 11, 24, hour, 0), sender=sender)
    return book_appointment(store, dealer, dataclasses.replace(request, **fields))


def test_cloud_template_once_after_a_provider_error(store, notify_dealers, graph, monkeypatch,
                                                    tmp_path):  # fmt: skip
    monkeypatch.delenv("DEALERBOT_SMTP_HOST", raising=False)
    monkeypatch.setenv("DEALERBOT_OUTBOX_DIR", str(tmp_path / "outbox"))
    dealer = with_reminder(
        notify_dealers,
        {"template": "afspraak_herinnering", "languages": {"nl": "nl", "en": "en_GB"}},
    )
    on_wa = book(store, dealer, 10, SENDER, email=None, channel="whatsapp", language="en",
                 customer_name="")  # fmt: skip
    on_web = book(store, dealer, 11, "web-5", email=None)  # no e-mail, not on WhatsApp
    moved = book(store, dealer, 14, "whatsapp:+31612340078/autohuis-demo", email=None,
                 channel="whatsapp")  # fmt: skip
    run_once(store, get_settings(), utcnow())  # the staff e-mails of the bookings
    assert graph.requests == []  # a booking is confirmed in the chat itself, not by a template

    assert enqueue_reminders(store, [dealer], at(dealer, 2026, 11, 23, 9, 0)) == 2  # not on_web
    reschedule_appointment(store, dealer, moved.id, at(dealer, 2026, 11, 26, 14, 0))
    graph.fail_next[:] = [500]
    now = utcnow()
    first = run_once(store, get_settings(), now)
    assert len(first.failed) == 1 and len(graph.requests) == 1  # the moved one is void, unsent
    assert run_once(store, get_settings(), now).sent == []  # waits for its backoff
    second = run_once(store, get_settings(), now + outbox.backoff(1))
    assert len(second.sent) == 1
    assert run_once(store, get_settings(), now + dt.timedelta(hours=1)).sent == []

    (delivered,) = graph.delivered()
    assert delivered.path == f"/v20.0/{dealer.whatsapp_phone_number_ids[0]}/messages"
    assert delivered.headers["Authorization"] == "Bearer graph-token-test"
    body = delivered.body
    assert body["to"] == WA_ID and body["type"] == "template"
    template = body["template"]
    assert template["name"] == "afspraak_herinnering" and template["language"] == {"code": "en_GB"}
    params = [p["text"] for p in template["components"][0]["parameters"]]
    assert params == [
        "customer",  # no name given
        "Tuesday 24 November 2026 10:00",
        dealer.service("apk").name["en"],
        f"{dealer.name}, {dealer.address_line}",
    ]
    with store() as session:
        reminder_id = session.scalar(
            select(Notification.id).where(
                Notification.appointment_id == on_wa.id, Notification.kind == "reminder"
            )
        )
    (message,) = outbox.messages_of(store, reminder_id)
    assert (message.channel, message.status) == ("customer_whatsapp", "sent")
    assert message.message_id.startswith("wamid.out.")
    assert WA_ID not in (message.last_error or "")
    assert on_web.id != on_wa.id


def test_twilio_content_template(store, notify_dealers, twilio, monkeypatch, tmp_path):
    monkeypatch.delenv("DEALERBOT_SMTP_HOST", raising=False)
    monkeypatch.setenv("DEALERBOT_OUTBOX_DIR", str(tmp_path / "outbox"))
    dealer = with_reminder(notify_dealers, {"twilio_content_sid": {"nl": CONTENT_SID}}, cloud=False)
    book(store, dealer, 10, SENDER, email=None, channel="whatsapp")
    english = book(store, dealer, 11, "whatsapp:+31612340079/autohuis-demo", email=None,
                   channel="whatsapp", language="en")  # fmt: skip
    assert enqueue_reminders(store, [dealer], at(dealer, 2026, 11, 23, 9, 30)) == 2
    assert len(run_once(store, get_settings(), utcnow()).sent) >= 1
    assert len(twilio.requests) == 1  # no Content SID in English: no WhatsApp reminder
    with store() as session:
        english_reminder = session.scalar(
            select(Notification.id).where(
                Notification.appointment_id == english.id, Notification.kind == "reminder"
            )
        )
    assert outbox.messages_of(store, english_reminder) == []  # nothing to retry for 48 hours
    (form,) = twilio.sent_to(f"whatsapp:+{WA_ID}")
    assert form["From"] == "whatsapp:+31301234567" and form["ContentSid"] == CONTENT_SID
    variables = json.loads(form["ContentVariables"])
    assert variables["1"] == "Jan <b>de Vries</b>"  # plain text: WhatsApp shows no markup
    assert variables["2"] == "dinsdag 24 november 2026 10:00"
    assert set(variables) == {"1", "2", "3", "4"}


def test_the_inbox_template_reaches_a_whatsapp_customer_once(store, notify_dealers, graph,
                                                             monkeypatch, tmp_path):  # fmt: skip
    """Outside the 24-hour window staff send the approved ``handoff.whatsapp`` template: to the
    customer only (no staff e-mail, no webhook), once, with name, dealer and reference."""
    monkeypatch.delenv("DEALERBOT_SMTP_HOST", raising=False)
    monkeypatch.setenv("DEALERBOT_OUTBOX_DIR", str(tmp_path / "outbox"))
    data = yaml.safe_load(notify_dealers.read_text(encoding="utf-8"))
    data.setdefault("handoff", {})["whatsapp"] = {"template": "nog_vragen"}
    notify_dealers.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    dealer = load_dealer(notify_dealers.parent)
    handoff = create_lead(store, key_parts=(SENDER, "handoff"), dealer_id=dealer.id,
                          kind="handoff", language="nl", channel="whatsapp", sender_id=SENDER,
                          customer_name="Anna")  # fmt: skip
    web = create_lead(store, key_parts=("web-9", "handoff"), dealer_id=dealer.id, kind="handoff",
                      language="nl", channel="web", sender_id="web-9")  # fmt: skip
    now = utcnow()
    run_once(store, get_settings(), now)  # the handoffs' staff e-mails
    assert staff_inbox.send_template(store, handoff.id, "Bert")
    assert not staff_inbox.send_template(store, handoff.id, "Bert")  # once per handoff
    assert staff_inbox.send_template(store, web.id, "Bert")  # queued, but no WhatsApp to use
    assert staff_inbox.template_sent(store, SENDER)
    result = run_once(store, get_settings(), now + dt.timedelta(seconds=5))
    assert len(result.sent) == 1 and not result.failed
    (delivered,) = graph.delivered()
    template = delivered.body["template"]
    assert delivered.body["to"] == WA_ID and template["name"] == "nog_vragen"
    assert template["language"] == {"code": "nl"}
    params = [p["text"] for p in template["components"][0]["parameters"]]
    assert params == ["Anna", dealer.name, handoff.reference]
    with store() as session:
        ids = session.scalars(select(Notification.id).where(
            Notification.kind == "handoff_template")).all()  # fmt: skip
    channels = [m.channel for i in ids for m in outbox.messages_of(store, i)]
    assert channels == ["customer_whatsapp"]  # no staff e-mail, no webhook, nothing for web
    history = staff_inbox.history(store, "conversation", SENDER)
    assert [(e.action, e.staff) for e in history] == [("template_sent", "Bert")]
