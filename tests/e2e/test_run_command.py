"""The README's run command: starts everything, answers, takes a new model from
`dealerbot reload`, and stops cleanly on Ctrl-C."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.runtime import free_port
from tests.e2e.conftest import say, start_run, stop_run, texts

pytestmark = pytest.mark.e2e
DEALERBOT = Path(sys.executable).with_name("dealerbot")


TOKEN = "run-test-token-3e9d1f"


def test_run_prints_where_to_chat_and_stops_on_ctrl_c(model, tmp_path, monkeypatch):
    """With DEALERBOT_REST_TOKEN set (here and for the chat client): the readiness probe and the
    chat send it; the output names the header, never the token, and warns about the unset
    contact-key secret."""
    monkeypatch.setenv("DEALERBOT_REST_TOKEN", TOKEN)
    monkeypatch.delenv("DEALERBOT_CONTACT_KEY_SECRET", raising=False)
    monkeypatch.delenv("DEALERBOT_RASA_API_TOKEN", raising=False)
    rasa_port, action_port = free_port(), free_port()
    given = ["--model", str(model)] if os.environ.get("DEALERBOT_TEST_MODEL") else []
    process, output, rest = start_run(
        ["--rasa-port", str(rasa_port), "--action-port", str(action_port), *given],
        {**os.environ, "DEALERBOT_VAR_DIR": str(tmp_path)},
    )
    try:
        assert "model is up to date" in output or "using model" in output
        assert f"dealerbot chat --url http://127.0.0.1:{rasa_port}" in output
        assert "WARNING: DEALERBOT_CONTACT_KEY_SECRET is not set" in output
        assert "Authorization: Bearer $DEALERBOT_REST_TOKEN" in output and TOKEN not in output

        class Stack:
            rest_webhook = f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"

        assert "Autohuis De Vries" in texts(say(Stack, "run-test", "hallo"))

        # `dealerbot reload` in another terminal finds the run's API token in var/ (none is set)
        # and puts a new model in without a restart.
        new = tmp_path / "dealerbot-reloaded.tar.gz"
        shutil.copyfile(model, new)
        reload = subprocess.run(
            [DEALERBOT, "reload", "--url", f"http://127.0.0.1:{rasa_port}", "--model", str(new)],
            capture_output=True, text=True, timeout=900,
            env={**os.environ, "DEALERBOT_VAR_DIR": str(tmp_path)},
        )  # fmt: skip
        assert reload.returncode == 0, reload.stdout + reload.stderr
        assert f"http://127.0.0.1:{rasa_port}: now runs {new.name}" in reload.stdout
        assert (tmp_path / "rasa-api-token").stat().st_mode & 0o077 == 0
        assert "Autohuis De Vries" in texts(say(Stack, "run-test-2", "hallo"))
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        assert "stopped." in rest()
        assert (tmp_path / "tracker.sqlite3").exists()  # conversations survive a restart
    finally:
        stop_run(process)
