"""Settings read from the environment on call."""

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.settings import (
    DEV_CONTACT_KEY_SECRET,
    UnsafeSettings,
    get_settings,
    now,
    require_production_safe,
    rest_client_headers,
    unsafe_settings,
    utc_now,
)
from dealer.config import BUILT_IN_DEALERS_DIR, get_dealer


@pytest.mark.parametrize(("value", "expected"), [(None, True), ("on", True), ("OFF", False),
                                                 ("0", False), ("yes", True)])  # fmt: skip
def test_engagement_log_switch(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("DEALERBOT_ENGAGEMENT_LOG", raising=False)
    else:
        monkeypatch.setenv("DEALERBOT_ENGAGEMENT_LOG", value)
    assert get_settings().engagement_log is expected


def test_engagement_log_refuses_an_unclear_value(monkeypatch):
    monkeypatch.setenv("DEALERBOT_ENGAGEMENT_LOG", "sometimes")
    with pytest.raises(ValueError, match="DEALERBOT_ENGAGEMENT_LOG must be on or off"):
        get_settings()


# ---- DEALERBOT_ENV=production (issue 15) ------------------------------------------------------


@pytest.fixture
def production(monkeypatch):
    monkeypatch.setenv("DEALERBOT_ENV", "production")
    monkeypatch.delenv("DEALERBOT_CONTACT_KEY_SECRET", raising=False)


@pytest.mark.parametrize("secret", [None, "", DEV_CONTACT_KEY_SECRET, "short-secret"])
def test_production_refuses_a_missing_development_or_short_secret(production, monkeypatch, secret):
    if secret is not None:
        monkeypatch.setenv("DEALERBOT_CONTACT_KEY_SECRET", secret)
    with pytest.raises(UnsafeSettings, match="DEALERBOT_CONTACT_KEY_SECRET"):
        require_production_safe()


def test_production_starts_with_a_real_secret(production, monkeypatch):
    monkeypatch.setenv("DEALERBOT_CONTACT_KEY_SECRET", "9f2c" * 16)
    assert require_production_safe().environment == "production"


def test_development_starts_without_a_secret_and_uses_the_development_one(monkeypatch):
    monkeypatch.delenv("DEALERBOT_ENV", raising=False)
    monkeypatch.setenv("DEALERBOT_CONTACT_KEY_SECRET", "")
    settings = require_production_safe()
    assert settings.environment == "development"
    assert settings.contact_key_secret == DEV_CONTACT_KEY_SECRET  # empty counts as unset
    assert unsafe_settings(settings)  # still unsafe: `dealerbot run` warns


def test_an_unknown_environment_is_an_error(monkeypatch):
    monkeypatch.setenv("DEALERBOT_ENV", "staging")
    with pytest.raises(ValueError, match="DEALERBOT_ENV must be one of"):
        get_settings()


def test_rest_client_headers_carry_the_token_only_when_set(monkeypatch):
    monkeypatch.delenv("DEALERBOT_REST_TOKEN", raising=False)
    assert rest_client_headers() == {"Content-Type": "application/json"}
    monkeypatch.setenv("DEALERBOT_REST_TOKEN", "abc")
    assert rest_client_headers()["Authorization"] == "Bearer abc"
    assert "Authorization" not in rest_client_headers({"DEALERBOT_REST_TOKEN": ""})


def test_the_one_clock_is_frozen_by_dealerbot_fixed_now(monkeypatch):
    monkeypatch.setenv("DEALERBOT_FIXED_NOW", "2026-11-23T09:00:00+01:00")
    amsterdam = ZoneInfo("Europe/Amsterdam")
    assert now() == dt.datetime(2026, 11, 23, 8, tzinfo=dt.timezone.utc)
    assert now().utcoffset() == dt.timedelta(hours=1)  # as written, without a zone asked for
    assert now(amsterdam) == dt.datetime(2026, 11, 23, 9, tzinfo=amsterdam)
    assert now(amsterdam).tzinfo is amsterdam
    assert utc_now().tzinfo is dt.timezone.utc
    monkeypatch.setenv("DEALERBOT_FIXED_NOW", "2026-11-23T09:00:00")  # no offset: UTC
    assert utc_now() == dt.datetime(2026, 11, 23, 9, tzinfo=dt.timezone.utc)


def test_the_clock_runs_without_dealerbot_fixed_now(monkeypatch):
    monkeypatch.delenv("DEALERBOT_FIXED_NOW", raising=False)
    before = dt.datetime.now(dt.timezone.utc)
    moment = now()
    assert moment.tzinfo is not None and before <= moment <= dt.datetime.now(dt.timezone.utc)


def test_the_dealer_settings_come_from_the_dealer_package(monkeypatch, tmp_path):
    monkeypatch.delenv("DEALERBOT_DEALERS_DIR", raising=False)
    monkeypatch.delenv("DEALERBOT_DEFAULT_DEALER", raising=False)
    assert get_settings().dealers_dir == BUILT_IN_DEALERS_DIR
    assert get_settings().default_dealer is None
    monkeypatch.setenv("DEALERBOT_DEALERS_DIR", str(tmp_path))
    monkeypatch.setenv("DEALERBOT_DEFAULT_DEALER", "elders")
    assert get_settings().dealers_dir == Path(tmp_path)
    assert get_settings().default_dealer == "elders"
    monkeypatch.setenv("DEALERBOT_DEALERS_DIR", str(BUILT_IN_DEALERS_DIR))
    monkeypatch.setenv("DEALERBOT_DEFAULT_DEALER", "no-such-location")
    assert get_dealer().id in {p.name for p in BUILT_IN_DEALERS_DIR.iterdir()}
