"""``dealerbot dashboard`` and ``dealerbot web`` (the demo dealer page with the chat widget)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from bot.web.serve import make_server, url_of
from core.settings import get_settings
from metrics.web.auth import UsersFileError, add_user, hash_token, load_users, users_file


def cmd_dashboard(args: argparse.Namespace) -> int:
    if args.hash_token:
        print(hash_token(args.hash_token))
        return 0
    if args.new_user:
        path = Path(args.users) if args.users else users_file()
        locations = tuple(x.strip() for x in (args.locations or "").split(",") if x.strip())
        try:
            token = add_user(path, args.new_user.strip(), locations)
        except UsersFileError as exc:
            print(f"dashboard: {exc}", file=sys.stderr)
            return 2
        print(f"dashboard token for {args.new_user} (shown once; {path} keeps only its scrypt "
              f"hash; it ends the user's earlier sessions):\n{token}")  # fmt: skip
        return 0
    from metrics.web.app import parse_trusted_proxies, run

    try:
        users = load_users(args.users)
        parse_trusted_proxies(get_settings().trusted_proxies)
    except (UsersFileError, ValueError) as exc:
        print(f"dashboard: {exc}", file=sys.stderr)
        return 2

    print(f"dashboard for {len(users)} dealer(s) on http://{args.host}:{args.port}/", flush=True)
    run(host=args.host, port=args.port, users_path=args.users)
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    server = make_server(args.rasa_url, args.dealer, host=args.host, port=args.port)
    print(f"demo dealer page with the chat widget: {url_of(server)}/ (chat server "
          f"{args.rasa_url})", flush=True)  # fmt: skip

    def stop(_signum, _frame):  # noqa: ANN001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def add_web_commands(sub: argparse._SubParsersAction) -> None:
    dashboard = sub.add_parser(
        "dashboard", help="serve the dealer dashboard (login per dealer token) on localhost"
    )
    dashboard.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
    dashboard.add_argument("--port", type=int, default=8090, help="port (8090)")
    dashboard.add_argument(
        "--users", help="users file (default: DEALERBOT_DASHBOARD_USERS or var/dashboard-users.yml)"
    )
    dashboard.add_argument(
        "--new-user", metavar="NAME",
        help="generate a token for NAME (new user, or a new token for one), store its scrypt "
        "hash in the users file, print the token once and exit",
    )  # fmt: skip
    dashboard.add_argument(
        "--locations", metavar="A,B", help="with --new-user: the user's dealer locations"
    )
    dashboard.add_argument(
        "--hash-token", metavar="TOKEN", help="print the token_scrypt for a users file and exit"
    )
    dashboard.set_defaults(func=cmd_dashboard)

    web = sub.add_parser("web", help="serve the demo dealer page with the chat widget")
    web.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
    web.add_argument("--port", type=int, default=8080, help="port (8080)")
    web.add_argument("--rasa-url", default="http://127.0.0.1:5005", help="the Rasa server")
    web.add_argument("--dealer", help="dealer location id (default: the default dealer)")
    web.set_defaults(func=cmd_web)


def add_run_web_options(run: argparse.ArgumentParser) -> None:
    """``dealerbot run`` also serves the demo page and the dashboard unless told not to."""
    run.add_argument("--web-port", type=int, default=8080, help="demo dealer page (0: off)")
    run.add_argument("--dashboard-port", type=int, default=8090, help="dashboard (0: off)")


def _dashboard_ready(args: argparse.Namespace) -> bool:
    if not getattr(args, "dashboard_port", 0):
        return False
    try:
        return bool(load_users())
    except UsersFileError as exc:  # the run goes on without it; say how to add it
        print(f"not starting the dashboard: {exc} (see docs/web.md)", flush=True)
        return False


def web_options(args: argparse.Namespace) -> dict:
    """The ``start_stack`` keywords for the demo page and the dashboard."""
    args.dashboard_started = _dashboard_ready(args)
    return {
        "web_port": getattr(args, "web_port", 0) or None,
        "dashboard_port": args.dashboard_port if args.dashboard_started else None,
    }


def web_lines(args: argparse.Namespace) -> str:
    lines = ""
    if getattr(args, "web_port", 0):
        lines += f"  Demo page with widget:  http://127.0.0.1:{args.web_port}/\n"
    if getattr(args, "dashboard_started", False):
        lines += f"  Dealer dashboard:       http://127.0.0.1:{args.dashboard_port}/\n"
    return lines
