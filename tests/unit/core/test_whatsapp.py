"""WhatsApp facts shared by the channels and the notifications: settings, numbers, sender ids."""

import pytest

from core.whatsapp import (
    channel_settings,
    customer_number,
    dealer_of_sender,
    digits,
    provider_error_code,
    sender_id,
    sender_namespace,
)


def test_sender_id_keeps_customer_and_dealer_apart():
    sender = sender_id(digits("whatsapp:+31 6 1234 5678"), "autohuis-demo")
    assert sender == "whatsapp:+31612345678/autohuis-demo"
    assert customer_number(sender) == "31612345678"
    assert dealer_of_sender(sender) == "autohuis-demo"
    assert sender_id("31612345678", "other") != sender


def test_the_whatsapp_namespace_is_claimed_whatever_the_case():
    assert sender_namespace(sender_id("31612345678", "autohuis-demo")) == "whatsapp"
    assert sender_namespace("WhatsApp:+31612345678/x") == "whatsapp"
    assert sender_namespace("d6c1e0f2a7b84c2a9e5b3f1d0c8a7e6b") is None


def test_settings_credentials_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("DEALERBOT_WHATSAPP_APP_SECRET", "from-env")
    monkeypatch.setenv("DEALERBOT_WHATSAPP_GRAPH_URL", "http://127.0.0.1:1/v20.0/")
    assert channel_settings().cloud_app_secret == "from-env"
    assert channel_settings().graph_url == "http://127.0.0.1:1/v20.0"
    assert channel_settings({"app_secret": "from-file"}).cloud_app_secret == "from-file"
    assert channel_settings({"app_secret": None}).cloud_app_secret == "from-env"
    monkeypatch.delenv("DEALERBOT_WHATSAPP_APP_SECRET")
    assert channel_settings().cloud_app_secret is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"error": {"message": "undeliverable to +31612345678", "code": 131026}}',
         " (error code 131026)"),
        ('{"code": 21211, "message": "The To number whatsapp:+31612345678 is not valid"}',
         " (error code 21211)"),
        ('{"error": {"message": "x", "code": "a b"}}', ""),
        ("<html>+31612345678</html>", ""),
        ("", ""),
    ],
)  # fmt: skip
def test_only_the_providers_error_code_is_kept(body, expected):
    assert provider_error_code(body) == expected
