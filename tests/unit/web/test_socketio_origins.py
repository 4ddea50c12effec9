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


async def chat(
    url: str, origin: str, token: str | None, messages: list[dict], *, auth: dict | None = None
) -> list:
    """Connect (polling: the client's websocket needs a newer aiohttp), ask for the session
    (resuming with ``token``), send the messages with acknowledgements, and return what came
    back: events, and ``("ack", answer)`` for each message."""
    received: list = []
    client = socketio.AsyncClient(reconnection=False)
    for event in ("bot_uttered", "session_confirm", "refused"):
        client.on(event, lambda data, event=event: received.append((event, data)))
    await client.connect(url, headers={"Origin": origin}, transports=["polling"], auth=auth)
    try:
        await client.emit("session_request", {"session_token": token})
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.05)
        confirmed = received[0][1]
        session_id = confirmed["token"].split(".")[0] if "token" in confirmed else None
        for message in messages:
            answer = await client.call("user_uttered", {"session_id": session_id, **message},
                                       timeout=10)  # fmt: skip
            received.append(("ack", answer))
    finally:  # abort: do not wait for the pending long-poll (up to the 25 s ping interval)
        await client.eio.disconnect(abort=True)
    return received


def replies(received: list) -> list[str]:
    return [data["text"].rsplit("|", 1)[1] for event, data in received if event == "bot_uttered"]


def test_a_message_reaches_the_bot_with_its_dealer_and_session(server):
    first = asyncio.run(chat(server, GOOD, None, [
        {"message": "hoi", "metadata": {"dealer": "autohuis-demo"}}]))  # fmt: skip
    (_, confirmed), (event, reply), (_, ack) = first
    token = confirmed["token"]
    session_id = token.split(".")[0]
    assert event == "bot_uttered" and len(session_id) == 32 and ack["ok"]
    assert reply["text"] == f"autohuis-demo|{session_id}|hoi"
    assert reply["quick_replies"][0]["payload"] == "/affirm"
    # After a reload the widget sends its stored token: the same conversation goes on.
    again = asyncio.run(chat(server, GOOD, token, [{"message": "ja", "metadata": {}}]))
    assert again[0] == ("session_confirm", {"token": token})
    assert again[1][1]["text"] == f"autohuis-demo|{session_id}|ja"  # default dealer


def test_a_message_for_another_dealer_is_refused(server):
    received = asyncio.run(chat(server, OTHER, None, [
        {"message": "hoi", "metadata": {"dealer": "autohuis-demo"}}]))  # fmt: skip
    assert received[0][0] == "session_confirm"
    assert received[1][0] == "refused" and received[2] == ("ack", {**received[1][1], "ok": False})
    assert not [r for r in received if r[0] == "bot_uttered"]


@pytest.mark.parametrize("chosen", ["test-visitor-1", "../../etc", "a" * 32, None, 5])
def test_the_server_issues_the_session_a_client_cannot_choose_one(server, chosen):
    """A ``test-`` id would drop the visitor out of the metrics; a guessed or stolen id would
    continue someone else's conversation. Only a token signed by the server resumes one."""
    forged = f"{chosen}.{'0' * 32}" if isinstance(chosen, str) else chosen
    received = asyncio.run(chat(server, GOOD, forged, [
        {"message": "als", "session_id": chosen, "metadata": {}},  # as the client wants
        {"message": "hoi", "metadata": {}},  # as the server said
    ]))  # fmt: skip
    token = received[0][1]["token"]
    session_id = token.split(".")[0]
    assert session_id != chosen and not session_id.startswith("test-") and len(session_id) == 32
    acks = [data for event, data in received if event == "ack"]
    assert acks[0]["code"] == "no_session" and acks[1]["ok"]
    assert [r[1]["text"] for r in received if r[0] == "bot_uttered"] == [
        f"autohuis-demo|{session_id}|hoi"]  # fmt: skip


def test_a_resent_message_is_handled_once(server):
    """After a reconnect the widget re-sends its outbox: the same id is acknowledged, not
    handled again; a new id is."""
    meta = {"dealer": "autohuis-demo"}
    first = asyncio.run(chat(server, GOOD, None, [
        {"message": "een", "message_id": "m-00000001", "metadata": meta}]))  # fmt: skip
    token = first[0][1]["token"]
    again = asyncio.run(chat(server, GOOD, token, [
        {"message": "een", "message_id": "m-00000001", "metadata": meta},
        {"message": "twee", "message_id": "m-00000002", "metadata": meta},
        {"message": "twee", "message_id": "m-00000002", "metadata": meta},
    ]))  # fmt: skip
    assert replies(first) == ["een"] and replies(again) == ["twee"]
    acks = [data for event, data in again if event == "ack"]
    assert [a.get("duplicate", False) for a in acks] == [True, False, True]
    # A reply lost with the connection comes back with the duplicate's acknowledgement, marked
    # so the widget shows only the ones it missed.
    reply = next(data for event, data in first if event == "bot_uttered")
    assert (reply["reply_to"], reply["seq"]) == ("m-00000001", 0)
    assert acks[0]["replies"] == [reply]


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
    assert replies(received) == ["een", "twee"]  # not cut short, nor answered when refused
    assert [r["code"] for r in refused] == ["message_too_long", "rate_limited"]
    assert refused[0]["max_chars"] == 40 and refused[1]["retry_after_s"] > 0


@pytest.fixture(scope="module")
def capped_server():
    """Two open connections and three new sessions an hour per address; widget tokens."""
    yield from start_app({"DEALERBOT_WEB_MAX_CONNECTIONS_PER_IP": "2",
                          "DEALERBOT_WEB_MAX_SESSIONS_PER_IP_HOUR": "3",
                          "DEALERBOT_WEB_TOKEN_KEY": KEY})  # fmt: skip


KEY = "a-test-key-for-widget-tokens-0123456789"


def test_a_forged_origin_without_a_widget_token_opens_no_session(capped_server):
    """A script can forge ``Origin``; it cannot sign a token for the dealer."""
    from bot.channels.socketio_origins import widget_token

    for auth in (
        None,
        {"token": "nonsense"},
        {"token": widget_token("autohuis-demo", "wrong-key-" + KEY)},
        {"token": widget_token("autohuis-demo", KEY, ttl_s=-10)},  # expired
        {"token": widget_token("other-dealer", KEY)},
    ):  # not this origin's dealer
        with pytest.raises(socketio.exceptions.ConnectionError):
            asyncio.run(chat(capped_server, GOOD, None, [], auth=auth))
    good = {"token": widget_token("autohuis-demo", KEY)}
    received = asyncio.run(chat(capped_server, GOOD, None, [
        {"message": "hoi", "metadata": {"dealer": "autohuis-demo"}}], auth=good))  # fmt: skip
    assert replies(received) == ["hoi"]


def test_connections_and_new_sessions_are_capped_per_address(capped_server):
    from bot.channels.socketio_origins import widget_token

    async def open_many() -> tuple[int, list]:
        clients, opened = [], 0
        for _ in range(3):
            client = socketio.AsyncClient(reconnection=False)
            try:
                await client.connect(
                    capped_server,
                    headers={"Origin": GOOD},
                    transports=["polling"],
                    auth={"token": widget_token("autohuis-demo", KEY)},
                )
                opened += 1
                clients.append(client)
            except socketio.exceptions.ConnectionError:
                pass
        for client in clients:
            await client.eio.disconnect(abort=True)
        return opened

    assert asyncio.run(open_many()) == 2
    auth = {"token": widget_token("autohuis-demo", KEY)}
    sessions = []
    for _ in range(4):  # one session was opened by the test before; 3 an hour
        received = asyncio.run(chat(capped_server, GOOD, None, [], auth=auth))
        sessions.append(received[0])
    assert [event for event, _ in sessions].count("session_confirm") <= 3
    refused = [data for event, data in sessions if event == "refused"]
    assert refused and refused[-1]["code"] == "too_many_sessions"
    # A returning visitor with a token of their own still gets their session back.
    token = next(data["token"] for event, data in sessions if event == "session_confirm")
    back = asyncio.run(chat(capped_server, GOOD, token, [], auth=auth))
    assert back[0] == ("session_confirm", {"token": token})


def test_the_ack_language_is_read_from_the_agent_of_the_app_the_channel_runs_in():
    """Rasa puts its agent on the app (``app.ctx.agent``); the channel finds it through the
    blueprint Rasa registered there, so the widget's acknowledgement carries the language."""
    from types import SimpleNamespace

    from sanic import Sanic

    from bot.channels.socketio_origins import WebSocketIOInput

    class Store:
        async def retrieve(self, sender_id):
            return SimpleNamespace(get_slot={"language": "en"}.get) if sender_id == "s1" else None

    async def handle(_message):
        pass

    channel = WebSocketIOInput.from_credentials({"session_persistence": True})
    blueprint = channel.blueprint(handle)
    assert asyncio.run(channel.language_of("s1")) is None  # not registered on an app yet
    app = Sanic("socketio_language_test")
    app.blueprint(blueprint, url_prefix="/webhooks/socketio")
    assert asyncio.run(channel.language_of("s1")) is None  # no agent loaded
    app.ctx.agent = SimpleNamespace(tracker_store=Store())
    assert asyncio.run(channel.language_of("s1")) == "en"
    assert asyncio.run(channel.language_of("s2")) is None  # no such conversation
    assert sorted(channel.sio.handlers["/"]) == [
        "connect", "disconnect", "session_request", "user_uttered"]  # fmt: skip
    assert channel.sio.handlers["/"]["connect"] == channel.on_connect  # Rasa's was replaced


def test_seen_messages_are_bounded_and_keep_the_replies_of_the_last_few():
    from bot.channels.socketio_origins import SeenMessages

    seen = SeenMessages(per_session=4, sessions=2, replies_kept=2)
    for n in range(5):
        seen.first_time("s1", f"m{n}").append({"text": str(n)})
    assert seen.first_time("s1", "m0") == []  # the oldest id was dropped: handled again
    assert seen.first_time("s1", "m4") is None  # still known
    assert seen.replies("s1", "m4") == [{"text": "4"}] and seen.replies("s1", "m2") == []
    seen.first_time("s2", "x")
    seen.first_time("s3", "x")  # a third session pushes out the least recent
    assert "s1" not in seen.ids and seen.first_time("s3", "x") is None


def test_new_sessions_per_address_are_counted_over_the_last_hour():
    from bot.channels.socketio_origins import IpCounter

    counter = IpCounter()
    assert [counter.new_session("1.2.3.4", 2, now=t) for t in (0, 10, 20)] == [True, True, False]
    assert counter.new_session("5.6.7.8", 2, now=20)  # another address has its own count
    assert counter.new_session("1.2.3.4", 2, now=3601)  # the first one is an hour old
    assert counter.connect("1.2.3.4", 1) and not counter.connect("1.2.3.4", 1)
    counter.disconnect("1.2.3.4")
    assert counter.connect("1.2.3.4", 1)
