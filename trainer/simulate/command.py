"""``dealerbot trainer simulate``: generate, run against a fresh stack, print the report."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from core.settings import REPO_ROOT
from dealer.i18n import LANGUAGES
from trainer.simulate import runner
from trainer.simulate.generate import generate, sample
from trainer.simulate.report import figures, markdown

OUT_OF_SCOPE = REPO_ROOT / "tests" / "simulation"


def load_out_of_scope(folder: Path = OUT_OF_SCOPE) -> dict[str, list[str]]:
    """The out-of-scope evaluation messages per language (``out_of_scope_{nl,en}.yml``)."""
    result = {}
    for lang in LANGUAGES:
        data = yaml.safe_load((folder / f"out_of_scope_{lang}.yml").read_text(encoding="utf-8"))
        result[lang] = [m for group in data["groups"].values() for m in group]
    return result


def run_sample(
    model: Path,
    *,
    conversations: int,
    start_stack: Callable[..., Any],
    out_of_scope: bool = False,
    seed: int = 16,
    workers: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The figures (:func:`figures`) of ``conversations`` tuning-set conversations spread over the
    flows and languages, with the out-of-scope sets when ``out_of_scope``: what
    ``dealerbot trainer report`` shows."""
    profiles, seeds = generate(held_out=False, seed=seed)
    profiles = sample(profiles, conversations, seed)
    with tempfile.TemporaryDirectory(prefix="dealerbot-sim-") as tmp:
        run = runner.simulate(profiles, seeds, model,
                              out_of_scope=load_out_of_scope() if out_of_scope else None,
                              workers=workers, progress=progress, work_dir=Path(tmp),
                              start_stack=start_stack)  # fmt: skip
    return figures(run)


def run_command(args: argparse.Namespace, *, model: Path, start_stack: Callable[..., Any]) -> int:
    """Run the simulation against ``model`` on a stack from ``start_stack`` (both given by the
    command line: :func:`bot.runtime.train_if_needed` and :func:`bot.runtime.start_stack`)."""
    profiles, seeds = generate(held_out=args.held_out, per_language=args.per_language,
                               seed=args.seed)  # fmt: skip
    profiles = sample(profiles, args.sample, args.seed)
    oos = None if args.no_out_of_scope else load_out_of_scope()

    def progress(done: int, total: int) -> None:
        if done % 20 == 0 or done == total:
            print(f"  {done}/{total} conversations", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="dealerbot-sim-") as tmp:
        # The run's store and server logs: kept only in --work-dir.
        work_dir = args.work_dir or Path(tmp)
        run = runner.simulate(profiles, seeds, model, out_of_scope=oos, workers=args.workers,
                       progress=progress, work_dir=work_dir, start_stack=start_stack)  # fmt: skip
    which = "HELD-OUT templates" if args.held_out else "tuning templates"
    title = f"Simulated conversations: {which}"
    # Held-out transcripts are never printed: reading them is tuning on them.
    print(markdown(run, title, show_failures=0 if args.held_out else args.show_failures))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures(run), indent=2), encoding="utf-8")
        print(f"figures written: {args.json}", file=sys.stderr)
    return 0
