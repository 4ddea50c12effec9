"""Settings read from the environment on call."""

import pytest

from metrics.settings import get_settings


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
