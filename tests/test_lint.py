"""Lint and format are part of the test command, so CI enforces them."""

import subprocess
import sys
from pathlib import Path

RUFF = Path(sys.executable).with_name("ruff")
REPO = Path(__file__).resolve().parent.parent


def test_ruff_check():
    result = subprocess.run([RUFF, "check", "."], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_ruff_format():
    result = subprocess.run([RUFF, "format", "--check", "."], cwd=REPO, capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode == 0, result.stdout
