"""bot/channels/workers.py: with more than one Sanic worker each webhook connection carries one
message, so a free worker can take the next one; with one worker connections are kept."""

from __future__ import annotations

import asyncio
import itertools

import aiohttp
from sanic import Blueprint, Sanic, response

from bot.channels.workers import spread_over_workers
from bot.runtime import free_port

_apps = itertools.count()


async def peers_and_headers(workers_per_hook: list[int]) -> dict[int, tuple[set[int], list[str]]]:
    """Per worker count: three messages over one client session to a webhook built for it, the
    client ports the server saw and the Connection header of each answer. One app serves all
    (Sanic 21.12 cannot start a second app in one process)."""
    app = Sanic(f"workers_test_{next(_apps)}")
    seen: dict[int, list[int]] = {}
    for workers in workers_per_hook:
        hook = Blueprint(f"hook{workers}", url_prefix=f"/webhooks/w{workers}")

        @hook.route("/webhook", methods=["POST"])
        async def receive(request, workers=workers):
            seen.setdefault(workers, []).append(request.conn_info.client_port)
            return response.json([{"text": "ok"}])

        app.blueprint(spread_over_workers(hook, workers=workers))
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    await server.start_serving()
    headers: dict[int, list[str]] = {}
    try:
        for workers in workers_per_hook:
            async with aiohttp.ClientSession() as http:
                for n in range(3):
                    url = f"http://127.0.0.1:{port}/webhooks/w{workers}/webhook"
                    async with http.post(url, json={"sender": "a", "message": str(n)}) as r:
                        assert r.status == 200 and await r.json() == [{"text": "ok"}]
                        headers.setdefault(workers, []).append(r.headers["Connection"].lower())
    finally:
        await server.close()
    return {w: (set(seen[w]), headers[w]) for w in workers_per_hook}


def test_one_message_per_connection_with_more_workers_only():
    found = asyncio.run(peers_and_headers([1, 2, 4]))
    for workers in (2, 4):
        peers, headers = found[workers]
        assert headers == ["close"] * 3
        assert len(peers) == 3  # a new connection for each message
    peers, headers = found[1]
    assert headers == ["keep-alive"] * 3
    assert len(peers) == 1


def test_workers_default_to_sanic_workers(monkeypatch):
    monkeypatch.setenv("SANIC_WORKERS", "2")
    hook = spread_over_workers(Blueprint(f"hook{next(_apps)}"))
    assert hook._future_middleware  # the response middleware is registered
    monkeypatch.setenv("SANIC_WORKERS", "1")
    assert not spread_over_workers(Blueprint(f"hook{next(_apps)}"))._future_middleware
