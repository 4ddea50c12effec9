"""``dealerbot run`` with the demo dealer and no SMTP server: a customer asks for a person, and
the handoff e-mail lands in the outbox folder within a minute (issue 19)."""

import email
import os
import signal
import sys
import time
from email.policy import default as default_policy
from pathlib import Path

import pytest

from bot.runtime import free_port
from tests.e2e.conftest import say, start_run, stop_run

pytestmark = pytest.mark.e2e
DEALERBOT = Path(sys.executable).with_name("dealerbot")


def test_a_handoff_reaches_the_outbox_folder(model, tmp_path, monkeypatch):
    monkeypatch.delenv("DEALERBOT_REST_TOKEN", raising=False)
    rasa_port, action_port = free_port(), free_port()
    given = ["--model", str(model)] if os.environ.get("DEALERBOT_TEST_MODEL") else []
    env = {**os.environ, "DEALERBOT_VAR_DIR": str(tmp_path)}
    for name in (
        "DEALERBOT_SMTP_HOST",
        "DEALERBOT_OUTBOX_DIR",
        "DEALERBOT_DATABASE_URL",
        "DEALERBOT_TRACKER_DB_URL",
        "DEALERBOT_FIXED_NOW",
        "DEALERBOT_DEALERS_DIR",
    ):
        env.pop(name, None)  # fmt: skip
    args = ["--rasa-port", str(rasa_port), "--action-port", str(action_port), *given]
    process, _output, _rest = start_run(args, env)
    try:

        class Stack:
            rest_webhook = f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"

        say(Stack, "run-notify", "hallo")
        asked = time.monotonic()
        say(Stack, "run-notify", "ik wil een medewerker spreken")
        folder = tmp_path / "outbox" / "notifications" / "autohuis-demo"
        files: list[Path] = []
        while not files and time.monotonic() - asked < 60:  # the promise: within 60 s
            time.sleep(0.5)
            files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
        assert len(files) == 1, "no handoff e-mail in the outbox within 60 s"
        message = email.message_from_bytes(files[0].read_bytes(), policy=default_policy)
        assert message["To"] == "klantenservice@autohuisdevries.example"
        assert "medewerker spreken" in message["Subject"]
        text = message.get_body(("plain",)).get_content()
        assert "Klant: ik wil een medewerker spreken" in text
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        stop_run(process)
