"""Spread customer messages over the Rasa server's Sanic workers.

With ``SANIC_WORKERS`` above 1 the workers share one listening socket, and a connection stays
with the worker that accepted it. A client that keeps its connections open (a proxy, Meta's
webhook senders, the benchmark) then sends all its messages to the workers that happened to
accept its first connections: in the benchmark one worker served all ten customers while the
other was idle (docs/benchmarks.md). Sanic 21.12 has no setting to turn keep-alive off, so the
webhooks answer with ``Connection: close`` when there is more than one worker: each message comes
on a new connection, and a worker takes it only when it is free to accept. A new loopback
connection costs far less than a message (well under a millisecond against about 30 ms).
"""

from __future__ import annotations

import os

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.runtime import sanic_workers


def spread_over_workers(blueprint: Blueprint, workers: int | None = None) -> Blueprint:
    """``blueprint``, closing each connection after its response when the server runs more than
    one Sanic worker (``workers``; default: ``SANIC_WORKERS`` of this process)."""
    if (sanic_workers(os.environ) if workers is None else workers) > 1:

        @blueprint.middleware("response")
        async def one_message_per_connection(request: Request, response: HTTPResponse) -> None:
            if request.stream is not None:  # Sanic's HTTP/1.1 state of the connection
                request.stream.keep_alive = False

    return blueprint
