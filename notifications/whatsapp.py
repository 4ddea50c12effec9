"""Approved WhatsApp templates, sent by the outbox worker: the day-before reminder, and the
message staff send from the inbox outside the 24-hour window (``handoff.whatsapp``).

Outside WhatsApp's 24-hour window only an approved template may start a conversation, so the
reminder is one (``reminders.whatsapp`` in the dealer file, docs/staff.md), and so is what staff
send to a customer whose window has closed. It goes through the
route the dealer's WhatsApp runs on:

- Cloud API (the dealer has ``channels.whatsapp.phone_number_ids`` and the template a name):
  ``POST <graph>/<phone-number-id>/messages`` with ``type: template``;
- Twilio (the dealer has ``channels.whatsapp.numbers`` and a Content SID for the language):
  ``POST .../Messages.json`` with ``ContentSid`` and ``ContentVariables``.

The credentials are the channels' own (``DEALERBOT_WHATSAPP_ACCESS_TOKEN``,
``DEALERBOT_TWILIO_ACCOUNT_SID``/``_AUTH_TOKEN``, ``core.whatsapp.channel_settings``).
One HTTP attempt per call: the outbox retries with its backoff. Errors never carry the
customer's number (they are stored and logged).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

from core.whatsapp import ChannelSettings, digits, provider_error_code
from dealer.config import Dealer, WhatsAppTemplate, template_route


class WhatsAppError(RuntimeError):
    """The reminder was not accepted; the outbox tries again later."""


def cloud_body(to: str, template: str, language: str, parameters: list[str]) -> dict:
    """The Graph API body of a template message (Meta's documented format)."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": {
            "name": template,
            "language": {"code": language},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}
            ],
        },
    }


def _post(url: str, data: bytes, headers: dict, timeout: float) -> dict:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", "replace")
        raise WhatsAppError(f"HTTP {exc.code}{provider_error_code(body)}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise WhatsAppError(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from None


def route(dealer: Dealer, lang: str) -> str | None:
    """``cloud`` or ``twilio``: how the dealer's reminder template reaches a customer writing in
    ``lang``; None when the dealer file gives no way."""
    return template_route(dealer, dealer.reminder_whatsapp, lang)


def send_template(
    settings: ChannelSettings,
    dealer: Dealer,
    template: WhatsAppTemplate | None,
    customer_digits: str,
    lang: str,
    parameters: list[str],
) -> str:
    """Send an approved ``template`` with its body ``parameters`` to one customer through the
    dealer's WhatsApp route; returns the provider's message id."""
    way = template_route(dealer, template, lang)
    if way == "cloud":
        if not settings.cloud_access_token:
            raise WhatsAppError("DEALERBOT_WHATSAPP_ACCESS_TOKEN is not set")
        language = template.languages.get(lang) or lang
        body = cloud_body(customer_digits, template.name, language, parameters)
        answer = _post(
            f"{settings.graph_url}/{dealer.whatsapp_phone_number_ids[0]}/messages",
            json.dumps(body).encode(),
            {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {settings.cloud_access_token}",
            },
            settings.timeout_s,
        )
        return str(((answer.get("messages") or [{}])[0]).get("id") or "")
    if way == "twilio":
        account, token = settings.twilio_account_sid, settings.twilio_auth_token
        if not account or not token:
            raise WhatsAppError("DEALERBOT_TWILIO_ACCOUNT_SID/AUTH_TOKEN are not set")
        form = {
            "From": f"whatsapp:+{digits(dealer.whatsapp_numbers[0])}",
            "To": f"whatsapp:+{customer_digits}",
            "ContentSid": template.twilio_content_sids[lang],
            "ContentVariables": json.dumps({str(i): p for i, p in enumerate(parameters, 1)}),
        }
        basic = base64.b64encode(f"{account}:{token}".encode()).decode()
        answer = _post(
            f"{settings.twilio_api_url}/2010-04-01/Accounts/{account}/Messages.json",
            urllib.parse.urlencode(form).encode(),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": f"Basic {basic}",
            },
            settings.timeout_s,
        )
        return str(answer.get("sid") or "")
    raise WhatsAppError(
        f"no WhatsApp route for the template in '{lang}' (Cloud API: template and "
        "channels.whatsapp.phone_number_ids; Twilio: twilio_content_sid and "
        "channels.whatsapp.numbers)"
    )
