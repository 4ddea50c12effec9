"""The cached check of action server replies accepts and rejects exactly what Rasa's does."""

import asyncio
import inspect
import json
import math

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from bot.rasa_patches import MARK
from bot.rasa_speedups import install

GOOD = {
    "events": [{"event": "slot", "timestamp": None, "name": "language", "value": "nl"},
               {"event": "active_loop", "name": None, "timestamp": None}],
    "responses": [{"response": "utter_greet", "buttons": [], "custom": {}}],
}  # fmt: skip
BAD = [
    {"events": [{"event": "slot", "name": 3}]},  # a slot name must be a string
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"responses": [1]},
]


@pytest.fixture(autouse=True)
def installed():
    install()  # as the Rasa server's launcher does (bot.rasa_server)


def rasa_original(result: dict) -> None:
    jsonschema.validate(result, RemoteAction.action_response_format_spec())


def test_installed_once_in_the_rasa_process():
    assert getattr(RemoteAction._validate_action_result, MARK)
    patched = RemoteAction._validate_action_result
    install()
    assert RemoteAction._validate_action_result is patched


def test_valid_replies_pass():
    action = RemoteAction("action_x", None)
    rasa_original(GOOD)
    assert action._validate_action_result(GOOD) is True
    assert action._validate_action_result({}) is True


@pytest.mark.parametrize("result", BAD)
def test_invalid_replies_fail_with_rasas_error(result):
    with pytest.raises(jsonschema.ValidationError) as original:
        rasa_original(result)
    with pytest.raises(jsonschema.ValidationError) as cached:
        RemoteAction("action_x", None)._validate_action_result(result)
    assert cached.value.message.startswith(original.value.message)
    assert "Failed to validate Action server response" in cached.value.message


TRACKER = {
    "sender_id": "web/ab12",
    "slots": {"language": "nl", "car": None, "mileage": 85000, "price": 23950.5},
    "latest_message": {"text": "Wat kost de ID.3? €/maand", "intent": {"confidence": 0.9731}},
    "events": [{"event": "user", "timestamp": 1795425600.123456, "text": "héllo \"quoted\" \\ \n",
                "parse_data": {"entities": [{"start": 0, "end": 5, "value": "ID.3"}]}},
               {"event": "bot", "timestamp": 1795425600.5, "text": "Prijzen: 1/2", "data": {}}],
    "paused": False,
}  # fmt: skip


def test_fast_dumps_gives_the_same_json():
    from bot.rasa_speedups import fast_dumps

    assert json.loads(fast_dumps(TRACKER)) == json.loads(json.dumps(TRACKER)) == TRACKER
    assert "€" in fast_dumps(TRACKER) and "1/2" in fast_dumps(TRACKER)


def test_fast_dumps_encodes_the_odd_values_as_json_dumps_does():
    from bot.rasa_speedups import fast_dumps

    assert math.isnan(json.loads(fast_dumps({"x": float("nan")}))["x"])
    assert json.loads(fast_dumps({1: 2**70})) == json.loads(json.dumps({1: 2**70}))
    with pytest.raises(TypeError):
        fast_dumps({"x": object()})  # as json.dumps does


def test_rasa_sessions_encode_with_fast_dumps():
    from rasa.utils.endpoints import EndpointConfig

    from bot.rasa_speedups import fast_dumps

    async def build():
        session = EndpointConfig("http://127.0.0.1:1", headers={"X": "1"}).session()
        async with session:
            return session._json_serialize, dict(session.headers)

    serialize, headers = asyncio.run(build())
    assert serialize is fast_dumps and headers == {"X": "1"}


def test_action_calls_share_connections_and_survive_a_server_restart():
    from aiohttp import web
    from rasa.utils.endpoints import EndpointConfig

    from bot.runtime import free_port

    port, peers = free_port(), []

    async def webhook(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername")[1])
        return web.json_response({"events": [], "got": await request.json()})

    async def serve() -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/webhook", webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner

    async def calls() -> list[dict]:
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
        runner = await serve()
        replies = [await endpoint.request(json={"n": n}) for n in range(3)]
        await runner.cleanup()  # the action server restarts: its connections close
        runner = await serve()
        replies.append(await endpoint.request(json={"n": 3}))
        await runner.cleanup()
        return replies

    replies = asyncio.run(calls())
    assert [r["got"] for r in replies] == [{"n": n} for n in range(4)]
    assert len(set(peers[:3])) == 1  # one connection for the three calls
    assert peers[3] != peers[0]  # a new one after the restart, without a failed call


def test_the_rasa_server_freezes_its_heap_once_started(monkeypatch):
    import gc

    import rasa.core.run

    from bot.rasa_speedups import freeze_heap

    class App:  # what serve_application does with the app configure_app returns
        def __init__(self) -> None:
            self.listeners = []

        def register_listener(self, listener, event) -> None:
            self.listeners.append((listener, event))

    def configure_app(*_args, **_kwargs) -> App:
        return App()

    configure_app.__signature__ = inspect.signature(rasa.core.run.configure_app)  # Rasa's
    monkeypatch.setattr(rasa.core.run, "configure_app", configure_app)
    install()
    assert rasa.core.run.configure_app([], None).listeners == [(freeze_heap, "after_server_start")]
    try:
        asyncio.run(freeze_heap())
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
