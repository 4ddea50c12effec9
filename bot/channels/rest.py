"""Rasa's REST channel (``POST /webhooks/rest/webhook``) with guards against bad input.

Rasa's own ``RestInput`` reads ``request.json`` as it comes: a body that is not JSON or not
UTF-8 got Sanic's generic 400 page, a missing sender id became the shared conversation
``default``, a message of any length went through NLU into the tracker, and a burst from one
sender queued on that conversation's lock (tickets expire after 60 s, then the turns run side by
side or fail). This channel keeps the name ``rest`` (same URL, same recorded channel, same
clients) and refuses such requests before Rasa sees them, each with a JSON error
``{"error": code, "detail": text}`` (docs/limits.md):

- 401 ``unauthorized`` when ``DEALERBOT_REST_TOKEN`` is set and the request lacks
  ``Authorization: Bearer <that token>``;
- 403 ``sender_not_allowed``: a sender id in another channel's namespace (a WhatsApp customer's
  ``whatsapp:+31…/<dealer>``): only that channel's signed webhook may speak for it;
- 400 ``invalid_json``, ``invalid_utf8``, ``invalid_sender``, ``invalid_message``,
  ``invalid_metadata``, ``invalid_input_channel`` (not a short name, or a customer channel such
  as ``whatsapp`` or ``socketio`` that ``DEALERBOT_REST_INPUT_CHANNELS`` does not list: such a
  conversation would count as a customer's in the MEC index);
- 413 ``body_too_large`` (over 64 KiB) and ``message_too_long`` (over
  ``DEALERBOT_MAX_MESSAGE_CHARS`` characters, default 2,000), with ``max_chars``;
- 429 ``rate_limited`` with ``Retry-After``: per sender ``DEALERBOT_SENDER_BURST`` messages at
  once, ``DEALERBOT_SENDER_RATE`` per second after that, and at most 4 in flight.

In ``credentials.yml``: ``bot.channels.rest.GuardedRestInput:`` in place of ``rest:``.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
from asyncio import CancelledError
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import rasa.utils.endpoints
import structlog
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse, ResponseStream

from bot.channels.common import MAX_PENDING, SenderLimiter
from core.engagement import CUSTOMER_CHANNELS, channel_name
from core.settings import get_settings
from core.whatsapp import sender_namespace

log = logging.getLogger(__name__)
structlogger = structlog.get_logger()

MAX_BODY_BYTES = 64 * 1024  # a chat message of 2,000 characters is at most 8 KB of UTF-8
MAX_SENDER_CHARS = 128  # Rasa's SQL tracker store keeps sender ids in a VARCHAR(255)
# Sender ids: printable ASCII without spaces ('bench-1', 'whatsapp:+316.../dealer', uuids).
SENDER_ID = re.compile(r"[\x21-\x7e]+")
# Not text: control characters other than tab and newlines (NUL cannot be stored in
# PostgreSQL), and unpaired surrogates from JSON escapes like "\ud800" (not encodable as UTF-8).
NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class Refused(Exception):
    """A request refused before it reaches Rasa: its HTTP status and a JSON error."""

    def __init__(
        self, status: int, error: str, detail: str, headers: dict[str, str] | None = None, **extra
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.body = {"error": error, "detail": detail, **extra}
        self.headers = headers or {}

    def response(self) -> HTTPResponse:
        return response.json(self.body, status=self.status, headers=self.headers)


@dataclass(frozen=True)
class RestMessage:
    sender: str
    text: str
    metadata: dict[str, Any] | None
    input_channel: str


def parse_body(
    body: bytes,
    *,
    max_chars: int,
    channel: str = "rest",
    customer_channels: Iterable[str] = CUSTOMER_CHANNELS,
    allowed_channels: Iterable[str] = (),
) -> RestMessage:
    """The message in a webhook body; raises :class:`Refused` with the first thing wrong.

    ``input_channel`` may not name one of ``customer_channels`` (as ``channel_name`` maps it)
    unless it is one of ``allowed_channels`` or this channel itself.
    """
    if len(body) > MAX_BODY_BYTES:
        raise Refused(413, "body_too_large", f"the body is over {MAX_BODY_BYTES} bytes",
                      max_bytes=MAX_BODY_BYTES, max_chars=max_chars)  # fmt: skip
    try:
        raw = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, "invalid_utf8", f"the body is not UTF-8 (byte {exc.start})") from None
    if not raw.strip():
        raise Refused(400, "invalid_json", "the body is empty; send a JSON object")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise Refused(400, "invalid_json", f"the body is not JSON: {exc.msg} at {where}") from None
    except RecursionError:
        raise Refused(400, "invalid_json", "the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise Refused(400, "invalid_json", "the body must be a JSON object")
    return RestMessage(
        sender=_sender(data.get("sender")),
        text=_text(data.get("message"), max_chars),
        metadata=_metadata(data.get("metadata")),
        input_channel=_input_channel(
            data.get("input_channel"), channel, customer_channels, allowed_channels
        ),
    )


def _sender(sender: Any) -> str:
    if sender is None:
        raise Refused(400, "invalid_sender", "sender is missing")
    if not isinstance(sender, str):
        raise Refused(400, "invalid_sender", "sender must be a string")
    if not sender:
        raise Refused(400, "invalid_sender", "sender is empty")
    if len(sender) > MAX_SENDER_CHARS:
        raise Refused(400, "invalid_sender", f"sender is over {MAX_SENDER_CHARS} characters")
    if not SENDER_ID.fullmatch(sender):
        raise Refused(
            400, "invalid_sender", "sender may only have printable ASCII characters, no spaces"
        )
    channel = sender_namespace(sender)
    if channel:
        raise Refused(
            403, "sender_not_allowed", f"sender ids of this form belong to the {channel} "
            "channel; the REST channel may not speak for its customers"
        )  # fmt: skip
    return sender


def authorized(header: str | None, token: str | None) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>`` (always, if no token is
    set). Compared in constant time, as bytes (a non-ASCII header must not raise)."""
    if not token:
        return True
    scheme, _, given = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def unauthorized() -> Refused:
    return Refused(
        401,
        "unauthorized",
        "send Authorization: Bearer <DEALERBOT_REST_TOKEN>",
        headers={"WWW-Authenticate": 'Bearer realm="dealerbot-rest"'},
    )


def _text(text: Any, max_chars: int) -> str:
    if text is None:
        raise Refused(400, "invalid_message", "message is missing")
    if not isinstance(text, str):
        raise Refused(400, "invalid_message", "message must be a string")
    if not text.strip():
        raise Refused(400, "invalid_message", "message is empty")
    if len(text) > max_chars:
        raise Refused(413, "message_too_long", f"message is over {max_chars} characters",
                      max_chars=max_chars)  # fmt: skip
    if NOT_TEXT.search(text):
        raise Refused(
            400, "invalid_message", "message has characters that are not text (control "
            "characters or unpaired surrogates)"
        )  # fmt: skip
    return text


def _metadata(metadata: Any) -> dict[str, Any] | None:
    if metadata is not None and not isinstance(metadata, dict):
        raise Refused(400, "invalid_metadata", "metadata must be a JSON object")
    if metadata and not _is_text(metadata):
        raise Refused(400, "invalid_metadata", "metadata has characters that are not text")
    return metadata


def _is_text(value: Any) -> bool:
    """No control characters or unpaired surrogates in any key or string (actions store some)."""
    if isinstance(value, str):
        return not NOT_TEXT.search(value)
    if isinstance(value, dict):
        return all(_is_text(k) and _is_text(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_text(v) for v in value)
    return True


def _input_channel(
    value: Any, default: str, customer_channels: Iterable[str], allowed: Iterable[str]
) -> str:
    # Rasa lets a REST client name another channel; kept, but it must be a short name, and not
    # a customer channel (its conversations would count in the MEC index) unless allowed.
    if value in (None, ""):
        return default
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", value):
        raise Refused(400, "invalid_input_channel", "input_channel must be a short name")
    mapped = channel_name(value)
    if (
        mapped in set(customer_channels)
        and mapped != channel_name(default)
        and value not in set(allowed)
    ):
        raise Refused(
            400,
            "invalid_input_channel",
            f"input_channel '{value}' is the customer channel '{mapped}'; REST clients may not "
            "set it unless DEALERBOT_REST_INPUT_CHANNELS lists it",
        )
    return value


def rate_limited(wait_s: float) -> Refused:
    seconds = max(1, math.ceil(wait_s))
    return Refused(
        429,
        "rate_limited",
        f"too many messages from this sender; try again in {seconds} s",
        headers={"Retry-After": str(seconds)},
        retry_after_s=seconds,
    )


class GuardedRestInput(RestInput):
    """Rasa's REST channel behind the guards of the module docstring; the name stays ``rest``."""

    def __init__(self, limiter: SenderLimiter | None = None) -> None:
        # not `limiter or ...`: an empty limiter has len() 0
        self.limiter = SenderLimiter() if limiter is None else limiter

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GuardedRestInput:
        """``max_pending:`` in the credentials file overrides :data:`MAX_PENDING`."""
        pending = int((credentials or {}).get("max_pending") or MAX_PENDING)
        return cls(SenderLimiter(max_pending=pending))

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse | ResponseStream:
            settings = get_settings()
            if not authorized(request.headers.get("Authorization"), settings.rest_token):
                log.info("rest: refused a request without the bearer token")
                return unauthorized().response()
            try:
                message = parse_body(
                    request.body or b"",
                    max_chars=settings.max_message_chars,
                    channel=self.name(),
                    customer_channels=settings.customer_channels,
                    allowed_channels=settings.rest_input_channels,
                )
            except Refused as refused:
                log.info("rest: refused a request: %s", refused.body["error"])
                return refused.response()
            sender = message.sender
            wait = self.limiter.acquire(sender, settings.sender_rate_per_s, settings.sender_burst)
            if wait:
                log.debug("rest: a sender is over its rate limit")
                return rate_limited(wait).response()
            if rasa.utils.endpoints.bool_arg(request, "stream", default=False):
                return self._stream(on_new_message, message)
            try:
                return await self._answer(on_new_message, message)
            finally:
                self.limiter.release(sender)

        return hook

    async def _answer(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]], message: RestMessage
    ) -> HTTPResponse:
        """As Rasa's RestInput: a failed turn still answers 200 with what was said so far."""
        collector = CollectingOutputChannel()
        try:
            await on_new_message(
                UserMessage(
                    message.text,
                    collector,
                    message.sender,
                    input_channel=message.input_channel,
                    metadata=message.metadata,
                )
            )
        except CancelledError:
            # Never the text (docs/limits.md: logs hold ids and lengths, not what people wrote).
            structlogger.error("rest.message.received.timeout", chars=len(message.text))
        except Exception:
            structlogger.exception("rest.message.received.failure", chars=len(message.text))
        return response.json(collector.messages)

    def _stream(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]], message: RestMessage
    ) -> ResponseStream:
        inner = self.stream_response(
            on_new_message, message.text, message.sender, message.input_channel, message.metadata
        )

        async def stream(resp: Any) -> None:
            try:
                await inner(resp)
            finally:
                self.limiter.release(message.sender)

        return response.stream(stream, content_type="text/event-stream")
