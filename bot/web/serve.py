"""A static web server for the demo dealer page and the widget files (stdlib, loopback only).

``/`` is a demo dealer site with the widget snippet; ``/static/`` serves the widget
(``widget.js``, ``widget.css``, the vendored ``socket.io.min.js``) gzip-compressed when the
browser accepts it, with an ETag, so a returning visitor gets ``304 Not Modified`` and loads
nothing again. ``/widget-token`` issues the short-lived widget token the chat server asks for when
``DEALERBOT_WEB_TOKEN_KEY`` is set (the same key as the chat server's). A dealer's real site only
needs the ``/static/`` files, wherever they are hosted, and a token from its own server if the
chat server wants one (docs/web.md).
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import os
import threading
from functools import lru_cache, partial
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


@lru_cache(maxsize=32)
def _static(path: Path, _mtime: float) -> tuple[bytes, bytes, str]:
    """The file, its gzip form (level 9, made once per change) and its ETag."""
    body = path.read_bytes()
    return body, gzip.compress(body, 9, mtime=0), '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def static_file(path: Path) -> tuple[bytes, bytes, str]:
    return _static(path, path.stat().st_mtime)


def demo_page(rasa_url: str, dealer_id: str, *, token_url: str = "") -> bytes:
    """The demo dealer page with the widget snippet for ``dealer_id``."""
    dealer = get_dealer(dealer_id)
    values = {
        "dealer_name": dealer.name,
        "dealer_id": dealer.id,
        "address": dealer.address_line,
        "rasa_url": rasa_url.rstrip("/"),
        "token_url": token_url,
    }
    page = (DEMO_DIR / "index.html").read_text(encoding="utf-8")
    for name, value in values.items():
        page = page.replace("{" + name + "}", html.escape(str(value), quote=True))
    return page.encode("utf-8")


class DemoHandler(BaseHTTPRequestHandler):
    server_version = "dealerbot-web"
    sys_version = ""

    def __init__(self, *args, rasa_url: str, dealer_id: str, token_key: str | None = None,
                 **kwargs) -> None:  # fmt: skip
        self.rasa_url = rasa_url.rstrip("/")
        self.dealer_id = dealer_id
        self.token_key = token_key
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

    def reply(self, status: int, body: bytes, content_type: str, *,
              headers: dict[str, str] | None = None) -> None:  # fmt: skip
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        headers = {"Cache-Control": "no-cache", **(headers or {})}
        for name, value in headers.items():
            self.send_header(name, value)
        self.security_headers()
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reply_static(self, file: Path, content_type: str) -> None:
        """Compressed when accepted, revalidated by ETag (``no-cache`` = ask before reuse: the
        widget's file names stay the same for the snippet on the dealers' sites)."""
        body, compressed, etag = static_file(file)
        headers = {"ETag": etag, "Vary": "Accept-Encoding"}
        if etag in (self.headers.get("If-None-Match") or ""):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            for name, value in {**headers, "Cache-Control": "no-cache"}.items():
                self.send_header(name, value)
            self.end_headers()
            return
        if "gzip" in (self.headers.get("Accept-Encoding") or ""):
            body = compressed
            headers["Content-Encoding"] = "gzip"
        self.reply(HTTPStatus.OK, body, content_type, headers=headers)

    def do_HEAD(self) -> None:  # noqa: N802 - the stdlib's name
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        path = urlsplit(self.path).path
        if path in ("/", "/index.html"):
            token_url = "/widget-token" if self.token_key else ""
            page = demo_page(self.rasa_url, self.dealer_id, token_url=token_url)
            self.reply(HTTPStatus.OK, page, TYPES[".html"])
            return
        if path == "/widget-token" and self.token_key:
            # Imported here: importing bot.channels runs the Rasa server's production check.
            from bot.channels.socketio_origins import widget_token

            token = widget_token(self.dealer_id, self.token_key)
            body = json.dumps({"token": token}).encode()
            self.reply(
                HTTPStatus.OK, body, "application/json", headers={"Cache-Control": "no-store"}
            )
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
        self.reply_static(file, content_type)


def make_server(
    rasa_url: str,
    dealer_id: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    token_key: str | None = None,
) -> ThreadingHTTPServer:
    """The demo page server (not started). ``port=0`` picks a free port. ``token_key``: the
    widget token key (default ``DEALERBOT_WEB_TOKEN_KEY``; none: no ``/widget-token``)."""
    token_key = token_key or os.environ.get("DEALERBOT_WEB_TOKEN_KEY") or None
    handler = partial(DemoHandler, rasa_url=rasa_url, dealer_id=get_dealer(dealer_id).id,
                      token_key=token_key)  # fmt: skip
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve_in_thread(rasa_url: str, dealer_id: str | None = None, *, host: str = "127.0.0.1",
                    port: int = 8080, token_key: str | None = None,
                    ) -> tuple[ThreadingHTTPServer, threading.Thread]:  # fmt: skip
    """Start the demo page server in a daemon thread; stop it with ``server.shutdown()``."""
    server = make_server(rasa_url, dealer_id, host=host, port=port, token_key=token_key)
    thread = threading.Thread(target=server.serve_forever, name="demo-web", daemon=True)
    thread.start()
    return server, thread


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"
