"""Every SQL statement against Rasa's tracker store: its ``events`` table.

Rasa's SQL tracker store (``rasa.core.tracker_store.SQLTrackerStore``) keeps one row per event:
``sender_id``, ``type_name`` (``user``, ``bot``, ...), ``timestamp`` (Unix seconds) and ``data``
(the event as JSON). The dashboard reads a transcript from it, the erasure and the retention
purge delete from it; all of them through this module, so a change of Rasa's table is one edit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine, make_url

from core.store.session import make_engine

TRACKER_TABLE = "events"

_SENDERS = text(f"select distinct sender_id from {TRACKER_TABLE}")
_USERS_BETWEEN = text(
    f"select distinct sender_id from {TRACKER_TABLE} where type_name = 'user' "
    "and timestamp >= :a and timestamp <= :b"
)
_EVENTS_OF = text(f"select data from {TRACKER_TABLE} where sender_id = :s order by id")
_DELETE_SENDER = text(f"delete from {TRACKER_TABLE} where sender_id = :s")
_DELETE_IDLE = text(
    f"delete from {TRACKER_TABLE} where sender_id in (select sender_id from {TRACKER_TABLE} "
    "group by sender_id having max(timestamp) < :cutoff)"
)


def _engine(tracker_db_url: str) -> Engine | None:
    """An engine on the tracker store if it has the events table, else None (a SQLite file that
    does not exist is not created by looking)."""
    url = make_url(tracker_db_url)
    in_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if in_file and not Path(url.database).exists():
        return None
    engine = make_engine(tracker_db_url)
    if inspect(engine).has_table(TRACKER_TABLE):
        return engine
    engine.dispose()
    return None


@contextmanager
def tracker_connection(tracker_db_url: str, *, write: bool = False) -> Iterator[Connection | None]:
    """A connection to the tracker store (a transaction when ``write``), or None when it has no
    events table (yet, or any more); the engine is disposed afterwards."""
    engine = _engine(tracker_db_url)
    if engine is None:
        yield None
        return
    try:
        with engine.begin() if write else engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def all_senders(conn: Connection) -> list[str]:
    """Every sender with stored events."""
    return list(conn.execute(_SENDERS).scalars())


def senders_writing_between(conn: Connection, first: float, last: float) -> list[str]:
    """The senders with a customer message (``user`` event) between two Unix times."""
    return list(conn.execute(_USERS_BETWEEN, {"a": first, "b": last}).scalars())


def events_of(conn: Connection, sender: str) -> list[dict[str, Any]]:
    """A sender's events in the order Rasa stored them."""
    return [json.loads(data) for data in conn.execute(_EVENTS_OF, {"s": sender}).scalars()]


def delete_senders(conn: Connection, senders: Iterable[str]) -> int:
    """Delete every event of these senders; returns the rows deleted."""
    return sum(conn.execute(_DELETE_SENDER, {"s": s}).rowcount for s in sorted(set(senders)))


def delete_idle_senders(conn: Connection, cutoff: float) -> int:
    """Delete every event of the senders whose last event is before ``cutoff`` (Unix time)."""
    return conn.execute(_DELETE_IDLE, {"cutoff": cutoff}).rowcount
