"""Twilio WhatsApp: the signature check, the webhook form, numbered buttons, sending."""

import asyncio
import datetime as dt

import pytest

from bot.channels.twilio_verified import TwilioWhatsAppOutput, parse_form, signature_valid
from core.whatsapp import channel_settings
from tests.e2e.fakes import FakeTwilio, twilio_form, twilio_signature

SID = "AC" + "0" * 32
URL = "https://dealer.example/webhooks/twilio_whatsapp/webhook"
SENDER = "whatsapp:+31612345678/autohuis-demo"


def test_signature_of_url_and_sorted_params():
    form = twilio_form(SID, "SM1", "+31612345678", "+31301234567", "hoi")
    good = twilio_signature("tok", URL, form)
    assert signature_valid("tok", URL, form, good)
    assert not signature_valid("tok", URL, {**form, "Body": "hoi!"}, good)  # tampered
    assert not signature_valid("tok", URL + "?x=1", form, good)  # another URL
    assert not signature_valid("other", URL, form, good)
    assert not signature_valid("tok", URL, form, None)
    assert not signature_valid(None, URL, form, good)  # not configured: nothing passes


def test_parse_text_location_media_and_bad_forms():
    form = twilio_form(SID, "SM1", "+31612345678", "+31301234567", "hoi")
    incoming = parse_form(form)
    assert (incoming.customer, incoming.to, incoming.kind, incoming.text) == (
        "31612345678", "whatsapp:+31301234567", "message", "hoi")  # fmt: skip
    where = parse_form({**form, "Body": "", "Latitude": "52.1", "Longitude": "5.1"})
    assert (where.text, where.is_payload) == ("/ask_location", True)
    photo = parse_form({**form, "Body": "", "NumMedia": "1", "MediaContentType0": "image/jpeg"})
    assert photo.kind == "unsupported"
    with pytest.raises(ValueError, match="MessageSid, From and To"):
        parse_form({**form, "From": ""})
    with pytest.raises(ValueError, match="not a WhatsApp sender"):
        parse_form({**form, "From": "+31612345678"})  # an SMS


@pytest.fixture
def twilio(monkeypatch):
    server = FakeTwilio()
    monkeypatch.setenv("DEALERBOT_TWILIO_API_URL", server.url)
    monkeypatch.setenv("DEALERBOT_TWILIO_ACCOUNT_SID", SID)
    monkeypatch.setenv("DEALERBOT_TWILIO_AUTH_TOKEN", "tok")
    monkeypatch.setenv("DEALERBOT_WHATSAPP_BACKOFF_S", "0.01")
    yield server
    server.stop()


def send(out, message):
    asyncio.run(out.send_response(SENDER, dict(message)))


def test_buttons_go_as_numbered_options_from_the_receiving_number(twilio, now):
    out = TwilioWhatsAppOutput(channel_settings(), "whatsapp:+31301234567",
                               last_customer_message=now)  # fmt: skip
    send(out, {"text": "Wat wilt u aanpassen?", "buttons": [
        {"title": "Datum en tijd", "payload": "/a"}, {"title": "Kenteken", "payload": "/b"}]})  # fmt: skip
    (request,) = twilio.delivered()
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.headers["Authorization"].startswith("Basic ")
    assert request.body == {"From": "whatsapp:+31301234567", "To": "whatsapp:+31612345678",
                            "Body": "Wat wilt u aanpassen?\n\n1. Datum en tijd\n2. Kenteken"}  # fmt: skip


def test_retried_on_500_and_nothing_outside_the_window(twilio, now):
    twilio.fail_next[:] = [500]
    out = TwilioWhatsAppOutput(channel_settings(), "whatsapp:+31301234567",
                               last_customer_message=now)  # fmt: skip
    send(out, {"text": "Hallo"})
    assert [r.status for r in twilio.requests] == [500, 201]
    late = TwilioWhatsAppOutput(channel_settings(), "whatsapp:+31301234567",
                                last_customer_message=now - dt.timedelta(days=2))  # fmt: skip
    send(late, {"text": "Hoe tevreden?", "utter_action": "utter_ask_csat"})
    assert len(twilio.requests) == 2 and late.skipped


def test_a_triggered_message_is_sent_from_the_dealer_number(twilio, now):
    out = TwilioWhatsAppOutput(channel_settings())
    assert out.sending_number(SENDER) == "whatsapp:+31301234567"
