"""WhatsApp through Twilio, verified: ``/webhooks/twilio_whatsapp/webhook``.

Rasa's built-in ``twilio`` channel neither checks ``X-Twilio-Signature`` nor makes buttons
answerable. This one:
- verifies the signature with the account's auth token (Twilio's documented algorithm: HMAC-SHA1
  of the full webhook URL plus the sorted POST parameters, base64); a bad or missing one gets
  403 and the message is not processed;
- sends buttons as numbered options and maps a reply of "2" (or the option's text) back to the
  button's payload;
- answers from the number the customer wrote to (``To``), which also picks the dealer location;
- handles each ``MessageSid`` once and sends nothing outside the 24-hour window.
- drops the messages of a sender over the per-sender rate limit (``DEALERBOT_SENDER_RATE`` /
  ``_BURST``), still answering 200, with one notice per limited spell (docs/limits.md).

In ``credentials.yml``: ``bot.channels.twilio_verified.TwilioWhatsAppInput:``; the account SID
and auth token come from the environment (``DEALERBOT_TWILIO_*``, docs/whatsapp.md).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.orm import sessionmaker
from twilio.request_validator import RequestValidator

from bot.channels.base import WhatsAppInput, WhatsAppOutput
from bot.channels.common import DeliveryError, numbered_text, post_with_retry, route
from core.settings import utc_now
from core.whatsapp import ChannelSettings, customer_number, dealer_of_sender, digits, sender_id
from dealer.config import get_dealer

log = logging.getLogger(__name__)
MAX_BODY = 1600  # Twilio's limit for one WhatsApp message body
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def signature_valid(auth_token: str | None, url: str, params: Any, signature: str | None) -> bool:
    """Twilio's ``X-Twilio-Signature`` check for a form-encoded webhook call."""
    if not auth_token or not signature:
        return False
    return RequestValidator(auth_token).validate(url, params, signature)


@dataclass(frozen=True)
class TwilioIncoming:
    message_id: str
    customer: str  # digits
    to: str  # the business number as Twilio gives it: "whatsapp:+3130..."
    kind: str  # message | unsupported
    text: str = ""
    is_payload: bool = False


def parse_form(form: Any) -> TwilioIncoming:
    """A Twilio WhatsApp webhook's form; ValueError when it is not one."""

    def get(key: str) -> str:
        value = form.get(key)
        return str(value).strip() if value is not None else ""

    sid, sender, to = get("MessageSid") or get("SmsSid"), get("From"), get("To")
    if not sid or not sender or not to:
        raise ValueError("needs MessageSid, From and To")
    if not sender.startswith("whatsapp:") or not digits(sender):
        raise ValueError("not a WhatsApp sender (From must be whatsapp:+<number>)")
    base = {"message_id": sid, "customer": digits(sender), "to": to}
    payload = get("ButtonPayload")
    if payload.startswith("/"):
        return TwilioIncoming(**base, kind="message", text=payload, is_payload=True)
    body = get("Body") or get("ButtonText")
    if body:
        return TwilioIncoming(**base, kind="message", text=body)
    if get("Latitude") and get("Longitude"):
        # Someone sharing a location wants the way here: answer with the route and address.
        return TwilioIncoming(**base, kind="message", text="/ask_location", is_payload=True)
    return TwilioIncoming(**base, kind="unsupported")  # media without text, or nothing at all


class TwilioWhatsAppOutput(WhatsAppOutput):
    """Sends the bot's messages through Twilio's Messages API."""

    @classmethod
    def name(cls) -> str:
        return "twilio_whatsapp"

    def __init__(
        self,
        settings: ChannelSettings,
        from_number: str | None = None,
        *,
        last_customer_message: dt.datetime | None = None,
        session_factory: sessionmaker | None = None,
    ) -> None:
        self.settings = settings
        self.from_number = from_number
        self.last_customer_message = last_customer_message
        self._session_factory = session_factory
        self.skipped: list[dict[str, Any]] = []

    def sending_number(self, recipient_id: str) -> str:
        """The number the customer wrote to; without one, the dealer's first WhatsApp number."""
        if self.from_number:
            return self.from_number
        numbers = get_dealer(dealer_of_sender(recipient_id)).whatsapp_numbers
        if not numbers:
            raise DeliveryError("the dealer has no channels.whatsapp.numbers")
        return f"whatsapp:+{digits(numbers[0])}"

    def business_number(self, recipient_id: str) -> str:
        return digits(self.sending_number(recipient_id))

    async def _send(self, recipient_id: str, body: str) -> None:
        sid, token = self.settings.twilio_account_sid, self.settings.twilio_auth_token
        if not sid or not token:
            log.error("WhatsApp reply not sent: DEALERBOT_TWILIO_ACCOUNT_SID/AUTH_TOKEN not set")
            return
        try:
            data = {
                "From": self.sending_number(recipient_id),
                "To": f"whatsapp:+{customer_number(recipient_id)}",
                "Body": body,
            }
            await post_with_retry(
                f"{self.settings.twilio_api_url}/2010-04-01/Accounts/{sid}/Messages.json",
                settings=self.settings,
                data=data,
                auth=aiohttp.BasicAuth(sid, token),
            )
        except DeliveryError as exc:
            log.error("WhatsApp reply not delivered: %s", exc)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        text = text.strip()
        for start in range(0, max(len(text), 1), MAX_BODY):
            await self._send(recipient_id, text[start : start + MAX_BODY])

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_message(recipient_id, numbered_text(text.strip(), buttons))

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, image)


class TwilioWhatsAppInput(WhatsAppInput):
    """The webhook Twilio calls for incoming WhatsApp messages."""

    provider = "twilio"

    @classmethod
    def name(cls) -> str:
        return "twilio_whatsapp"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        channel = cls(credentials or {})
        settings = channel.settings
        if not settings.twilio_auth_token or not settings.twilio_account_sid:
            log.warning(
                "Twilio WhatsApp channel is not configured (DEALERBOT_TWILIO_ACCOUNT_SID, "
                "DEALERBOT_TWILIO_AUTH_TOKEN): its webhook answers 403 until they are set"
            )
        return channel

    def get_output_channel(self) -> OutputChannel | None:
        return TwilioWhatsAppOutput(self.settings, session_factory=self._session_factory)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("twilio_whatsapp_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            settings = self.settings
            url = settings.twilio_webhook_url or request.url
            form = request.form
            signature = request.headers.get("X-Twilio-Signature")
            if not signature_valid(settings.twilio_auth_token, url, form, signature):
                log.warning("Twilio webhook refused: bad or missing X-Twilio-Signature")
                return response.text("invalid signature", status=403)
            account = form.get("AccountSid")
            if settings.twilio_account_sid and account != settings.twilio_account_sid:
                return response.text("wrong account", status=403)
            try:
                incoming = parse_form(form)
            except ValueError as exc:
                return response.text(f"malformed webhook: {exc}", status=400)
            try:
                await self.handle(incoming, settings, request.app, on_new_message)
            except Exception:  # noqa: BLE001 - answered with 500; the claim is released
                log.exception("Twilio WhatsApp message could not be handled")
                return response.text("not handled", status=500)
            return response.text(EMPTY_TWIML, content_type="text/xml")

        return hook

    async def handle(
        self,
        incoming: TwilioIncoming,
        settings: ChannelSettings,
        app: Any,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        """One message: once per MessageSid, as the dealer the receiving number belongs to."""
        dealer = route(number=incoming.to)
        sender = sender_id(incoming.customer, dealer.id)
        now = utc_now()
        await self.handle_once(
            incoming,
            sender=sender,
            business_number=digits(incoming.to),
            sent_at=now,
            app=app,
            on_new_message=on_new_message,
            output=lambda _language: TwilioWhatsAppOutput(
                settings,
                incoming.to,
                last_customer_message=now,
                session_factory=self._session_factory,
            ),
            metadata={"dealer": dealer.id},
        )
