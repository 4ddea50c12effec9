"""The held-out gate: floors from the repo file, and failure messages naming worse intents."""

import pytest

from trainer.gate import FLOOR_FILE, Floor, FloorFileError, accept, gate_failures, load_floor, score


def results(lang, per_intent):
    """(intent, lang, predicted) triples: per intent (hits, total)."""
    out = []
    for intent, (hits, total) in per_intent.items():
        out += [(intent, lang, intent)] * hits + [(intent, lang, "nlu_fallback")] * (total - hits)
    return out


def test_the_repo_floor_is_at_least_090_per_language():
    floor = load_floor(FLOOR_FILE)
    assert set(floor.accuracy) == {"nl", "en"}
    assert all(value >= 0.90 for value in floor.accuracy.values())


def test_above_the_floor_passes():
    scores = score(results("nl", {"a": (9, 10), "b": (10, 10)}) + results("en", {"a": (10, 10)}))
    assert scores["nl"].accuracy == 0.95
    assert gate_failures(Floor({"nl": 0.9, "en": 0.9}), scores) == []


def test_below_the_floor_names_the_intents_that_got_worse():
    floor = Floor({"nl": 0.9, "en": 0.9}, {"nl": {"a": 1.0, "b": 0.9, "c": 0.5}, "en": {"a": 1.0}})
    scores = score(
        results("nl", {"a": (7, 10), "b": (9, 10), "c": (1, 2), "d": (10, 10)})
        + results("en", {"a": (10, 10)})
    )
    assert gate_failures(floor, scores) == [
        "nl: held-out intent accuracy 0.844 (n=32) is below the floor 0.90; intents that got "
        "worse: a 1.00 -> 0.70 (3 of 10 missed)"
    ]


def test_without_accepted_recall_the_message_names_the_intents_with_misses():
    scores = score(results("en", {"a": (8, 10), "b": (1, 2), "c": (5, 5)}))
    failures = gate_failures(Floor({"en": 0.9, "nl": 0.9}), scores)
    assert failures == [
        "en: held-out intent accuracy 0.824 (n=17) is below the floor 0.90; intents that got "
        "worse: b 0.50 (1 of 2 missed); a 0.80 (2 of 10 missed)",
        "nl: no held-out examples (floor 0.90)",
    ]


def test_floor_file_errors(tmp_path):
    path = tmp_path / "floor.yml"
    for text, match in (
        ("accuracy: {nl: 0.8}", "from 0.9 to 1"),
        ("recall: {}", "accuracy"),
        ("accuracy: [", "cannot be read"),
    ):
        path.write_text(text)
        with pytest.raises(FloorFileError, match=match):
            load_floor(path)
    with pytest.raises(FloorFileError, match="cannot be read"):
        load_floor(tmp_path / "missing.yml")


def test_accept_records_the_recall_and_keeps_the_floors(tmp_path):
    path = tmp_path / "floor.yml"
    path.write_text("accuracy: {nl: 0.92, en: 0.9}\n")
    floor = accept(path, score(results("nl", {"a": (2, 3), "b": (4, 4)})))
    assert floor == Floor({"nl": 0.92, "en": 0.9}, {"nl": {"a": 0.667, "b": 1.0}})
    assert path.read_text().startswith("# Held-out NLU gate")
