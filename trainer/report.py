"""The quality report per language: the held-out set parsed by the current model, a sample of
simulated conversations (or a simulator's ``--json`` figures), the failed stories, and with
``--folds N`` a cross-validation.

Running Rasa and the simulator is ``run_report``; everything else (scoring the held-out set,
reading Rasa's ``intent_report.json``, the comparison with the previous report, the Markdown, the
HTML and the confusion-matrix PNG) is pure and tested on small inputs.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import jinja2
import yaml
from tqdm import tqdm

from core.settings import REPO_ROOT, rasa_bin
from dealer.i18n import LANGUAGES
from trainer.gate import FLOOR_FILE, Parsed, accept_recall, outcomes, parse_model_holdout

SUMMARY_FILE = "summary.json"  # kept next to the report: the next report compares with it
NOT_INTENTS = frozenset({"accuracy", "macro avg", "weighted avg", "micro avg"})
CHANGE = 0.02  # an F1 change smaller than this is noise, not "better" or "worse"
QUICK_SAMPLE = 28  # simulated conversations of --quick: one per flow and language
FULL_SAMPLE = 56  # of the full report: two per flow and language, plus the out-of-scope sets
TOP = 5  # slowest / most re-prompted questions shown


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


def holdout_scores(parsed: Iterable[Parsed]) -> dict[str, dict[str, IntentScore]]:
    """Per language, per expected intent of the held-out set: precision (share of the
    predictions of the intent that were right), recall (share of its examples predicted right),
    F1 (their harmonic mean), support, and the intents predicted instead. A prediction the
    held-out gate counts as right (:func:`trainer.gate.is_hit`) is right here too."""
    triples = outcomes(parsed)
    result: dict[str, dict[str, IntentScore]] = {}
    for lang in sorted({lang for _i, lang, _p in triples}):
        rows = [(i, p) for i, lg, p in triples if lg == lang]
        support = Counter(i for i, _p in rows)
        predicted = Counter(p for _i, p in rows)
        hits = Counter(i for i, p in rows if p == i)
        scores = {}
        for intent in sorted(support):
            precision = hits[intent] / predicted[intent] if predicted[intent] else 0.0
            recall = hits[intent] / support[intent]
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            confused = Counter(str(p) for i, p in rows if i == intent and p != intent)
            scores[intent] = IntentScore(
                round(precision, 3), round(recall, 3), round(f1, 3), support[intent],
                dict(confused.most_common()),
            )  # fmt: skip
        result[lang] = scores
    return result


def macro_f1(scores: dict[str, IntentScore]) -> float | None:
    """The F1 averaged over the intents, each counting the same (Rasa's "macro avg")."""
    return sum(s.f1 for s in scores.values()) / len(scores) if scores else None


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
    simulation: dict | None = None,
) -> str:
    """The report: per section accuracy, a precision / recall / F1 table, the top confusions,
    the confusion matrix image, better and worse intents; then per language the simulated
    conversations (:func:`simulation_view`); then the failed stories."""
    lines = ["# Quality report", ""]
    if generated:
        lines += [f"Generated {generated:%Y-%m-%d %H:%M}.", ""]
    for name, scores in sections.items():
        lines += [
            f"## {name}",
            "",
            f"Accuracy: {_pct(accuracy(scores))}, F1 (macro): {_pct(macro_f1(scores))} "
            f"(n={sum(s.support for s in scores.values())})",
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
    for view in simulation_views(simulation):
        lines += [f"## Simulated conversations {view['language']}", ""]
        lines += [
            f"Success: {_pct(view['success'])} of {view['conversations']} conversations; "
            f"out-of-scope messages given a business intent: {_pct(view['oos_business'])} "
            f"(n={view['oos_messages']})",
            "",
            "| flow | success |",
            "|---|---:|",
        ]
        lines += [f"| {flow} | {ok}/{n} |" for flow, ok, n in view["flows"]]
        lines += ["", "Slowest questions (mean bot reply time):", ""]
        lines += [f"1. {q}: {sec:.2f} s" for q, sec in view["slowest"]] or ["none recorded"]
        lines += ["", "Most re-prompted questions (most in one conversation):", ""]
        lines += [f"1. {q}: {n}×" for q, n in view["reprompted"]] or ["none"]
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


def simulation_views(figures: dict | None, top: int = TOP) -> list[dict[str, Any]]:
    """Per language, what the report shows of the simulator's figures
    (:func:`trainer.simulate.report.figures`, also its ``--json`` file): success overall and per
    flow, the out-of-scope rate (share given a business intent), the ``top`` slowest questions
    (mean reply seconds) and the ``top`` most re-prompted ones. Empty without figures."""
    views = []
    for lang in LANGUAGES:
        data = (figures or {}).get(lang)
        if not data:
            continue
        reprompts = sorted(
            ((q, n) for q, n in (data.get("reprompts_by_question") or {}).items() if n),
            key=lambda kv: (-kv[1], kv[0]),
        )
        slowest = sorted((data.get("seconds_by_question") or {}).items(),
                         key=lambda kv: (-kv[1], kv[0]))  # fmt: skip
        views.append(
            {
                "language": lang,
                "conversations": data.get("conversations", 0),
                "success": data.get("success"),
                "flows": [(flow, ok, n) for flow, (ok, n) in (data.get("flows") or {}).items()],
                "oos_business": data.get("oos_business"),
                "oos_messages": data.get("oos_messages", 0),
                "slowest": slowest[:top],
                "reprompted": reprompts[:top],
            }
        )
    return views


HTML = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Quality report</title>
<style>body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 6px}td.n{text-align:right}img{max-width:100%}</style>
</head><body>
<h1>Quality report</h1>
{% if generated %}<p>Generated {{ generated }}.</p>{% endif %}
{% for s in sections %}
<h2>{{ s.name }}</h2>
<p>Accuracy {{ s.accuracy }}, F1 (macro) {{ s.f1 }} (n={{ s.n }})</p>
<table><tr><th>intent</th><th>precision</th><th>recall</th><th>F1</th><th>n</th></tr>
{% for r in s.rows %}<tr><td>{{ r[0] }}</td><td class="n">{{ "%.2f"|format(r[1].precision) }}</td>
<td class="n">{{ "%.2f"|format(r[1].recall) }}</td><td class="n">{{ "%.2f"|format(r[1].f1) }}</td>
<td class="n">{{ r[1].support }}</td></tr>
{% endfor %}</table>
<h3>Confusions most worth fixing</h3>
<ol>{% for i, o, c in s.confusions %}<li>{{ i }} taken for {{ o }}: {{ c }}×</li>
{% else %}<li>none</li>{% endfor %}</ol>
{% if s.image %}<img alt="confusion matrix {{ s.name }}" src="data:image/png;base64,{{ s.image }}">
{% endif %}
{% endfor %}
{% for v in simulation %}
<h2>Simulated conversations {{ v.language }}</h2>
<p>Success {{ pct(v.success) }} of {{ v.conversations }} conversations; out-of-scope messages
given a business intent: {{ pct(v.oos_business) }} (n={{ v.oos_messages }})</p>
<table><tr><th>flow</th><th>success</th></tr>
{% for flow, ok, n in v.flows %}<tr><td>{{ flow }}</td><td class="n">{{ ok }}/{{ n }}</td></tr>
{% endfor %}</table>
<h3>Slowest questions (mean bot reply time)</h3>
<ol>{% for q, sec in v.slowest %}<li>{{ q }}: {{ "%.2f"|format(sec) }} s</li>
{% else %}<li>none recorded</li>{% endfor %}</ol>
<h3>Most re-prompted questions</h3>
<ol>{% for q, n in v.reprompted %}<li>{{ q }}: {{ n }}×</li>{% else %}<li>none</li>{% endfor %}
</ol>
{% endfor %}
{% if failed_stories is not none %}<h2>Conversation stories</h2>
{% if failed_stories %}<p>{{ failed_stories|length }} failed:</p>
<ul>{% for story in failed_stories %}<li>{{ story }}</li>{% endfor %}</ul>
{% else %}<p>All test stories pass.</p>{% endif %}{% endif %}
</body></html>
"""
)


def render_html(
    sections: dict[str, dict[str, IntentScore]],
    *,
    images: dict[str, bytes] | None = None,
    simulation: dict | None = None,
    failed_stories: Sequence[str] | None = None,
    generated: dt.datetime | None = None,
) -> str:
    """The report as one self-contained HTML page (autoescaped): what :func:`render_markdown`
    shows, with each confusion matrix embedded as a PNG (``images``: section -> PNG bytes)."""
    views = [
        {
            "name": name,
            "accuracy": _pct(accuracy(scores)),
            "f1": _pct(macro_f1(scores)),
            "n": sum(s.support for s in scores.values()),
            "rows": sorted(scores.items(), key=lambda kv: (kv[1].f1, kv[0])),
            "confusions": top_confusions(scores),
            "image": base64.b64encode(images[name]).decode("ascii")
            if images and name in images
            else None,
        }
        for name, scores in sections.items()
    ]
    return HTML.render(
        sections=views,
        simulation=simulation_views(simulation),
        failed_stories=failed_stories,
        generated=f"{generated:%Y-%m-%d %H:%M}" if generated else None,
        pct=_pct,
    )


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
    simulation: dict | None = None,
) -> Path:
    """``report.md`` with one PNG per section, and ``report.html`` with the PNGs embedded; the
    previous ``summary.json`` is compared with, then replaced by this one (and kept as
    ``summary.previous.json``)."""
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
        simulation=simulation,
    )
    (out / "report.md").write_text(text, encoding="utf-8")
    page = render_html(
        sections,
        images={name: (out / file).read_bytes() for name, file in images.items()},
        simulation=simulation,
        failed_stories=failed_stories,
        generated=generated,
    )
    (out / "report.html").write_text(page, encoding="utf-8")
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


def nlu_only_config(config: Path, target: Path) -> Path:
    """``config`` without its policies: cross-validation trains the NLU pipeline only."""
    data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    data.pop("policies", None)
    target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target


def load_simulation(path: Path) -> dict:
    """The figures ``dealerbot trainer simulate --json`` wrote."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: cannot be read ({exc})") from exc


def run_report(
    *,
    out: Path,
    folds: int | None = None,
    model: Path | None = None,
    stories: bool = True,
    simulate: Callable[[Callable[[int, int], None]], dict] | None = None,
    accept: bool = False,
    progress: TextIO | bool | None = True,
) -> Path:
    """Write the report to ``out/report.md`` and ``out/report.html`` (timings: docs/training.md).

    The steps: the held-out set parsed by ``model`` (default: the newest) in this process;
    ``simulate`` (figures of simulated conversations; it takes a ``(done, total)`` progress
    callback), when given; with ``folds``, a cross-validation of the NLU pipeline per language,
    the languages in parallel; with ``stories``, Rasa's story test. Each step is a step of a
    tqdm progress bar on ``progress``: True, stderr when it is a terminal (quiet in logs and
    pipes); a stream, that stream; None or False, silence.
    """
    model = model or latest_model()
    runs = out / "rasa"
    shutil.rmtree(runs, ignore_errors=True)
    sections: dict[str, dict[str, IntentScore]] = {}
    stream = sys.stderr if progress is True else progress or None
    steps = 1 + (simulate is not None) + (folds is not None) + stories
    bar = tqdm(total=steps, file=stream, unit="step", ascii=True,
               disable=stream is None or (progress is True and not stream.isatty()))  # fmt: skip
    figures = None
    failed = None
    with bar, tempfile.TemporaryDirectory() as tmp:
        bar.set_description("held-out set")
        holdout = holdout_scores(parse_model_holdout(model))
        for lang in LANGUAGES:
            sections[f"Held-out {lang}"] = holdout.get(lang, {})
        bar.update()
        if simulate is not None:
            bar.set_description("simulated conversations")

            def sim_progress(done: int, total: int) -> None:
                bar.set_description(f"simulated conversations {done}/{total}")

            figures = simulate(sim_progress)
            bar.update()
        if folds is not None:
            bar.set_description(f"cross-validation, {folds} folds")
            config = nlu_only_config(REPO_ROOT / "config.yml", Path(tmp) / "config_nlu.yml")

            def cross_validate(lang: str) -> dict[str, IntentScore]:
                data = _language_files(f"nlu_{lang}.yml", REPO_ROOT / "data", Path(tmp) / lang)
                _rasa(["test", "nlu", "--nlu", str(data), "--config", str(config),
                       "--cross-validation", "--folds", str(folds),
                       "--out", str(runs / f"cv_{lang}")], timeout=4 * 3600)  # fmt: skip
                return read_intent_report(runs / f"cv_{lang}" / "intent_report.json")

            with ThreadPoolExecutor(len(LANGUAGES)) as pool:
                for lang, scores in zip(LANGUAGES, pool.map(cross_validate, LANGUAGES),
                                        strict=True):  # fmt: skip
                    sections[f"Cross-validation {lang}"] = scores
            bar.update()
        if stories:
            bar.set_description("stories")
            _rasa(["test", "core", "--model", str(model), "--stories", "tests/stories", "--out",
                   str(runs / "core")], timeout=3600)  # fmt: skip
            failed = failed_story_names(runs / "core" / "failed_test_stories.yml")
            bar.update()
    if accept:
        accept_recall(
            FLOOR_FILE,
            {lang: {i: s.recall for i, s in sections[f"Held-out {lang}"].items()}
             for lang in LANGUAGES},
        )  # fmt: skip
    return write_report(out, sections, failed, generated=dt.datetime.now(), simulation=figures)
