"""Make Rasa's check of every action server reply cheap (measured in docs/profile.md).

Rasa 3.6 checks each reply of the action server with ``jsonschema.validate(result, schema)``
(``RemoteAction._validate_action_result``). That call first validates the schema itself against
the JSON Schema meta-schema and builds a new validator, every time: about 40 ms of the Rasa
server's CPU per action call with jsonschema 4.17, and a message makes about three calls. The
py-spy profile of a loaded server put it at more than half of the Rasa server's CPU.

:func:`install` builds the validator once (the schema is a constant) and validates each reply
with it: the same checks, the same ``ValidationError`` and message, about 1 ms.

The second: every action call sends the whole tracker of the session to the action server, and
aiohttp encodes it with the standard library's ``json.dumps``: about 9 % of the Rasa server's CPU
in the profile after the fix above. :func:`fast_dumps` encodes it with ujson (already installed
with Rasa) into the same JSON, and falls back to ``json.dumps`` for anything ujson refuses.

The third: Rasa opens a new client session, and so a new TCP connection, for every action call
(``EndpointConfig.request``), and both servers pay for the connect, the accept and a new HTTP
protocol each time. The sessions now share one connection pool per event loop, which keeps
connections open for :data:`KEEPALIVE_S`; that is shorter than Sanic's own keep-alive (5 s by
default, 60 s as ``bot.runtime`` starts the action server), so the pool never sends on a
connection the action server is about to close for idleness.

The fourth: a started Rasa server holds about 720,000 Python objects (the model, TensorFlow,
Rasa's domain), and each full collection of Python's garbage collector walks all of them: 0.3
to 0.9 s during which the server answers no one (timed with ``gc.callbacks``; docs/profile.md).
:func:`freeze_heap` moves everything alive once the server has started into the collector's
permanent generation, so later collections walk only the objects made since.

Written for Rasa 3.6.21. Like :mod:`bot.action_fallback`, :func:`install` is called by the Rasa
server's launcher (:mod:`bot.rasa_server`), never on import, and raises
:class:`bot.rasa_patches.RasaPatchError` when Rasa is another version or a patched function
changed (:func:`bot.rasa_patches.patch`). It imports Rasa when called: the functions here are
also used without Rasa's core, which takes seconds to import.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import logging
from functools import lru_cache
from typing import Any

import aiohttp
import ujson

from bot.rasa_patches import patch

log = logging.getLogger(__name__)
KEEPALIVE_S = 2.0
_pools: dict[asyncio.AbstractEventLoop, aiohttp.TCPConnector] = {}


def shared_connector() -> aiohttp.TCPConnector:
    """The running loop's connection pool for Rasa's HTTP calls (created on first use)."""
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None or pool.closed:
        for old in [old for old in _pools if old.is_closed()]:
            del _pools[old]
        pool = _pools[loop] = aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S)
    return pool


async def freeze_heap(*_: Any) -> None:
    """A Sanic ``after_server_start`` listener: collect once, then freeze what is left (the
    model is loaded by then), so full collections no longer walk it."""
    gc.collect()
    gc.freeze()
    log.info("garbage collector: %d objects of the started server frozen", gc.get_freeze_count())


@lru_cache(maxsize=1)
def _validator(action_module: Any) -> Any:
    from jsonschema import validators

    schema = action_module.RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)  # what jsonschema.validate does on each call: once is enough
    return cls(schema)


def fast_dumps(value: Any) -> str:
    """``json.dumps(value)`` with ujson: the same JSON document (non-ASCII and "/" unescaped)."""
    try:
        return ujson.dumps(value, ensure_ascii=False, escape_forward_slashes=False)
    except (TypeError, OverflowError, ValueError):  # e.g. NaN or an object ujson cannot encode
        return json.dumps(value)


def _session_with_fast_json(_rasa_session: Any) -> Any:
    from rasa.utils import endpoints

    def session(self: Any) -> aiohttp.ClientSession:  # Rasa's, plus ujson and the shared pool
        auth = None
        if self.basic_auth:
            auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
        return aiohttp.ClientSession(
            headers=self.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=endpoints.DEFAULT_REQUEST_TIMEOUT),
            json_serialize=fast_dumps,
            connector=shared_connector(),
            connector_owner=False,  # closing the session keeps the pool's connections
        )

    return session


def _configure_app_and_freeze(configure_app: Any) -> Any:
    @functools.wraps(configure_app)
    def configure_app_and_freeze(*args: Any, **kwargs: Any) -> Any:
        app = configure_app(*args, **kwargs)
        app.register_listener(freeze_heap, "after_server_start")  # each Sanic worker
        return app

    return configure_app_and_freeze


def _cached_validation(_rasa_validate: Any) -> Any:
    from jsonschema import ValidationError, exceptions
    from rasa.core.actions import action as action_module

    def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
        try:  # as jsonschema.validate: raise the best match of the errors
            error = exceptions.best_match(_validator(action_module).iter_errors(result))
            if error is not None:
                raise error
            return True
        except ValidationError as e:  # the message Rasa gives, unchanged
            e.message += (
                ". Failed to validate Action server response from API, make sure your response "
                "from the Action endpoint is valid. For more information about the format visit "
                f"{action_module.DOCS_BASE_URL}/custom-actions"
            )
            raise e

    return validate_action_result


# What each patch replaces, with the parameters the replaced function takes in Rasa 3.6.21.
CONFIGURE_APP_PARAMETERS = (
    "input_channels", "cors", "auth_token", "enable_api", "response_timeout", "jwt_secret",
    "jwt_private_key", "jwt_method", "route", "port", "endpoints", "log_file", "conversation_id",
    "use_syslog", "syslog_address", "syslog_port", "syslog_protocol", "request_timeout",
    "server_listeners", "use_uvloop", "keep_alive_timeout",
)  # fmt: skip


def install() -> None:
    """Replace ``RemoteAction._validate_action_result`` by one with a cached validator, Rasa's
    HTTP client sessions by ones that encode JSON with :func:`fast_dumps` over a shared pool, and
    have the Rasa server's app run :func:`freeze_heap` once started; once.

    Raises :class:`bot.rasa_patches.RasaPatchError` when a patch cannot apply."""
    import rasa.core.run
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    patch(RemoteAction, "_validate_action_result", ("self", "result"), _cached_validation)
    patch(EndpointConfig, "session", ("self",), _session_with_fast_json)
    patch(rasa.core.run, "configure_app", CONFIGURE_APP_PARAMETERS, _configure_app_and_freeze)
