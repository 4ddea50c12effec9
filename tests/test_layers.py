"""The layers are part of the test command (issue 18): ``lint-imports`` checks the contracts in
pyproject.toml, so an upward import, a feature importing another or a package cycle fails CI."""

import shutil
import subprocess
import sys
from pathlib import Path

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("cli", "actions", "bot", "metrics", "trainer", "core", "dealer")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=cwd, capture_output=True, text=True)


def test_the_import_contracts_are_kept():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_contracts_list_no_exceptions():
    assert "ignore_imports" not in (REPO / "pyproject.toml").read_text()


def copy_of_the_packages(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "migrations"))  # fmt: skip
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    return tmp_path


def test_an_upward_import_breaks_the_layers(tmp_path):
    house = copy_of_the_packages(tmp_path)
    with (house / "dealer" / "hours.py").open("a") as module:
        module.write("\nfrom core.settings import now  # noqa: E402\n")
    result = lint_imports(house)
    assert result.returncode != 0
    assert "dealer.hours -> core.settings" in result.stdout


def test_a_feature_importing_another_breaks_the_independence(tmp_path):
    house = copy_of_the_packages(tmp_path)
    with (house / "trainer" / "lint.py").open("a") as module:
        module.write("\n\ndef _later():\n    from bot.runtime import start_stack  # noqa: F401\n")
    result = lint_imports(house)
    assert result.returncode != 0
    assert "trainer.lint -> bot.runtime" in result.stdout


def test_a_cycle_between_sub_packages_breaks_the_contract(tmp_path):
    house = copy_of_the_packages(tmp_path)  # metrics.web already imports metrics.report
    with (house / "metrics" / "report" / "deliver.py").open("a") as module:
        module.write("\nfrom metrics.web import auth  # noqa: E402, F401\n")
    result = lint_imports(house)
    assert result.returncode != 0
    assert "No import cycles between the sub-packages of a package BROKEN" in result.stdout
