"""The NLU quality report: cross-validation per language, the held-out set, failed stories.

Running Rasa is ``run_report``; everything else (reading Rasa's ``intent_report.json``, the
comparison with the previous report, the Markdown and the confusion-matrix PNG) is pure and
tested on small inputs.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import yaml
from tqdm import tqdm

from core.settings import REPO_ROOT, rasa_bin
from trainer.gate import FLOOR_FILE, accept_recall

SUMMARY_FILE = "summary.json"  # kept next to the report: the next report compares with it
NOT_INTENTS = frozenset({"accuracy", "macro avg", "weighted avg", "micro avg"})
CHANGE = 0.02  # an F1 change smaller than this is noise, not "better" or "worse"
LANGUAGES = ("nl", "en")


class ReportError(RuntimeError):
    """Rasa failed, or its output is missing or unreadable."""


@dataclass(frozen=True)
class IntentScore:
    precision: float
    recall: float
    f1: float
    support: int
    confused_with: dict[str, int] = field(default_factory=dict)


def parse_intent_report(data: dict) -> dict[str, IntentScore]:
    """Rasa's ``intent_report.json`` as scores per intent (the averages left out)."""
    scores = {}
    for name, row in data.items():
        if name in NOT_INTENTS or not isinstance(row, dict):
            continue
        try:
            scores[name] = IntentScore(
                float(row["precision"]),
                float(row["recall"]),
                float(row["f1-score"]),
                int(row["support"]),
                {str(k): int(v) for k, v in (row.get("confused_with") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError(f"intent {name!r}: not a Rasa intent report row ({exc})") from exc
    return scores


def read_intent_report(path: Path) -> dict[str, IntentScore]:
    try:
        return parse_intent_report(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: cannot be read ({exc})") from exc


def accuracy(scores: dict[str, IntentScore]) -> float | None:
    """Share of examples predicted right: recall weighted by support."""
    total = sum(s.support for s in scores.values())
    return sum(s.recall * s.support for s in scores.values()) / total if total else None


def top_confusions(scores: dict[str, IntentScore], n: int = 10) -> list[tuple[str, str, int]]:
    """``(intent, predicted instead, count)``, most frequent first: the confusions most worth
    fixing (move or rewrite examples of the one, or add examples that set them apart)."""
    pairs = [(i, other, c) for i, s in scores.items() for other, c in s.confused_with.items()]
    return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))[:n]


def compare(
    previous: dict[str, float], current: dict[str, IntentScore], threshold: float = CHANGE
) -> tuple[list[tuple[str, float, float]], list[tuple[str, float, float]]]:
    """Intents whose F1 rose / fell by at least ``threshold``: ``(intent, before, now)``."""
    better, worse = [], []
    for intent, score in sorted(current.items()):
        before = previous.get(intent)
        if before is None:
            continue
        if score.f1 - before >= threshold:
            better.append((intent, before, score.f1))
        elif before - score.f1 >= threshold:
            worse.append((intent, before, score.f1))
    return better, worse


def summary(sections: dict[str, dict[str, IntentScore]]) -> dict:
    """What the next report compares with: F1 per intent per section."""
    return {
        name: {i: round(s.f1, 4) for i, s in scores.items()} for name, scores in sections.items()
    }


def failed_story_names(path: Path) -> list[str]:
    """Story names in Rasa's ``failed_test_stories.yml`` (empty when the file is absent)."""
    if not path.exists():
        return []
    content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [str(s.get("story", "?")) for s in content.get("stories") or [] if isinstance(s, dict)]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def render_markdown(
    sections: dict[str, dict[str, IntentScore]],
    *,
    previous: dict | None = None,
    failed_stories: Sequence[str] | None = None,
    images: dict[str, str] | None = None,
    generated: dt.datetime | None = None,
) -> str:
    """The report: per section accuracy, a precision / recall / F1 table, the top confusions,
    the confusion matrix image, better and worse intents; then the failed stories."""
    lines = ["# NLU quality report", ""]
    if generated:
        lines += [f"Generated {generated:%Y-%m-%d %H:%M}.", ""]
    for name, scores in sections.items():
        lines += [
            f"## {name}",
            "",
            f"Accuracy: {_pct(accuracy(scores))} (n={sum(s.support for s in scores.values())})",
            "",
        ]
        before = (previous or {}).get(name)
        if before is None:
            lines += ["No previous report to compare with.", ""]
        else:
            better, worse = compare(before, scores)
            for label, rows in (("Better", better), ("Worse", worse)):
                text = ", ".join(f"{i} {b:.2f} → {a:.2f}" for i, b, a in rows) or "none"
                lines.append(f"- **{label}** (F1 ± {CHANGE:.2f} or more): {text}")
            lines.append("")
        lines += ["| intent | precision | recall | F1 | n |", "|---|---:|---:|---:|---:|"]
        for intent, s in sorted(scores.items(), key=lambda kv: (kv[1].f1, kv[0])):
            lines.append(
                f"| {intent} | {s.precision:.2f} | {s.recall:.2f} | {s.f1:.2f} | {s.support} |"
            )
        confusions = top_confusions(scores)
        lines += ["", "Confusions most worth fixing:", ""]
        lines += [f"1. {i} taken for {o}: {c}×" for i, o, c in confusions] or ["none"]
        if images and name in images:
            lines += ["", f"![confusion matrix {name}]({images[name]})"]
        lines.append("")
    if failed_stories is not None:
        lines += ["## Conversation stories", ""]
        if failed_stories:
            lines += [f"{len(failed_stories)} failed:", ""]
            lines += [f"- {story}" for story in failed_stories]
        else:
            lines.append("All test stories pass.")
        lines.append("")
    return "\n".join(lines)


def confusion_png(scores: dict[str, IntentScore], path: Path, title: str = "") -> Path:
    """A confusion matrix (rows: true intent, columns: predicted) from the report: the right
    predictions and the confusions Rasa lists per intent (its top 2-3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = sorted(set(scores) | {o for s in scores.values() for o in s.confused_with})
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for intent, s in scores.items():
        matrix[index[intent]][index[intent]] = max(round(s.recall * s.support), 0)
        for other, count in s.confused_with.items():
            matrix[index[intent]][index[other]] = count
    size = max(4.0, 0.35 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true intent")
    ax.set_title(title or "confusion matrix")
    for r, row in enumerate(matrix):
        for c, value in enumerate(row):
            if value:
                ax.text(
                    c,
                    r,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if r == c else "black",
                )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(
    out: Path,
    sections: dict[str, dict[str, IntentScore]],
    failed_stories: Sequence[str] | None,
    generated: dt.datetime | None = None,
) -> Path:
    """``report.md`` with one PNG per section; the previous ``summary.json`` is compared with,
    then replaced by this one (and kept as ``summary.previous.json``)."""
    out.mkdir(parents=True, exist_ok=True)
    summary_path = out / SUMMARY_FILE
    previous = None
    if summary_path.exists():
        try:
            previous = json.loads(summary_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            previous = None  # a damaged summary: report without the comparison
    images = {}
    for name, scores in sections.items():
        file = f"confusion-{name.split()[0].lower()}-{name.split()[-1].lower()}.png"
        confusion_png(scores, out / file, title=name)
        images[name] = file
    text = render_markdown(
        sections,
        previous=previous,
        failed_stories=failed_stories,
        images=images,
        generated=generated,
    )
    (out / "report.md").write_text(text, encoding="utf-8")
    if summary_path.exists():
        shutil.copy(summary_path, out / "summary.previous.json")
    summary_path.write_text(json.dumps(summary(sections), indent=1, sort_keys=True))
    return out / "report.md"


# ---- running Rasa (slow: not run by the tests) -------------------------------------------------


def _rasa(args: list[str], timeout: int) -> None:
    result = subprocess.run(
        [rasa_bin(), *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0 and args[:2] != ["test", "core"]:  # failed stories exit 1
        raise ReportError(f"rasa {' '.join(args[:2])} failed:\n{(result.stderr or '')[-2000:]}")


def _language_files(pattern: str, folder: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for path in sorted(folder.rglob(pattern)):
        shutil.copy(path, target / f"{path.parent.name}_{path.name}")
    return target


def latest_model(models_dir: Path = REPO_ROOT / "models") -> Path:
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise ReportError("no trained model in models/: run `.venv/bin/dealerbot train` first")
    return models[-1]


def run_report(
    *,
    out: Path,
    folds: int = 5,
    model: Path | None = None,
    cross_validation: bool = True,
    stories: bool = True,
    accept: bool = False,
    progress: TextIO | bool | None = True,
) -> Path:
    """Run Rasa and write the report to ``out/report.md`` (see docs/training.md for timings).

    Each Rasa run is a step of a tqdm progress bar on ``progress``: True, stderr when it is a
    terminal (quiet in logs and pipes); a stream, that stream; None or False, silence.
    """
    model = model or latest_model()
    runs = out / "rasa"
    shutil.rmtree(runs, ignore_errors=True)
    sections: dict[str, dict[str, IntentScore]] = {}
    stream = sys.stderr if progress is True else progress or None
    steps = len(LANGUAGES) * (2 if cross_validation else 1) + (1 if stories else 0)
    bar = tqdm(total=steps, file=stream, unit="run", ascii=True,
               disable=stream is None or (progress is True and not stream.isatty()))  # fmt: skip

    def step(name: str, args: list[str], timeout: int) -> None:
        bar.set_description(name)
        _rasa(args, timeout=timeout)
        bar.update()

    with bar, tempfile.TemporaryDirectory() as tmp:
        for lang in LANGUAGES:
            if cross_validation:
                data = _language_files(f"nlu_{lang}.yml", REPO_ROOT / "data", Path(tmp) / lang)
                step(
                    f"cross-validation {lang}",
                    [
                        "test",
                        "nlu",
                        "--nlu",
                        str(data),
                        "--config",
                        "config.yml",
                        "--cross-validation",
                        "--folds",
                        str(folds),
                        "--out",
                        str(runs / f"cv_{lang}"),
                    ],
                    timeout=4 * 3600,
                )
                sections[f"Cross-validation {lang}"] = read_intent_report(
                    runs / f"cv_{lang}" / "intent_report.json"
                )
            holdout = _language_files(
                f"*_{lang}.yml", REPO_ROOT / "tests" / "nlu_holdout", Path(tmp) / f"holdout_{lang}"
            )
            step(
                f"held-out {lang}",
                [
                    "test",
                    "nlu",
                    "--model",
                    str(model),
                    "--nlu",
                    str(holdout),
                    "--out",
                    str(runs / f"holdout_{lang}"),
                ],
                timeout=1800,
            )
            sections[f"Held-out {lang}"] = read_intent_report(
                runs / f"holdout_{lang}" / "intent_report.json"
            )
        failed = None
        if stories:
            step(
                "stories",
                ["test", "core", "--model", str(model), "--stories", "tests/stories", "--out",
                 str(runs / "core")],
                timeout=3600,
            )  # fmt: skip
            failed = failed_story_names(runs / "core" / "failed_test_stories.yml")
    if accept:
        accept_recall(
            FLOOR_FILE,
            {
                lang: {i: s.recall for i, s in sections[f"Held-out {lang}"].items()}
                for lang in LANGUAGES
            },
        )
    return write_report(out, sections, failed, generated=dt.datetime.now())
