"""CLI sub-commands of ``dealerbot metrics`` for the weekly summary: summary, export, send."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.periods import PeriodError, iso_week, last_closed_week
from core.settings import get_settings, now
from dealer.config import DealerConfigError


def _dealer_and_week(args: argparse.Namespace):  # noqa: ANN202
    from metrics.jobs import _dealer

    try:
        dealer = _dealer(args.dealer)
    except DealerConfigError as exc:
        raise SystemExit(str(exc)) from None
    if not args.week:
        return dealer, last_closed_week(now(), dealer.timezone)
    try:
        return dealer, iso_week(args.week)
    except PeriodError as exc:
        raise SystemExit(str(exc)) from None


def cmd_metrics_summary(args: argparse.Namespace) -> int:
    from core.store.session import default_session_factory
    from metrics.digest import build_digest
    from metrics.jobs import current_weekly_summary
    from metrics.report.render import render_text

    dealer, week = _dealer_and_week(args)
    # what the store holds now: the dirty days (new messages, late answers, erasures) first
    factory = default_session_factory()
    summary = current_weekly_summary(factory, dealer.id, week)
    sys.stdout.write(
        render_text(
            summary,
            dealer,
            language=args.language or dealer.report_language,
            dashboard_url=get_settings().dashboard_url,
            digest=build_digest(factory, dealer.id, week, summary=summary),
        )
    )
    return 0


def cmd_metrics_export(args: argparse.Namespace) -> int:
    from core.store.session import default_session_factory
    from metrics.report.export import export_csv, export_top_csv

    dealer, week = _dealer_and_week(args)
    if args.top:
        text = export_top_csv(default_session_factory(), dealer.id, week)
        what = "top intents and fallback messages"
    else:
        text = export_csv(default_session_factory(), dealer.id, week, dealer.timezone)
        what = f"{text.count(chr(10)) - 1} conversations"
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8-sig")
        print(f"wrote {what} of {dealer.id} {week} to {out}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_metrics_send(args: argparse.Namespace) -> int:
    from metrics.jobs import weekly_summary_job

    dealer, week = _dealer_and_week(args)
    if not get_settings().smtp_host:
        raise SystemExit("no SMTP server configured: set DEALERBOT_SMTP_HOST (and _PORT, _TLS, "
                         "_USER, _PASSWORD, _FROM)")  # fmt: skip
    if not dealer.report_recipients:
        raise SystemExit(f"{dealer.id} has no reports.recipients in its dealer.yml")
    run = weekly_summary_job(dealer.id, week, force_render=True)
    print(run.as_text())
    return 1 if run.delivery is not None and run.delivery.failed else 0


def add_report_commands(metrics_sub: argparse._SubParsersAction) -> None:
    """Add ``summary``, ``export`` and ``send`` to the ``dealerbot metrics`` sub-parser."""
    week_help = "ISO week, e.g. 2026-W47 (default: last week)"
    summary = metrics_sub.add_parser("summary", help="print a dealer's weekly summary as a table")
    summary.add_argument("--dealer", required=True, help="dealer id (folder name)")
    summary.add_argument("--week", help=week_help)
    summary.add_argument("--language", choices=("nl", "en"), help="default: the dealer's")
    summary.set_defaults(func=cmd_metrics_summary)

    export = metrics_sub.add_parser("export", help="CSV with one row per conversation of a week")
    export.add_argument("--dealer", required=True, help="dealer id (folder name)")
    export.add_argument("--week", help=week_help)
    export.add_argument("--out", help="file to write (default: standard output)")
    export.add_argument(
        "--top", action="store_true",
        help="the week's top intents and fallback messages instead of the conversations",
    )  # fmt: skip
    export.set_defaults(func=cmd_metrics_export)

    send = metrics_sub.add_parser("send", help="e-mail the weekly summary to the dealer")
    send.add_argument("--dealer", required=True, help="dealer id (folder name)")
    send.add_argument("--week", help=week_help)
    send.set_defaults(func=cmd_metrics_send)
