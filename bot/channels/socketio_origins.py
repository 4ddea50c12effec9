"""The web widget's channel: Rasa's socketio channel that accepts only the dealers' origins.

Rasa's own channel builds its ``AsyncServer`` with ``cors_allowed_origins=[]``, which switches
python-engineio's origin check off, so any web site could open the socket. It also calls
``sio.enter_room`` without ``await`` (a coroutine since python-socketio 5.10), so with
``session_persistence`` the replies went to a room nobody had joined. This subclass keeps
Rasa's blueprint (its server, socket blueprint and health route) and replaces the origin check
and the event handlers on it (:class:`WebSocketIOInput` says why each), so that:

- a connection must come from an origin that some dealer lists in ``channels.web.allowed_origins``
  (``dealer.yml``) or in ``DEALERBOT_WEB_ORIGINS``; requests without an ``Origin`` are refused;
- every message must name a dealer (``metadata.dealer``, else the default dealer) that allows
  the connection's origin; other messages are dropped and answered with a ``refused`` event;
- ``GET /webhooks/socketio/widget/<dealer>`` gives the widget the dealer's name, greeting and
  privacy statement link, only to that dealer's origins;
- the server issues every session id, with a signed resume token (:func:`session_token`); a
  client cannot choose one (a ``test-`` id would drop the visitor out of the metrics, another
  customer's id would continue their conversation);
- connections and new sessions are capped per client IP (:class:`WebLimits`), and with a token
  key (``jwt_key`` in the credentials or ``DEALERBOT_WEB_TOKEN_KEY``) a connection needs a
  short-lived token signed for the dealer by the page that serves the widget (:func:`widget_token`);
- each message carries an id (``message_id``); a message the server has already handled is
  acknowledged again but not handled twice, so the widget can re-send its outbox after a
  reconnect. The acknowledgement carries the conversation's language for the widget's texts.

Conversations over this channel are recorded with channel ``web`` (its name stays ``socketio``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import time
import uuid
from collections import OrderedDict, defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from bot.channels.common import SenderLimiter
from core.settings import REPO_ROOT, get_settings
from dealer.config import DealerConfigError, all_dealers, get_dealer
from dealer.i18n import LANGUAGES

log = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[0-9a-f]{32}$")  # uuid4().hex, as the server issues them
MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
TOKEN_TTL_S = 300  # a widget token opens a connection within 5 minutes of being issued
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
        "privacy_url": dealer.privacy_url,
    }


def session_token(session_id: str, secret: str) -> str:
    """``<session id>.<HMAC>``: what the widget keeps to resume its session after a reload."""
    mac = hmac.new(secret.encode(), b"web-session:" + session_id.encode(), hashlib.sha256)
    return f"{session_id}.{mac.hexdigest()[:32]}"


def session_from_token(token: Any, secret: str) -> str | None:
    """The session id of a token this server issued, or None (forged, altered or malformed)."""
    if not isinstance(token, str) or "." not in token:
        return None
    session_id = token.split(".", 1)[0]
    if not SESSION_ID.match(session_id):
        return None
    return session_id if hmac.compare_digest(session_token(session_id, secret), token) else None


def widget_token(dealer_id: str, key: str, ttl_s: int = TOKEN_TTL_S) -> str:
    """A short-lived HS256 token for one dealer's widget, issued by the page that serves it
    (``dealerbot web`` serves one at ``/widget-token``); checked with Rasa's ``jwt_key``."""
    import jwt

    now = int(time.time())
    return jwt.encode({"dealer": dealer_id, "iat": now, "exp": now + ttl_s}, key, "HS256")


@dataclass(frozen=True)
class WebLimits:
    """Per client IP: open connections, and new sessions per hour (docs/limits.md)."""

    connections_per_ip: int = 20  # DEALERBOT_WEB_MAX_CONNECTIONS_PER_IP
    sessions_per_ip_hour: int = 60  # DEALERBOT_WEB_MAX_SESSIONS_PER_IP_HOUR

    @classmethod
    def from_env(cls) -> WebLimits:
        return cls(
            connections_per_ip=int(os.environ.get("DEALERBOT_WEB_MAX_CONNECTIONS_PER_IP", "20")),
            sessions_per_ip_hour=int(
                os.environ.get("DEALERBOT_WEB_MAX_SESSIONS_PER_IP_HOUR", "60")
            ),
        )


class IpCounter:
    """Open connections and recent new sessions per IP, in this worker's memory."""

    def __init__(self) -> None:
        self.open: dict[str, int] = defaultdict(int)
        self.sessions: dict[str, deque[float]] = defaultdict(deque)

    def connect(self, ip: str, limit: int) -> bool:
        if self.open[ip] >= limit:
            return False
        self.open[ip] += 1
        return True

    def disconnect(self, ip: str) -> None:
        self.open[ip] -= 1
        if self.open[ip] <= 0:
            del self.open[ip]

    def new_session(self, ip: str, limit: int, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if len(self.sessions) > 100_000:  # bounded: forget addresses quiet for an hour
            for quiet in [k for k, v in self.sessions.items() if not v or v[-1] <= now - 3600]:
                del self.sessions[quiet]
        recent = self.sessions[ip]
        while recent and recent[0] <= now - 3600:
            recent.popleft()
        if len(recent) >= limit:
            return False
        recent.append(now)
        return True


class SeenMessages:
    """The last message ids handled per session, so a re-sent message is handled once, and the
    replies to the last few, so a re-send whose replies were lost with the connection gets them.

    Kept in memory (bounded): a re-send comes seconds after the first try, over the socket of
    the same worker or, after a reconnect, usually the same one (docs/web.md).
    """

    def __init__(self, per_session: int = 50, sessions: int = 10_000,
                 replies_kept: int = 3) -> None:  # fmt: skip
        self.per_session = per_session
        self.sessions = sessions
        self.replies_kept = replies_kept
        self.ids: OrderedDict[str, OrderedDict[str, list | None]] = OrderedDict()

    def forget(self, session_id: str, message_id: str) -> None:
        self.ids.get(session_id, OrderedDict()).pop(message_id, None)

    def first_time(self, session_id: str, message_id: str) -> list | None:
        """Record ``message_id`` and return the (empty) list its replies go into; None if it
        was recorded for this session before."""
        seen = self.ids.pop(session_id, None) or OrderedDict()
        self.ids[session_id] = seen
        if len(self.ids) > self.sessions:
            self.ids.popitem(last=False)
        if message_id in seen:
            return None
        seen[message_id] = replies = []
        if len(seen) > self.per_session:
            seen.popitem(last=False)
        if len(seen) > self.replies_kept:
            seen[list(seen)[-self.replies_kept - 1]] = None  # the id stays, its replies go
        return replies

    def replies(self, session_id: str, message_id: str) -> list:
        """The replies sent so far to a message (empty when no longer kept)."""
        return list(self.ids.get(session_id, OrderedDict()).get(message_id) or ())


class WebSocketIOOutput(SocketIOOutput):
    """Rasa's socketio output. Each reply carries ``reply_to`` (the message id) and ``seq``, and
    is recorded, so the widget can tell a reply it has from one it missed. A custom payload goes
    out as ``{"custom": ...}`` (Rasa's own passes it to ``emit`` as keyword arguments)."""

    def __init__(self, sio: AsyncServer, bot_message_evt: str, reply_to: str | None = None,
                 record: list | None = None) -> None:  # fmt: skip
        super().__init__(sio, bot_message_evt)
        self.reply_to = reply_to
        self.record = record if record is not None else []

    async def _send_message(self, socket_id: str, response: Any) -> None:
        if self.reply_to:
            response = {**response, "reply_to": self.reply_to, "seq": len(self.record)}
            self.record.append(response)
        await super()._send_message(socket_id, response)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any],
                               **kwargs: Any) -> None:  # fmt: skip
        await self._send_message(recipient_id, {"custom": json_message})


async def widget_route(request: Request, dealer_id: str) -> HTTPResponse:
    """``GET /widget/<dealer>``: the widget's config, only to that dealer's origins."""
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


def client_ip(environ: dict) -> str:
    """The client's address: Sanic's ``remote_addr`` (a trusted proxy's header, when Sanic is
    configured for one), else the socket's peer."""
    request = environ.get("sanic.request")
    if request is None:
        return environ.get("REMOTE_ADDR", "")
    return request.remote_addr or request.ip or ""


class WebSocketIOInput(SocketIOInput):
    """Rasa's socketio channel, restricted to the dealers' origins (see the module docstring).

    ``blueprint`` is Rasa's own: its ``AsyncServer``, socket blueprint and health route. What
    we must change is set on that server afterwards: the engine.io origin check, the widget
    config route, and the four event handlers, each replaced by a method here, because Rasa
    defines them as closures inside its ``blueprint`` (nothing to override or call):

    - ``on_connect``: Rasa accepts any origin and, with a ``jwt_key``, any valid token; the
      widget's token must be signed for a dealer that allows the connection's origin, and
      connections are capped per address;
    - ``on_disconnect``: gives back the address's connection slot;
    - ``on_session_request``: Rasa takes the client's own ``session_id`` and forgets to await
      ``enter_room``; here the server issues the id, resumed only with its signed token;
    - ``on_user_message``: Rasa takes the ``session_id`` the message names and has no ack;
      here the dealer and session are checked, messages are capped, rate limited and
      deduplicated, and the ack carries the conversation's language.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the per-sender rate limit of the REST channel, for the widget's sessions too
        self.limiter = SenderLimiter()
        self.jwt_key = self.jwt_key or os.environ.get("DEALERBOT_WEB_TOKEN_KEY") or None
        if self.jwt_key and not self.jwt_algorithm:
            self.jwt_algorithm = "HS256"
        self.limits = WebLimits.from_env()
        self.per_ip = IpCounter()
        self.seen = SeenMessages()
        self.on_new_message: Callable[[UserMessage], Awaitable[Any]] | None = None
        self.registered_on: Blueprint | None = None  # for the app's agent (language_of)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)  # sets self.sio
        sio = self.sio
        assert sio is not None
        # Rasa passes ``cors_allowed_origins=[]``, which switches engine.io's check off. With
        # ours the engine.io layer refuses other origins before socket.io sees them (polling
        # and websocket); a request without an Origin header is refused in ``on_connect``.
        sio.eio.cors_allowed_origins = lambda origin: origin_allowed(origin)
        self.on_new_message = on_new_message
        self.registered_on = blueprint
        blueprint.route("/widget/<dealer_id>", methods=["GET", "OPTIONS"])(widget_route)
        for event, handler in (
            ("connect", self.on_connect),
            ("disconnect", self.on_disconnect),
            ("session_request", self.on_session_request),
            (self.user_message_evt, self.on_user_message),
        ):
            sio.on(event, handler, namespace=self.namespace)  # replaces Rasa's handler
        # A handler a later Rasa adds would skip every check above: refuse to start with one.
        unchecked = set(sio.handlers.get(self.namespace or "/", {})) - {
            "connect", "disconnect", "session_request", self.user_message_evt}  # fmt: skip
        if unchecked:
            raise RuntimeError(f"Rasa's socketio channel handles {sorted(unchecked)} too: "
                               "bot/channels/socketio_origins.py must check them")  # fmt: skip
        return blueprint

    @property
    def server(self) -> AsyncServer:
        assert self.sio is not None, "blueprint() creates the server"
        return self.sio

    async def on_connect(self, sid: str, environ: dict, auth: dict | None = None) -> bool:
        origin = environ.get("HTTP_ORIGIN")
        if not origin_allowed(origin):
            log.warning("socketio: refused a connection from origin %r", origin)
            return False
        token_dealer = None
        if self.jwt_key:
            claims = self.token_claims((auth or {}).get("token"))
            token_dealer = claims and claims.get("dealer")
            if not token_dealer or not origin_allowed(origin, token_dealer):
                log.warning("socketio: refused a connection without a valid widget token")
                return False
        ip = client_ip(environ)
        if not self.per_ip.connect(ip, self.limits.connections_per_ip):
            log.warning("socketio: refused a connection: %d open from one address",
                        self.limits.connections_per_ip)  # fmt: skip
            return False
        state = {"origin": str(origin).rstrip("/"), "session_id": None, "ip": ip,
                 "dealer": token_dealer}  # fmt: skip
        await self.server.save_session(sid, state, namespace=self.namespace)
        return True

    async def on_disconnect(self, sid: str, *_: Any) -> None:
        state = await self.server.get_session(sid, namespace=self.namespace)
        self.per_ip.disconnect(state.get("ip", ""))

    async def on_session_request(self, sid: str, data: dict | None) -> None:
        sio = self.server
        state = await sio.get_session(sid, namespace=self.namespace)
        secret = get_settings().contact_key_secret
        session_id = session_from_token((data or {}).get("session_token"), secret)
        if session_id is None:
            if not self.per_ip.new_session(state["ip"], self.limits.sessions_per_ip_hour):
                log.warning("socketio: refused a new session: %d this hour from one address",
                            self.limits.sessions_per_ip_hour)  # fmt: skip
                await sio.emit("refused", {"reason": "too many new sessions",
                                           "code": "too_many_sessions"},
                               room=sid, namespace=self.namespace)  # fmt: skip
                return
            session_id = uuid.uuid4().hex
        state["session_id"] = session_id
        await sio.save_session(sid, state, namespace=self.namespace)
        if self.session_persistence:
            await sio.enter_room(sid, session_id, namespace=self.namespace)
        await sio.emit("session_confirm", {"token": session_token(session_id, secret)},
                       room=sid, namespace=self.namespace)  # fmt: skip

    async def on_user_message(self, sid: str, data: dict) -> dict[str, Any]:
        """Handle one message; the return value is the widget's acknowledgement."""
        assert self.on_new_message is not None, "blueprint() sets the handler"
        state = await self.server.get_session(sid, namespace=self.namespace)
        data = data if isinstance(data, dict) else {}
        metadata = data.get(self.metadata_key) or {}
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata)
            except ValueError:
                metadata = {}
        if not isinstance(metadata, dict):
            metadata = {}
        dealer_id = resolve_dealer(metadata)
        if (dealer_id is None or not origin_allowed(state.get("origin"), dealer_id)
                or state.get("dealer") not in (None, dealer_id)):  # fmt: skip
            log.warning("socketio: refused a message for dealer %r from origin %r",
                        metadata.get("dealer"), state.get("origin"))  # fmt: skip
            return await self.refuse(sid, "origin not allowed for this dealer", "origin")
        if self.session_persistence:
            sender_id = state.get("session_id")
            if not sender_id or data.get("session_id") != sender_id:
                return await self.refuse(sid, "send session_request first", "no_session")
        else:
            sender_id = sid
        text = data.get("message", "")
        if not isinstance(text, str) or not text.strip():
            return {"ok": True}
        settings = get_settings()
        if len(text) > settings.max_message_chars:  # the widget's own box stops at 1,000
            return await self.refuse(sid, "message too long", "message_too_long",
                                     max_chars=settings.max_message_chars)  # fmt: skip
        message_id = data.get("message_id")
        if not (isinstance(message_id, str) and MESSAGE_ID.match(message_id)):
            message_id = None
        record = self.seen.first_time(sender_id, message_id) if message_id else []
        if record is None:
            log.info("socketio: message %s of %s already handled", message_id, sender_id)
            replies = self.seen.replies(sender_id, message_id)
            return {"ok": True, "duplicate": True, "replies": replies}
        limiter = self.limiter
        wait = limiter.acquire(sender_id, settings.sender_rate_per_s, settings.sender_burst)
        if wait:
            if message_id:
                self.seen.forget(sender_id, message_id)  # the widget tries it again later
            return await self.refuse(sid, "too many messages", "rate_limited",
                                     retry_after_s=round(wait, 1))  # fmt: skip
        message = UserMessage(
            text,
            WebSocketIOOutput(self.server, self.bot_message_evt, message_id, record),
            sender_id,
            input_channel=self.name(),
            metadata={**metadata, "dealer": dealer_id},
            message_id=message_id,
        )
        try:
            await self.on_new_message(message)
        finally:
            limiter.release(sender_id)
        return {"ok": True, "language": await self.language_of(sender_id)}

    async def refuse(self, sid: str, reason: str, code: str, **extra: Any) -> dict[str, Any]:
        """Tell the widget why a message was not handled: a ``refused`` event and the ack."""
        answer = {"reason": reason, "code": code, **extra}
        await self.server.emit("refused", answer, room=sid, namespace=self.namespace)
        return {"ok": False, **answer}

    def token_claims(self, token: Any) -> dict[str, Any] | None:
        """The claims of a valid, unexpired widget token; None otherwise (logged without it).

        Not Rasa's ``decode_bearer_token``: that one logs every expired token (routine for a
        widget left open) at error level with a traceback, and returns no reason we could log.
        """
        import jwt

        if not isinstance(token, str):
            return None
        try:
            return jwt.decode(token, self.jwt_key, algorithms=[self.jwt_algorithm or "HS256"])
        except jwt.PyJWTError as error:
            log.info("socketio: widget token refused (%s)", type(error).__name__)
            return None

    async def language_of(self, sender_id: str) -> str | None:
        """The conversation's language (the ``language`` slot) after a message, for the
        widget's own texts; None when the tracker cannot be read."""
        blueprint = self.registered_on
        apps = blueprint.apps if blueprint is not None and blueprint.registered else ()
        agent = next((app.ctx.agent for app in apps if getattr(app.ctx, "agent", None)), None)
        store = getattr(agent, "tracker_store", None)
        if store is None:
            return None
        try:
            tracker = await store.retrieve(sender_id)
        except Exception:  # noqa: BLE001 - the reply went out; the language is a nicety
            log.warning("socketio: could not read the language of %s", sender_id)
            return None
        return tracker.get_slot("language") if tracker is not None else None
