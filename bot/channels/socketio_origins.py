"""The web widget's channel: Rasa's socketio channel that accepts only the dealers' origins.

Rasa's own channel builds its ``AsyncServer`` with ``cors_allowed_origins=[]``, which switches
python-engineio's origin check off, so any web site could open the socket. It also calls
``sio.enter_room`` without ``await`` (a coroutine since python-socketio 5.10), so with
``session_persistence`` the replies went to a room nobody had joined. This subclass fixes both:

- a connection must come from an origin that some dealer lists in ``channels.web.allowed_origins``
  (``dealer.yml``) or in ``DEALERBOT_WEB_ORIGINS``; requests without an ``Origin`` are refused;
- every message must name a dealer (``metadata.dealer``, else the default dealer) that allows
  the connection's origin; other messages are dropped and answered with a ``refused`` event;
- ``GET /webhooks/socketio/widget/<dealer>`` gives the widget the dealer's name and greeting,
  only to that dealer's origins.

Conversations over this channel are recorded with channel ``web`` (its name stays ``socketio``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from collections.abc import Awaitable, Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from rasa.core.channels.channel import UserMessage, decode_bearer_token
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from bot.channels.common import SenderLimiter
from dealer.config import DealerConfigError, all_dealers, get_dealer
from dealer.i18n import LANGUAGES
from metrics.settings import REPO_ROOT, get_settings

log = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
GREETING_FILE = REPO_ROOT / "bot" / "domain" / "core.yml"


def extra_origins(value: str | None = None) -> dict[str, frozenset[str]]:
    """``DEALERBOT_WEB_ORIGINS``: ``dealer=origin,origin;dealer2=origin`` (added to dealer.yml).

    Raises ``ValueError`` on an entry without ``=`` or an origin that is not scheme://host[:port].
    """
    value = os.environ.get("DEALERBOT_WEB_ORIGINS", "") if value is None else value
    result: dict[str, set[str]] = {}
    for entry in filter(None, (e.strip() for e in value.split(";"))):
        dealer, sep, origins = entry.partition("=")
        if not sep or not dealer.strip():
            raise ValueError(f"DEALERBOT_WEB_ORIGINS: {entry!r} is not dealer=origin,origin")
        for origin in filter(None, (o.strip().rstrip("/") for o in origins.split(","))):
            if not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(f"DEALERBOT_WEB_ORIGINS: {origin!r} is not scheme://host[:port]")
            result.setdefault(dealer.strip(), set()).add(origin)
    return {dealer: frozenset(origins) for dealer, origins in result.items()}


def origins_by_dealer() -> dict[str, frozenset[str]]:
    """Allowed web origins per dealer location: dealer.yml plus ``DEALERBOT_WEB_ORIGINS``."""
    extra = extra_origins()
    try:
        dealers = all_dealers()
    except DealerConfigError:
        dealers = {}
    result = {
        dealer_id: frozenset(o.rstrip("/") for o in dealer.allowed_origins)
        | extra.get(dealer_id, frozenset())
        for dealer_id, dealer in dealers.items()
    }
    for dealer_id, origins in extra.items():
        result.setdefault(dealer_id, origins)
    return result


def origin_allowed(origin: str | None, dealer_id: str | None = None) -> bool:
    """Whether ``origin`` may use the widget: for ``dealer_id``, or for any dealer if None."""
    if not origin:
        return False
    origin = origin.rstrip("/")
    allowed = origins_by_dealer()
    if dealer_id is None:
        return any(origin in origins for origins in allowed.values())
    return origin in allowed.get(dealer_id, frozenset())


def resolve_dealer(metadata: dict[str, Any] | None) -> str | None:
    """The dealer a message is for: ``metadata.dealer`` if known, the default if not given."""
    wanted = (metadata or {}).get("dealer")
    try:
        dealers = all_dealers()
    except DealerConfigError:
        return None
    if wanted is None:
        return get_dealer(None).id
    return wanted if wanted in dealers else None


@lru_cache(maxsize=4)
def _greetings(path: Path, _mtime: float) -> dict[str, dict[str, Any]]:
    responses = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses", {})
    result: dict[str, dict[str, Any]] = {}
    for variant in responses.get("utter_greet", []):
        language = "nl"
        for condition in variant.get("condition") or []:
            if condition.get("name") == "language":
                language = condition.get("value")
        result.setdefault(language, variant)
    return result


def greeting(dealer_name: str, language: str) -> dict[str, Any]:
    """The domain's ``utter_greet`` in ``language`` (nl if missing) for the widget to show first.

    Shown by the widget itself, so opening the chat is not a customer message in the log.
    """
    variants = _greetings(GREETING_FILE, GREETING_FILE.stat().st_mtime)
    variant = variants.get(language) or variants.get("nl") or {"text": ""}
    return {
        "text": str(variant.get("text", "")).replace("{dealer_name}", dealer_name),
        "buttons": [
            {"title": str(b["title"]), "payload": str(b["payload"])}
            for b in variant.get("buttons") or []
        ],
    }


def widget_config(dealer_id: str) -> dict[str, Any] | None:
    """What the widget shows before the first message: the dealer's name and greetings."""
    try:
        dealers = all_dealers()
    except DealerConfigError:
        return None
    dealer = dealers.get(dealer_id)
    if dealer is None:
        return None
    return {
        "dealer": dealer.id,
        "name": dealer.name,
        "language": dealer.default_language,
        "greeting": {lang: greeting(dealer.name, lang) for lang in LANGUAGES},
    }


class WebSocketIOInput(SocketIOInput):
    """Rasa's socketio channel, restricted to the dealers' origins (see the module docstring)."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the per-sender rate limit of the REST channel, for the widget's sessions too
        self.limiter = SenderLimiter()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        # The engine.io layer refuses other origins before socket.io sees them (polling and
        # websocket); a request without an Origin header is refused in ``connect``.
        sio = AsyncServer(
            async_mode="sanic",
            cors_allowed_origins=lambda origin: origin_allowed(origin),
        )
        blueprint = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @blueprint.route("/widget/<dealer_id>", methods=["GET", "OPTIONS"])
        async def config(request: Request, dealer_id: str) -> HTTPResponse:
            origin = request.headers.get("origin")
            if not origin_allowed(origin, dealer_id):
                return response.json({"error": "origin not allowed for this dealer"}, status=403)
            headers = {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": "GET",
                "Vary": "Origin",
                "Cache-Control": "no-store",
            }
            data = widget_config(dealer_id)
            if data is None:
                return response.json({"error": "unknown dealer"}, status=404, headers=headers)
            if request.method == "OPTIONS":
                return response.empty(headers=headers)
            return response.json(data, headers=headers)

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: str, environ: dict, auth: dict | None = None) -> bool:
            origin = environ.get("HTTP_ORIGIN")
            if not origin_allowed(origin):
                log.warning("socketio: refused a connection from origin %r", origin)
                return False
            if self.jwt_key:
                token = (auth or {}).get("token")
                payload = token and decode_bearer_token(token, self.jwt_key, self.jwt_algorithm)
                if not payload:
                    return False
            await sio.save_session(
                sid, {"origin": origin.rstrip("/"), "session_id": None}, namespace=self.namespace
            )
            return True

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: dict | None) -> None:
            wanted = (data or {}).get("session_id")
            session_id = wanted if isinstance(wanted, str) and SESSION_ID.match(wanted) else None
            session_id = session_id or uuid.uuid4().hex
            state = await sio.get_session(sid, namespace=self.namespace)
            state["session_id"] = session_id
            await sio.save_session(sid, state, namespace=self.namespace)
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: dict) -> None:
            state = await sio.get_session(sid, namespace=self.namespace)
            metadata = (data or {}).get(self.metadata_key) or {}
            if isinstance(metadata, str):
                try:
                    metadata = json.loads(metadata)
                except ValueError:
                    metadata = {}
            if not isinstance(metadata, dict):
                metadata = {}
            dealer_id = resolve_dealer(metadata)
            if dealer_id is None or not origin_allowed(state.get("origin"), dealer_id):
                log.warning("socketio: refused a message for dealer %r from origin %r",
                            metadata.get("dealer"), state.get("origin"))  # fmt: skip
                await sio.emit("refused", {"reason": "origin not allowed for this dealer"},
                               room=sid, namespace=self.namespace)  # fmt: skip
                return
            if self.session_persistence:
                sender_id = state.get("session_id")
                if not sender_id or data.get("session_id") != sender_id:
                    await sio.emit("refused", {"reason": "send session_request first"},
                                   room=sid, namespace=self.namespace)  # fmt: skip
                    return
            else:
                sender_id = sid
            text = data.get("message", "")
            if not isinstance(text, str) or not text.strip():
                return
            settings = get_settings()
            if len(text) > settings.max_message_chars:  # the widget's own box stops at 1,000
                await sio.emit("refused", {"reason": "message too long", "code": "message_too_long",
                                           "max_chars": settings.max_message_chars},
                               room=sid, namespace=self.namespace)  # fmt: skip
                return
            limiter = self.limiter
            wait = limiter.acquire(sender_id, settings.sender_rate_per_s, settings.sender_burst)
            if wait:
                await sio.emit("refused", {"reason": "too many messages", "code": "rate_limited",
                                           "retry_after_s": round(wait, 1)},
                               room=sid, namespace=self.namespace)  # fmt: skip
                return
            message = UserMessage(
                text,
                SocketIOOutput(sio, self.bot_message_evt),
                sender_id,
                input_channel=self.name(),
                metadata={**metadata, "dealer": dealer_id},
            )
            try:
                await on_new_message(message)
            finally:
                limiter.release(sender_id)

        return blueprint
