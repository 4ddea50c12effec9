"""The demo page server: the snippet, escaping, security headers, only the widget's files."""

import gzip
import json
import re
import urllib.error
import urllib.request

import pytest

from bot.web.serve import STATIC_DIR, WEB_DIR, serve_in_thread, url_of


@pytest.fixture
def demo():
    server, thread = serve_in_thread('http://127.0.0.1:5005/"><script>', "autohuis-demo", port=0)
    yield url_of(server)
    server.shutdown()
    thread.join(timeout=10)


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def test_the_demo_page_embeds_the_widget_with_security_headers(demo):
    status, headers, body = fetch(demo + "/")
    assert status == 200 and "Autohuis De Vries" in body
    assert 'data-dealer="autohuis-demo"' in body and 'src="/static/widget.js"' in body
    assert '<script>"' not in body and "&lt;script&gt;" in body  # the server URL is escaped
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"]


@pytest.mark.parametrize("path, status", [
    ("/static/widget.js", 200), ("/static/widget.css", 200), ("/static/socket.io.min.js", 200),
    ("/static/../serve.py", 404), ("/static/%2e%2e/serve.py", 404), ("/serve.py", 404),
    ("/static/nope.js", 404),
])  # fmt: skip
def test_only_the_widget_files_are_served(demo, path, status):
    assert fetch(demo + path)[0] == status


def test_the_vendored_socket_io_client_is_the_locked_version():
    lock = json.loads((WEB_DIR / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/socket.io-client"]["version"]
    head = (STATIC_DIR / "socket.io.min.js").read_text()[:200]
    assert re.search(r"Socket\.IO v(\S+)", head).group(1) == locked
    assert json.loads((WEB_DIR / "package.json").read_text())["dependencies"] == {
        "socket.io-client": locked}  # fmt: skip


def test_the_widget_never_writes_html():
    widget = (STATIC_DIR / "widget.js").read_text()
    assert "innerHTML" not in widget and "insertAdjacentHTML" not in widget
    assert "document.write" not in widget


def test_the_vendored_axe_core_is_the_locked_version():
    from tests.e2e.test_widget import AXE

    lock = json.loads((WEB_DIR / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/axe-core"]["version"]
    assert re.search(r"axe v(\S+)", AXE.read_text()[:300]).group(1) == locked


def test_widget_files_are_compressed_and_revalidated_by_etag(demo):
    request = urllib.request.Request(
        demo + "/static/widget.js", headers={"Accept-Encoding": "gzip"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        body = gzip.decompress(response.read())
        etag = response.headers["ETag"]
    assert body == (STATIC_DIR / "widget.js").read_bytes()
    again = urllib.request.Request(demo + "/static/widget.js", headers={"If-None-Match": etag})
    with pytest.raises(urllib.error.HTTPError) as answer:  # urllib treats 304 as an error
        urllib.request.urlopen(again, timeout=10)
    assert answer.value.code == 304 and answer.value.read() == b""


def test_the_page_issues_a_short_lived_widget_token_only_with_a_key():
    import jwt

    server, thread = serve_in_thread("http://127.0.0.1:5005", "autohuis-demo", port=0,
                                     token_key="k" * 32)  # fmt: skip
    try:
        status, headers, body = fetch(url_of(server) + "/widget-token")
        claims = jwt.decode(json.loads(body)["token"], "k" * 32, algorithms=["HS256"])
        assert status == 200 and headers["Cache-Control"] == "no-store"
        assert claims["dealer"] == "autohuis-demo" and claims["exp"] - claims["iat"] <= 300
        assert 'data-token-url="/widget-token"' in fetch(url_of(server) + "/")[2]
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_without_a_key_there_is_no_token(demo):
    assert fetch(demo + "/widget-token")[0] == 404
