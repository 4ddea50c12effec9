"""What every process of the project does as it starts (issue 15): with ``DEALERBOT_ENV=production``
and no contact-key secret it refuses to start (the CLI commands, the Rasa server through our
channels, the action server through our actions), and the files it creates are owner-only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from bot.runtime import RASA_SERVER
from core.settings import rasa_bin
from tests.conftest import REPO

CLI = [sys.executable, "-m", "cli.main"]
COMMANDS = {
    "db upgrade": [*CLI, "db", "upgrade"],
    "scheduler": [*CLI, "scheduler"],
    "dashboard": [*CLI, "dashboard", "--port", "0"],
    "web": [*CLI, "web", "--port", "0"],
    "privacy purge": [*CLI, "privacy", "purge"],
    "action server": [rasa_bin(), "run", "actions", "--actions", "actions", "--port", "0"],
    # as bot.runtime starts it; fails on loading the channels, before the model is read
    "rasa server": [
        *RASA_SERVER,
        "run",
        "--model",
        "models",
        "--credentials",
        "credentials.yml",
        "--interface",
        "127.0.0.1",
        "--port",
        "0",
    ],  # fmt: skip
}


def run_all(env: dict[str, str], timeout: float = 600) -> dict[str, tuple[int, str]]:
    """Start every command at once (they share the cores) and wait for each to end."""
    started = {
        name: subprocess.Popen(
            args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )  # fmt: skip
        for name, args in COMMANDS.items()
    }
    results = {}
    for name, process in started.items():
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        results[name] = (process.returncode, output)
    return results


def test_no_process_starts_in_production_without_the_secret(tmp_path):
    env = {**os.environ, "DEALERBOT_ENV": "production", "DEALERBOT_VAR_DIR": str(tmp_path),
           "DEALERBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}",
           "RASA_TELEMETRY_ENABLED": "false"}  # fmt: skip
    env.pop("DEALERBOT_CONTACT_KEY_SECRET", None)
    results = run_all(env)
    for name, (code, output) in results.items():
        assert code != 0, f"{name} started:\n{output[-2000:]}"
        assert "refusing to start with DEALERBOT_ENV=production" in output, output[-2000:]
    assert not (tmp_path / "store.sqlite3").exists()  # nothing was written


def test_the_cli_creates_owner_only_files(tmp_path):
    var = tmp_path / "var"
    env = {**os.environ, "DEALERBOT_VAR_DIR": str(var)}
    env.pop("DEALERBOT_DATABASE_URL", None)  # the default: var/dealerbot.sqlite3
    done = subprocess.run([*CLI, "db", "upgrade"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    created = [p for p in var.rglob("*")]
    assert var / "dealerbot.sqlite3" in created
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [var, *created]}
    assert {name: oct(mode) for name, mode in modes.items() if mode & 0o077} == {}


@pytest.mark.parametrize("secret", ["9f2c" * 16])
def test_production_with_a_secret_starts(tmp_path, secret):
    env = {**os.environ, "DEALERBOT_ENV": "production", "DEALERBOT_CONTACT_KEY_SECRET": secret,
           "DEALERBOT_VAR_DIR": str(tmp_path),
           "DEALERBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}"}  # fmt: skip
    done = subprocess.run(COMMANDS["db upgrade"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "store.sqlite3").exists()
