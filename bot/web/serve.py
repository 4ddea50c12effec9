"""A static web server for the demo dealer page and the widget files (stdlib, loopback only).

``/`` is a demo dealer site with the widget snippet; ``/static/`` serves the widget
(``widget.js``, ``widget.css``, the vendored ``socket.io.min.js``). A dealer's real site
only needs the ``/static/`` files, wherever they are hosted (docs/web.md).
"""

from __future__ import annotations

import html
import threading
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from dealer.config import get_dealer

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
DEMO_DIR = WEB_DIR / "demo"
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}


def websocket_origin(http_origin: str) -> str:
    """``http://host:port`` -> ``ws://host:port`` (https -> wss), for the CSP connect-src."""
    return "ws" + http_origin[len("http") :] if http_origin.startswith("http") else http_origin


def demo_page(rasa_url: str, dealer_id: str) -> bytes:
    """The demo dealer page with the widget snippet for ``dealer_id``."""
    dealer = get_dealer(dealer_id)
    values = {
        "dealer_name": dealer.name,
        "dealer_id": dealer.id,
        "address": dealer.address_line,
        "rasa_url": rasa_url.rstrip("/"),
    }
    page = (DEMO_DIR / "index.html").read_text(encoding="utf-8")
    for name, value in values.items():
        page = page.replace("{" + name + "}", html.escape(str(value), quote=True))
    return page.encode("utf-8")


class DemoHandler(BaseHTTPRequestHandler):
    server_version = "dealerbot-web"
    sys_version = ""

    def __init__(self, *args, rasa_url: str, dealer_id: str, **kwargs) -> None:
        self.rasa_url = rasa_url.rstrip("/")
        self.dealer_id = dealer_id
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's name
        pass  # quiet: the run command prints where to go

    def security_headers(self) -> None:
        rasa = self.rasa_url
        self.send_header(
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
            f"connect-src 'self' {rasa} {websocket_origin(rasa)}; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'",
        )
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "strict-origin-when-cross-origin")

    def reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.security_headers()
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802 - the stdlib's name
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        path = urlsplit(self.path).path
        if path in ("/", "/index.html"):
            self.reply(HTTPStatus.OK, demo_page(self.rasa_url, self.dealer_id), TYPES[".html"])
            return
        if path == "/demo.css":
            file = DEMO_DIR / "demo.css"
        elif path.startswith("/static/"):
            file = STATIC_DIR / path[len("/static/") :]
        else:
            file = None
        # Only plain files directly in the folder: no "..", no sub-folders, no node_modules.
        if file is None or file.parent not in (STATIC_DIR, DEMO_DIR) or not file.is_file():
            self.reply(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")
            return
        content_type = TYPES.get(file.suffix)
        if content_type is None:
            self.reply(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")
            return
        self.reply(HTTPStatus.OK, file.read_bytes(), content_type)


def make_server(
    rasa_url: str, dealer_id: str | None = None, *, host: str = "127.0.0.1", port: int = 8080
) -> ThreadingHTTPServer:
    """The demo page server (not started). ``port=0`` picks a free port."""
    handler = partial(DemoHandler, rasa_url=rasa_url, dealer_id=get_dealer(dealer_id).id)
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve_in_thread(rasa_url: str, dealer_id: str | None = None, *, host: str = "127.0.0.1",
                    port: int = 8080) -> tuple[ThreadingHTTPServer, threading.Thread]:  # fmt: skip
    """Start the demo page server in a daemon thread; stop it with ``server.shutdown()``."""
    server = make_server(rasa_url, dealer_id, host=host, port=port)
    thread = threading.Thread(target=server.serve_forever, name="demo-web", daemon=True)
    thread.start()
    return server, thread


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"
