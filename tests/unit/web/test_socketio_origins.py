"""The web widget's socketio channel: origins per dealer, session persistence, widget config."""

import asyncio
import json
import os
import urllib.error
import urllib.request

import pytest
import socketio

from bot.channels.socketio_origins import extra_origins, greeting, origin_allowed, widget_config
from bot.runtime import free_port
from tests.apps import start_test_app

GOOD, OTHER, EVIL = "http://good.example", "http://other.example:8081", "http://evil.example"
ORIGINS = f"autohuis-demo={GOOD};other-dealer={OTHER}"


def test_extra_origins_are_parsed_per_dealer():
    assert extra_origins(" a=http://x.example, https://y.example/ ; b=http://z:81") == {
        "a": frozenset({"http://x.example", "https://y.example"}),
        "b": frozenset({"http://z:81"}),
    }
    assert extra_origins("") == {}


@pytest.mark.parametrize("bad", ["http://x.example", "a=x.example", "a=http://x.example/path"])
def test_bad_origin_settings_are_a_clear_error(bad):
    with pytest.raises(ValueError, match="DEALERBOT_WEB_ORIGINS"):
        extra_origins(bad)


def test_origins_come_from_the_dealer_file_and_the_environment(monkeypatch):
    monkeypatch.setenv("DEALERBOT_WEB_ORIGINS", ORIGINS)
    assert origin_allowed("http://localhost:8080", "autohuis-demo")  # dealer.yml
    assert origin_allowed(GOOD, "autohuis-demo") and origin_allowed(GOOD + "/")
    assert not origin_allowed(OTHER, "autohuis-demo")
    assert origin_allowed(OTHER)  # some dealer allows it
    assert not origin_allowed(EVIL) and not origin_allowed(None) and not origin_allowed("")


def test_the_widget_greets_with_the_dealer_name_from_the_domain():
    nl, en = greeting("Autohuis X", "nl"), greeting("Autohuis X", "en")
    assert "Welkom bij Autohuis X" in nl["text"] and "Welcome to Autohuis X" in en["text"]
    assert {"title": "Afspraak werkplaats", "payload": "/book_service"} in nl["buttons"]
    config = widget_config("autohuis-demo")
    assert config["name"] == "Autohuis De Vries" and config["language"] == "nl"
    assert widget_config("no-such-dealer") is None


def start_app(extra_env: dict[str, str] | None = None):
    """The real channel in a small Sanic app that echoes each message (no model needed)."""
    port = free_port()
    env = {**os.environ, "DEALERBOT_WEB_ORIGINS": ORIGINS, **(extra_env or {})}
    env.pop("DEALERBOT_DEALERS_DIR", None)
    process = start_test_app(
        "tests.unit.web.socketio_app", port, "/webhooks/socketio/", env, capture=False
    )
    url = f"http://127.0.0.1:{port}"
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def server():
    yield from start_app()


@pytest.fixture(scope="module")
def strict_server():
    """Tight limits: two messages at once per session, at most 40 characters each."""
    yield from start_app({"DEALERBOT_SENDER_BURST": "2", "DEALERBOT_SENDER_RATE": "0.01",
                          "DEALERBOT_MAX_MESSAGE_CHARS": "40"})  # fmt: skip


def get(url: str, origin: str | None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers={"Origin": origin} if origin else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_the_socket_accepts_only_configured_origins(server):
    handshake = f"{server}/socket.io/?EIO=4&transport=polling"
    assert get(handshake, GOOD)[0] == 200
    assert get(handshake, OTHER)[0] == 200
    status, _headers, body = get(handshake, EVIL)
    assert status == 400 and b"not an accepted origin" in body


def test_the_widget_config_is_only_for_the_dealers_own_origins(server):
    status, headers, body = get(f"{server}/webhooks/socketio/widget/autohuis-demo", GOOD)
    assert status == 200 and headers["Access-Control-Allow-Origin"] == GOOD
    assert json.loads(body)["name"] == "Autohuis De Vries"
    for origin in (OTHER, EVIL, None):  # another dealer's site, a stranger, no browser
        status, headers, _ = get(f"{server}/webhooks/socketio/widget/autohuis-demo", origin)
        assert status == 403 and "Access-Control-Allow-Origin" not in headers


async def chat(url: str, origin: str, session_id: str | None, messages: list[dict]) -> list:
    """Connect (polling: the client's websocket needs a newer aiohttp), ask for the session,
    send the messages, and return what came back."""
    received: list = []
    client = socketio.AsyncClient(reconnection=False)
    for event in ("bot_uttered", "session_confirm", "refused"):
        client.on(event, lambda data, event=event: received.append((event, data)))
    await client.connect(url, headers={"Origin": origin}, transports=["polling"])
    try:
        await client.emit("session_request", {"session_id": session_id})
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.05)
        confirmed = received[0][1]
        for message in messages:
            await client.emit("user_uttered", {**message, "session_id": confirmed})
        for _ in range(100):
            if len(received) > len(messages):
                break
            await asyncio.sleep(0.05)
    finally:  # abort: do not wait for the pending long-poll (up to the 25 s ping interval)
        await client.eio.disconnect(abort=True)
    return received


def test_a_message_reaches_the_bot_with_its_dealer_and_session(server):
    first = asyncio.run(chat(server, GOOD, None, [
        {"message": "hoi", "metadata": {"dealer": "autohuis-demo"}}]))  # fmt: skip
    (_, session_id), (event, reply) = first
    assert event == "bot_uttered" and len(session_id) == 32
    assert reply["text"] == f"autohuis-demo|{session_id}|hoi"
    assert reply["quick_replies"][0]["payload"] == "/affirm"
    # After a reload the widget sends its stored session id: the same conversation goes on.
    again = asyncio.run(chat(server, GOOD, session_id, [{"message": "ja", "metadata": {}}]))
    assert again == [("session_confirm", session_id),
                     ("bot_uttered", again[1][1])]  # fmt: skip
    assert again[1][1]["text"] == f"autohuis-demo|{session_id}|ja"  # default dealer


def test_a_message_for_another_dealer_is_refused(server):
    received = asyncio.run(chat(server, OTHER, "abcdefgh-1234", [
        {"message": "hoi", "metadata": {"dealer": "autohuis-demo"}}]))  # fmt: skip
    assert received[0] == ("session_confirm", "abcdefgh-1234")
    assert received[1][0] == "refused"
    assert not [r for r in received if r[0] == "bot_uttered"]


def test_an_unusable_session_id_gets_a_new_one(server):
    received = asyncio.run(chat(server, GOOD, "../../etc", []))
    assert received[0][0] == "session_confirm" and received[0][1] != "../../etc"


def test_too_long_and_too_many_messages_are_refused_with_a_reason(strict_server):
    meta = {"dealer": "autohuis-demo"}
    received = asyncio.run(chat(strict_server, GOOD, None, [
        {"message": "x" * 41, "metadata": meta},  # over the cap: refused, no rate token used
        {"message": "een", "metadata": meta},
        {"message": "twee", "metadata": meta},
        {"message": "drie", "metadata": meta},  # the third within the burst of two
    ]))  # fmt: skip
    events = [(event, data) for event, data in received if event != "session_confirm"]
    refused = [data for event, data in events if event == "refused"]
    echoed = [data["text"].rsplit("|", 1)[1] for event, data in events if event == "bot_uttered"]
    assert echoed == ["een", "twee"]  # not cut short, nor answered when refused
    assert [r["code"] for r in refused] == ["message_too_long", "rate_limited"]
    assert refused[0]["max_chars"] == 40 and refused[1]["retry_after_s"] > 0
