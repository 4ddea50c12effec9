"""Rasa's SQL tracker store, without the load and replay of the session on every message.

Rasa 3.6's ``SQLTrackerStore`` reads every event of the current session from the database on
each message, decodes them and replays them into a new tracker; on save it counts the session's
stored events again to find the new ones. In the profile of a loaded Rasa server that was a
quarter of its CPU (docs/profile.md).

:class:`CachedSQLTrackerStore` keeps the trackers it loaded, and saved since, in a small LRU
cache. The next message of the conversation gets the cached tracker after one cheap check that
the database still holds exactly what the cache saw: the conversation's event count and latest
timestamp (another Rasa process or worker that served the conversation meanwhile, or a privacy
erasure, changes them). A save of a cached tracker inserts its new events without counting.

What stays as in Rasa: the tables, the rows, the session rule (a load returns the latest
session) and every path that is not a cached conversation. A tracker is cached only as it was
loaded from the database, so a cached tracker is always one a fresh load would give:
- a save of a tracker the cache did not hand out, or of one whose session restarted in memory
  (its events hold two sessions), drops the entry; the next message loads from the database;
- a tracker is handed out to one caller at a time, and only unchanged since its last save.

The conversation's lock (Rasa holds it around load and save) keeps two processes from writing
the same conversation at once; Rasa relies on it in the same way. With an event broker Rasa's
save reads the old tracker back to find the new events, so there the cache is off.

endpoints.yml (``bot.runtime.write_endpoints`` writes it), with the keys of ``type: SQL``:

    tracker_store:
      type: bot.tracker_store.CachedSQLTrackerStore
      dialect: postgresql
      url: 127.0.0.1
      db: test
      cache_size: 1000
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

logger = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 1000


@dataclass
class _Entry:
    tracker: DialogueStateTracker
    saved_events: int  # len(tracker.events) when it matched the database
    stored: int  # the conversation's rows in `events`, all sessions
    timestamp: float | None  # their latest timestamp
    lent: bool = False


class CachedSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` with an LRU cache of the latest trackers (see the module docstring)."""

    def __init__(self, *args: Any, cache_size: int | str = DEFAULT_CACHE_SIZE, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # Rasa builds the engine without hide_parameters: a failed write would log the events
        # (message texts, names, phone numbers) as the statement's parameters.
        self.engine.hide_parameters = True
        self.cache_size = int(cache_size)
        if self.cache_size < 0:
            raise ValueError(f"cache_size must be 0 or more, not {cache_size}")
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        table = self.SQLEvent.__table__
        self._stamp = sa.select(sa.func.count(), sa.func.max(table.c.timestamp)).where(
            table.c.sender_id == sa.bindparam("sender_id")
        )
        self._insert = table.insert()

    @property
    def _caching(self) -> bool:
        return self.cache_size > 0 and self.event_broker is None

    def _read_stamp(self, session: Any, sender_id: str) -> tuple[int, float | None]:
        count, latest = session.execute(self._stamp, {"sender_id": sender_id}).one()
        return count, latest

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The latest session's tracker: the cached one if the database has not changed since."""
        if not self._caching:
            return await super().retrieve(sender_id)
        entry = self._cache.get(sender_id)
        with self.session_scope() as session:
            stamp = self._read_stamp(session, sender_id)  # before the events: never newer
            if (
                entry is not None
                and not entry.lent
                and len(entry.tracker.events) == entry.saved_events
                and (entry.stored, entry.timestamp) == stamp
            ):
                entry.lent = True
                self._cache.move_to_end(sender_id)
                return entry.tracker
            self._cache.pop(sender_id, None)
            rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
            events = [json.loads(row.data) for row in rows]
        if not events or not self.domain:
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        self._remember(sender_id, _Entry(tracker, len(tracker.events), *stamp, lent=True))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Insert the events the database does not have yet (Rasa's rows)."""
        sender_id = tracker.sender_id
        entry = self._cache.pop(sender_id, None)
        if entry is None or entry.tracker is not tracker or not entry.lent:
            await super().save(tracker)  # counts the stored events itself
            return
        new = list(itertools.islice(tracker.events, entry.saved_events, None))
        if new:
            with self.session_scope() as session:
                session.execute(self._insert, [_row(sender_id, event) for event in new])
                session.commit()
        if any(isinstance(event, SessionStarted) for event in new):
            return  # the tracker now holds two sessions; a load would give the latest only
        stamps = [entry.timestamp, *(event.timestamp for event in new)]
        entry.saved_events = len(tracker.events)
        entry.stored += len(new)
        entry.timestamp = max((t for t in stamps if t is not None), default=None)
        entry.lent = False
        self._remember(sender_id, entry)

    def _remember(self, sender_id: str, entry: _Entry) -> None:
        self._cache[sender_id] = entry
        self._cache.move_to_end(sender_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)


def _row(sender_id: str, event: Any) -> dict[str, Any]:
    """The ``events`` row Rasa's ``SQLTrackerStore.save`` writes for ``event``."""
    data = event.as_dict()
    return {
        "sender_id": sender_id,
        "type_name": event.type_name,
        "timestamp": data.get("timestamp"),
        "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
        "action_name": data.get("name"),
        "data": json.dumps(data),
    }
