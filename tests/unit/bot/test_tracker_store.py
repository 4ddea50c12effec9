"""bot/tracker_store.py: the cached SQL tracker store gives what Rasa's own gives, on SQLite and
PostgreSQL, and notices every change it did not make itself."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import EventVerbosity
from rasa.utils.endpoints import read_endpoint_config
from sqlalchemy.engine import make_url

from bot.runtime import tracker_store_kwargs, write_endpoints
from bot.tracker_store import DEFAULT_CACHE_SIZE, CachedSQLTrackerStore
from tests.conftest import pg_schema

DOMAIN = Domain.from_dict({
    "intents": ["greet", "book"],
    "slots": {"language": {"type": "text", "mappings": [{"type": "custom"}]},
              "service": {"type": "text", "mappings": [{"type": "custom"}]}},
})  # fmt: skip
_CLOCK = itertools.count(1_795_420_800)


def stamp() -> float:
    return float(next(_CLOCK))


def turn(text: str, intent: str, slot: str | None = None) -> list[Any]:
    """The events one customer message adds: the message, a slot, a reply, listen."""
    events: list[Any] = [
        UserUttered(text, {"name": intent, "confidence": 0.9}, timestamp=stamp()),
        ActionExecuted("utter_reply", timestamp=stamp()),
        BotUttered(f"re: {text}", timestamp=stamp()),
        ActionExecuted("action_listen", timestamp=stamp()),
    ]
    if slot:
        events.insert(1, SlotSet("service", slot, timestamp=stamp()))
    return events


def session_start() -> list[Any]:
    return [
        ActionExecuted("action_session_start", timestamp=stamp()),
        SessionStarted(timestamp=stamp()),
        SlotSet("language", "nl", timestamp=stamp()),
        ActionExecuted("action_listen", timestamp=stamp()),
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> dict[str, Any]:
    """SQLTrackerStore keyword arguments for a fresh database."""
    if request.param == "sqlite":
        yield {"dialect": "sqlite", "db": str(tmp_path / "tracker.db")}
        return
    pg_url = request.getfixturevalue("pg_url")
    with pg_schema(pg_url) as (url, _factory):
        yield tracker_store_kwargs(url)


def stores(db: dict[str, Any], **kwargs: Any) -> tuple[CachedSQLTrackerStore, SQLTrackerStore]:
    """The cached store and Rasa's own over the same database (two "processes")."""
    return CachedSQLTrackerStore(DOMAIN, **db, **kwargs), SQLTrackerStore(DOMAIN, **db)


async def message(store: TrackerStore, sender: str, *events: Any) -> Any:
    """What Rasa does per message: load (or create), update, save."""
    tracker = await store.get_or_create_tracker(sender)
    for event in events:
        tracker.update(event)
    await store.save(tracker)
    return tracker


def state(tracker: Any) -> dict[str, Any]:
    return tracker.current_state(EventVerbosity.ALL)


def rows(store: SQLTrackerStore, sender: str) -> list[tuple]:
    t = store.SQLEvent.__table__
    with store.engine.connect() as conn:
        return conn.execute(
            sa.select(t.c.type_name, t.c.timestamp, t.c.intent_name, t.c.action_name, t.c.data)
            .where(t.c.sender_id == sender).order_by(t.c.id)
        ).all()  # fmt: skip


def test_same_trackers_and_rows_as_rasa(db):
    cached, rasa = stores(db)
    script = [session_start() + turn("hallo", "greet"), turn("apk", "book", "apk"),
              turn("morgen", "book"), turn("dank", "greet")]  # fmt: skip

    def events(tracker: Any) -> list[dict]:  # without the created tracker's listen (its own time)
        return state(tracker)["events"][1:]

    async def run() -> None:
        for turn_events in script:
            ours = await message(cached, "a", *turn_events)
            theirs = await message(rasa, "b", *turn_events)
            assert events(ours) == events(theirs)
            assert events(await rasa.retrieve("a")) == events(await rasa.retrieve("b"))

    asyncio.run(run())
    assert rows(rasa, "a")[1:] == rows(rasa, "b")[1:]
    assert len(rows(rasa, "a")) == 1 + sum(map(len, script))


def test_next_message_uses_the_cache_and_sees_other_writers(db):
    cached, other = stores(db)

    async def run() -> None:
        await message(cached, "a", *session_start(), *turn("hallo", "greet"))
        loaded = await message(cached, "a", *turn("apk", "book", "apk"))  # loaded from the db
        assert await cached.retrieve("a") is loaded  # unchanged since: the cached tracker
        await cached.save(loaded)
        # another process serves the next message: the cache must not hide it
        await message(other, "a", *turn("morgen", "book", "onderhoud"))
        fresh = await cached.retrieve("a")
        assert fresh is not loaded
        assert fresh.get_slot("service") == "onderhoud"
        assert state(fresh) == state(await other.retrieve("a"))

    asyncio.run(run())


def test_erased_events_are_not_served_from_the_cache(db):
    cached, _ = stores(db)

    async def run() -> None:
        await message(cached, "a", *session_start(), *turn("hallo", "greet"))
        await message(cached, "a", *turn("apk", "book", "apk"))
        with cached.engine.begin() as conn:  # what core.store.privacy does
            conn.execute(sa.text("delete from events where sender_id = 'a'"))
        assert await cached.retrieve("a") is None

    asyncio.run(run())


def test_a_session_started_in_memory_is_saved_and_then_loaded_as_rasa_would(db):
    cached, rasa = stores(db)

    async def run() -> None:
        await message(cached, "a", *session_start(), *turn("hallo", "greet", "apk"))
        await message(cached, "a", *turn("apk", "book"))
        two_sessions = await message(cached, "a", *session_start(), *turn("weer", "greet"))
        again = await cached.retrieve("a")
        assert again is not two_sessions
        assert state(again) == state(await rasa.retrieve("a"))
        assert again.get_slot("service") is None  # the old session's slot is not carried

    asyncio.run(run())


def test_a_tracker_changed_but_not_saved_is_reloaded(db):
    cached, rasa = stores(db)

    async def run() -> None:
        await message(cached, "a", *session_start(), *turn("hallo", "greet"))
        lent = await message(cached, "a", *turn("apk", "book"))
        await cached.retrieve("a")
        lent.update(UserUttered("kwijt", {"name": "greet"}, timestamp=stamp()))  # never saved
        assert await cached.retrieve("a") is not lent  # nor while it is still lent out
        fresh = await cached.retrieve("a")
        assert state(fresh) == state(await rasa.retrieve("a"))
        assert "kwijt" not in [e.get("text") for e in state(fresh)["events"]]

    asyncio.run(run())


def test_two_callers_get_two_trackers_and_both_saves_land(db):
    cached, rasa = stores(db)

    async def run() -> None:
        await message(cached, "a", *session_start(), *turn("hallo", "greet"))
        await message(cached, "a", *turn("apk", "book"))
        first, second = await cached.retrieve("a"), await cached.retrieve("a")
        assert first is not second
        for event in turn("morgen", "book", "apk"):
            first.update(event)
        await cached.save(first)
        second = await cached.retrieve("a")
        for event in turn("dank", "greet"):
            second.update(event)
        await cached.save(second)
        assert state(await cached.retrieve("a")) == state(await rasa.retrieve("a"))
        assert [e["text"] for e in state(await rasa.retrieve("a"))["events"]
                if e["event"] == "user"] == ["hallo", "apk", "morgen", "dank"]  # fmt: skip

    asyncio.run(run())


def test_the_cache_keeps_at_most_cache_size_conversations(db):
    cached, _ = stores(db, cache_size=2)

    async def run() -> None:
        for sender in "abc":
            await message(cached, sender, *session_start(), *turn("hallo", "greet"))
            await message(cached, sender, *turn("apk", "book"))
        assert list(cached._cache) == ["b", "c"]

    asyncio.run(run())


def test_no_cache_with_an_event_broker_or_size_0(db, tmp_path):
    class Broker(EventBroker):
        def publish(self, event: dict[str, Any]) -> None:
            pass

    for store in (CachedSQLTrackerStore(DOMAIN, **db, event_broker=Broker()),
                  CachedSQLTrackerStore(DOMAIN, **db, cache_size="0")):  # fmt: skip

        async def run(store=store) -> None:
            await message(store, "a", *session_start(), *turn("hallo", "greet"))
            loaded = await message(store, "a", *turn("apk", "book"))
            assert await store.retrieve("a") is not loaded
            assert not store._cache

        asyncio.run(run())
    with pytest.raises(ValueError, match="cache_size"):
        CachedSQLTrackerStore(DOMAIN, **db, cache_size=-1)


def test_rasa_builds_it_from_the_endpoints_file(tmp_path):
    db = tmp_path / "t.db"
    path = write_endpoints(tmp_path / "endpoints.yml", "http://x/webhook", f"sqlite:///{db}")
    config = read_endpoint_config(str(path), "tracker_store")
    assert config.type == "bot.tracker_store.CachedSQLTrackerStore"
    store = TrackerStore.create(config, DOMAIN)  # as rasa.core.agent.load_agent does
    assert isinstance(store, CachedSQLTrackerStore)
    assert store.cache_size == DEFAULT_CACHE_SIZE
    assert make_url(str(store.engine.url)).database == str(db)


def test_the_endpoints_file_keeps_the_database_urls_query(tmp_path, pg_url):
    """``?options=-csearch_path=…`` (or ``sslmode``) reaches Rasa's engine: the events land in
    the schema the URL names, not in ``public``."""
    with pg_schema(pg_url) as (url, factory):
        path = write_endpoints(tmp_path / "endpoints.yml", "http://x/webhook", url)
        store = TrackerStore.create(read_endpoint_config(str(path), "tracker_store"), DOMAIN)
        asyncio.run(message(store, "q", *session_start()))
        with factory.begin() as session:
            in_schema = session.execute(sa.text("select count(*) from events")).scalar()
        assert in_schema == len(rows(store, "q")) > 0
        store.engine.dispose()
