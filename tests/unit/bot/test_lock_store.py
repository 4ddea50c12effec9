"""bot/lock_store.py against the real Redis (127.0.0.1:6379; skipped when unreachable): tickets
taken at the same moment by separate clients, as separate Rasa processes do."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest
import redis
from rasa.core.lock_store import LockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.lock_store import AtomicRedisLockStore
from bot.runtime import write_endpoints
from tests.conftest import REDIS_URL

DB = 9
CLIENTS = 4


@pytest.fixture
def prefix(redis_url):
    client = redis.Redis.from_url(f"{redis_url}/{DB}", socket_timeout=3)
    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    for key in client.scan_iter(match=f"{name}:*"):
        client.delete(key)


def stores(prefix: str, n: int = CLIENTS) -> list[AtomicRedisLockStore]:
    """One store per "process": each with its own Redis connection, as Rasa builds it."""
    host, port = REDIS_URL.rsplit("/", 1)[-1].split(":")
    config = EndpointConfig(
        url=host, type="bot.lock_store.AtomicRedisLockStore", port=int(port), db=DB,
        key_prefix=prefix,
    )  # fmt: skip
    return [LockStore.create(config) for _ in range(n)]


def at_once(calls) -> list:
    """Run the calls in threads released together; their results in order."""
    barrier, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_rasa_builds_it_from_the_endpoints_file(prefix):
    [store] = stores(prefix, 1)
    assert isinstance(store, AtomicRedisLockStore)
    assert store.key_prefix == f"{prefix}:lock:"


def test_the_endpoints_file_names_it(tmp_path):
    text = write_endpoints(tmp_path / "e.yml", "http://x", None, "redis://h:1/2").read_text()
    assert "type: bot.lock_store.AtomicRedisLockStore" in text


@pytest.mark.parametrize("trial", range(20))
def test_tickets_taken_at_once_are_all_distinct_and_kept(prefix, trial):
    clients = stores(prefix)
    conversation = f"c{trial}"
    tickets = at_once([lambda s=s: s.issue_ticket(conversation) for s in clients])
    assert sorted(tickets) == list(range(CLIENTS))
    assert len(clients[0].get_lock(conversation).tickets) == CLIENTS


def test_finishing_at_once_loses_no_waiting_ticket(prefix):
    """Two holders done while two wait: the lock (and the waiting tickets) must survive."""
    clients = stores(prefix)
    tickets = [s.issue_ticket("c") for s in clients]
    at_once(
        [lambda s=s, t=t: s.cleanup("c", t) for s, t in zip(clients[:2], tickets[:2], strict=True)]
    )
    lock = clients[0].get_lock("c")
    assert lock is not None and [t.number for t in lock.tickets] == tickets[2:]
    at_once(
        [lambda s=s, t=t: s.cleanup("c", t) for s, t in zip(clients[2:], tickets[2:], strict=True)]
    )
    assert clients[0].get_lock("c") is None


def test_conversations_are_served_one_at_a_time_across_clients(prefix):
    """Rasa's lock() from four clients at once: never two inside for the same conversation."""
    clients, inside, most = stores(prefix), [0], [0]

    async def turn(store: AtomicRedisLockStore) -> None:
        async with store.lock("c", wait_time_in_seconds=0.01):
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            await asyncio.sleep(0.05)
            inside[0] -= 1

    at_once([lambda s=s: asyncio.run(turn(s)) for s in clients])
    assert most[0] == 1
    assert clients[0].get_lock("c") is None


def rasa_store(prefix: str) -> RedisLockStore:
    host, port = REDIS_URL.rsplit("/", 1)[-1].split(":")
    return RedisLockStore(host=host, port=int(port), db=DB, key_prefix=prefix)


@pytest.mark.parametrize(
    "conversation", ["c", "whatsapp:+31612345678/autohuis-demo", 'quote " back \\ é'],
)  # fmt: skip
def test_the_lock_stays_rasas_json(prefix, conversation):
    """Rasa's own store and this one take turns on one lock: the same tickets, numbers and
    expiry times as Rasa's alone would give."""
    ours, theirs = stores(prefix, 1)[0], rasa_store(prefix)
    started = time.time()
    assert theirs.issue_ticket(conversation, 30) == 0
    assert ours.issue_ticket(conversation, 30) == 1
    assert theirs.issue_ticket(conversation, 30) == 2
    lock = theirs.get_lock(conversation)
    assert lock.conversation_id == conversation
    assert [t.number for t in lock.tickets] == [0, 1, 2]
    assert all(started + 30 <= t.expires <= time.time() + 30 for t in lock.tickets)
    ours.cleanup(conversation, 0)
    assert [t.number for t in theirs.get_lock(conversation).tickets] == [1, 2]
    ours.cleanup(conversation, 2)
    ours.cleanup(conversation, 1)
    assert theirs.get_lock(conversation) is None
    ours.cleanup(conversation, 1)  # a lock already gone: nothing to do
    assert theirs.get_lock(conversation) is None


def test_expired_tickets_are_dropped_as_rasa_drops_them(prefix):
    ours, theirs = stores(prefix, 1)[0], rasa_store(prefix)
    for store, conversation in ((ours, "ours"), (theirs, "theirs")):
        theirs.issue_ticket(conversation, 30)  # 0, still valid
        theirs.issue_ticket(conversation, -1)  # 1, expired
        assert store.issue_ticket(conversation, 30) == 1  # numbering from the last valid one
    assert [t.number for t in theirs.get_lock("ours").tickets] == [0, 1]
    assert [t.number for t in theirs.get_lock("theirs").tickets] == [0, 1]
    theirs.issue_ticket("ours", -1)  # 2, expired
    ours.update_lock("ours")
    assert [t.number for t in theirs.get_lock("ours").tickets] == [0, 1]
    ours.update_lock("no-such-conversation")
    assert theirs.get_lock("no-such-conversation") is None
