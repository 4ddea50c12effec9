"""Which model each Rasa server runs, and since when, for the dashboard.

Which: Rasa's ``GET /status`` (its HTTP API, with the token; ``DEALERBOT_RASA_URLS``). Since
when: the store's record of the load (``model_loads``, written by ``dealerbot run`` and
``dealerbot reload``); a server started or reloaded otherwise shows the model without a time.
A server that does not answer is shown as such: the page never waits more than a few seconds.
The week page shows them with ``templates/_model_status.html``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp
from sqlalchemy.orm import sessionmaker

from core.store.model_loads import live_since

TIMEOUT = aiohttp.ClientTimeout(total=3)


@dataclass(frozen=True)
class ServerModel:
    server: str
    model_file: str | None  # None: the server did not answer
    model_id: str | None = None
    since: dt.datetime | None = None


async def _status(session: aiohttp.ClientSession, server: str, token: str | None) -> dict | None:
    try:
        async with session.get(f"{server}/status",
                               params={"token": token} if token else None) as response:  # fmt: skip
            return await response.json() if response.status == 200 else None
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        return None


async def server_models(
    servers: Iterable[str], token: str | None, session_factory: sessionmaker
) -> list[ServerModel]:
    """What every server runs, with the recorded time it went live."""
    servers = list(servers)
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        statuses = await asyncio.gather(*(_status(session, s, token) for s in servers))
    models = []
    for server, status in zip(servers, statuses, strict=True):
        if not status or not status.get("model_file"):
            models.append(ServerModel(server, None))
            continue
        model_file = str(status["model_file"]).rsplit("/", 1)[-1]
        model_id = str(status.get("model_id") or "")
        since = await asyncio.to_thread(live_since, session_factory, server, model_file, model_id)
        models.append(ServerModel(server, model_file, model_id, since))
    return models
