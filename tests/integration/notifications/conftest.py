"""Fixtures of the notification tests: the dealer folder, and a mail server to stop and start."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.runtime import free_port
from core.settings import REPO_ROOT
from tests.integration.notifications.seed import HANDOFF, SALES, WORKSHOP, MailServer


@pytest.fixture
def notify_dealers(monkeypatch, tmp_path) -> Path:
    """The demo dealer with one address per group; ``webhooks`` filled by tests that need one."""
    folder = tmp_path / "dealers"
    shutil.copytree(REPO_ROOT / "data" / "dealers" / "autohuis-demo", folder / "autohuis-demo")
    path = folder / "autohuis-demo" / "dealer.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["notifications"] = {"workshop": WORKSHOP, "sales": [SALES], "handoff": HANDOFF}
    data.pop("webhooks", None)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("DEALERBOT_DEALERS_DIR", str(folder))
    return path


@pytest.fixture
def mail(monkeypatch, tmp_path):
    server = MailServer(free_port())
    server.start()
    monkeypatch.setenv("DEALERBOT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DEALERBOT_SMTP_PORT", str(server.port))
    monkeypatch.setenv("DEALERBOT_SMTP_TLS", "none")
    monkeypatch.setenv("DEALERBOT_SMTP_FROM", "dealerbot@autohuisdevries.example")
    monkeypatch.setenv("DEALERBOT_OUTBOX_DIR", str(tmp_path / "outbox"))
    yield server
    server.stop()
