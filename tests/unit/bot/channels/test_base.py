"""What both WhatsApp channels share (bot/channels/base.py): the per-sender rate limit.

A flood is dropped after ``DEALERBOT_SENDER_BURST`` messages: not passed to Rasa, not claimed in
the inbox, one notice per limited spell in the customer's language, the webhook answering 200.
The channels' own ``handle`` is called here; the real webhooks run in a small Sanic app (run as
``python -m tests.unit.bot.channels.test_base PORT``: both channels, a bot that echoes).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from bot.channels.common import TEXT_ONLY, TOO_FAST, SenderLimiter, webhook_max_age
from bot.channels.twilio_verified import TwilioWhatsAppInput, parse_form
from bot.channels.whatsapp_cloud import WhatsAppCloudInput, parse_webhook
from bot.runtime import free_port
from core.store.models import WhatsAppMessage
from core.store.session import default_session_factory
from tests.apps import start_test_app
from tests.conftest import FIXED_NOW
from tests.e2e.fakes import (
    FakeGraph,
    FakeTwilio,
    cloud_message,
    cloud_text,
    cloud_webhook,
    meta_signature,
    twilio_form,
    twilio_signature,
)

WA = "31612345678"
SID = "AC" + "0" * 32
PNID, DEMO_NUMBER = "100000000000001", "+31301234567"  # the demo dealer's WhatsApp number
APP_SECRET, TWILIO_TOKEN = "app-secret", "twilio-token"
TWILIO_URL = "https://dealer.example/webhooks/twilio_whatsapp/webhook"
NOW_TS = int(dt.datetime.fromisoformat(FIXED_NOW).timestamp())  # Meta's "timestamp" of a message


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Bot:
    """Stands in for Rasa: keeps what it was given; ``boom`` fails the turn."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    async def __call__(self, message) -> None:
        self.seen.append((message.input_channel, message.sender_id, message.text))
        if message.text == "boom":
            raise RuntimeError("the turn failed")


@pytest.fixture(autouse=True)
def limits(monkeypatch):
    """Three messages at once per sender, then one every two seconds."""
    monkeypatch.setenv("DEALERBOT_SENDER_BURST", "3")
    monkeypatch.setenv("DEALERBOT_SENDER_RATE", "0.5")


@pytest.fixture
def twilio(monkeypatch, limits):
    server = FakeTwilio()
    monkeypatch.setenv("DEALERBOT_TWILIO_API_URL", server.url)
    monkeypatch.setenv("DEALERBOT_TWILIO_ACCOUNT_SID", SID)
    monkeypatch.setenv("DEALERBOT_TWILIO_AUTH_TOKEN", TWILIO_TOKEN)
    monkeypatch.setenv("DEALERBOT_WHATSAPP_BACKOFF_S", "0.01")
    yield server
    server.stop()


def cloud(channel, bot, texts, *, start=0, wa_id=WA, kind="text", app=None) -> None:
    """Each text as its own webhook call, handled as the route does."""
    for i, text in enumerate(texts, start=start):
        if kind == "text":
            raw = cloud_text(wa_id, f"wamid.{i}", NOW_TS, text)
        else:
            raw = cloud_message(wa_id, f"wamid.{i}", NOW_TS, kind, image={"id": "x"})
        (incoming,), _ = parse_webhook(cloud_webhook(PNID, DEMO_NUMBER[1:], messages=[raw]))
        asyncio.run(channel.handle(incoming, channel.settings, app, bot))


def claimed() -> list[str]:
    with default_session_factory()() as session:
        return sorted(session.scalars(select(WhatsAppMessage.message_id)))


def test_a_flood_reaches_the_bot_up_to_the_limit_and_gets_one_notice(graph, caplog):
    channel, bot = WhatsAppCloudInput({}, limiter=SenderLimiter(clock=Clock())), Bot()
    with caplog.at_level(logging.INFO, logger="bot.channels.base"):
        cloud(channel, bot, [f"secret-{i}" for i in range(8)])
    sender = f"whatsapp:+{WA}/autohuis-demo"
    assert bot.seen == [("whatsapp_cloud", sender, f"secret-{i}") for i in range(3)]
    assert [b["text"]["body"] for b in graph.sent_to(WA)] == [TOO_FAST["nl"]]
    assert claimed() == ["wamid.0", "wamid.1", "wamid.2"]  # the dropped ones left no trace
    drops = [r.getMessage() for r in caplog.records if "rate limit" in r.getMessage()]
    assert len(drops) == 5 and drops[-1].endswith(
        "dropped message 5 of a sender over its rate limit"
    )
    assert "secret" not in caplog.text and "612345678" not in caplog.text
    cloud(channel, bot, ["hoi"], wa_id="31687654321", start=8)  # others are not held back
    assert bot.seen[-1][2] == "hoi"


def test_the_next_spell_gets_a_notice_again_once_the_sender_slowed_down(graph):
    clock = Clock()
    channel, bot = WhatsAppCloudInput({}, limiter=SenderLimiter(clock=clock)), Bot()
    cloud(channel, bot, ["a", "b", "c", "d", "e"])
    clock.now += 2.0  # one message's worth: still the same spell
    cloud(channel, bot, ["f", "g"], start=5)
    assert [text for _c, _s, text in bot.seen] == ["a", "b", "c", "f"]
    assert len(graph.sent_to(WA)) == 1
    clock.now += 6.0  # the bucket is full again
    cloud(channel, bot, ["h", "i", "j", "k"], start=7)
    assert [text for _c, _s, text in bot.seen][-3:] == ["h", "i", "j"]
    assert [b["text"]["body"] for b in graph.sent_to(WA)] == [TOO_FAST["nl"]] * 2


def test_the_notice_is_in_the_language_of_the_conversation(graph):
    tracker = SimpleNamespace(events=[], current_slot_values=lambda: {"language": "en"})

    async def retrieve(_sender):
        return tracker

    store = SimpleNamespace(retrieve=retrieve)
    app = SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=store)))
    channel = WhatsAppCloudInput({}, limiter=SenderLimiter(clock=Clock()))
    cloud(channel, Bot(), ["a", "b", "c", "d"], app=app)  # a Dutch number, an English chat
    assert [b["text"]["body"] for b in graph.sent_to(WA)] == [TOO_FAST["en"]]


def test_pictures_count_too(graph):
    channel, bot = WhatsAppCloudInput({}, limiter=SenderLimiter(clock=Clock())), Bot()
    cloud(channel, bot, ["", "", "", "", ""], kind="image")
    assert [b["text"]["body"] for b in graph.sent_to(WA)] == [TEXT_ONLY["nl"]] * 3 + [
        TOO_FAST["nl"]
    ]


def test_twilio_senders_are_limited_the_same_way(twilio):
    channel, bot = TwilioWhatsAppInput({}, limiter=SenderLimiter(clock=Clock())), Bot()
    for i in range(6):
        form = twilio_form(SID, f"SM{i}", "+447700900123", DEMO_NUMBER, f"m{i}")
        asyncio.run(channel.handle(parse_form(form), channel.settings, None, bot))
    assert [text for _c, _s, text in bot.seen] == ["m0", "m1", "m2"]
    (notice,) = twilio.sent_to("whatsapp:+447700900123")
    assert notice["Body"] == TOO_FAST["en"] and notice["From"] == f"whatsapp:{DEMO_NUMBER}"


def test_a_failed_turn_frees_its_place_in_flight(graph):
    channel = WhatsAppCloudInput({}, limiter=SenderLimiter(max_pending=1, clock=Clock()))
    bot = Bot()
    with pytest.raises(RuntimeError):
        cloud(channel, bot, ["boom"])  # the route answers 500: Meta delivers it again
    cloud(channel, bot, ["boom again?"], start=1)
    assert [text for _c, _s, text in bot.seen] == ["boom", "boom again?"]
    assert graph.sent_to(WA) == []


def test_a_notice_that_fails_does_not_fail_the_webhook(limits, caplog):
    channel, bot = WhatsAppCloudInput({}, limiter=SenderLimiter(clock=Clock())), Bot()

    class Broken:
        async def send_text_message(self, *_args, **_kwargs):
            raise RuntimeError("provider down")

    sender = f"whatsapp:+{WA}/autohuis-demo"
    for i in range(4):
        raw = cloud_text(WA, f"wamid.{i}", 1, f"m{i}")
        (incoming,), _ = parse_webhook(cloud_webhook(PNID, DEMO_NUMBER[1:], messages=[raw]))
        asyncio.run(channel.handle_once(incoming, sender=sender, business_number=PNID,
                                        sent_at=incoming.sent_at, app=None, on_new_message=bot,
                                        output=lambda _language: Broken(), metadata={}))  # fmt: skip
    assert len(bot.seen) == 3
    assert "rate-limit notice not sent: provider down" in caplog.text


# ---- the real webhooks -------------------------------------------------------------------------


@pytest.fixture
def webhooks(monkeypatch):
    """Both channels in a Sanic app: two messages at once per sender, then (as good as) none."""
    graph, twilio = FakeGraph(), FakeTwilio()
    port = free_port()
    env = {**os.environ, "DEALERBOT_SENDER_BURST": "2", "DEALERBOT_SENDER_RATE": "0.001",
           "DEALERBOT_WHATSAPP_GRAPH_URL": f"{graph.url}/v20.0",
           "DEALERBOT_WHATSAPP_ACCESS_TOKEN": "token-1", "DEALERBOT_WHATSAPP_APP_SECRET": APP_SECRET,
           "DEALERBOT_WHATSAPP_VERIFY_TOKEN": "verify", "DEALERBOT_TWILIO_API_URL": twilio.url,
           "DEALERBOT_TWILIO_ACCOUNT_SID": SID, "DEALERBOT_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
           "DEALERBOT_TWILIO_WEBHOOK_URL": TWILIO_URL}  # fmt: skip
    process = start_test_app(
        "tests.unit.bot.channels.test_base", port, "/webhooks/whatsapp_cloud/", env
    )
    url = f"http://127.0.0.1:{port}"
    yield SimpleNamespace(url=url, graph=graph, twilio=twilio)
    process.terminate()
    output = process.communicate(timeout=20)[0].decode(errors="replace")
    graph.stop()
    twilio.stop()
    assert "Traceback" not in output, output


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_webhooks_answer_200_to_a_flood_and_pass_on_only_the_burst(webhooks):
    statuses = []
    for i in range(5):
        body = json.dumps(
            cloud_webhook(
                PNID, DEMO_NUMBER[1:], messages=[cloud_text(WA, f"w{i}", NOW_TS, f"c{i}")]
            )
        ).encode()
        headers = {"Content-Type": "application/json",
                   "X-Hub-Signature-256": meta_signature(APP_SECRET, body)}  # fmt: skip
        statuses.append(post(f"{webhooks.url}/webhooks/whatsapp_cloud/webhook", body, headers))
        form = twilio_form(SID, f"SM{i}", f"+{WA}", DEMO_NUMBER, f"t{i}")
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, TWILIO_URL, form)}  # fmt: skip
        body = urllib.parse.urlencode(form).encode()
        statuses.append(post(f"{webhooks.url}/webhooks/twilio_whatsapp/webhook", body, headers))
    assert statuses == [200] * 10
    cloud_sent = [b["text"]["body"] for b in webhooks.graph.sent_to(WA)]
    assert cloud_sent == ["echo c0", "echo c1", TOO_FAST["nl"]]
    twilio_sent = [b["Body"] for b in webhooks.twilio.sent_to(f"whatsapp:+{WA}")]
    assert twilio_sent == ["echo t0", "echo t1", TOO_FAST["nl"]]


def signed_cloud_call(message: dict) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(cloud_webhook(PNID, DEMO_NUMBER[1:], messages=[message])).encode()
    return body, {"Content-Type": "application/json",
                  "X-Hub-Signature-256": meta_signature(APP_SECRET, body)}  # fmt: skip


def test_a_replayed_meta_message_older_than_the_kept_ids_is_not_handled(webhooks, monkeypatch):
    """Its id may be purged already: the signed timestamp decides (7 days, or the retention)."""
    hook = f"{webhooks.url}/webhooks/whatsapp_cloud/webhook"
    week = 7 * 24 * 3600
    for ts, text in ((NOW_TS - week - 60, "replayed"), (NOW_TS - week + 60, "late retry"),
                     (NOW_TS, "fresh")):  # fmt: skip
        assert post(hook, *signed_cloud_call(cloud_text(WA, f"wamid.{text}", ts, text))) == 200
    sent = [b["text"]["body"] for b in webhooks.graph.sent_to(WA)]
    assert sent == ["echo late retry", "echo fresh"]


def test_the_replay_window_is_never_longer_than_the_retention():
    assert webhook_max_age(365) == dt.timedelta(days=7)
    assert webhook_max_age(3) == dt.timedelta(days=3)
    assert webhook_max_age(0) == dt.timedelta(days=1)


def test_the_verify_handshake_compares_bytes(webhooks):
    """Meta's GET handshake: a non-ASCII token is refused with 403 (compare_digest on str gave
    a 500), the right one gets the challenge back."""
    base = f"{webhooks.url}/webhooks/whatsapp_cloud/webhook?hub.mode=subscribe&hub.challenge=42"

    def get(token: str) -> tuple[int, str]:
        url = f"{base}&hub.verify_token={urllib.parse.quote(token)}"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    assert get("vérify") == (403, "verification failed")
    assert get("verify✓")[0] == 403
    assert get("wrong") == (403, "verification failed")
    assert get("verify") == (200, "42")


def test_a_non_ascii_signature_header_is_refused_not_a_500(webhooks):
    body, headers = signed_cloud_call(cloud_text(WA, "wamid.sig", NOW_TS, "hoi"))
    headers["X-Hub-Signature-256"] = "sha256=é".encode().decode("latin-1")
    assert post(f"{webhooks.url}/webhooks/whatsapp_cloud/webhook", body, headers) == 403
    assert webhooks.graph.sent_to(WA) == []


def serve(port: int) -> None:
    from sanic import Sanic

    async def echo(message) -> None:
        await message.output_channel.send_text_message(message.sender_id, f"echo {message.text}")

    app = Sanic("whatsapp_limit_test")
    for channel in (WhatsAppCloudInput.from_credentials({}),
                    TwilioWhatsAppInput.from_credentials({})):  # fmt: skip
        app.blueprint(channel.blueprint(echo), url_prefix=f"/webhooks/{channel.name()}")
    app.run(host="127.0.0.1", port=port, access_log=False)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
