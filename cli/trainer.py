"""The ``dealerbot trainer`` commands: inbox, export, mark-done, report, lint, simulate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.settings import REPO_ROOT, get_settings
from trainer.lint import lint_project
from trainer.report import ReportError, run_report


def _factory():
    from core.store.session import default_session_factory

    return default_session_factory()


def cmd_inbox(args: argparse.Namespace) -> int:
    from trainer.inbox import open_items, render_list

    rows = open_items(_factory(), language=args.language, intent=args.intent, dealer=args.dealer)
    print(render_list(rows))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from trainer.inbox import export_yaml, open_items

    rows = open_items(_factory(), language=args.language, dealer=args.dealer)
    out = args.out or get_settings().var_dir / "trainer" / "inbox"
    out.mkdir(parents=True, exist_ok=True)
    files = export_yaml(rows)
    if not files:
        print("The inbox is empty: nothing to export.")
        return 0
    for lang, text in files.items():
        path = out / f"inbox_{lang}.yml"
        path.write_text(text, encoding="utf-8")
        count = sum(1 for r in rows if r.language == lang)
        print(f"{path}: {count} items ({lang})")
    print(
        "Check every example, move it to the right intent in data/, then run "
        "`dealerbot trainer mark-done` with the item numbers."
    )
    return 0


def cmd_mark_done(args: argparse.Namespace) -> int:
    from trainer.inbox import mark_done

    try:
        ids = [int(part) for value in args.id or [] for part in value.split(",") if part.strip()]
    except ValueError:
        print(
            f"mark-done: item numbers are whole numbers, e.g. --id 3,5 (got {args.id})",
            file=sys.stderr,
        )
        return 2
    if not (ids or args.intent or args.language or args.all):
        print(
            "mark-done: say which items: --id 3,5, --intent NAME, --language nl|en or --all",
            file=sys.stderr,
        )
        return 2
    done = mark_done(
        _factory(), ids=ids, intent=args.intent, language=args.language, everything=args.all
    )
    print(f"{done} items marked done")
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    problems = lint_project(args.data, args.domain, min_examples=args.min_examples)
    for problem in problems:
        print(problem)
    if problems:
        print(f"\n{len(problems)} problems in the training data", file=sys.stderr)
        return 1
    print("the training data is clean")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    try:
        path = run_report(
            out=args.out,
            folds=args.folds,
            model=args.model,
            cross_validation=not args.no_cross_validation,
            stories=not args.no_stories,
            accept=args.accept,
        )
    except ReportError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    print(f"report written: {path}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from bot.runtime import start_stack, train_if_needed
    from trainer.simulate.command import run_command

    return run_command(args, model=args.model or train_if_needed(), start_stack=start_stack)


def add_trainer_commands(sub) -> argparse._SubParsersAction:
    """The ``trainer`` command group for bot trainers (docs/training.md)."""
    trainer = sub.add_parser("trainer", help="tools for bot trainers: inbox, report, data lint")
    trainer_sub = trainer.add_subparsers(dest="trainer_command", required=True)

    inbox = trainer_sub.add_parser("inbox", help="messages the bot did not understand well")
    inbox.add_argument("--language", choices=("nl", "en"), help="only items in this language")
    inbox.add_argument("--intent", help="only this predicted intent")
    inbox.add_argument("--dealer", help="only this dealer location")
    inbox.set_defaults(func=cmd_inbox)

    export = trainer_sub.add_parser("export", help="the inbox as Rasa NLU files, one per language")
    export.add_argument("--out", type=Path, help="folder (default: var/trainer/inbox)")
    export.add_argument("--language", choices=("nl", "en"), help="only items in this language")
    export.add_argument("--dealer", help="only this dealer location")
    export.set_defaults(func=cmd_export)

    done = trainer_sub.add_parser("mark-done", help="remove handled items from the inbox")
    done.add_argument("--id", action="append", help="item numbers, e.g. 3,5 (repeatable)")
    done.add_argument("--intent", help="every open item with this predicted intent")
    done.add_argument("--language", choices=("nl", "en"), help="every open item in a language")
    done.add_argument("--all", action="store_true", help="every open item")
    done.set_defaults(func=cmd_mark_done)

    report = trainer_sub.add_parser(
        "report", help="NLU quality report: cross-validation, held-out set, failed stories"
    )
    report.add_argument(
        "--out", type=Path, default=REPO_ROOT / "results" / "trainer",
        help="folder for the report (default: results/trainer)",
    )  # fmt: skip
    report.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    report.add_argument("--model", type=Path, help="model for the held-out set and stories")
    report.add_argument("--no-cross-validation", action="store_true", help="skip the slow part")
    report.add_argument("--no-stories", action="store_true", help="skip the story test")
    report.add_argument(
        "--accept", action="store_true", help="record the held-out recall as the accepted one"
    )
    report.set_defaults(func=cmd_report)

    lint = trainer_sub.add_parser("lint", help="check the training data (exit code 1 on problems)")
    lint.add_argument("--data", type=Path, default=REPO_ROOT / "data", help="training data folder")
    lint.add_argument(
        "--domain", type=Path, default=REPO_ROOT / "bot" / "domain", help="domain folder"
    )
    lint.add_argument("--min-examples", type=int, default=25, help="per intent per language")
    lint.set_defaults(func=cmd_lint)

    sim = trainer_sub.add_parser(
        "simulate", help="simulated customers against the real stack: success per flow, language"
    )
    sim.add_argument("--held-out", action="store_true", help="the held-out templates (measure)")
    sim.add_argument("--sample", type=int, help="only N conversations, spread over the flows")
    sim.add_argument("--per-language", type=int, default=200, help="conversations per language")
    sim.add_argument("--seed", type=int, default=16, help="random seed of the sample")
    sim.add_argument("--workers", type=int, default=4, help="customers talking at once")
    sim.add_argument("--model", type=Path, help="model (default: current, trained if needed)")
    sim.add_argument("--no-out-of-scope", action="store_true", help="skip the out-of-scope sets")
    sim.add_argument("--json", type=Path, help="also write the figures as JSON here")
    sim.add_argument("--work-dir", type=Path, help="keep the run's store and server logs here")
    sim.add_argument(
        "--show-failures", type=int, default=0, help="print N failed transcripts (tuning set)"
    )
    sim.set_defaults(func=cmd_simulate)
    return trainer_sub
