"""WhatsApp Cloud API (Meta) as a Rasa input channel: ``/webhooks/whatsapp_cloud/webhook``.

In ``credentials.yml``: ``bot.channels.whatsapp_cloud.WhatsAppCloudInput:``; the secrets come
from the environment (``DEALERBOT_WHATSAPP_*``, docs/whatsapp.md).

- GET: Meta's verification handshake (``hub.mode``, ``hub.verify_token``, ``hub.challenge``).
- POST: verified with ``X-Hub-Signature-256`` (HMAC-SHA256 of the body with the app secret);
  text, reply buttons, list replies and locations go to the bot; images, audio, stickers and
  other media get a polite text-only reply; status updates are accepted and ignored.
- Every message id is handled once (``bot.channels.inbox``), so Meta's retries get no second
  reply and no second record.
- A sender over the per-sender rate limit (``DEALERBOT_SENDER_RATE`` / ``_BURST``) has its
  messages dropped, still with 200, and gets one notice per limited spell (docs/limits.md).
- Replies go out through the Graph API ``messages`` call: up to 3 choices as reply buttons, up
  to 10 as a list, more as numbered text; nothing is sent outside the 24-hour window.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.orm import sessionmaker

from bot.channels.base import WhatsAppInput, WhatsAppOutput
from bot.channels.common import (
    CHOOSE,
    DeliveryError,
    numbered_text,
    post_with_retry,
    route,
    webhook_max_age,
)
from core.settings import utc_now
from core.whatsapp import ChannelSettings, customer_number, dealer_of_sender, sender_id
from dealer.config import get_dealer

log = logging.getLogger(__name__)
MAX_TEXT = 4096  # Graph API limits
MAX_BODY = 1024
MAX_BUTTON_TITLE, MAX_ROW_TITLE, MAX_ROW_DESCRIPTION = 20, 24, 72
MAX_BUTTON_ID, MAX_ROW_ID = 256, 200
UNSUPPORTED = frozenset(
    {"image", "audio", "voice", "video", "sticker", "document", "contacts", "order", "unsupported"}
)
IGNORED = frozenset({"reaction", "system", "ephemeral", "request_welcome"})


def verify_signature(app_secret: str | None, body: bytes, header: str | None) -> bool:
    """``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the app secret>``."""
    if not app_secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    given = header[len("sha256=") :].strip().lower()
    return hmac.compare_digest(expected.encode(), given.encode())  # bytes: non-ASCII is no 500


@dataclass(frozen=True)
class Incoming:
    """One customer message from a webhook call."""

    message_id: str
    customer: str  # the customer's number, digits only (Meta's wa_id)
    phone_number_id: str
    display_number: str
    sent_at: dt.datetime  # aware UTC
    kind: str  # message | unsupported | ignored
    text: str = ""
    is_payload: bool = False  # a button or list reply: the text is the button's payload
    metadata: dict[str, Any] = field(default_factory=dict)


def _dict(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be an object")
    return value


def _list(value: Any, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a list")
    return value


def _sent_at(timestamp: Any) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(int(timestamp), dt.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return utc_now()


def parse_webhook(payload: Any) -> tuple[list[Incoming], int]:
    """The customer messages in a webhook body and the number of status updates in it.

    Raises ValueError for a body that is not a WhatsApp Business Account webhook.
    """
    payload = _dict(payload, "the body")
    if payload.get("object") != "whatsapp_business_account":
        raise ValueError("not a whatsapp_business_account webhook")
    messages: list[Incoming] = []
    statuses = 0
    for entry in _list(payload.get("entry"), "entry"):
        for change in _list(_dict(entry, "entry[]").get("changes"), "changes"):
            change = _dict(change, "changes[]")
            if change.get("field") != "messages":
                continue
            value = _dict(change.get("value"), "value")
            meta = _dict(value.get("metadata") or {}, "metadata")
            statuses += len(_list(value.get("statuses"), "statuses"))
            for raw in _list(value.get("messages"), "messages"):
                messages.append(_parse_message(_dict(raw, "messages[]"), meta))
    return messages, statuses


def _parse_message(raw: dict, meta: dict) -> Incoming:
    for key in ("id", "from", "type"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ValueError(f"a message without '{key}'")
    phone_number_id = str(meta.get("phone_number_id") or "")
    if not phone_number_id:
        raise ValueError("a message without metadata.phone_number_id")
    base = {
        "message_id": raw["id"],
        "customer": "".join(c for c in raw["from"] if c.isdigit()),
        "phone_number_id": phone_number_id,
        "display_number": str(meta.get("display_phone_number") or ""),
        "sent_at": _sent_at(raw.get("timestamp")),
    }
    kind = raw["type"]
    if kind == "text":
        body = str((raw.get("text") or {}).get("body") or "")
        return Incoming(**base, kind="message", text=body)
    if kind == "interactive":
        interactive = raw.get("interactive") or {}
        reply = interactive.get(interactive.get("type") or "") or {}
        if interactive.get("type") in ("button_reply", "list_reply") and reply.get("id"):
            return _reply(base, str(reply["id"]), str(reply.get("title") or ""))
        return Incoming(**base, kind="unsupported")
    if kind == "button":  # a quick-reply button of a template message
        button = raw.get("button") or {}
        return _reply(base, str(button.get("payload") or ""), str(button.get("text") or ""))
    if kind == "location":
        # Someone sharing a location wants the way here: answer with the route and address.
        return Incoming(**base, kind="message", text="/ask_location", is_payload=True)
    if kind in IGNORED:
        return Incoming(**base, kind="ignored")
    return Incoming(**base, kind="unsupported")  # image, audio, sticker, ... and anything new


def _reply(base: dict, payload: str, title: str) -> Incoming:
    if payload.startswith("/"):  # one of our payloads
        return Incoming(**base, kind="message", text=payload, is_payload=True)
    return Incoming(**base, kind="message", text=title or payload)


def interactive_message(text: str, buttons: list[dict[str, Any]], language: str) -> dict | None:
    """Rasa buttons as a Graph API interactive object: reply buttons for up to 3 choices, a list
    for up to 10; None when they do not fit (then they go as numbered text)."""
    if not buttons or not text or len(text) > MAX_BODY:
        return None
    titles = [str(b.get("title") or "").strip() for b in buttons]
    ids = [str(b.get("payload") or b.get("title") or "") for b in buttons]
    if not all(titles) or len(set(ids)) != len(ids) or not all(ids):
        return None
    body = {"text": text}
    if (
        len(buttons) <= 3
        and all(len(t) <= MAX_BUTTON_TITLE for t in titles)
        and len(set(titles)) == len(titles)
        and all(len(i) <= MAX_BUTTON_ID for i in ids)
    ):
        replies = [
            {"type": "reply", "reply": {"id": i, "title": t}}
            for i, t in zip(ids, titles, strict=True)
        ]
        return {"type": "button", "body": body, "action": {"buttons": replies}}
    if len(buttons) <= 10 and all(len(i) <= MAX_ROW_ID for i in ids):
        rows = []
        for i, title in zip(ids, titles, strict=True):
            row = {"id": i, "title": title}
            if len(title) > MAX_ROW_TITLE:  # the full title goes in the description
                row = {
                    "id": i,
                    "title": title[: MAX_ROW_TITLE - 1] + "…",
                    "description": title[:MAX_ROW_DESCRIPTION],
                }
            rows.append(row)
        label = CHOOSE.get(language, CHOOSE["en"])
        return {
            "type": "list",
            "body": body,
            "action": {"button": label, "sections": [{"rows": rows}]},
        }
    return None


def _chunks(text: str, size: int = MAX_TEXT) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class WhatsAppCloudOutput(WhatsAppOutput):
    """Sends the bot's messages through the Graph API, from the number the customer wrote to."""

    @classmethod
    def name(cls) -> str:
        return "whatsapp_cloud"

    def __init__(
        self,
        settings: ChannelSettings,
        phone_number_id: str | None = None,
        *,
        language: str = "nl",
        last_customer_message: dt.datetime | None = None,
        session_factory: sessionmaker | None = None,
    ) -> None:
        self.settings = settings
        self.phone_number_id = phone_number_id
        self.language = language
        self.last_customer_message = last_customer_message
        self._session_factory = session_factory
        self.skipped: list[dict[str, Any]] = []  # messages held back by the 24-hour window

    def sending_number(self, recipient_id: str) -> str:
        """The number the customer wrote to; for a message sent without one (triggered through
        Rasa's API), the first phone number id of the conversation's dealer."""
        if self.phone_number_id:
            return self.phone_number_id
        ids = get_dealer(dealer_of_sender(recipient_id)).whatsapp_phone_number_ids
        if not ids:
            raise DeliveryError("the dealer has no channels.whatsapp.phone_number_ids")
        return ids[0]

    def business_number(self, recipient_id: str) -> str:
        return self.sending_number(recipient_id)

    async def _send(self, recipient_id: str, content: dict[str, Any]) -> None:
        if not self.settings.cloud_access_token:
            log.error("WhatsApp reply not sent: DEALERBOT_WHATSAPP_ACCESS_TOKEN is not set")
            return
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": customer_number(recipient_id),
            **content,
        }
        try:
            await post_with_retry(
                f"{self.settings.graph_url}/{self.sending_number(recipient_id)}/messages",
                settings=self.settings,
                json=body,
                headers={"Authorization": f"Bearer {self.settings.cloud_access_token}"},
            )
        except DeliveryError as exc:
            # Raising would make Rasa fail the turn and Meta re-deliver the customer's message.
            log.error("WhatsApp reply not delivered: %s", exc)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for chunk in _chunks(text.strip()):
            await self._send(
                recipient_id, {"type": "text", "text": {"body": chunk, "preview_url": False}}
            )

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        interactive = interactive_message(text.strip(), buttons, self.language)
        if interactive is None:
            await self.send_text_message(recipient_id, numbered_text(text.strip(), buttons))
        else:
            await self._send(recipient_id, {"type": "interactive", "interactive": interactive})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._send(recipient_id, {"type": "image", "image": {"link": image}})

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        """A custom response with a Graph ``type`` is sent as is (e.g. a template)."""
        if "type" in json_message:
            await self._send(recipient_id, dict(json_message))
        else:
            await self.send_text_message(recipient_id, json.dumps(json_message))


class WhatsAppCloudInput(WhatsAppInput):
    """The webhook Meta calls for the dealer's WhatsApp Business numbers."""

    provider = "cloud"

    @classmethod
    def name(cls) -> str:
        return "whatsapp_cloud"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        channel = cls(credentials or {})
        settings = channel.settings
        missing = [
            name
            for name, value in (
                ("DEALERBOT_WHATSAPP_APP_SECRET", settings.cloud_app_secret),
                ("DEALERBOT_WHATSAPP_VERIFY_TOKEN", settings.cloud_verify_token),
                ("DEALERBOT_WHATSAPP_ACCESS_TOKEN", settings.cloud_access_token),
            )
            if not value
        ]
        if missing:
            log.warning(
                "WhatsApp Cloud API channel is not configured (%s): its webhook answers "
                "403 until these are set",
                ", ".join(missing),
            )
        return channel

    def get_output_channel(self) -> OutputChannel | None:
        """For messages sent without a customer message (Rasa's trigger API): the sending number
        comes from the dealer file, and the 24-hour window from the store."""
        return WhatsAppCloudOutput(self.settings, session_factory=self._session_factory)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("whatsapp_cloud_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            token = self.settings.cloud_verify_token
            args = request.args
            given = args.get("hub.verify_token") or ""
            # as bytes: compare_digest raises TypeError on non-ASCII str (it answered 500)
            if (
                token
                and args.get("hub.mode") == "subscribe"
                and hmac.compare_digest(given.encode(), token.encode())
            ):
                return response.text(args.get("hub.challenge") or "")
            return response.text("verification failed", status=403)

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            settings = self.settings
            body = request.body or b""
            header = request.headers.get("X-Hub-Signature-256")
            if not verify_signature(settings.cloud_app_secret, body, header):
                log.warning("WhatsApp webhook refused: bad or missing X-Hub-Signature-256")
                return response.text("invalid signature", status=403)
            try:
                messages, statuses = parse_webhook(json.loads(body))
            except ValueError as exc:  # JSONDecodeError is a ValueError
                return response.json({"error": f"malformed webhook: {exc}"}, status=400)
            if statuses:
                log.debug("WhatsApp: %d status update(s) ignored", statuses)
            for incoming in messages:
                try:
                    await self.handle(incoming, settings, request.app, on_new_message)
                except Exception:  # noqa: BLE001 - a 500 makes Meta deliver it again
                    log.exception("WhatsApp message could not be handled")
                    return response.json({"error": "not handled, retry"}, status=500)
            return response.json({"status": "ok"})

        return hook

    async def handle(
        self,
        incoming: Incoming,
        settings: ChannelSettings,
        app: Any,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        """One message: once per message id, as the dealer its number belongs to."""
        if incoming.kind == "ignored":
            return
        max_age = webhook_max_age()
        if incoming.sent_at < utc_now() - max_age:
            # Signed, but older than the ids we keep: a replay of a captured call (docs/limits.md)
            log.warning("WhatsApp Cloud message older than %d days ignored", max_age.days)
            return
        dealer = route(number=incoming.display_number, phone_number_id=incoming.phone_number_id)
        await self.handle_once(
            incoming,
            sender=sender_id(incoming.customer, dealer.id),
            business_number=incoming.phone_number_id,
            sent_at=incoming.sent_at,
            app=app,
            on_new_message=on_new_message,
            output=lambda language: WhatsAppCloudOutput(
                settings,
                incoming.phone_number_id,
                language=language,
                last_customer_message=incoming.sent_at,
                session_factory=self._session_factory,
            ),
            metadata={"dealer": dealer.id, **incoming.metadata},
        )
