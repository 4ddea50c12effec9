"""CI gate: the data lint on the real training data (issue 7). The held-out accuracy floor is
checked in tests/integration/bot/test_rasa_data.py with the floor file next to this test."""

from core.settings import REPO_ROOT
from trainer.lint import lint_project


def test_training_data_passes_the_lint():
    problems = lint_project(REPO_ROOT / "data", REPO_ROOT / "bot" / "domain")
    assert not problems, "dealerbot trainer lint found:\n" + "\n".join(map(str, problems))
