"""A real SMTP server (aiosmtpd) on a loopback port, and a dealer folder with two recipients."""

from __future__ import annotations

import email
import shutil
import threading
from email.policy import default as default_policy
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller

from bot.runtime import free_port
from core.settings import REPO_ROOT

RECIPIENTS = ["directie@autohuisdevries.example", "verkoop@autohuisdevries.example"]


class Inbox:
    """What the server accepted: (envelope recipients, parsed message) per message."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        with self._lock:
            self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def to(self, recipient: str) -> list:
        return [m for rcpt, m in self.received if recipient in rcpt]


@pytest.fixture
def smtp(monkeypatch, tmp_path):
    """Start the server and point the settings at it (no TLS on loopback)."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("DEALERBOT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DEALERBOT_SMTP_PORT", str(port))
    monkeypatch.setenv("DEALERBOT_SMTP_TLS", "none")
    monkeypatch.setenv("DEALERBOT_SMTP_FROM", "rapportage@dealerbot.example")
    monkeypatch.setenv("DEALERBOT_OUTBOX_DIR", str(tmp_path / "outbox"))
    inbox.port = port
    yield inbox
    controller.stop()


@pytest.fixture
def dealers_dir(monkeypatch, tmp_path) -> Path:
    """The demo dealer with two report recipients, in a folder of its own."""
    folder = tmp_path / "dealers"
    shutil.copytree(REPO_ROOT / "data" / "dealers" / "autohuis-demo", folder / "autohuis-demo")
    path = folder / "autohuis-demo" / "dealer.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["reports"] = {"language": "nl", "recipients": RECIPIENTS}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("DEALERBOT_DEALERS_DIR", str(folder))
    return folder
