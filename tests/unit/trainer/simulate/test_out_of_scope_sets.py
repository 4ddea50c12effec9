"""The out-of-scope evaluation sets: big enough, every group, none of it in the training data."""

import re
from pathlib import Path

from core.settings import REPO_ROOT
from trainer.simulate.command import load_out_of_scope

GROUPS = {"general_knowledge", "chit_chat", "jobs", "suppliers_sales", "other_companies",
          "personal_assistant", "weather", "trivia", "spam"}  # fmt: skip


def training_examples() -> set[str]:
    examples = set()
    for path in Path(REPO_ROOT / "data").rglob("*.yml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if match := re.match(r"\s*- (.+)", line):
                examples.add(match.group(1).strip().strip("\"'").lower())
    return examples


def test_at_least_300_distinct_messages_per_language():
    sets = load_out_of_scope()
    for lang in ("nl", "en"):
        assert len(set(sets[lang])) == len(sets[lang]) >= 300
        assert all(isinstance(m, str) and m.strip() for m in sets[lang])


def test_every_kind_of_out_of_scope_message_is_there():
    import yaml

    for lang in ("nl", "en"):
        path = REPO_ROOT / "tests" / "simulation" / f"out_of_scope_{lang}.yml"
        groups = yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        assert set(groups) >= GROUPS
        assert all(len(messages) >= 20 for messages in groups.values())


def test_no_message_is_in_the_training_data():
    trained = training_examples()
    for lang, messages in load_out_of_scope().items():
        leaked = [m for m in messages if m.strip().lower() in trained]
        assert not leaked, f"{lang}: held-out messages in data/: {leaked}"
