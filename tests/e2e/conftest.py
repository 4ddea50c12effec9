import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.common import postgres_databases
from bot.runtime import start_replicas, start_stack
from core.settings import rest_client_headers
from core.store.migrate import upgrade
from core.store.session import make_engine, make_session_factory
from tests.conftest import FIXED_NOW


@pytest.fixture(scope="session")
def stack(model, tmp_path_factory):
    """The real Rasa server and action server on free loopback ports, with their own store.

    REST counts as a customer channel here, so conversations over it can qualify.
    """
    tmp = tmp_path_factory.mktemp("stack")
    url = f"sqlite:///{tmp / 'store.sqlite3'}"
    upgrade(make_engine(url))
    running = start_stack(
        model,
        env={
            "DEALERBOT_DATABASE_URL": url,
            "DEALERBOT_FIXED_NOW": FIXED_NOW,
            "DEALERBOT_VAR_DIR": str(tmp),
            "DEALERBOT_CUSTOMER_CHANNELS": "web,whatsapp,rest",
            "DEALERBOT_TEST_SENDERS": "test-,__readiness__",
        },
        log_dir=tmp,
    )
    running.store = make_session_factory(make_engine(url))
    running.var_dir = tmp
    yield running
    running.stop()


REPLICA_REDIS_DB = 7  # plus a key prefix per run: parallel runs do not share locks


@contextmanager
def replica_cluster(model: Path, pg_url: str, redis_url: str, work: Path, env: dict, **options):
    """Two Rasa replicas (each with its action server) as in production: one PostgreSQL store
    and SQL tracker store (fresh databases), one Redis lock store under a key prefix of this run.

    ``env`` adds to the settings every cluster has; ``options`` go to ``start_replicas``. The
    running cluster carries ``store`` (a session factory), ``tracker`` (an engine on the tracker
    database), ``env``, ``work`` and ``lock_prefix``.
    """
    prefix = f"{work.name.replace('-', '')}{uuid.uuid4().hex[:8]}"
    with postgres_databases(pg_url) as urls:
        engine = make_engine(urls["store"])
        upgrade(engine)
        env = {
            "DEALERBOT_DATABASE_URL": urls["store"],
            "DEALERBOT_TRACKER_DB_URL": urls["tracker"],
            "DEALERBOT_FIXED_NOW": FIXED_NOW,
            "DEALERBOT_VAR_DIR": str(work),
            "DEALERBOT_CUSTOMER_CHANNELS": "web,whatsapp,rest",
            "RASA_TELEMETRY_ENABLED": "false",
            **env,
        }
        running = start_replicas(
            model, 2, tracker_db_url=urls["tracker"],
            lock_store_url=f"{redis_url}/{REPLICA_REDIS_DB}?key_prefix={prefix}",
            env=env, log_dir=work, **options,
        )  # fmt: skip
        running.env, running.work, running.lock_prefix = env, work, prefix
        running.store = make_session_factory(engine)
        running.tracker = make_engine(urls["tracker"])
        try:
            yield running
        finally:
            running.stop()
            running.tracker.dispose()
            engine.dispose()


def start_run(
    args: list[str], env: dict[str, str]
) -> tuple[subprocess.Popen, str, Callable[[], str]]:
    """Start ``dealerbot run`` (in its own process group) and read its output up to "Press
    Ctrl-C". Returns the process, that output, and a function that returns the rest once the
    process ended: a thread keeps reading it, because a full pipe blocks run's "stopping ..."
    and with it the Ctrl-C (a CI run waited 60 s for it)."""
    dealerbot = Path(sys.executable).with_name("dealerbot")
    process = subprocess.Popen(
        [dealerbot, "run", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=env, start_new_session=True,
    )  # fmt: skip
    head = []
    for line in process.stdout:
        head.append(line)
        if "Press Ctrl-C" in line:
            break
    rest: list[str] = []
    reader = threading.Thread(target=lambda: rest.extend(process.stdout), daemon=True)
    reader.start()

    def tail() -> str:
        reader.join(timeout=10)
        return "".join(rest)

    return process, "".join(head), tail


def stop_run(process: subprocess.Popen, timeout_s: float = 60) -> None:
    """Stop a ``dealerbot run`` a test left running (a failed assertion): Ctrl-C, which stops
    run's servers too; its process group is killed when it has not stopped within
    ``timeout_s`` (no server is left holding a port for the next test)."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout_s)


def say(stack, sender: str, text: str) -> list[dict]:
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(stack.rest_webhook, body, rest_client_headers())
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


WEB_TOKEN_KEY = "e2e-widget-token-key-0123456789abcdef"


@pytest.fixture(scope="session")
def web_stack(model, tmp_path_factory):
    """Rasa with the socketio channel, the action server and the demo page on free ports.

    ``proxied_page(proxy_url)`` serves the demo page on a second allowed origin whose widget
    talks to the chat server through ``proxy_url`` (a :class:`tests.e2e.proxy.FlakyProxy`).
    """
    import datetime as dt

    from bot.runtime import free_port
    from bot.web.serve import serve_in_thread

    tmp = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{tmp / 'store.sqlite3'}"
    upgrade(make_engine(url))
    web_port, proxied_port = free_port(), free_port()
    running = start_stack(
        model,
        env={
            "DEALERBOT_DATABASE_URL": url,
            "DEALERBOT_FIXED_NOW": FIXED_NOW,
            "DEALERBOT_VAR_DIR": str(tmp),
            "DEALERBOT_TEST_SENDERS": "test-,__readiness__",
            "DEALERBOT_WEB_TOKEN_KEY": WEB_TOKEN_KEY,
            "DEALERBOT_WEB_ORIGINS": f"autohuis-demo=http://127.0.0.1:{proxied_port}",
        },
        tracker_db_url=f"sqlite:///{tmp / 'tracker.sqlite3'}",
        log_dir=tmp,
        web_port=web_port,
    )
    running.store = make_session_factory(make_engine(url))
    running.web_url = f"http://127.0.0.1:{web_port}"
    running.var_dir = tmp
    servers = []

    def proxied_page(proxy_url: str) -> str:
        server, _ = serve_in_thread(proxy_url, "autohuis-demo", port=proxied_port,
                                    token_key=WEB_TOKEN_KEY)  # fmt: skip
        servers.append(server)
        return f"http://127.0.0.1:{proxied_port}"

    def stop_proxied_page() -> None:
        while servers:
            server = servers.pop()
            server.shutdown()
            server.server_close()

    running.proxied_page = proxied_page
    running.stop_proxied_page = stop_proxied_page
    deadline = dt.datetime.now() + dt.timedelta(seconds=60)
    while True:  # the demo page server is the last process started
        try:
            urllib.request.urlopen(running.web_url, timeout=2).close()
            break
        except OSError:
            if dt.datetime.now() > deadline:
                running.stop()
                pytest.fail(f"the demo page did not come up; logs in {tmp}")
    yield running
    stop_proxied_page()
    running.stop()
