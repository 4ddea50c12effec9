"""A tiny round-robin HTTP proxy in front of several Rasa servers: a TEST HELPER, never part of
the product (production runs nginx with deploy/nginx/dealerbot.conf, docs/deployment.md).

The scale-out test needs each request of one conversation to go to the next replica in turn
(proof that the replicas share the tracker store and the lock store) and to see which replica
answered (``X-Dealerbot-Upstream``), over the REST channel, which nginx does not publish. An
upstream that refuses the connection is skipped (nothing was sent, so trying the next one is
safe); any other failure is a 502, never a retry, because a message must not be handled twice.
Plain HTTP only: no WebSocket upgrade.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
from collections.abc import Sequence

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

# Which upstream answered: for tests and for debugging a deployment.
UPSTREAM_HEADER = "X-Dealerbot-Upstream"
# Per connection, not end to end (RFC 9110 7.6.1); the length is set again for the new body.
HOP_BY_HOP = frozenset(
    ("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "trailers", "transfer-encoding", "upgrade", "host", "content-length")
)  # fmt: skip


def _forwardable(headers) -> CIMultiDict:
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in HOP_BY_HOP)


class RoundRobinProxy:
    """The proxy's request handler and its per-upstream counters (an aiohttp application)."""

    def __init__(self, upstreams: Sequence[str], *, timeout_s: float = 120) -> None:
        if not upstreams:
            raise ValueError("give at least one upstream URL")
        self.upstreams = [u.rstrip("/") for u in upstreams]
        self.counts = dict.fromkeys(self.upstreams, 0)  # requests answered, per upstream
        self._turn = itertools.count()
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._http: aiohttp.ClientSession | None = None

    def order(self) -> list[str]:
        """The upstreams to try for the next request: the next in turn first, then the rest."""
        first = next(self._turn) % len(self.upstreams)
        return self.upstreams[first:] + self.upstreams[:first]

    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024**2)
        app.router.add_route("*", "/{path:.*}", self.handle)
        app.on_startup.append(self._open)
        app.on_cleanup.append(self._close)
        return app

    async def _open(self, _app: web.Application) -> None:
        # A new upstream connection per request, as nginx does by default: a kept-alive
        # connection that the upstream closes while idle would fail a POST we must not repeat.
        # Bodies pass through as they are (no decompression), so the headers stay true.
        self._http = aiohttp.ClientSession(
            timeout=self._timeout,
            connector=aiohttp.TCPConnector(force_close=True, limit=0),
            auto_decompress=False,
        )

    async def _close(self, _app: web.Application) -> None:
        if self._http:
            await self._http.close()

    async def handle(self, request: web.Request) -> web.Response:
        assert self._http is not None, "the application has not started"
        body = await request.read()
        headers = _forwardable(request.headers)
        headers["X-Forwarded-For"] = request.remote or ""
        headers["X-Forwarded-Host"] = request.host
        for upstream in self.order():
            try:
                async with self._http.request(
                    request.method, upstream + request.raw_path, headers=headers,
                    data=body, allow_redirects=False,
                ) as response:  # fmt: skip
                    payload = await response.read()
            except aiohttp.ClientConnectorError:
                continue  # not listening: nothing was sent, the next one may take it
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                return web.Response(status=502, text=f"upstream {upstream} failed: {exc!r}")
            self.counts[upstream] += 1
            out = _forwardable(response.headers)
            out[UPSTREAM_HEADER] = upstream
            return web.Response(status=response.status, body=payload, headers=out)
        return web.Response(status=502, text="no upstream accepted the connection")


class ProxyServer:
    """A RoundRobinProxy listening on ``host:port`` in a thread of its own (port 0: any free
    port), for the tests."""

    def __init__(self, upstreams: Sequence[str], host: str = "127.0.0.1", port: int = 0) -> None:
        self.proxy = RoundRobinProxy(upstreams)
        self.host = host
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(128)
        self.port: int = self._sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(self.proxy.app())
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.proxy.counts)

    def start(self) -> ProxyServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=30)
        return self

    async def _serve(self) -> None:
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()
        self._sock.close()
