"""Outbound webhooks to a real local HTTP receiver that checks the signature like a CRM would.

The receiver answers 500 the first time and 200 after: the event arrives, every attempt is
logged, and by its idempotency key the receiver counts it once.
"""

import datetime as dt
import http.server
import json
import threading
import time

import pytest

from bot.runtime import free_port
from core.settings import get_settings
from core.store.models import utcnow
from core.store.outbox import webhook_attempts
from notifications.webhook import EVENT_ID_HEADER, SIGNATURE_HEADER, verify
from notifications.worker import run_once
from tests.integration.notifications.seed import (
    SECRET,
    SECRET_ENV,
    add_webhook,
    lead,
)


class Receiver:
    """Verifies each request's signature over the raw body; 500 once, then 200."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.events: dict[str, dict] = {}  # by idempotency key
        self.answers = [500]
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = verify(SECRET, self.headers[SIGNATURE_HEADER], body, now=time.time())
                event_id = self.headers[EVENT_ID_HEADER]
                receiver.requests.append({"valid": ok, "id": event_id})
                code = receiver.answers.pop(0) if receiver.answers else 200
                if ok and code == 200:
                    receiver.events.setdefault(event_id, json.loads(body))
                self.send_response(code if ok else 400)
                self.end_headers()

            def log_message(self, *args):  # keep the test output clean
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/dealerbot"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(notify_dealers, monkeypatch, tmp_path):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.setenv("DEALERBOT_OUTBOX_DIR", str(tmp_path / "outbox"))  # no SMTP: files
    monkeypatch.delenv("DEALERBOT_SMTP_HOST", raising=False)
    server = Receiver()
    add_webhook(notify_dealers, server.url)
    yield server
    server.close()


def test_signed_event_retried_after_500_and_counted_once(store, dealer, receiver):
    test_drive = lead(store, dealer, "test_drive", car="Volkswagen Golf 1.5 TSI")
    now = utcnow()
    first = run_once(store, get_settings(), now)
    assert len(receiver.requests) == 1 and receiver.events == {}
    assert first.failed  # the 500: rescheduled with backoff
    assert run_once(store, get_settings(), now + dt.timedelta(seconds=1)).sent == []  # not due
    run_once(store, get_settings(), now + dt.timedelta(seconds=10))
    run_once(store, get_settings(), now + dt.timedelta(seconds=60))  # nothing left to send
    assert [r["valid"] for r in receiver.requests] == [True, True]
    assert len({r["id"] for r in receiver.requests}) == 1  # the same idempotency key
    (event,) = receiver.events.values()
    assert event["type"] == "test_drive" and event["lead"]["reference"] == test_drive.reference
    assert event["customer"]["phone"] == "+31687654321" and event["dealer_id"] == dealer.id
    attempts = webhook_attempts(store, dealer.id)
    assert [a.status_code for a in reversed(attempts)] == [500, 200]
    assert attempts[-1].error == "HTTP 500" and attempts[0].error is None


def test_a_wrong_secret_or_old_timestamp_does_not_verify():
    from notifications.webhook import sign

    body = b'{"id":"x"}'
    header = sign(SECRET, 1_700_000_000, body)
    assert verify(SECRET, header, body, now=1_700_000_010)
    assert not verify("another-secret", header, body, now=1_700_000_010)
    assert not verify(SECRET, header, body + b" ", now=1_700_000_010)
    assert not verify(SECRET, header, body, now=1_700_000_000 + 3600)  # a replay
    assert not verify(SECRET, "garbage", body, now=1_700_000_010)


def test_missing_secret_sends_nothing_unsigned(store, dealer, receiver, monkeypatch):
    monkeypatch.delenv(SECRET_ENV)
    lead(store, dealer, "handoff", note="requested")
    run_once(store, get_settings(), utcnow())
    assert receiver.requests == []
    (attempt,) = webhook_attempts(store, dealer.id)
    assert attempt.status_code is None and SECRET_ENV in attempt.error


def test_backoff_doubles_up_to_five_minutes_and_gives_up_after_two_days(
    store, dealer, receiver, monkeypatch
):
    from sqlalchemy import select

    from core.store.models import OutboxMessage
    from core.store.outbox import GIVE_UP_AFTER, backoff

    assert [backoff(n).total_seconds() for n in range(1, 9)] == [5, 10, 20, 40, 80, 160, 300, 300]
    monkeypatch.delenv(SECRET_ENV)  # every attempt fails
    lead(store, dealer, "trade_in", plate="12-ABC-3")
    t0 = utcnow()
    run_once(store, get_settings(), t0)
    with store() as session:
        (message,) = session.scalars(
            select(OutboxMessage).where(OutboxMessage.channel == "webhook")
        ).all()
    assert message.status == "pending" and message.next_attempt_at == t0 + dt.timedelta(seconds=5)
    run_once(store, get_settings(), t0 + GIVE_UP_AFTER)
    with store() as session:
        (message,) = session.scalars(
            select(OutboxMessage).where(OutboxMessage.channel == "webhook")
        ).all()
    assert message.status == "failed" and message.attempts == 2
    run_once(store, get_settings(), t0 + GIVE_UP_AFTER + dt.timedelta(hours=1))
    assert len(webhook_attempts(store, dealer.id)) == 2  # not tried again
