"""WhatsApp facts that the channels (``bot.channels``) and the notifications both use: the
settings, phone numbers, the sender id scheme, and the provider's error code for the logs."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ChannelSettings:
    """WhatsApp settings. Secrets only ever come from the environment or the credentials file."""

    graph_url: str  # Graph API base, version included
    cloud_access_token: str | None
    cloud_app_secret: str | None
    cloud_verify_token: str | None
    twilio_api_url: str
    twilio_account_sid: str | None
    twilio_auth_token: str | None
    twilio_webhook_url: str | None  # the public webhook URL Twilio signs, if behind a proxy
    timeout_s: float  # per HTTP attempt
    attempts: int  # HTTP attempts per outgoing message
    backoff_s: float  # first wait between attempts; doubles each time


def channel_settings(credentials: dict[str, Any] | None = None) -> ChannelSettings:
    """Settings from the credentials file entry (if given) over ``DEALERBOT_*`` env variables."""
    creds = {k: v for k, v in (credentials or {}).items() if v not in (None, "")}
    env = os.environ

    def pick(key: str, var: str) -> str | None:
        value = creds.get(key, env.get(var))
        return None if value in (None, "") else str(value)

    def given(key: str, var: str, default: str) -> str:
        return pick(key, var) or default

    return ChannelSettings(
        graph_url=given(
            "graph_url", "DEALERBOT_WHATSAPP_GRAPH_URL", "https://graph.facebook.com/v20.0"
        ).rstrip("/"),
        cloud_access_token=pick("access_token", "DEALERBOT_WHATSAPP_ACCESS_TOKEN"),
        cloud_app_secret=pick("app_secret", "DEALERBOT_WHATSAPP_APP_SECRET"),
        cloud_verify_token=pick("verify_token", "DEALERBOT_WHATSAPP_VERIFY_TOKEN"),
        twilio_api_url=given(
            "api_url", "DEALERBOT_TWILIO_API_URL", "https://api.twilio.com"
        ).rstrip("/"),
        twilio_account_sid=pick("account_sid", "DEALERBOT_TWILIO_ACCOUNT_SID"),
        twilio_auth_token=pick("auth_token", "DEALERBOT_TWILIO_AUTH_TOKEN"),
        twilio_webhook_url=pick("webhook_url", "DEALERBOT_TWILIO_WEBHOOK_URL"),
        timeout_s=float(given("timeout_s", "DEALERBOT_WHATSAPP_TIMEOUT_S", "10")),
        attempts=max(1, int(given("attempts", "DEALERBOT_WHATSAPP_ATTEMPTS", "4"))),
        backoff_s=float(given("backoff_s", "DEALERBOT_WHATSAPP_BACKOFF_S", "0.5")),
    )


def digits(number: str | None) -> str:
    """A phone number as its digits only: 'whatsapp:+31 6 1234' -> '3161234'."""
    return re.sub(r"\D", "", number or "")


# Sender id namespaces of the channels that prove who the customer is (a signed webhook): a
# sender id starting with one of these belongs to that channel alone. Both WhatsApp routes (Meta
# and Twilio) build theirs with :func:`sender_id`.
WHATSAPP_SENDER_PREFIX = "whatsapp:"
SENDER_NAMESPACES = {WHATSAPP_SENDER_PREFIX: "whatsapp"}


def sender_id(customer_digits: str, dealer_id: str) -> str:
    """The Rasa sender id: one conversation per customer and dealer location.

    Two locations with their own numbers keep separate conversations with the same customer.
    The raw number stays in Rasa's tracker and in bookings; the conversation log only gets the
    HMAC contact key of it (``core.engagement.contact_key``).
    """
    return f"{WHATSAPP_SENDER_PREFIX}+{customer_digits}/{dealer_id}"


def sender_namespace(sender: str) -> str | None:
    """The channel whose namespace ``sender`` is in ('whatsapp'), or None for a free id.

    Case does not matter: 'WhatsApp:+31…' is refused as well, so no look-alike of a customer's
    conversation can be made elsewhere.
    """
    folded = sender.casefold()
    for prefix, channel in SENDER_NAMESPACES.items():
        if folded.startswith(prefix):
            return channel
    return None


def customer_number(sender: str) -> str:
    """The customer's digits back from a sender id made by :func:`sender_id`."""
    return digits(sender.split("/", 1)[0])


def dealer_of_sender(sender: str) -> str | None:
    return sender.split("/", 1)[1] if "/" in sender else None


def provider_error_code(body: str) -> str:
    """`` (error code 131026)`` from a Graph API or Twilio error body, else ''. Only the code:
    the providers' messages can name the customer's number, and this goes to the logs."""
    data = json_object(body)
    error = data.get("error")
    code = (error if isinstance(error, dict) else data).get("code")
    return f" (error code {code})" if isinstance(code, (int, str)) and str(code).isalnum() else ""


def json_object(body: str) -> dict[str, Any]:
    """A response body's JSON object; {} for anything else (empty, HTML, a list)."""
    try:
        value = json.loads(body) if body else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
