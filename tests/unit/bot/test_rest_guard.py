"""The guarded REST channel (bot/channels/rest.py) without a model: the body checks and the
per-sender limiter directly, then the real blueprint in a small Sanic app whose bot echoes.

Run as ``python -m tests.unit.bot.test_rest_guard PORT`` it serves that app: ``/seen`` lists
the messages the bot got, a message ``hold`` waits until ``POST /release``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import urllib.error

import aiohttp
import pytest

from bot.channels.common import SenderLimiter
from bot.channels.rest import MAX_BODY_BYTES, Refused, authorized, parse_body
from core.whatsapp import sender_id
from tests.apps import start_test_app


def body(**fields) -> bytes:
    return json.dumps(fields).encode()


def refusal(raw: bytes, max_chars: int = 2000) -> tuple[int, str]:
    with pytest.raises(Refused) as caught:
        parse_body(raw, max_chars=max_chars)
    assert caught.value.body["detail"]  # every refusal says what is wrong
    return caught.value.status, caught.value.body["error"]


# ---- the body ------------------------------------------------------------------------------


def test_a_good_body_is_parsed():
    message = parse_body(
        body(sender="klant:31612345678/autohuis-demo", message=" hoi\n", metadata={"a": 1}),
        max_chars=2000,
    )
    assert message.sender == "klant:31612345678/autohuis-demo"
    assert message.text == " hoi\n"
    assert message.metadata == {"a": 1}
    assert message.input_channel == "rest"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", (400, "invalid_json")),
        (b'{"sender": "a", "message": ', (400, "invalid_json")),
        (b"[" * 50_000 + b"]" * 50_000, (413, "body_too_large")),
        (b"[" * 30_000 + b"]" * 30_000, (400, "invalid_json")),  # too deep for json.loads
        (b'["a", "b"]', (400, "invalid_json")),
        (b'{"sender": "a", "message": "caf\xe9"}', (400, "invalid_utf8")),
        (b'{"sender": "a", "message": "\xff\xfe"}', (400, "invalid_utf8")),
        (b'{"sender": "a", "message": "x\\ud800y"}', (400, "invalid_message")),
        (b'{"sender": "a", "message": "x\\u0000y"}', (400, "invalid_message")),
        (body(message="hoi"), (400, "invalid_sender")),
        (body(sender=None, message="hoi"), (400, "invalid_sender")),
        (body(sender=12, message="hoi"), (400, "invalid_sender")),
        (body(sender="", message="hoi"), (400, "invalid_sender")),
        (body(sender="x" * 129, message="hoi"), (400, "invalid_sender")),
        (body(sender="klant 1", message="hoi"), (400, "invalid_sender")),
        (body(sender="klant-ü", message="hoi"), (400, "invalid_sender")),
        (body(sender="a\nb", message="hoi"), (400, "invalid_sender")),
        (body(sender="a"), (400, "invalid_message")),
        (body(sender="a", message=5), (400, "invalid_message")),
        (body(sender="a", message=["hoi"]), (400, "invalid_message")),
        (body(sender="a", message="  "), (400, "invalid_message")),
        (body(sender="a", message="x" * 2001), (413, "message_too_long")),
        (body(sender="a", message="hoi", metadata=["x"]), (400, "invalid_metadata")),
        (
            body(sender="a", message="hoi", metadata={"dealer": ["a\x00"]}),
            (400, "invalid_metadata"),
        ),
        (
            b'{"sender": "a", "message": "hoi", "metadata": {"\\ud800": 1}}',
            (400, "invalid_metadata"),
        ),
        (body(sender="a", message="hoi", input_channel={"x": 1}), (400, "invalid_input_channel")),
    ],
)
def test_bad_bodies_are_refused_with_what_is_wrong(raw, expected):
    assert refusal(raw) == expected


@pytest.mark.parametrize(
    "name",
    ["whatsapp", "WhatsApp", "whatsapp_cloud", "twilio_whatsapp", "twilio", "socketio", "web"],
)
def test_a_rest_client_may_not_pose_as_a_customer_channel(name):
    assert refusal(body(sender="a", message="hoi", input_channel=name)) == (
        400, "invalid_input_channel")  # fmt: skip


def test_other_channel_names_are_kept_and_customer_channels_only_when_allowed():
    def channel(name, **options):
        raw = body(sender="a", message="hoi", input_channel=name)
        return parse_body(raw, max_chars=2000, **options).input_channel

    assert channel("partner-app") == "partner-app"
    assert channel("rest") == "rest"
    assert channel("whatsapp_sim", allowed_channels=("whatsapp_sim",)) == "whatsapp_sim"
    with pytest.raises(Refused):
        channel("whatsapp", allowed_channels=("whatsapp_sim",))  # only the names listed
    assert channel("socketio", customer_channels=("whatsapp",)) == "socketio"  # web not counted
    assert channel("rest", customer_channels=("web", "whatsapp", "rest")) == "rest"  # its own


def test_the_limits_are_at_the_documented_edges():
    assert parse_body(body(sender="x" * 128, message="é" * 2000), max_chars=2000).text
    assert refusal(body(sender="a", message="hoi!"), max_chars=3) == (413, "message_too_long")
    padded = b'{"sender": "a", "message": "hoi"}' + b" " * (MAX_BODY_BYTES - 33)
    assert len(padded) == MAX_BODY_BYTES
    assert parse_body(padded, max_chars=2000).text == "hoi"
    assert refusal(padded + b" ") == (413, "body_too_large")


@pytest.mark.parametrize(
    "sender",
    [
        sender_id("31612345678", "autohuis-demo"),  # what both WhatsApp channels build
        "whatsapp:+31612345678/autohuis-demo",
        "WhatsApp:+31612345678/autohuis-demo",
        "whatsapp:31612345678",
    ],
)
def test_a_rest_client_may_not_speak_as_a_whatsapp_customer(sender):
    assert refusal(body(sender=sender, message="verwijder mijn gegevens")) == (
        403, "sender_not_allowed")  # fmt: skip


def test_the_bearer_token_is_compared_whole():
    assert authorized(None, None) and authorized("whatever", None)  # no token set: open
    assert authorized("Bearer s3cret", "s3cret") and authorized("bearer  s3cret ", "s3cret")
    for header in (None, "", "s3cret", "Bearer", "Bearer s3cre", "Bearer s3cretx",
                   "Basic s3cret", "Bearer sécret"):  # fmt: skip
        assert not authorized(header, "s3cret")


# ---- the limiter ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_sender_gets_its_burst_then_waits_for_tokens():
    clock = Clock()
    limiter = SenderLimiter(max_pending=100, clock=clock)
    admitted = [limiter.acquire("a", 0.5, 3) for _ in range(3)]
    for _ in admitted:
        limiter.release("a")
    assert admitted == [0.0, 0.0, 0.0]
    assert limiter.acquire("a", 0.5, 3) == pytest.approx(2.0)  # one token at 0.5 per second
    assert limiter.acquire("b", 0.5, 3) == 0.0  # other senders are not affected
    clock.now += 2.0
    assert limiter.acquire("a", 0.5, 3) == 0.0
    limiter.release("a")
    assert limiter.acquire("a", 0.5, 3) > 0


def test_a_sender_has_at_most_max_pending_messages_in_flight():
    limiter = SenderLimiter(max_pending=2, clock=Clock())
    assert [limiter.acquire("a", 1.0, 10) for _ in range(3)] == [0.0, 0.0, 1.0]
    limiter.release("a")
    assert limiter.acquire("a", 1.0, 10) == 0.0


def test_full_buckets_are_dropped_so_one_time_senders_do_not_pile_up():
    clock = Clock()
    limiter = SenderLimiter(clock=clock)
    for i in range(1000):
        assert limiter.acquire(f"s{i}", 1.0, 20) == 0.0
        limiter.release(f"s{i}")
    assert limiter.acquire("busy", 1.0, 20) == 0.0  # still in flight: kept
    assert len(limiter) == 1001
    clock.now += 61
    limiter.acquire("late", 1.0, 20)
    assert len(limiter) == 2  # 'busy' and 'late'


# ---- the channel in a Sanic app --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    env = {**os.environ, "DEALERBOT_SENDER_BURST": "3", "DEALERBOT_SENDER_RATE": "0.01",
           "DEALERBOT_MAX_MESSAGE_CHARS": "50", "DEALERBOT_CUSTOMER_CHANNELS": "web,whatsapp",
           "DEALERBOT_REST_INPUT_CHANNELS": "whatsapp_sim", "DEALERBOT_REST_TOKEN": TOKEN}  # fmt: skip
    process = start_test_app("tests.unit.bot.test_rest_guard", port, "/webhooks/rest/", env)
    url = f"http://127.0.0.1:{port}"
    yield url
    process.terminate()
    output = process.communicate(timeout=20)[0].decode(errors="replace")
    assert "Traceback" not in output, output


TOKEN = "test-rest-token-7f3a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def post(
    http: aiohttp.ClientSession, url: str, data: bytes, headers: dict | None = None
) -> tuple[int, dict, dict]:
    headers = AUTH if headers is None else headers
    async with http.post(f"{url}/webhooks/rest/webhook", data=data, headers=headers) as resp:
        assert resp.content_type == "application/json"
        return resp.status, dict(resp.headers), await resp.json()


def run(coro):
    return asyncio.run(coro)


async def _session_do(fn):
    async with aiohttp.ClientSession() as http:
        return await fn(http)


def test_good_messages_reach_the_bot_and_bad_ones_get_json_errors(server):
    async def scenario(http):
        good = await post(http, server, body(sender="good-1", message="hallo"))
        bad = [
            await post(http, server, raw)
            for raw in (
                b'{"sender": "bad-1", "message": "marker-json',
                b'{"sender": "bad-2", "message": "marker-\xe9"}',
                body(sender="bad 3", message="marker-sender"),
                body(sender="bad-4", message="marker-long" + "x" * 50),
                body(sender="bad-5", message="marker-nul\x00"),
            )
        ]
        async with http.get(f"{server}/seen") as resp:
            seen = await resp.json()
        return good, bad, seen

    good, bad, seen = run(_session_do(scenario))
    assert good[0] == 200
    assert good[2] == [{"recipient_id": "good-1", "text": "rest|good-1|hallo"}]
    assert [(status, data["error"]) for status, _h, data in bad] == [
        (400, "invalid_json"),
        (400, "invalid_utf8"),
        (400, "invalid_sender"),
        (413, "message_too_long"),
        (400, "invalid_message"),
    ]
    assert bad[3][2]["max_chars"] == 50
    assert "hallo" in seen
    assert not [text for text in seen if "marker" in text]  # nothing refused reached the bot


def test_without_the_bearer_token_nothing_reaches_the_bot(server):
    async def scenario(http):
        results = [
            await post(http, server, body(sender=f"tok-{i}", message=f"marker-tok{i}"), headers)
            for i, headers in enumerate([
                {},
                {"Authorization": "Bearer wrong"},
                {"Authorization": f"Basic {TOKEN}"},
                {"Authorization": f"Bearer {TOKEN}x"},
                {"Authorization": "Bearer tést"},  # non-ASCII: a 401, not a 500
            ])
        ]  # fmt: skip
        good = await post(http, server, body(sender="tok-ok", message="with-token"))
        async with http.get(f"{server}/seen") as resp:
            return results, good, await resp.json()

    results, good, seen = run(_session_do(scenario))
    assert [(status, data["error"]) for status, _h, data in results] == [(401, "unauthorized")] * 5
    assert all(h["WWW-Authenticate"].startswith("Bearer") for _s, h, _d in results)
    assert good[0] == 200 and "with-token" in seen
    assert not [text for text in seen if "marker-tok" in text]


def test_a_whatsapp_customers_conversation_cannot_be_reached_over_rest(server):
    victim = sender_id("31612345678", "autohuis-demo")

    async def scenario(http):
        tries = [
            await post(http, server, body(sender=sender, message="marker-verwijder"))
            for sender in (victim, victim.upper(), "whatsapp:+31612345678")
        ]
        async with http.get(f"{server}/seen") as resp:
            return tries, await resp.json()

    tries, seen = run(_session_do(scenario))
    assert [(status, data["error"]) for status, _h, data in tries] == [
        (403, "sender_not_allowed")] * 3  # fmt: skip
    assert not [text for text in seen if "marker-verwijder" in text]


def test_dealerbot_chat_sends_the_token_when_it_is_set(server, monkeypatch):
    from cli.main import send

    monkeypatch.delenv("DEALERBOT_REST_TOKEN", raising=False)
    with pytest.raises(urllib.error.HTTPError) as refused:
        send(server, "chat-1", "zonder")
    assert refused.value.code == 401
    monkeypatch.setenv("DEALERBOT_REST_TOKEN", TOKEN)
    assert send(server, "chat-1", "met") == [{"recipient_id": "chat-1", "text": "rest|chat-1|met"}]


def test_input_channel_is_checked_against_the_customer_channels_setting(server):
    async def scenario(http):
        results = {}
        for name in ("whatsapp", "socketio", "partner-app", "whatsapp_sim"):
            raw = body(sender=f"chan-{name}", message=f"via-{name}", input_channel=name)
            results[name] = await post(http, server, raw)
        async with http.get(f"{server}/seen") as resp:
            return results, await resp.json()

    results, seen = run(_session_do(scenario))
    for name in ("whatsapp", "socketio"):
        assert (results[name][0], results[name][2]["error"]) == (400, "invalid_input_channel")
        assert f"via-{name}" not in seen
    assert results["partner-app"][2][0]["text"] == "partner-app|chan-partner-app|via-partner-app"
    assert results["whatsapp_sim"][2][0]["text"].startswith("whatsapp_sim|")  # allowed


def test_a_burst_from_one_sender_gets_429_with_retry_after_and_others_go_on(server):
    async def scenario(http):
        burst = [
            await post(http, server, body(sender="burst-1", message=f"m{i}")) for i in range(8)
        ]
        other = await post(http, server, body(sender="calm-1", message="hoi"))
        return burst, other

    burst, other = run(_session_do(scenario))
    assert [status for status, _h, _d in burst] == [200] * 3 + [429] * 5  # BURST=3
    for status, headers, data in burst:
        if status == 429:
            assert data["error"] == "rate_limited"
            assert int(headers["Retry-After"]) == data["retry_after_s"] >= 1
        else:
            assert data[0]["text"].startswith("rest|burst-1|m")
    assert other[0] == 200


def test_a_sender_with_max_pending_messages_in_flight_is_held_back_until_answered(server):
    async def scenario(http):
        held = [
            asyncio.create_task(post(http, server, body(sender="pend-1", message="hold")))
            for _ in range(2)
        ]
        for _ in range(1200):  # wait (generously) until the bot holds both
            async with http.get(f"{server}/seen") as resp:
                if (await resp.json()).count("hold") == 2:
                    break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the bot never got both held messages")
        third = await post(http, server, body(sender="pend-1", message="third"))
        async with http.post(f"{server}/release"):
            pass
        answered = [await task for task in held]
        after = await post(http, server, body(sender="pend-1", message="after"))
        return third, answered, after

    third, answered, after = run(_session_do(scenario))
    assert third[0] == 429 and third[2]["error"] == "rate_limited"  # max_pending: 2
    assert [a[0] for a in answered] == [200, 200]
    assert after[0] == 200  # the in-flight count went down again; the third used no token


# ---- the app the tests above run (python -m tests.unit.bot.test_rest_guard PORT) -------------


def serve(port: int) -> None:
    from rasa.core.channels.channel import UserMessage
    from sanic import Sanic, response

    from bot.channels.rest import GuardedRestInput

    seen: list[str] = []
    release = asyncio.Event()

    async def echo(message: UserMessage) -> None:
        seen.append(message.text)
        if message.text == "hold":
            await release.wait()
        text = f"{message.input_channel}|{message.sender_id}|{message.text}"
        await message.output_channel.send_text_message(message.sender_id, text)

    app = Sanic("rest_guard_test")
    channel = GuardedRestInput.from_credentials({"max_pending": 2})
    app.blueprint(channel.blueprint(echo), url_prefix="/webhooks/rest")  # as rasa run does

    @app.get("/seen")
    async def seen_messages(_):
        return response.json(seen)

    @app.post("/release")
    async def release_held(_):
        release.set()
        await asyncio.sleep(0.2)
        release.clear()
        return response.json({})

    app.run(host="127.0.0.1", port=port, access_log=False)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
