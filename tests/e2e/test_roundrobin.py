"""The test-only round-robin proxy (tests/e2e/roundrobin.py) against small HTTP servers on
loopback, without Rasa."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.e2e.roundrobin import UPSTREAM_HEADER, ProxyServer


class Upstream:
    """An HTTP server that records each request and answers with its name (or hangs up)."""

    def __init__(self, name: str, hang_up: bool = False) -> None:
        self.name, self.hang_up, self.requests = name, hang_up, []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                upstream.requests.append((self.command, self.path, body, dict(self.headers)))
                if upstream.hang_up:  # a server that dies while handling the request
                    self.close_connection = True
                    return
                payload = gzip.compress(json.dumps({"upstream": upstream.name}).encode())
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Set-Cookie", "a=1")
                self.send_header("Set-Cookie", "b=2")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstreams():
    servers = [Upstream("a"), Upstream("b")]
    yield servers
    for server in servers:
        server.close()


@pytest.fixture
def proxy_for():
    started = []

    def start(urls: list[str]) -> ProxyServer:
        started.append(ProxyServer(urls).start())
        return started[-1]

    yield start
    for proxy in started:
        proxy.stop()


def post(url: str, body: bytes = b'{"sender": "s", "message": "hoi"}'):
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    return urllib.request.urlopen(request, timeout=10)


def refused_url() -> str:
    """A loopback port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_requests_alternate_between_the_upstreams(upstreams, proxy_for):
    a, b = upstreams
    proxy = proxy_for([a.url, b.url])
    answered = []
    for _ in range(4):
        with post(f"{proxy.url}/webhooks/rest/webhook") as response:
            answered.append(response.headers[UPSTREAM_HEADER])
    assert answered == [a.url, b.url, a.url, b.url]
    assert proxy.counts == {a.url: 2, b.url: 2}
    assert len(a.requests) == len(b.requests) == 2


def test_the_request_and_the_answer_pass_through_unchanged(upstreams, proxy_for):
    a, _b = upstreams
    proxy = proxy_for([a.url])
    body = json.dumps({"sender": "s", "message": "wat kost de golf?"}).encode()
    with post(f"{proxy.url}/webhooks/rest/webhook?x=1&y=%20", body) as response:
        raw = response.read()
        assert response.status == 201
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert json.loads(gzip.decompress(raw)) == {"upstream": "a"}  # not decompressed on the way
    method, path, got, headers = a.requests[0]
    assert (method, path, got) == ("POST", "/webhooks/rest/webhook?x=1&y=%20", body)
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Forwarded-For"] == "127.0.0.1"


def test_an_upstream_that_refuses_connections_is_skipped(upstreams, proxy_for):
    a, _b = upstreams
    dead = refused_url()
    proxy = proxy_for([dead, a.url])
    for _ in range(3):
        with post(proxy.url) as response:
            assert response.headers[UPSTREAM_HEADER] == a.url
    assert proxy.counts == {dead: 0, a.url: 3}


def test_no_upstream_listening_is_a_502(proxy_for):
    proxy = proxy_for([refused_url(), refused_url()])
    with pytest.raises(urllib.error.HTTPError) as failed:
        post(proxy.url)
    assert failed.value.code == 502


def test_a_request_that_failed_upstream_is_not_sent_again(upstreams, proxy_for):
    """The message may have been handled: a retry could book twice. So a 502, and the other
    upstream never sees it."""
    _a, b = upstreams
    hangs_up = Upstream("dies", hang_up=True)
    try:
        proxy = proxy_for([hangs_up.url, b.url])
        with pytest.raises(urllib.error.HTTPError) as failed:
            post(proxy.url)
        assert failed.value.code == 502
        assert (len(hangs_up.requests), len(b.requests)) == (1, 0)
    finally:
        hangs_up.close()
