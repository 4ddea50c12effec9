"""WhatsApp Cloud API: signatures, webhook parsing, interactive rendering, sending, the window."""

import asyncio
import datetime as dt

import pytest

from bot.channels.whatsapp_cloud import (
    WhatsAppCloudInput,
    WhatsAppCloudOutput,
    interactive_message,
    parse_webhook,
    verify_signature,
)
from core.whatsapp import channel_settings
from tests.e2e.fakes import (
    cloud_message,
    cloud_status,
    cloud_text,
    cloud_webhook,
    meta_signature,
)

WA = "31612345678"
SENDER = f"whatsapp:+{WA}/autohuis-demo"
MENU = [
    {"title": "Afspraak werkplaats", "payload": "/book_service"},
    {"title": "Auto's op voorraad", "payload": "/ask_car_availability"},
    {"title": "Openingstijden", "payload": "/ask_opening_hours"},
]


def scale(question, low, high):
    return [{"title": str(n), "payload": f'/inform{{"{question}": "{n}"}}'}
            for n in range(low, high + 1)]  # fmt: skip


def test_signature_is_hmac_sha256_of_the_raw_body():
    body = b'{"object": "whatsapp_business_account"}'
    assert verify_signature("s3cret", body, meta_signature("s3cret", body))
    assert not verify_signature("s3cret", body + b" ", meta_signature("s3cret", body))
    assert not verify_signature("other", body, meta_signature("s3cret", body))
    assert not verify_signature("s3cret", body, None)
    assert not verify_signature("s3cret", body, "sha1=abc")
    assert not verify_signature(None, body, meta_signature("", body))  # not configured


def test_parse_text_replies_location_media_and_statuses(now):
    ts = int(now.timestamp())
    body = cloud_webhook("100000000000001", "31301234567", messages=[
        cloud_text(WA, "wamid.1", ts, "hoi"),
        cloud_message(WA, "wamid.2", ts, "interactive", interactive={
            "type": "button_reply", "button_reply": {"id": "/book_service", "title": "Afspraak"}}),
        cloud_message(WA, "wamid.3", ts, "interactive", interactive={
            "type": "list_reply", "list_reply": {"id": '/inform{"csat": "5"}', "title": "5"}}),
        cloud_message(WA, "wamid.4", ts, "location",
                      location={"latitude": 52.1, "longitude": 5.1, "name": "Thuis"}),
        cloud_message(WA, "wamid.5", ts, "image", image={"id": "img", "mime_type": "image/jpeg"}),
        cloud_message(WA, "wamid.6", ts, "sticker", sticker={"id": "st"}),
        cloud_message(WA, "wamid.7", ts, "reaction", reaction={"message_id": "x", "emoji": "👍"}),
    ], statuses=[cloud_status("wamid.out.1", WA, "delivered", ts)])  # fmt: skip
    messages, statuses = parse_webhook(body)
    assert statuses == 1
    got = [(m.message_id, m.kind, m.text, m.is_payload) for m in messages]
    assert got == [
        ("wamid.1", "message", "hoi", False),
        ("wamid.2", "message", "/book_service", True),
        ("wamid.3", "message", '/inform{"csat": "5"}', True),
        ("wamid.4", "message", "/ask_location", True),
        ("wamid.5", "unsupported", "", False),
        ("wamid.6", "unsupported", "", False),
        ("wamid.7", "ignored", "", False),
    ]
    first = messages[0]
    assert (first.customer, first.phone_number_id, first.display_number) == (
        WA, "100000000000001", "31301234567")  # fmt: skip
    assert first.sent_at == now.astimezone(dt.timezone.utc)


def test_a_status_update_alone_has_no_messages():
    body = cloud_webhook("1", "2", statuses=[cloud_status("wamid.out.1", WA, "read", 1)])
    assert parse_webhook(body) == ([], 1)


@pytest.mark.parametrize(
    "body, problem",
    [
        ([], "must be an object"),
        ({"object": "page", "entry": []}, "not a whatsapp_business_account"),
        ({"object": "whatsapp_business_account", "entry": {}}, "entry must be a list"),
        (cloud_webhook("1", "2", messages=[{"from": WA, "type": "text"}]), "without 'id'"),
        ({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages",
          "value": {"messages": [cloud_text(WA, "w", 1, "x")]}}]}]}, "phone_number_id"),
    ],
)  # fmt: skip
def test_malformed_webhooks_are_refused_with_a_reason(body, problem):
    with pytest.raises(ValueError, match=problem):
        parse_webhook(body)


def test_up_to_three_choices_are_reply_buttons():
    sent = interactive_message("Waarmee kan ik helpen?", MENU, "nl")
    assert sent["type"] == "button"
    assert sent["action"]["buttons"][1] == {
        "type": "reply", "reply": {"id": "/ask_car_availability", "title": "Auto's op voorraad"}}  # fmt: skip


def test_up_to_ten_choices_are_a_list_and_long_titles_are_kept_whole():
    sent = interactive_message("Hoe tevreden bent u?", scale("csat", 1, 5), "nl")
    assert sent["type"] == "list" and sent["action"]["button"] == "Kies"
    assert [r["id"] for r in sent["action"]["sections"][0]["rows"]][-1] == '/inform{"csat": "5"}'
    assert interactive_message("x", scale("ces", 1, 7), "en")["action"]["button"] == "Choose"
    long = [{"title": "Dinsdag 24 november om 10:00 uur", "payload": "/a"},
            {"title": "Kort", "payload": "/b"}]  # fmt: skip
    row = interactive_message("Wanneer?", long, "nl")["action"]["sections"][0]["rows"][0]
    assert len(row["title"]) <= 24 and row["description"] == long[0]["title"]


def test_more_than_ten_choices_go_as_numbered_text():
    assert interactive_message("Aanbevelen?", scale("nps", 0, 10), "nl") is None
    assert interactive_message("x" * 1025, MENU, "nl") is None  # body too long for interactive


def send(out, message):
    asyncio.run(out.send_response(SENDER, dict(message)))


def test_output_sends_text_buttons_lists_and_numbered_text(graph, now):
    out = WhatsAppCloudOutput(channel_settings(), "100000000000001", language="nl",
                              last_customer_message=now)  # fmt: skip
    send(out, {"text": "Hallo"})
    send(out, {"text": "Kies maar", "buttons": MENU})
    send(out, {"text": "Hoe waarschijnlijk?", "buttons": scale("nps", 0, 10)})
    bodies = graph.sent_to(WA)
    assert [b["type"] for b in bodies] == ["text", "interactive", "text"]
    assert bodies[0]["text"]["body"] == "Hallo" and bodies[0]["messaging_product"] == "whatsapp"
    assert bodies[2]["text"]["body"].endswith("8 · 9 · 10")
    request = graph.delivered()[0]
    assert request.path == "/v20.0/100000000000001/messages"
    assert request.headers["Authorization"] == "Bearer token-1"


def test_nothing_is_sent_outside_the_24_hour_window(graph, now):
    out = WhatsAppCloudOutput(channel_settings(), "100000000000001",
                              last_customer_message=now - dt.timedelta(hours=25))  # fmt: skip
    send(out, {"text": "Hoe tevreden?", "buttons": scale("csat", 1, 5),
               "utter_action": "utter_ask_csat"})  # fmt: skip
    assert graph.requests == []
    assert out.skipped[0]["utter_action"] == "utter_ask_csat"


def test_a_triggered_message_uses_the_dealer_number_and_the_stored_window(graph, now):
    from bot.channels import inbox
    from core.engagement import contact_key
    from core.store.session import default_session_factory

    out = WhatsAppCloudInput().get_output_channel()  # no customer message with it
    send(out, {"text": "Hoe tevreden?", "utter_action": "utter_ask_csat"})
    assert graph.requests == []  # the customer never wrote: the window is closed
    inbox.claim(default_session_factory(), provider="cloud", message_id="wamid.a",
                contact_key=contact_key("dev-only-secret", "whatsapp", SENDER),
                business_number="100000000000001", sent_at=now - dt.timedelta(hours=2),
                now=now)  # fmt: skip
    send(out, {"text": "Hoe tevreden?", "utter_action": "utter_ask_csat"})
    assert graph.delivered()[0].path == "/v20.0/100000000000001/messages"


def test_a_failed_delivery_is_logged_not_raised(graph, now, caplog, monkeypatch):
    monkeypatch.setenv("DEALERBOT_WHATSAPP_ATTEMPTS", "2")
    graph.fail_next[:] = [500, 500]
    out = WhatsAppCloudOutput(channel_settings(), "1", last_customer_message=now)
    send(out, {"text": "Hallo"})
    assert len(graph.requests) == 2 and graph.delivered() == []
    assert "not delivered" in caplog.text
