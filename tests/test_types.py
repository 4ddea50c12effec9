"""Type checking is part of the test command (issue 18): mypy checks the packages and the
settings in pyproject.toml ([tool.mypy]: the domain, the core and the metrics)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None,
    reason="mypy is not installed (a dev dependency: scripts/setup.sh installs it)",
)


def mypy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", *args], cwd=REPO, capture_output=True,
                          text=True)  # fmt: skip


def test_the_checked_packages_have_no_type_errors():
    result = mypy()
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_project_settings_find_a_type_error(tmp_path: Path):
    # the same settings on a wrong line: the check above can fail
    wrong = tmp_path / "wrong.py"
    wrong.write_text("count: int = 'three'\n")
    result = mypy(str(wrong))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[assignment]" in result.stdout
