"""Rasa's Redis lock store, made safe for several Rasa processes (replicas or Sanic workers).

Rasa 3.6's ``RedisLockStore`` keeps one conversation's ticket lock as a JSON value and changes
it by get, modify, set. Two processes that take a ticket for the same conversation at the same
moment both read the old value and both write theirs: they get the same ticket number (or one
ticket is lost), both "hold" the lock, process the conversation side by side, and the second
tracker save drops the first one's events. In-process this cannot happen (one event loop runs
each get-modify-set to its end); across processes it does: four clients taking a ticket at once
lost or duplicated one in 50 of 50 tries (docs/deployment.md). This subclass does each change
of a conversation's lock (take a ticket, drop expired ones, finish and delete) as one Lua script
in Redis, which runs it to its end before any other command. The value stays Rasa's JSON, so
Rasa's own ``get_lock`` reads it.

It is also cheaper than get, modify, set: a message takes three Redis round trips (the ticket,
the check that it is served, the clean-up) instead of about ten, and redis-py's calls block the
Rasa server's event loop while they wait (the lock store was about a tenth of a loaded Rasa
worker's samples; docs/profile.md).

In endpoints.yml (``bot.runtime.write_endpoints`` writes it), with the keys of ``type: redis``:

    lock_store:
      type: bot.lock_store.AtomicRedisLockStore
      url: "127.0.0.1"
      port: 6379
      db: 0
      key_prefix: "dealerbot"
"""

from __future__ import annotations

import time
from typing import Any

from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

# Rasa's TicketLock as JSON: {"conversation_id": ..., "tickets": [<each ticket as a JSON
# string>]}. The scripts keep each ticket's string as it is and build the lock's JSON the way
# json.dumps does, so the value reads back as Rasa wrote it.
_LOCK_JSON = """
local function lock_json(conversation_id, tickets)
  local strings = {}
  for i, ticket in ipairs(tickets) do strings[i] = cjson.encode(ticket) end
  return '{"conversation_id": ' .. cjson.encode(conversation_id) .. ', "tickets": ['
    .. table.concat(strings, ', ') .. ']}'
end
local function unexpired(raw, now)
  local kept, last = {}, -1
  if raw then
    for _, ticket in ipairs(cjson.decode(raw)['tickets']) do
      local t = cjson.decode(ticket)
      if t['expires'] >= now then  -- Rasa: a ticket has expired when now > expires
        table.insert(kept, ticket)
        last = t['number']
      end
    end
  end
  return kept, last
end
"""
# KEYS[1] lock key; ARGV: now, expiry of the new ticket (as Python writes it), conversation id.
_ISSUE = (
    _LOCK_JSON
    + """
local kept, last = unexpired(redis.call('GET', KEYS[1]), tonumber(ARGV[1]))
local number = last + 1
table.insert(kept, string.format('{"number": %d, "expires": %s}', number, ARGV[2]))
redis.call('SET', KEYS[1], lock_json(ARGV[3], kept))
return number
"""
)
# KEYS[1] lock key; ARGV: now, conversation id.
_UPDATE = (
    _LOCK_JSON
    + """
local raw = redis.call('GET', KEYS[1])
if raw then
  local kept = unexpired(raw, tonumber(ARGV[1]))
  redis.call('SET', KEYS[1], lock_json(ARGV[2], kept))
end
return 0
"""
)
# KEYS[1] lock key; ARGV: ticket number, conversation id. Rasa's cleanup: finish serving the
# ticket, then delete the lock if nobody waits.
_CLEANUP = (
    _LOCK_JSON
    + """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local kept, number = {}, tonumber(ARGV[1])
for _, ticket in ipairs(cjson.decode(raw)['tickets']) do
  if cjson.decode(ticket)['number'] ~= number then table.insert(kept, ticket) end
end
if #kept == 0 then return redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], lock_json(ARGV[2], kept))
return 0
"""
)


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` whose ticket changes are atomic across processes."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        # Rasa builds a custom lock store with the endpoint config alone; the keys are those of
        # its own Redis lock store (url is the host).
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)
        self._issue = self.red.register_script(_ISSUE)
        self._update = self.red.register_script(_UPDATE)
        self._cleanup = self.red.register_script(_CLEANUP)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        now = time.time()
        args = [repr(now), repr(now + lock_lifetime), conversation_id]
        try:
            number = self._issue(keys=[self.key_prefix + conversation_id], args=args)
        except Exception as exc:  # as Rasa's issue_ticket
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc
        return int(number)

    def update_lock(self, conversation_id: str) -> None:
        self._update(keys=[self.key_prefix + conversation_id],
                     args=[repr(time.time()), conversation_id])  # fmt: skip

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        deleted = self._cleanup(keys=[self.key_prefix + conversation_id],
                                args=[ticket_number, conversation_id])  # fmt: skip
        if deleted:
            self._log_deletion(conversation_id, True)
