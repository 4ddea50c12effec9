"""bot.model_api against a stand-in for Rasa's model API (``GET /status``, ``PUT /model``, with
the token): the gate comes first, each server in turn, and a refusal leaves every server alone.
The real servers are in tests/e2e/test_reload.py."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.model_api import GateRefused, ModelAPIError, live_model, reload

TOKEN = "unit-token-0123456789"


class FakeRasa:
    """Answers like Rasa 3.6 with ``--enable-api --auth-token``: 401 without the token, 400 for
    a file that does not load (here: one whose name says so)."""

    def __init__(self, model_file: str = "dealerbot-old.tar.gz") -> None:
        self.model_file = model_file
        self.requests: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _authorised(self) -> bool:
                query = parse_qs(urlsplit(self.path).query)
                if query.get("token") != [TOKEN]:
                    self._answer(401, {"message": "User is not authenticated."})
                    return False
                return True

            def _answer(self, status: int, body: dict | None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                fake.requests.append(("GET", urlsplit(self.path).path))
                if self._authorised():
                    self._answer(200, {"model_file": f"/models/{fake.model_file}",
                                       "model_id": "id-" + fake.model_file})  # fmt: skip

            def do_PUT(self) -> None:  # noqa: N802
                fake.requests.append(("PUT", urlsplit(self.path).path))
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if not self._authorised():
                    return
                name = Path(body["model_file"]).name
                if "broken" in name:
                    self._answer(400, {"message": f"Agent with name '{name}' could not be loaded."})
                    return
                fake.model_file = name
                self._answer(204, None)

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def puts(self) -> int:
        return sum(method == "PUT" for method, _path in self.requests)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rasas():
    servers = [FakeRasa(), FakeRasa()]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def new_model(tmp_path) -> Path:
    path = tmp_path / "dealerbot-new.tar.gz"
    path.write_bytes(b"model")
    return path


def test_a_passing_model_goes_live_in_every_server_in_turn(rasas, new_model):
    checked, seen = [], []
    loaded = reload(new_model, [r.url for r in rasas], TOKEN,
                    gate=lambda m: checked.append(m) or [], on_loaded=seen.append)  # fmt: skip
    assert checked == [new_model]
    assert [live.model_file for live in loaded] == ["dealerbot-new.tar.gz"] * 2
    assert [live.server for live in seen] == [r.url for r in rasas]
    assert [r.model_file for r in rasas] == ["dealerbot-new.tar.gz"] * 2
    assert live_model(rasas[0].url, TOKEN).model_id == "id-dealerbot-new.tar.gz"


def test_a_model_that_fails_the_gate_is_refused_and_no_server_is_asked(rasas, new_model):
    failures = ["nl: held-out intent accuracy 0.850 (n=226) is below the floor 0.90"]
    with pytest.raises(GateRefused) as refused:
        reload(new_model, [r.url for r in rasas], TOKEN, gate=lambda _m: failures)
    assert refused.value.failures == failures
    assert [r.puts() for r in rasas] == [0, 0]
    assert [r.model_file for r in rasas] == ["dealerbot-old.tar.gz"] * 2


def test_a_wrong_token_stops_before_the_gate(rasas, new_model):
    gated = []
    with pytest.raises(ModelAPIError, match="HTTP 401"):
        reload(new_model, [r.url for r in rasas], "wrong", gate=lambda m: gated.append(m) or [])
    assert gated == [] and [r.puts() for r in rasas] == [0, 0]


def test_a_server_that_cannot_load_the_file_stops_the_reload(rasas, tmp_path):
    broken = tmp_path / "dealerbot-broken.tar.gz"
    broken.write_bytes(b"not a model")
    with pytest.raises(ModelAPIError, match="HTTP 400 Agent with name"):
        reload(broken, [r.url for r in rasas], TOKEN, gate=lambda _m: [])
    assert rasas[0].model_file == "dealerbot-old.tar.gz"
    assert rasas[1].puts() == 0  # the next server is not asked


def test_a_missing_model_file_is_an_error_before_any_call(rasas, tmp_path):
    with pytest.raises(FileNotFoundError, match="dealerbot train"):
        reload(tmp_path / "none.tar.gz", [r.url for r in rasas], TOKEN, gate=lambda _m: [])
    assert rasas[0].requests == []
