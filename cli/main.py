"""The ``dealerbot`` command: run the assistant, train, chat, and look after the store.

The top of the layers (README "What is where"): it wires the features together and may import
any of them. A command imports what loads SQLAlchemy, aiohttp, APScheduler or Rasa when it runs,
not at the top: ``dealerbot --help`` then starts in 0.4 s instead of 2.3 s (measured).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from cli.metrics import add_report_commands
from cli.trainer import add_trainer_commands
from cli.web import add_run_web_options, add_web_commands, web_lines, web_options
from core.settings import (
    DEV_CONTACT_KEY_SECRET,
    PRIVATE_UMASK,
    REPO_ROOT,
    UnsafeSettings,
    get_settings,
    rasa_api_token,
    require_production_safe,
    rest_client_headers,
)
from dealer.config import DealerConfigError, all_dealers
from dealer.parsing import normalize_email as parse_email
from dealer.parsing import normalize_phone


def cmd_db_upgrade(_args: argparse.Namespace) -> int:
    from core.store.migrate import upgrade
    from core.store.session import make_engine

    url = get_settings().database_url
    upgrade(make_engine(url))
    print(f"database is up to date: {url}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from bot.runtime import train_if_needed

    train_if_needed(force=args.force)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bot.runtime import start_stack, train_if_needed

    settings = get_settings()
    if settings.contact_key_secret == DEV_CONTACT_KEY_SECRET:
        print(
            "WARNING: DEALERBOT_CONTACT_KEY_SECRET is not set: contact keys use the development "
            "secret, which anyone with the store can reverse by trying phone numbers. Set it to a "
            "long random value before real customers write (docs/privacy.md).",
            file=sys.stderr,
            flush=True,
        )
    if args.model:
        model = args.model
        print(f"using model {model}")
    else:
        model = train_if_needed()
    cmd_db_upgrade(args)
    print("starting the action server, the Rasa server and the scheduler ...", flush=True)
    stack = start_stack(
        model,
        rasa_port=args.rasa_port,
        action_port=args.action_port,
        tracker_db_url=settings.tracker_db_url,
        with_scheduler=not args.no_scheduler,
        # `dealerbot reload` puts a new model in through Rasa's API (token, loopback)
        enable_api=True,
        env={"DEALERBOT_RASA_API_TOKEN": rasa_api_token(settings)},
        **web_options(args),
    )
    _record_live_model(stack.rasa_url, stack.api_token)
    print(
        "\nThe assistant is running.\n"
        f"  Chat in this terminal:  .venv/bin/dealerbot chat --url {stack.rasa_url}\n"
        + web_lines(args)
        + f"  REST webhook:           POST {stack.rest_webhook}\n"
        f'                          {{"sender": "me", "message": "hallo"}}\n'
        + (
            "                          with Authorization: Bearer $DEALERBOT_REST_TOKEN\n"
            if settings.rest_token
            else ""
        )
        + f"  Logs:                   {settings.var_dir / 'logs'}\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    # Ctrl-C too, explicitly: started from a script in the background (`cmd &` without job
    # control) run inherits SIGINT ignored, and Python then installs no KeyboardInterrupt
    # (a CI run sent Ctrl-C and nothing stopped).
    signal.signal(signal.SIGINT, stop)
    try:
        while all(p.poll() is None for p in stack.processes):
            time.sleep(0.5)
        print("a server stopped by itself; see the logs", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping ...", flush=True)
        stack.stop()
        print("stopped.")
    return 0


def _record_live_model(server: str, token: str | None, live=None) -> None:
    """Record the model ``server`` runs from now (``live``: what it said it runs; default: ask
    it), for the dashboard (``model_loads``). A failure is a note: the model is live anyway."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.model_api import ModelAPIError, live_model
    from core.store.model_loads import record_model_load
    from core.store.session import make_engine, make_session_factory

    try:
        live = live or live_model(server, token)
    except ModelAPIError as exc:
        print(f"note: could not record the live model: {exc}", file=sys.stderr)
        return
    engine = make_engine(get_settings().database_url)
    try:
        record_model_load(make_session_factory(engine), live.server, live.model_file,
                          live.model_id)  # fmt: skip
    except SQLAlchemyError as exc:  # the model is live all the same
        print(f"note: could not record the model load ({type(exc).__name__}); the dashboard "
              "shows no 'since' for it (dealerbot db upgrade?)", file=sys.stderr)  # fmt: skip
    finally:
        engine.dispose()


def cmd_reload(args: argparse.Namespace) -> int:
    """Put the trained model live in the running Rasa servers if it passes the held-out gate."""
    from bot.model_api import GateRefused, ModelAPIError, reload
    from bot.runtime import fingerprint, model_path
    from trainer.gate import FLOOR_FILE, check_model

    settings = get_settings()
    model = args.model or model_path(args.models_dir, fingerprint())
    if not model.is_file():
        print(f"dealerbot reload: no model for the current data ({model}); run "
              "`dealerbot train` first, or give --model", file=sys.stderr)  # fmt: skip
        return 2
    servers = [url.rstrip("/") for url in args.url] if args.url else list(settings.rasa_urls)
    floor_file = args.floor_file or FLOOR_FILE

    def gate(candidate: Path) -> list[str]:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up notes
        print(f"held-out gate: loading {candidate.name} and parsing tests/nlu_holdout ...",
              flush=True)  # fmt: skip
        result = check_model(candidate, floor_file)
        for lang, score in sorted(result.scores.items()):
            print(f"  {lang}: held-out intent accuracy {score.accuracy:.3f} (n={score.total})")
        return result.failures

    def loaded(live) -> None:
        print(f"{live.server}: now runs {live.model_file}", flush=True)
        _record_live_model(live.server, token, live)

    token = rasa_api_token(settings)
    if int(os.environ.get("SANIC_WORKERS") or 1) > 1:
        print("note: with SANIC_WORKERS > 1 a server loads the model in one worker only; "
              "restart such servers instead (docs/training.md)", file=sys.stderr)  # fmt: skip
    try:
        reload(model, servers, token, gate, on_loaded=loaded)
    except GateRefused as exc:
        print(f"refused: {model.name} failed the held-out gate; the servers keep their model:",
              file=sys.stderr)  # fmt: skip
        for failure in exc.failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    except ModelAPIError as exc:
        print(f"dealerbot reload: {exc}", file=sys.stderr)
        return 1
    print(f"{model.name} is live in {len(servers)} Rasa server(s)")
    return 0


def cmd_dealers_check(args: argparse.Namespace) -> int:
    from dealer.config import load_dealers

    folder = Path(args.dir or get_settings().dealers_dir)
    files = load_dealers(folder)
    for dealer in files.dealers.values():
        print(f"ok      {dealer.id}: {dealer.name} ({len(dealer.stock)} cars in stock.csv)")
    for problem in files.problems.values():
        print(f"broken  {problem}")
    if not (files.dealers or files.problems):
        print(f"no dealer folders with a dealer.yml in {folder}", file=sys.stderr)
        return 1
    return 1 if files.problems else 0


def send(url: str, sender: str, text: str, metadata: dict | None = None) -> list[dict]:
    """One message over the REST channel; returns the bot's replies."""
    body = json.dumps({"sender": sender, "message": text, "metadata": metadata or {}}).encode()
    request = urllib.request.Request(f"{url}/webhooks/rest/webhook", body, rest_client_headers())
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        return json.loads(exc.read()).get("detail") or f"HTTP {exc.code}"
    except (ValueError, AttributeError):
        return f"HTTP {exc.code}"


def cmd_chat(args: argparse.Namespace) -> int:
    sender = args.sender or f"terminal-{uuid.uuid4().hex[:8]}"
    print("Type a message (Dutch or English). Buttons can be chosen by number. Ctrl-D to quit.")
    buttons: list[dict] = []
    while True:
        try:
            text = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if text.isdigit() and 1 <= int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        buttons = []
        try:
            replies = send(args.url, sender, text)
        except urllib.error.HTTPError as exc:  # a refused message (docs/limits.md): say why
            print(f"(not sent: {_error_detail(exc)})")
            continue
        except OSError as exc:
            print(f"(the bot at {args.url} did not answer: {exc}); try again")
            continue
        for reply in replies:
            if reply.get("text"):
                print(f"bot> {reply['text']}")
            for i, button in enumerate(reply.get("buttons") or [], start=len(buttons) + 1):
                print(f"     {i}. {button['title']}")
            buttons += reply.get("buttons") or []


def cmd_privacy_erase(args: argparse.Namespace) -> int:
    from core.store.privacy import erase_contact
    from core.store.session import default_session_factory

    settings = get_settings()
    erased = erase_contact(
        default_session_factory(),
        secret=settings.contact_key_secret,
        senders=args.sender or [],
        phones=[normalize(p) for p in args.phone or []],
        emails=[normalize_email(e) for e in args.email or []],
        tracker_db_url=settings.tracker_db_url,
    )
    print("erased: " + ", ".join(f"{k} {v}" for k, v in erased.as_dict().items()))
    return 0


def normalize(phone: str) -> str:
    value = normalize_phone(phone)
    if value is None:
        raise SystemExit(f"not a phone number: {phone!r} (use e.g. +31612345678)")
    return value


def normalize_email(email: str) -> str:
    value = parse_email(email)
    if value is None:
        raise SystemExit(f"not an e-mail address: {email!r}")
    return value.lower()


def cmd_privacy_purge(_args: argparse.Namespace) -> int:
    from metrics.jobs import retention_purge_job

    print(retention_purge_job().as_text())
    return 0


def cmd_scheduler(_args: argparse.Namespace) -> int:
    import logging

    from metrics.scheduler import run_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    return run_forever()


def cmd_spool_replay(_args: argparse.Namespace) -> int:
    from core.store.recorder import default_recorder

    recorder = default_recorder()
    waiting = len(recorder.spool)
    done = recorder.replay()
    print(f"replayed {done} of {waiting} spooled records; {len(recorder.spool)} still waiting")
    return 0 if len(recorder.spool) == 0 else 1


def cmd_metrics_potential_import(args: argparse.Namespace) -> int:
    from core.store.session import default_session_factory
    from metrics.potential import PotentialImportError, import_potential, read_potential_csv

    try:
        known = set(all_dealers())
    except (DealerConfigError, OSError):
        known = None  # no dealer files here: accept any dealer id
    try:
        rows = read_potential_csv(args.file, known_dealers=known)
        done = import_potential(
            default_session_factory(), rows, source=args.source or args.file.name
        )
    except (PotentialImportError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 1
    periods = sorted({r.period.key for r in done})
    print(f"imported the MEC potential of {len(done)} dealer periods "
          f"({', '.join(periods) or 'none'}); their summaries are rebuilt")  # fmt: skip
    return 0


def cmd_metrics_backfill(args: argparse.Namespace) -> int:
    import datetime as dt

    from metrics.aggregate import backfill

    try:
        first, last = dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end)
        results = backfill(None, first, last, kinds=args.kind or ("day", "week", "month"))
    except ValueError as exc:
        print(f"backfill: {exc}", file=sys.stderr)
        return 2
    rows = sum(r.rows for r in results)
    skipped = sum(r.skipped for r in results)
    print(f"rebuilt {rows} summary rows from {first} to {last}" +
          (f"; {skipped} periods older than the retention period kept as they were"
           if skipped else ""))  # fmt: skip
    return 0


def add_metrics_commands(sub) -> argparse._SubParsersAction:
    """The ``metrics`` command and its sub-commands; returns them so others can add more."""
    metrics = sub.add_parser("metrics", help="metric rollups, MEC potential and summaries")
    metrics_sub = metrics.add_subparsers(dest="metrics_command", required=True)
    potential = metrics_sub.add_parser("potential", help="MEC potential from the dealer system")
    potential_sub = potential.add_subparsers(dest="potential_command", required=True)
    imp = potential_sub.add_parser(
        "import", help="import a CSV: dealer,period,service_appointments,sales_leads"
    )
    imp.add_argument("file", type=Path, help="CSV file; period is 2026-W47 or 2026-11")
    imp.add_argument("--source", help="where the numbers come from (default: the file name)")
    imp.set_defaults(func=cmd_metrics_potential_import)
    backfill = metrics_sub.add_parser(
        "backfill", help="recompute the summary rows of a date range (shows progress)"
    )
    backfill.add_argument("--from", dest="start", required=True, help="first day, 2026-01-01")
    backfill.add_argument("--to", dest="end", required=True, help="last day, 2026-11-22")
    backfill.add_argument(
        "--kind", action="append", choices=("day", "week", "month"), help="default: all three"
    )
    backfill.set_defaults(func=cmd_metrics_backfill)
    add_report_commands(metrics_sub)  # summary, export, send
    return metrics_sub


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dealerbot")
    except PackageNotFoundError:  # run from a checkout that was not installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dealerbot", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train if the data changed, then start everything")
    run.add_argument("--rasa-port", type=int, default=5005, help="Rasa server port (5005)")
    run.add_argument("--action-port", type=int, default=5055, help="action server port (5055)")
    run.add_argument("--model", type=Path, help="run this model instead of training one")
    run.add_argument(
        "--no-scheduler", action="store_true", help="do not start the scheduler process"
    )
    run.set_defaults(func=cmd_run)
    add_run_web_options(run)  # --web-port, --dashboard-port

    sub.add_parser(
        "scheduler", help="run the scheduler (rollup, weekly summaries, purge) in the foreground"
    ).set_defaults(func=cmd_scheduler)

    train = sub.add_parser("train", help="train the model if config, domain or data changed")
    train.add_argument("--force", action="store_true", help="train even if nothing changed")
    train.set_defaults(func=cmd_train)

    reload = sub.add_parser(
        "reload",
        help="put the trained model live in the running Rasa servers, if it passes the "
        "held-out gate (no restart; conversations go on)",
    )
    reload.add_argument(
        "--model", type=Path, help="this model file (default: the one for the current data)"
    )
    reload.add_argument(
        "--url",
        action="append",
        help="a Rasa server (repeatable; default: DEALERBOT_RASA_URLS, else http://127.0.0.1:5005)",
    )
    reload.add_argument(
        "--models-dir", type=Path, default=REPO_ROOT / "models", help="where `train` puts models"
    )
    reload.add_argument(
        "--floor-file",
        type=Path,
        help="the gate's floor file (default: tests/integration/trainer/holdout_floor.yml)",
    )
    reload.set_defaults(func=cmd_reload)

    chat = sub.add_parser("chat", help="chat with a running assistant in the terminal")
    chat.add_argument(
        "--url", default="http://127.0.0.1:5005", help="the Rasa server (its REST channel)"
    )
    chat.add_argument("--sender", help="conversation id (default: a new one)")
    chat.set_defaults(func=cmd_chat)

    dealers = sub.add_parser("dealers", help="the dealer folders (data/dealers/<id>/)")
    dealers_sub = dealers.add_subparsers(dest="dealers_command", required=True)
    check = dealers_sub.add_parser(
        "check", help="check every dealer folder; problems with file and line (exit 1 if any)"
    )
    check.add_argument("--dir", type=Path, help="dealers folder (default: DEALERBOT_DEALERS_DIR)")
    check.set_defaults(func=cmd_dealers_check)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply the Alembic migrations").set_defaults(
        func=cmd_db_upgrade
    )

    privacy = sub.add_parser("privacy", help="erasure requests and the retention purge")
    privacy_sub = privacy.add_subparsers(dest="privacy_command", required=True)
    erase = privacy_sub.add_parser("erase", help="erase everything about one contact")
    erase.add_argument("--phone", action="append", help="phone number (repeatable)")
    erase.add_argument("--email", action="append", help="e-mail address (repeatable)")
    erase.add_argument("--sender", action="append", help="chat sender id (repeatable)")
    erase.set_defaults(func=cmd_privacy_erase)
    privacy_sub.add_parser(
        "purge", help="delete personal data older than the retention period"
    ).set_defaults(func=cmd_privacy_purge)

    spool = sub.add_parser("spool", help="records waiting for the database")
    spool_sub = spool.add_subparsers(dest="spool_command", required=True)
    spool_sub.add_parser("replay", help="write spooled records to the database").set_defaults(
        func=cmd_spool_replay
    )
    add_metrics_commands(sub)
    add_trainer_commands(sub)  # inbox, export, mark-done, report, lint (docs/training.md)
    add_web_commands(sub)  # dashboard, web (docs/web.md)
    return parser


def migration_hint(url: str | None = None) -> str | None:
    """A hint when the store is not migrated (a fresh or an older database), else None."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from core.store.migrate import schema_is_current
    from core.store.session import make_engine

    url = url or get_settings().database_url
    engine = make_engine(url)
    try:
        if schema_is_current(engine):
            return None
    except SQLAlchemyError:
        return None  # unreachable: the error itself says more than a hint
    finally:
        engine.dispose()
    shown = make_url(url).render_as_string(hide_password=True)
    return f"dealerbot: the database {shown} is missing migrations.\nrun: dealerbot db upgrade"


def main(argv: list[str] | None = None) -> int:
    from sqlalchemy.exc import DBAPIError

    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is cmd_privacy_erase and not (
        args.phone or args.sender or args.email
    ):
        parser.error("privacy erase needs --phone, --email or --sender")
    os.umask(PRIVATE_UMASK)  # var/ files (stores, spool, outbox, logs): owner only
    try:
        require_production_safe()  # every command: the scheduler, the dashboard, the web page, ...
    except UnsafeSettings as exc:
        print(f"dealerbot: {exc}", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except DBAPIError:
        hint = None if args.func is cmd_db_upgrade else migration_hint()
        if hint is None:
            raise
        print(hint, file=sys.stderr)  # instead of a traceback about a missing table
        return 2


if __name__ == "__main__":
    sys.exit(main())
