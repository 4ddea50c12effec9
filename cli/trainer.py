"""The ``dealerbot trainer`` commands: inbox, export, mark-done, report, lint, simulate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.settings import REPO_ROOT, get_settings, utc_now
from trainer.lint import lint_project
from trainer.report import (
    FULL_SAMPLE,
    QUICK_SAMPLE,
    ReportError,
    latest_model,
    load_simulation,
    run_report,
)


def _factory():
    from core.store.session import default_session_factory

    return default_session_factory()


def cmd_inbox(args: argparse.Namespace) -> int:
    from core.store.inbox_scan import scan_ended
    from trainer.inbox import open_items, render_list

    factory = _factory()
    if args.scan_days > 0:
        now = utc_now().timestamp()
        found = scan_ended(
            factory, get_settings().tracker_db_url, since=now - args.scan_days * 86400, now=now
        )
        print(
            f"looked again at {found.conversations} conversations of the last "
            f"{args.scan_days} days in Rasa's events: {found.added} new items",
            file=sys.stderr,
        )
    rows = open_items(factory, language=args.language, intent=args.intent, dealer=args.dealer)
    print(render_list(rows))
    return 0


def _ids(values: list[str] | None) -> list[int]:
    """Item numbers from ``--id 3,5 --id 7``; ValueError for anything else."""
    return [int(part) for value in values or [] for part in value.split(",") if part.strip()]


def _entities(values: list[str] | None) -> dict[str, str]:
    """``--entity service_type=apk`` -> {"service_type": "apk"}; ValueError without ``=``."""
    pairs = {}
    for value in values or []:
        entity, sep, text = value.partition("=")
        if not sep or not entity.strip() or not text.strip():
            raise ValueError(value)
        pairs[entity.strip()] = text.strip()
    return pairs


def cmd_export_to_data(args: argparse.Namespace) -> int:
    """``trainer export --id N --intent X``: the items as examples in data/<topic>/nlu_<lang>."""
    from trainer.inbox import ExportError, add_to_data, annotate, items_by_id, mark_done, unmasked

    try:
        ids, entities = _ids(args.id), _entities(args.entity)
    except ValueError as exc:
        print(f"export: item numbers are whole numbers (--id 3,5) and entities "
              f"ENTITY=words (--entity service_type=apk); not {exc}", file=sys.stderr)  # fmt: skip
        return 2
    if not args.intent:
        print("export: --intent NAME: the intent these messages really are", file=sys.stderr)
        return 2
    factory = _factory()
    rows = items_by_id(factory, ids)
    missing = sorted(set(ids) - {r.id for r in rows})
    if missing:
        print(f"export: no inbox items {missing}", file=sys.stderr)
        return 2
    if args.text and len(rows) != 1:
        print("export: --text replaces the text of one item only", file=sys.stderr)
        return 2
    by_language: dict[str, list[str]] = {}
    try:
        for row in rows:
            text = args.text or unmasked(row.text, row.language)
            by_language.setdefault(row.language, []).append(annotate(text, entities))
        for language, examples in sorted(by_language.items()):
            done = add_to_data(
                args.data, intent=args.intent, language=language, examples=examples,
                holdout_dir=args.holdout,
            )  # fmt: skip
            for line in done.added:
                print(f"{done.path}: + {done.intent}: {line}")
            for line in done.skipped:
                print(f"{done.path}: already in the data, not added: {line}")
    except ExportError as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 1
    if not args.keep_open:
        mark_done(factory, ids=ids)
    print(
        "Next: read the examples in your editor, then `dealerbot trainer lint` and "
        "`dealerbot trainer report --quick`."
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from trainer.inbox import export_yaml, open_items

    if args.id:
        return cmd_export_to_data(args)
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
        ids = _ids(args.id)
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


def report_options(args: argparse.Namespace) -> dict:
    """What ``trainer report`` runs: ``--quick`` is the held-out set and a small simulated
    sample (no out-of-scope sets, no stories); the full report adds the out-of-scope sets and the
    stories; ``--simulation FILE`` reads the simulator's figures instead of running it;
    ``--folds N`` adds a cross-validation."""
    sample = args.sample or (QUICK_SAMPLE if args.quick else FULL_SAMPLE)
    return {
        "folds": args.folds,
        "stories": not (args.quick or args.no_stories),
        "simulation": args.simulation,
        "sample": 0 if args.no_simulation or args.simulation else sample,
        "out_of_scope": not args.quick,
    }


def _report_simulation(options: dict, model: Path):
    """The report's simulation step: the figures of a ``--simulation`` file, a sample run on a
    fresh stack, or None."""
    if options["simulation"]:
        figures = load_simulation(options["simulation"])

        def read(_progress):
            return figures

        return read
    if not options["sample"]:
        return None
    from bot.runtime import start_stack
    from trainer.simulate.command import run_sample

    def simulate(progress):
        return run_sample(model, conversations=options["sample"],
                          out_of_scope=options["out_of_scope"], start_stack=start_stack,
                          progress=progress)  # fmt: skip

    return simulate


def cmd_report(args: argparse.Namespace) -> int:
    options = report_options(args)
    try:
        model = args.model or latest_model()
        simulate = _report_simulation(options, model)
        path = run_report(
            out=args.out,
            folds=options["folds"],
            model=model,
            stories=options["stories"],
            simulate=simulate,
            accept=args.accept,
        )
    except ReportError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    print(path.read_text(encoding="utf-8"))
    print(f"report written: {path} and {path.with_suffix('.html')}")
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
    inbox.add_argument(
        "--scan-days", type=int, default=7,
        help="first look again at the ended conversations of these last days (0: do not)",
    )  # fmt: skip
    inbox.set_defaults(func=cmd_inbox)

    export = trainer_sub.add_parser(
        "export",
        help="items as training examples: --id N --intent X writes them into "
        "data/<topic>/nlu_<lang>.yml; without --id, the open items as files to read",
    )
    export.add_argument("--id", action="append", help="item numbers, e.g. 3,5 (repeatable)")
    export.add_argument("--intent", help="with --id: the intent these messages really are")
    export.add_argument(
        "--entity", action="append", metavar="ENTITY=WORDS",
        help="with --id: mark these words of the text as this entity (repeatable)",
    )  # fmt: skip
    export.add_argument("--text", help="with one --id: the example as it should read instead")
    export.add_argument("--keep-open", action="store_true", help="with --id: leave items open")
    export.add_argument("--data", type=Path, default=REPO_ROOT / "data", help="training data")
    export.add_argument(
        "--holdout", type=Path, default=REPO_ROOT / "tests" / "nlu_holdout",
        help="held-out set: an example also there is refused (never written)",
    )  # fmt: skip
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
        "report",
        help="quality report per language: held-out set, simulated conversations, stories "
        "(HTML and Markdown)",
    )
    report.add_argument(
        "--out", type=Path, default=REPO_ROOT / "results" / "trainer",
        help="folder for the report (default: results/trainer)",
    )  # fmt: skip
    report.add_argument(
        "--quick", action="store_true",
        help=f"held-out set and {QUICK_SAMPLE} simulated conversations only (after every edit)",
    )  # fmt: skip
    report.add_argument("--folds", type=int, help="also cross-validate with N folds (slow)")
    report.add_argument("--model", type=Path, help="model (default: the newest in models/)")
    report.add_argument(
        "--sample", type=int,
        help=f"simulated conversations (default {FULL_SAMPLE}; --quick: {QUICK_SAMPLE})",
    )  # fmt: skip
    report.add_argument(
        "--simulation", type=Path,
        help="read the figures of `trainer simulate --json FILE` instead of simulating",
    )  # fmt: skip
    report.add_argument("--no-simulation", action="store_true", help="no simulated conversations")
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
        "--show-failures",
        type=int,
        default=0,
        help="print N transcripts that failed or asked a question again (tuning set only)",
    )
    sim.set_defaults(func=cmd_simulate)
    return trainer_sub
