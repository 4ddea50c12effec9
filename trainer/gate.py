"""The gate on the held-out NLU set: a floor per language and the last accepted recall per
intent, kept in a file in the repo (``tests/integration/trainer/holdout_floor.yml``). CI runs it
(``tests/integration/bot/test_rasa_data.py``) and so does ``dealerbot reload`` before a model goes
live (:func:`check_model`)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from core.settings import REPO_ROOT

FLOOR_FILE = REPO_ROOT / "tests" / "integration" / "trainer" / "holdout_floor.yml"
MINIMUM_FLOOR = 0.90  # the floor: a file may raise it, never lower it
HOLDOUT_DIR = REPO_ROOT / "tests" / "nlu_holdout"
# Out-of-scope messages are meant to be caught by the NLU fallback or by the out_of_scope intent;
# both lead to the same reply, so either prediction is right for them.
EQUIVALENT = {"out_of_scope": {"out_of_scope", "nlu_fallback"}}


class FloorFileError(ValueError):
    """The floor file is missing or malformed."""


@dataclass(frozen=True)
class Floor:
    accuracy: dict[str, float]  # language -> floor
    recall: dict[str, dict[str, float]] = field(default_factory=dict)  # language -> intent -> r


@dataclass(frozen=True)
class LanguageScore:
    hits: int
    total: int
    intents: dict[str, tuple[int, int]]  # intent -> (hits, total)

    @property
    def accuracy(self) -> float:
        return self.hits / self.total if self.total else 0.0

    def recall(self, intent: str) -> float:
        hits, total = self.intents[intent]
        return hits / total if total else 0.0


def load_floor(path: Path = FLOOR_FILE) -> Floor:
    """The floor file: ``accuracy: {nl: 0.9, en: 0.9}`` and ``recall: {nl: {intent: r}}``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise FloorFileError(f"{path}: cannot be read: {exc}") from exc
    accuracy = data.get("accuracy")
    if not isinstance(accuracy, dict) or not accuracy:
        raise FloorFileError(f"{path}: needs 'accuracy:' with a floor per language")
    floors = {}
    for lang, value in accuracy.items():
        if not isinstance(value, (int, float)) or not MINIMUM_FLOOR <= value <= 1:
            raise FloorFileError(
                f"{path}: the accuracy floor for {lang} must be from {MINIMUM_FLOOR} to 1, "
                f"not {value!r}"
            )
        floors[str(lang)] = float(value)
    recall = {
        str(lang): {str(k): float(v) for k, v in (intents or {}).items()}
        for lang, intents in (data.get("recall") or {}).items()
    }
    return Floor(floors, recall)


def score(results: Iterable[tuple[str, str, str | None]]) -> dict[str, LanguageScore]:
    """Per language from ``(expected intent, language, predicted intent)`` triples."""
    hits: Counter = Counter()
    totals: Counter = Counter()
    for intent, lang, predicted in results:
        totals[lang, intent] += 1
        hits[lang, intent] += predicted == intent
    scores = {}
    for lang in sorted({lang for lang, _i in totals}):
        intents = {i: (hits[lang, i], totals[lang, i]) for (lg, i) in totals if lg == lang}
        scores[lang] = LanguageScore(
            sum(h for h, _t in intents.values()), sum(t for _h, t in intents.values()), intents
        )
    return scores


def worse_intents(floor: Floor, lang: str, result: LanguageScore) -> list[str]:
    """Intents whose recall fell below the last accepted one, worst drop first, as text. With
    nothing accepted yet for the language: the intents with misses, lowest recall first."""
    accepted = floor.recall.get(lang) or {}
    lines = []
    for intent in result.intents:
        now = result.recall(intent)
        hits, total = result.intents[intent]
        if intent in accepted and now < accepted[intent] - 1e-9:
            lines.append(
                (
                    now - accepted[intent],
                    f"{intent} {accepted[intent]:.2f} -> {now:.2f}"
                    f" ({total - hits} of {total} missed)",
                )
            )
        elif not accepted and hits < total:
            lines.append((now - 1, f"{intent} {now:.2f} ({total - hits} of {total} missed)"))
    return [text for _drop, text in sorted(lines)]


def gate_failures(floor: Floor, scores: dict[str, LanguageScore]) -> list[str]:
    """One message per language below its floor, naming the intents that got worse."""
    failures = []
    for lang in sorted(set(floor.accuracy) | set(scores)):
        result = scores.get(lang)
        minimum = floor.accuracy.get(lang, MINIMUM_FLOOR)
        if result is None:
            failures.append(f"{lang}: no held-out examples (floor {minimum:.2f})")
            continue
        if result.accuracy < minimum:
            worse = worse_intents(floor, lang, result)
            failures.append(
                f"{lang}: held-out intent accuracy {result.accuracy:.3f} (n={result.total}) is "
                f"below the floor {minimum:.2f}; intents that got worse: "
                + ("; ".join(worse) or "none recorded")
            )
    return failures


def accept(path: Path, scores: dict[str, LanguageScore]) -> Floor:
    """Record the current per-intent recall as the accepted one (the floors stay)."""
    return accept_recall(
        path, {lang: {i: s.recall(i) for i in s.intents} for lang, s in scores.items()}
    )


def accept_recall(path: Path, recall: dict[str, dict[str, float]]) -> Floor:
    """Write ``recall`` (language -> intent -> recall) as the accepted one; floors stay."""
    floor = load_floor(path)
    recall = {lang: {i: round(r, 3) for i, r in sorted(v.items())} for lang, v in recall.items()}
    text = (
        "# Held-out NLU gate (docs/training.md). CI fails when a language's intent accuracy on\n"
        "# tests/nlu_holdout drops below its floor (never below 0.90); the failure names the\n"
        "# intents whose recall fell below the last accepted value below.\n"
        "# Update the recall with: .venv/bin/dealerbot trainer report --accept\n"
        + yaml.safe_dump({"accuracy": floor.accuracy, "recall": recall}, sort_keys=True)
    )
    path.write_text(text, encoding="utf-8")
    return load_floor(path)


def is_hit(expected: str, predicted: str | None) -> bool:
    """Whether ``predicted`` counts as the held-out example's intent ``expected``."""
    return predicted in EQUIVALENT.get(expected, {expected})


def holdout_examples(folder: Path = HOLDOUT_DIR) -> list[tuple[str, str, str]]:
    """(text, intent, language) for every held-out example (entity marks removed)."""
    examples = []
    for path in sorted(folder.glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            lang = block["metadata"]["language"]
            for line in block["examples"].splitlines():
                text = re.sub(r"\[([^\]]+)\](\([^)]*\)|\{[^}]*\})", r"\1", line.strip()[2:])
                if text:
                    examples.append((text, block["intent"], lang))
    return examples


@dataclass(frozen=True)
class Parsed:
    """One held-out example and what the model made of it."""

    text: str
    intent: str
    language: str
    predicted: str | None
    detected_language: str | None

    @property
    def hit(self) -> bool:
        return is_hit(self.intent, self.predicted)


def parse_holdout(agent, examples: list[tuple[str, str, str]] | None = None) -> list[Parsed]:
    """Every held-out example through ``agent`` (a loaded ``rasa.core.agent.Agent``)."""
    examples = holdout_examples() if examples is None else examples

    async def parse_all() -> list[dict]:
        return [await agent.parse_message(text) for text, _i, _l in examples]

    return [
        Parsed(text, intent, lang, (parsed.get("intent") or {}).get("name"),
               (parsed.get("language") or {}).get("code"))
        for (text, intent, lang), parsed in zip(examples, asyncio.run(parse_all()), strict=True)
    ]  # fmt: skip


def outcomes(parsed: Iterable[Parsed]) -> list[tuple[str, str, str | None]]:
    """The (expected, language, predicted) triples :func:`score` takes; an equivalent
    prediction counts as the expected intent."""
    return [(p.intent, p.language, p.intent if p.hit else p.predicted) for p in parsed]


@dataclass(frozen=True)
class GateResult:
    scores: dict[str, LanguageScore]
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures


def parse_model_holdout(model: Path) -> list[Parsed]:
    """Load a trained model file and parse the held-out set with it. Loading takes a while
    (about as long as a Rasa server's start), parsing the set a few seconds."""
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # not a debug line per parsed message
    return parse_holdout(Agent.load(str(model)))


def check_model(model: Path, floor_file: Path = FLOOR_FILE) -> GateResult:
    """The held-out gate for a trained model file: parse the held-out set with it
    (:func:`parse_model_holdout`) and compare with the floors (:func:`gate_failures`)."""
    floor = load_floor(floor_file)
    scores = score(outcomes(parse_model_holdout(model)))
    return GateResult(scores, gate_failures(floor, scores))
