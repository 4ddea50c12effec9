"""`dealerbot chat`: a refused message is explained and the chat goes on."""

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from cli import main as cli


class _Bot(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if len(body["message"]) > 5:
            status, reply = 413, {"error": "message_too_long", "detail": "at most 5 characters"}
        else:
            status, reply = 200, [{"text": f"echo {body['message']}"}]
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args):
        pass


def type_lines(monkeypatch, lines: list[str]) -> None:
    """The customer types ``lines``, then Ctrl-D."""
    typed = iter(lines)

    def fake_input(_prompt):
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("builtins.input", fake_input)


def test_a_refused_message_is_explained_and_the_chat_goes_on(monkeypatch, capsys):
    server = HTTPServer(("127.0.0.1", 0), _Bot)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    type_lines(monkeypatch, ["far too long", "hoi"])
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        assert cli.cmd_chat(argparse.Namespace(url=url, sender="t-1")) == 0
    finally:
        server.shutdown()
    out = capsys.readouterr().out
    assert "(not sent: at most 5 characters)" in out
    assert "bot> echo hoi" in out


def test_an_unreachable_bot_is_reported(monkeypatch, capsys):
    type_lines(monkeypatch, ["hoi"])
    assert cli.cmd_chat(argparse.Namespace(url="http://127.0.0.1:9", sender="t-2")) == 0
    assert "did not answer" in capsys.readouterr().out
