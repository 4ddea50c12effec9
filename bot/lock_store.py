"""Rasa's Redis lock store, made safe for several Rasa processes (replicas or Sanic workers).

Rasa 3.6's ``RedisLockStore`` keeps one conversation's ticket lock as a JSON value and changes
it by get, modify, set. Two processes that take a ticket for the same conversation at the same
moment both read the old value and both write theirs: they get the same ticket number (or one
ticket is lost), both "hold" the lock, process the conversation side by side, and the second
tracker save drops the first one's events. In-process this cannot happen (one event loop runs
each get-modify-set to its end); across processes it does: four clients taking a ticket at once
lost or duplicated one in 50 of 50 tries (docs/deployment.md). This subclass runs every
get-modify-set of a conversation's lock under a short Redis mutex of that conversation.

In endpoints.yml (``bot.runtime.write_endpoints`` writes it), with the keys of ``type: redis``:

    lock_store:
      type: bot.lock_store.AtomicRedisLockStore
      url: "127.0.0.1"
      port: 6379
      db: 0
      key_prefix: "dealerbot"
"""

from __future__ import annotations

from typing import Any

import redis
from rasa.core.lock_store import (
    DEFAULT_REDIS_LOCK_STORE_KEY_PREFIX,
    LOCK_LIFETIME,
    LockError,
    RedisLockStore,
)
from rasa.utils.endpoints import EndpointConfig

# The mutex guards a few Redis round trips (well under a millisecond each on a LAN); its
# expiry only matters when a process dies holding it.
MUTEX_TTL_S = 5.0
MUTEX_WAIT_S = 5.0
MUTEX_POLL_S = 0.005  # redis-py's default 0.1 s would stall the event loop on contention


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` whose ticket changes are atomic across processes."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        # Rasa builds a custom lock store with the endpoint config alone; the keys are those of
        # its own Redis lock store (url is the host).
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)
        base = self.key_prefix[: -len(DEFAULT_REDIS_LOCK_STORE_KEY_PREFIX)]
        self.mutex_prefix = f"{base}mutex:"  # beside the lock keys, never one of them

    def _mutex(self, conversation_id: str) -> redis.lock.Lock:
        return self.red.lock(
            self.mutex_prefix + conversation_id,
            timeout=MUTEX_TTL_S,
            sleep=MUTEX_POLL_S,
            blocking_timeout=MUTEX_WAIT_S,
        )

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            with self._mutex(conversation_id):
                return super().issue_ticket(conversation_id, lock_lifetime)
        except redis.exceptions.LockError as exc:
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def update_lock(self, conversation_id: str) -> None:
        with self._mutex(conversation_id):
            super().update_lock(conversation_id)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # finish serving, then delete the lock if nobody waits: one step, or a ticket issued
        # in between would be deleted with the lock
        with self._mutex(conversation_id):
            super().cleanup(conversation_id, ticket_number)
