"""The dealer file's notification addresses and webhooks: read, and refused when unusable."""

import shutil

import pytest
import yaml

from dealer.config import DealerConfigError, Webhook, load_dealer, template_route


def folder_with(tmp_path, **fields):
    folder = tmp_path / "autohuis-demo"
    shutil.copytree("data/dealers/autohuis-demo", folder)
    path = folder / "dealer.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(fields)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder


def test_demo_dealer_names_an_address_per_group(dealer):
    assert set(dealer.notifications) == {"workshop", "sales", "handoff"}
    assert dealer.webhooks == ()


def test_addresses_and_webhooks_are_read(tmp_path):
    dealer = load_dealer(folder_with(
        tmp_path,
        notifications={"workshop": "planning@x.example", "sales": ["a@x.example", "b@x.example"],
                       "test_drive": "proefrit@x.example"},
        webhooks=[{"url": "https://crm.example/hook", "secret_env": "CRM_SECRET"}],
    ))  # fmt: skip
    assert dealer.notifications["sales"] == ("a@x.example", "b@x.example")
    assert dealer.notifications["test_drive"] == ("proefrit@x.example",)
    assert dealer.webhooks == (Webhook("https://crm.example/hook", "CRM_SECRET"),)


def test_whatsapp_reminder_template_is_read(tmp_path):
    sid = "HX" + "ab" * 16
    dealer = load_dealer(folder_with(tmp_path, reminders={"whatsapp": {
        "template": "afspraak_herinnering", "twilio_content_sid": {"nl": sid}}}))  # fmt: skip
    template = dealer.reminder_whatsapp
    assert template.name == "afspraak_herinnering"
    assert template.languages == {"nl": "nl", "en": "en"}  # the default codes
    assert template.twilio_content_sids == {"nl": sid}


def test_inbox_template_for_the_24_hour_window_is_read(tmp_path, dealer):
    assert dealer.handoff_whatsapp is None  # the demo: the inbox shows phone and e-mail only
    found = load_dealer(folder_with(tmp_path, handoff={
        "reply_within_min": 15, "whatsapp": {"template": "nog_vragen"}}))  # fmt: skip
    assert found.handoff_whatsapp.name == "nog_vragen"
    assert template_route(found, found.handoff_whatsapp, "nl") == "cloud"
    assert template_route(found, None, "nl") is None


def test_demo_dealer_reminds_by_email_only(dealer):
    assert dealer.reminder_whatsapp is None  # the demo has no approved template


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"notifications": {"kantine": "a@x.example"}}, "notifications.kantine is not one of"),
        ({"notifications": {"sales": "verkoop"}}, "'verkoop' is no e-mail"),
        ({"webhooks": [{"url": "ftp://x", "secret_env": "S"}]}, r"webhooks\[0\].url"),
        ({"webhooks": [{"url": "https://x.example", "secret": "abc"}]}, "never goes in the"),
        ({"reminders": {"whatsapp": {"template": "Afspraak herinnering"}}}, "no WhatsApp template"),
        ({"reminders": {"whatsapp": {"twilio_content_sid": {"nl": "abc"}}}}, "no Content SID"),
        ({"reminders": {"whatsapp": {"languages": {"nl": "nl"}}}}, "needs a template"),
        ({"handoff": {"whatsapp": {"template": "Nog vragen"}}}, "handoff.whatsapp.template"),
    ],
)
def test_unusable_entries_are_refused_clearly(tmp_path, fields, message):
    with pytest.raises(DealerConfigError, match=message):
        load_dealer(folder_with(tmp_path, **fields))
