"""Train when the data changed, and run the Rasa server and the action server on loopback (one
stack, or several replicas for a proxy such as nginx to front: docs/deployment.md)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from core.settings import PRIVATE_UMASK, REPO_ROOT, get_settings, rasa_bin, rest_client_headers
from dealer.config import get_dealer

# The dealer modules are there because bot/nlu imports them.
MODEL_INPUTS = ("config.yml", "bot/domain", "data", "bot/nlu", "dealer/language.py",
                "dealer/parsing.py", "dealer/names.py")  # fmt: skip
NOT_MODEL_INPUTS = ("data/dealers",)  # dealer facts are read at run time, not trained on
MODEL_PREFIX = "dealerbot-"
# Sanic reads a request body of up to 100 MB before any handler runs (our 64 KiB guard, the
# webhook signatures); every Sanic server we start refuses bodies over this with 413 at once.
# The Rasa server's largest good request is a 64 KiB REST message (docs/limits.md).
RASA_REQUEST_MAX_BYTES = 1024 * 1024
# The action server gets the session's tracker with each call (every event, with the NLU parse
# data): about 3.3 KB per customer message, so 1 MiB would stop a session of some 300 messages.
# It listens on loopback only.
ACTION_REQUEST_MAX_BYTES = 16 * 1024 * 1024
# Sanic closes a connection that has sent no request for KEEP_ALIVE_TIMEOUT (5 s), a new one
# too. Rasa opens a connection per action call; when its event loop is overloaded, it may write
# the request after 5 s and fail with "Cannot write to closing transport" (docs/profile.md).
# rasa-sdk binds to SANIC_HOST, 0.0.0.0 if unset: loopback unless the environment says otherwise.
ACTION_SERVER_ENV = {
    "SANIC_KEEP_ALIVE_TIMEOUT": "60",
    "SANIC_HOST": "127.0.0.1",
    "SANIC_REQUEST_MAX_SIZE": str(ACTION_REQUEST_MAX_BYTES),
}
RASA_SERVER_ENV = {"SANIC_REQUEST_MAX_SIZE": str(RASA_REQUEST_MAX_BYTES)}
LOCK_KEY_PREFIX = "dealerbot"  # Redis lock keys: shared by every replica of one deployment
LOCK_STORE_CLASS = "bot.lock_store.AtomicRedisLockStore"
TRACKER_STORE_CLASS = "bot.tracker_store.CachedSQLTrackerStore"


# ``rasa run`` with our patches of Rasa installed first (bot/rasa_server.py).
RASA_SERVER = (sys.executable, "-m", "bot.rasa_server")


def sanic_workers(env: Mapping[str, str]) -> int:
    """The Sanic workers each Rasa server of this environment runs (``SANIC_WORKERS``)."""
    return int(env.get("SANIC_WORKERS") or 1)


def rasa_server_env(sanic_workers: int, cores: int | None = None) -> dict[str, str]:
    """TensorFlow threads for each Rasa worker: the cores shared out among the workers.

    TensorFlow gives every process as many threads as there are cores. With two Sanic workers
    on two cores their threads fought each other: 19 msg/s at N = 10 instead of 35 with one
    thread each (docs/benchmarks.md). One worker keeps the threads of all cores. An environment
    value wins.
    """
    threads = str(max(1, (cores or os.cpu_count() or 1) // max(1, sanic_workers)))
    return {"TF_INTER_OP_PARALLELISM_THREADS": threads, "TF_INTRA_OP_PARALLELISM_THREADS": threads}


def fingerprint(root: Path = REPO_ROOT) -> str:
    """A hash of everything the trained model depends on (paths and contents)."""
    digest = hashlib.sha256()
    for entry in MODEL_INPUTS:
        path = root / entry
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            rel = file.relative_to(root).as_posix()
            if rel.startswith(NOT_MODEL_INPUTS) or "__pycache__" in rel:
                continue
            digest.update(rel.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def model_path(models_dir: Path, fp: str) -> Path:
    return models_dir / f"{MODEL_PREFIX}{fp}.tar.gz"


def train_if_needed(models_dir: Path | None = None, force: bool = False) -> Path:
    """Return the model for the current data, training it first if there is none."""
    models_dir = Path(models_dir or REPO_ROOT / "models")
    fp = fingerprint()
    target = model_path(models_dir, fp)
    if target.exists() and not force:
        print(f"model is up to date: {target.relative_to(REPO_ROOT)}")
        return target
    print(f"data changed (fingerprint {fp}): training a new model ...", flush=True)
    started = time.monotonic()
    subprocess.run(
        [rasa_bin(), "train", "--config", "config.yml", "--domain", "bot/domain", "--data",
         "data", "--out", str(models_dir), "--fixed-model-name", target.name[: -len(".tar.gz")]],
        cwd=REPO_ROOT,
        check=True,
    )  # fmt: skip
    for old in models_dir.glob(f"{MODEL_PREFIX}*.tar.gz"):
        if old != target:
            old.unlink()
    print(f"trained {target.name} in {time.monotonic() - started:.0f} s", flush=True)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tracker_store_kwargs(db_url: str) -> dict[str, Any]:
    """Rasa's ``SQLTrackerStore`` keyword arguments for a SQLAlchemy database URL; the unset parts
    are left out. The URL's query (``sslmode``, ``options``, …) is kept."""
    url = make_url(db_url)
    kwargs = {
        "dialect": url.drivername, "host": url.host, "port": url.port, "db": url.database,
        "username": url.username, "password": url.password, "query": dict(url.query),
    }  # fmt: skip
    return {key: value for key, value in kwargs.items() if value}


def write_endpoints(
    path: Path, action_url: str, tracker_db_url: str | None, lock_store_url: str | None = None
) -> Path:
    """Endpoints for one run: the action server and, if given, the SQL tracker store
    (:mod:`bot.tracker_store`: Rasa's, with a cache of the latest trackers) and a
    Redis lock store (``redis://[:password@]host:port/db[?key_prefix=name]``; needed for more
    than one Sanic worker or replica).

    Every process that serves the same conversations must use the same Redis db and key prefix
    (default ``dealerbot``), or their locks do not exclude each other; a distinct prefix or db
    keeps unrelated stacks (parallel tests) apart."""
    lines = ["action_endpoint:", f'  url: "{action_url}"']
    if tracker_db_url:
        # Rasa reads the host from `url` (SQLTrackerStore.from_endpoint_config).
        keys = {"host": "url"}
        lines += ["tracker_store:", f"  type: {TRACKER_STORE_CLASS}"]
        lines += [f"  {keys.get(key, key)}: {json.dumps(value)}"
                  for key, value in tracker_store_kwargs(tracker_db_url).items()]  # fmt: skip
    if lock_store_url:
        lock = make_url(lock_store_url)
        prefix = str(lock.query.get("key_prefix") or LOCK_KEY_PREFIX)
        if not prefix.isalnum():  # Rasa would warn and fall back to its default prefix
            raise ValueError(f"lock store key_prefix {prefix!r}: letters and digits only")
        # not `type: redis`: Rasa's own Redis lock store is not atomic across processes
        lines += ["lock_store:", f"  type: {LOCK_STORE_CLASS}",
                  f'  url: "{lock.host or "127.0.0.1"}"', f"  port: {lock.port or 6379}",
                  f"  db: {lock.database or 0}", f'  key_prefix: "{prefix}"']  # fmt: skip
        if lock.password:
            lines.append(f"  password: {json.dumps(lock.password)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)  # a lock-store password may be in it
    return path


def create_tracker_tables(tracker_db_url: str) -> None:
    """Create Rasa's SQL tracker store tables now. Each Rasa process creates them when it starts,
    and two Sanic workers starting at once on an empty database collide (``DuplicateTable``,
    logged as an ERROR)."""
    from rasa.core.tracker_store import SQLTrackerStore

    SQLTrackerStore(**tracker_store_kwargs(tracker_db_url))


def wait_until_up(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode} before {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not come up within {timeout:.0f} s")


@dataclass
class Stack:
    """The running Rasa server and action server."""

    rasa_port: int
    action_port: int
    processes: list[subprocess.Popen] = field(default_factory=list)
    api_token: str | None = None  # Rasa's HTTP API token, when the API is on

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def rest_webhook(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"

    def stop(self, timeout: float = 20) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_stack(
    model: Path,
    *,
    rasa_port: int | None = None,
    action_port: int | None = None,
    env: dict[str, str] | None = None,
    tracker_db_url: str | None = None,
    lock_store_url: str | None = None,
    enable_api: bool = False,
    log_dir: Path | None = None,
    timeout: float = 180,
    with_scheduler: bool = False,
    web_port: int | None = None,
    dashboard_port: int | None = None,
    host_rasa_processes: int | None = None,
) -> Stack:
    """Start the action server, then the Rasa server, on loopback; wait until both answer.

    ``with_scheduler`` also starts ``dealerbot scheduler`` (rollups, weekly summaries, purge).
    ``web_port`` also serves the demo dealer page with the chat widget (``dealerbot web``) and
    lets the default dealer's widget connect from it; ``dashboard_port`` the dealer dashboard.
    ``host_rasa_processes``: the Rasa processes that share this host's cores (default: this
    server's Sanic workers), for its TensorFlow threads (:func:`rasa_server_env`).
    ``enable_api`` turns on Rasa's HTTP API with a token (``stack.api_token``; from
    ``DEALERBOT_RASA_API_TOKEN`` in ``env`` or the environment, else a new one): what
    ``dealerbot reload`` (:mod:`bot.model_api`) uses.
    """
    settings = get_settings()
    stack = Stack(rasa_port or free_port(), action_port or free_port())
    run_env = {**os.environ, **(env or {})}
    if web_port:
        run_env["DEALERBOT_WEB_ORIGINS"] = _with_demo_origins(run_env, web_port)
        # The demo page issues widget tokens and the chat server checks them: one key for both.
        run_env.setdefault("DEALERBOT_WEB_TOKEN_KEY", secrets.token_urlsafe(32))
    log_dir = Path(log_dir or settings.var_dir / "logs")
    log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    endpoints = write_endpoints(
        log_dir / f"endpoints-{stack.rasa_port}.yml",
        f"http://127.0.0.1:{stack.action_port}/webhook",
        tracker_db_url,
        lock_store_url,
    )

    def spawn(args: list[str], name: str, defaults: dict | None = None) -> subprocess.Popen:
        path = log_dir / f"{name}-{stack.rasa_port}.log"
        log = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        process_env = {**(defaults or {}), **run_env}
        # The servers' files (tracker store, spool, outbox) are owner-only too.
        process = subprocess.Popen(args, cwd=REPO_ROOT, env=process_env, stdout=log, stderr=log,
                                   umask=PRIVATE_UMASK)  # fmt: skip
        stack.processes.append(process)
        return process

    try:
        actions = spawn(
            [rasa_bin(), "run", "actions", "--actions", "actions", "--port",
             str(stack.action_port)],
            "actions",
            ACTION_SERVER_ENV,
        )  # fmt: skip
        wait_until_up(f"http://127.0.0.1:{stack.action_port}/health", actions, timeout)
        rasa_args = [
            *RASA_SERVER, "run", "--model", str(model), "--endpoints", str(endpoints),
            "--credentials", "credentials.yml", "--interface", "127.0.0.1",
            "--port", str(stack.rasa_port),
        ]  # fmt: skip
        if enable_api or dashboard_port:
            # Rasa's HTTP API (reload, the simulator's parses, the dashboard's takeover) never
            # without a token: the environment's DEALERBOT_RASA_API_TOKEN, or one for this run.
            token = run_env.get("DEALERBOT_RASA_API_TOKEN") or secrets.token_urlsafe(32)
            run_env["DEALERBOT_RASA_API_TOKEN"] = stack.api_token = token
            run_env.setdefault("DEALERBOT_RASA_URLS", stack.rasa_url)  # for the dashboard
            # One argument: a token that starts with "-" (1 in 64 of token_urlsafe's) would
            # otherwise be read as an option, and rasa would exit with 2.
            rasa_args += ["--enable-api", f"--auth-token={token}"]
        workers = sanic_workers(run_env)
        if workers > 1 and tracker_db_url:
            create_tracker_tables(tracker_db_url)
        server_env = {**RASA_SERVER_ENV, **rasa_server_env(host_rasa_processes or workers)}
        server = spawn(rasa_args, "rasa", server_env)
        wait_until_up(stack.rasa_url, server, timeout)
        wait_until_ready(stack.rest_webhook, server, timeout, rest_client_headers(run_env))
        if with_scheduler:
            spawn([sys.executable, "-m", "cli.main", "scheduler"], "scheduler")
        if web_port:
            spawn([sys.executable, "-m", "cli.main", "web", "--port", str(web_port),
                   "--rasa-url", stack.rasa_url], "web")  # fmt: skip
        if dashboard_port:
            spawn([sys.executable, "-m", "cli.main", "dashboard", "--port",
                   str(dashboard_port)], "dashboard")  # fmt: skip
    except BaseException:
        stack.stop()
        raise
    return stack


def wait_until_ready(
    webhook: str,
    process: subprocess.Popen,
    timeout: float,
    headers: Mapping[str, str] | None = None,
) -> None:
    """The server answers before the model is loaded; a REST round trip proves it is ready.
    ``headers``: the server's REST client headers (its bearer token), default this process's."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rasa exited with {process.returncode}")
        try:
            body = json.dumps({"sender": "__readiness__", "message": "/greet"}).encode()
            request = urllib.request.Request(webhook, body, dict(headers or rest_client_headers()))
            with urllib.request.urlopen(request, timeout=10) as response:
                if response.status == 200 and json.loads(response.read()):
                    return
        except (OSError, ValueError):
            pass
        time.sleep(1)
    raise TimeoutError(f"{webhook} did not answer within {timeout:.0f} s")


def _with_demo_origins(env: dict[str, str], web_port: int) -> str:
    """DEALERBOT_WEB_ORIGINS plus the demo page's origins for the default dealer."""
    dealer = get_dealer(env.get("DEALERBOT_DEFAULT_DEALER") or None).id
    demo = f"{dealer}=http://127.0.0.1:{web_port},http://localhost:{web_port}"
    return ";".join(filter(None, (env.get("DEALERBOT_WEB_ORIGINS", ""), demo)))


@dataclass
class Cluster:
    """Rasa replicas, each with its own action server; a proxy in front is the deployment's
    (nginx: deploy/nginx/dealerbot.conf)."""

    stacks: list[Stack]

    @property
    def rasa_urls(self) -> list[str]:
        return [stack.rasa_url for stack in self.stacks]

    @property
    def processes(self) -> list[subprocess.Popen]:
        return [p for stack in self.stacks for p in stack.processes]

    def stop(self, timeout: float = 20) -> None:
        for stack in reversed(self.stacks):
            stack.stop(timeout)


def start_replicas(
    model: Path,
    replicas: int = 2,
    *,
    tracker_db_url: str,
    lock_store_url: str,
    env: dict[str, str] | None = None,
    log_dir: Path | None = None,
    timeout: float = 180,
    enable_api: bool = False,
) -> Cluster:
    """``replicas`` stacks (action server + Rasa server, each on free loopback ports) that share
    the SQL tracker store and the Redis lock store. Any replica can then take any message of a
    conversation, so a proxy in front (nginx: deploy/nginx/dealerbot.conf) may send each to any.

    The stacks start one after the other: Rasa creates its tracker tables when it starts, and two
    servers doing that at once on an empty database can collide.
    """
    if not (tracker_db_url and lock_store_url):
        raise ValueError("replicas need a shared SQL tracker store and a Redis lock store")
    stacks: list[Stack] = []
    workers = sanic_workers({**os.environ, **(env or {})})
    try:
        for _ in range(replicas):
            stacks.append(start_stack(
                model, env=env, tracker_db_url=tracker_db_url, lock_store_url=lock_store_url,
                log_dir=log_dir, timeout=timeout, host_rasa_processes=replicas * workers,
                enable_api=enable_api,
            ))  # fmt: skip
    except BaseException:
        for stack in stacks:
            stack.stop()
        raise
    return Cluster(stacks)
