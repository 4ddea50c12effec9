"""A dealer folder with notification addresses and a webhook, and one of every notification."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from aiosmtpd.controller import Controller

from core.store.repositories import (
    AppointmentRequest,
    book_appointment,
    cancel_appointment,
    create_lead,
    reschedule_appointment,
)
from tests.integration.metrics.smtp_server import Inbox

WORKSHOP = "planning@autohuisdevries.example"
SALES = "verkoop@autohuisdevries.example"
HANDOFF = "klantenservice@autohuisdevries.example"
CUSTOMER = "jan@klant.example"
SECRET_ENV = "DEALERBOT_TEST_WEBHOOK_SECRET"
SECRET = "whsec-test-0123456789abcdef"


def add_webhook(path: Path, url: str) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["webhooks"] = [{"url": url, "secret_env": SECRET_ENV}]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def appointment_request(dealer, start: dt.datetime, sender: str = "web-jan") -> AppointmentRequest:
    return AppointmentRequest(
        dealer_id=dealer.id, service_id="apk", plate="12-ABC-3", starts_at=start, duration_min=60,
        customer_name="Jan <b>de Vries</b>", phone="+31612345678", email=CUSTOMER,
        mileage_km=81000, language="nl", channel="web", sender_id=sender,
        conversation_id="c" * 32,
    )  # fmt: skip


def lead(factory, dealer, kind: str, **fields):
    return create_lead(
        factory, key_parts=("web-piet", kind), dealer_id=dealer.id, kind=kind,
        customer_name="Piet", phone="+31687654321", language="nl", channel="web",
        sender_id="web-piet", conversation_id="d" * 32,
        transcript="customer: ik wil een mens spreken\nbot: Ik geef u door.", **fields,
    )  # fmt: skip


def every_kind(factory, dealer) -> dict[str, str]:
    """A booking, its move and its cancellation, and one lead of each kind: kind -> reference."""
    start = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dealer.timezone)
    booked = book_appointment(factory, dealer, appointment_request(dealer, start))
    reschedule_appointment(factory, dealer, booked.id, start + dt.timedelta(days=1))
    cancel_appointment(factory, booked.id)
    refs = {"booking": booked.reference, "change": booked.reference,
            "cancellation": booked.reference}  # fmt: skip
    for kind in ("handoff", "test_drive", "trade_in", "financing", "sales"):
        extra = {"note": "requested"} if kind == "handoff" else {}
        if kind == "test_drive":
            extra = {"car": "Volkswagen Golf 1.5 TSI"}
        refs["callback" if kind == "sales" else kind] = lead(
            factory, dealer, kind, **extra
        ).reference
    return refs


class MailServer:
    """aiosmtpd on a fixed loopback port that a test can stop and start again (an outage)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
