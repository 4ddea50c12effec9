"""Shared load-generator code for bench/roundtrip.py, bench/soak.py and tests/e2e/test_soak.py.

Simulated customers run scripted Dutch and English conversations (book an appointment, ask a
price, answer the survey) over Rasa's REST channel, one message at a time, each waiting for the
reply before the next message, as a person does. Every conversation has a sender id of its own,
so the store must end with exactly one Conversation row per conversation sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import math
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import aiohttp

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: python bench/roundtrip.py
    sys.path.insert(0, str(REPO))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from bot.runtime import Stack, start_stack  # noqa: E402
from core.engagement import contact_key  # noqa: E402
from core.settings import rest_client_headers  # noqa: E402
from core.store.migrate import upgrade  # noqa: E402
from core.store.models import Conversation  # noqa: E402
from core.store.session import make_engine, make_session_factory  # noqa: E402

# The clock of the e2e tests: Monday 23 November 2026, 09:00 in Amsterdam.
FIXED_NOW = "2026-11-23T09:00:00+01:00"
PG_URL = os.environ.get(
    "DEALERBOT_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
SECRET = "bench-contact-key-secret"
REQUEST_TIMEOUT_S = 120
# Customers arrive one after another, this far apart. Connecting all at once let one Sanic worker
# accept every connection (and keep it) while the others idled (docs/profile.md, fourth round).
ARRIVAL_GAP_S = 0.01
SETTLE_S = 30.0  # how long a reader waits for records written after the reply
T = TypeVar("T")

MONTHS_NL = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
             "september", "oktober", "november", "december")  # fmt: skip
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")  # fmt: skip
NAMES_NL = ("Jan de Vries", "Piet Jansen", "Eva de Boer", "Henk Visser", "Anna Bakker")
# English customers get English names: a Dutch name alone switches the bot's language.
NAMES_EN = ("Sarah Jones", "Tom Smith", "Mark Brown", "Emily Clark", "James Wilson")
# Booking times two hours apart, so no service (at most 120 minutes) overlaps the next one.
BOOKING_HOURS = (8, 10, 12, 14)
CAPACITY_PER_SLOT = 2  # data/dealers/autohuis-demo/dealer.yml: workshop.capacity_per_slot


def _booking_days(start: dt.date, horizon_days: int = 58) -> list[dt.date]:
    """Monday to Thursday within the booking horizon (Friday has one bay), minus closed days."""
    closed = {dt.date(2026, 12, 24), dt.date(2026, 12, 31), dt.date(2027, 1, 1)}
    days = (start + dt.timedelta(days=i) for i in range(1, horizon_days))
    return [d for d in days if d.weekday() < 4 and d not in closed]


BOOKING_SLOTS = [
    (day, hour)
    for day in _booking_days(dt.date.fromisoformat(FIXED_NOW[:10]))
    for hour in BOOKING_HOURS
    for _ in range(CAPACITY_PER_SLOT)
]


def _plate(n: int) -> str:
    """A valid Dutch plate (sidecode 99-XXX-9), different for each conversation."""
    letters = "bdfghjklnprstvxz"
    a, b, c = letters[n % 16], letters[(n // 16) % 16], letters[(n // 256) % 16]
    return f"{10 + n % 90}-{a}{b}{c}-{1 + (n // 4096) % 9}"


def booking_nl(n: int) -> list[str]:
    day, hour = BOOKING_SLOTS[n % len(BOOKING_SLOTS)]
    return ["hoi", "ik wil een apk inplannen", _plate(n), "ongeveer 85.000 km",
            f"{day.day} {MONTHS_NL[day.month - 1]} om {hour} uur", NAMES_NL[n % len(NAMES_NL)],
            f"06 {12000000 + n:08d}", "ja", "5", "7", "Alles was heel duidelijk"]  # fmt: skip


def booking_en(n: int) -> list[str]:
    day, hour = BOOKING_SLOTS[n % len(BOOKING_SLOTS)]
    return ["hello", "I need to book a service for my car", _plate(n), "about 60000",
            f"{MONTHS_EN[day.month - 1]} {day.day} at {hour}:00", NAMES_EN[n % len(NAMES_EN)],
            f"customer{n}@example.com", "yes", "4", "6", "no"]  # fmt: skip


def price_nl(n: int) -> list[str]:
    return ["hoi", "wat kost de golf?", "hebben jullie elektrische auto's?", "bedankt, doei",
            "4", "6", "nee"]  # fmt: skip


def price_en(n: int) -> list[str]:
    return ["hello there", "how much is the golf", "do you have electric cars under 40k?",
            "thanks, bye", "5", "7", "no"]  # fmt: skip


SCRIPTS = (booking_nl, price_en, booking_en, price_nl)


def conversation_script(n: int) -> list[str]:
    """The n-th conversation: the four scripts in turn, each booking at a slot of its own."""
    return SCRIPTS[n % len(SCRIPTS)](n // 2)  # n // 2: the n-th booking of the run


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


@dataclass
class LoadResult:
    """What a load run did: per-message latencies (ms), failures, and the senders it used."""

    customers: int
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    empty_replies: int = 0
    senders: list[str] = field(default_factory=list)  # one per conversation sent

    def merge(self, other: LoadResult) -> None:
        """Add another run's figures (a slice of the same load level)."""
        self.elapsed_s += other.elapsed_s
        self.latencies_ms += other.latencies_ms
        self.failures += other.failures
        self.empty_replies += other.empty_replies
        self.senders += other.senders

    @property
    def messages(self) -> int:
        return len(self.latencies_ms)

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.elapsed_s if self.elapsed_s else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    @property
    def mean_ms(self) -> float:
        return sum(self.latencies_ms) / len(self.latencies_ms) if self.latencies_ms else 0.0


async def _customer(
    http: aiohttp.ClientSession,
    webhook: str,
    result: LoadResult,
    numbers: Iterator[int],
    prefix: str,
    deadline: float | None,
    conversations: int | None,
    think_s: tuple[float, float] | None = None,
    arrival_s: float = 0.0,
) -> None:
    pause = random.Random(prefix)  # the same pauses in every run
    headers = rest_client_headers()  # the bearer token when DEALERBOT_REST_TOKEN is set
    await asyncio.sleep(arrival_s)
    done = 0
    while (deadline is None or time.monotonic() < deadline) and (
        conversations is None or done < conversations
    ):
        n = next(numbers)
        sender = f"{prefix}-{n:06d}"
        result.senders.append(sender)
        for message in conversation_script(n):
            if think_s:  # reads the reply and types; before a first message: arrives at random
                await asyncio.sleep(pause.uniform(*think_s))
            started = time.perf_counter()
            try:
                async with http.post(
                    webhook, json={"sender": sender, "message": message}, headers=headers
                ) as r:
                    body = await r.read()
                    if r.status != 200:
                        result.failures.append(f"{sender} {message!r}: HTTP {r.status}")
                        continue
                    replies = json.loads(body)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                result.failures.append(f"{sender} {message!r}: {exc.__class__.__name__} {exc}")
                continue
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            if not replies:
                result.empty_replies += 1
        done += 1


async def run_load(
    webhook: str,
    customers: int,
    *,
    duration_s: float | None = None,
    conversations_each: int | None = None,
    prefix: str | None = None,
    first_number: int = 0,
    think_s: tuple[float, float] | None = None,
) -> LoadResult:
    """``customers`` concurrent customers, each running conversations one after the other until
    ``duration_s`` has passed (the conversation under way is finished) or each has run
    ``conversations_each``; they arrive :data:`ARRIVAL_GAP_S` apart. Conversation numbers are
    shared, so the scripts stay in turn; ``first_number`` continues the numbers of an earlier
    run on the same store, so its bookings take free slots too. ``think_s`` (low, high): each
    customer waits a random time in that range before each message, as a person reading the
    reply and typing does, and before its first, so that customers do not all arrive in the
    same instant; without it each sends the next message at once (a closed loop: the server is
    never idle)."""
    if duration_s is None and conversations_each is None:
        raise ValueError("give duration_s or conversations_each")
    prefix = prefix or f"bench-{uuid.uuid4().hex[:8]}"
    result = LoadResult(customers)
    numbers = itertools.count(first_number)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=customers)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        started = time.monotonic()
        deadline = started + duration_s if duration_s is not None else None
        await asyncio.gather(*(
            _customer(http, webhook, result, numbers, f"{prefix}-c{i:02d}", deadline,
                      conversations_each, think_s, i * ARRIVAL_GAP_S)
            for i in range(customers)
        ))  # fmt: skip
        result.elapsed_s = time.monotonic() - started
    return result


def eventually(check: Callable[[], T], timeout_s: float = SETTLE_S) -> T:
    """Call ``check`` until it returns a true value or ``timeout_s`` passes; its last value.

    The action servers write engagement records just after the reply
    (core.store.write_behind), so a reader right after the last reply waits for them.
    """
    deadline = time.monotonic() + timeout_s
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def records_written(var_dir: Path, timeout_s: float = SETTLE_S) -> bool:
    """Wait until the action servers whose DEALERBOT_VAR_DIR is ``var_dir`` have stored (or
    spooled) every record handed to them: their write-behind journals are empty."""

    def empty() -> bool:
        try:
            return all(p.stat().st_size == 0 for p in Path(var_dir).glob("spool/pending-*.jsonl"))
        except FileNotFoundError:  # a journal closed meanwhile
            return False

    return eventually(empty, timeout_s)


def stored_conversations(
    store: sessionmaker, senders: list[str], settle_s: float = SETTLE_S
) -> dict[str, int]:
    """Conversation rows per sender (REST channel) in the store, once every sender has one or
    ``settle_s`` has passed (0: read once)."""
    keys = {contact_key(SECRET, "rest", s): s for s in senders}
    key_list = list(keys)

    def counts() -> dict[str, int]:
        rows_by_sender: dict[str, int] = {}
        with store() as session:
            for i in range(0, len(key_list), 500):  # bounded IN lists
                rows = session.execute(
                    select(Conversation.contact_key, func.count())
                    .where(Conversation.contact_key.in_(key_list[i : i + 500]))
                    .group_by(Conversation.contact_key)
                )
                rows_by_sender.update({keys[k]: c for k, c in rows})
        return rows_by_sender

    found: dict[str, int] = {}

    def complete() -> bool:
        nonlocal found
        found = counts()
        return len(found) == len(keys)

    eventually(complete, settle_s)
    return found


def lost_and_duplicated(store: sessionmaker, senders: list[str]) -> tuple[int, int]:
    """(conversations sent without a row, extra rows beyond one per conversation)."""
    counts = stored_conversations(store, senders)
    lost = sum(1 for s in senders if counts.get(s, 0) == 0)
    duplicated = sum(c - 1 for c in counts.values() if c > 1)
    return lost, duplicated


# ---- process memory -------------------------------------------------------------------------


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process in kB (empty when it is gone)."""
    values = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, amount = line.split(":", 1)
                    values[key] = int(amount.split()[0])
    except OSError:
        return {}
    return values


def descendants(pid: int) -> list[int]:
    """Child processes of ``pid``, recursively (Sanic workers run as children)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def process_memory(stack: Stack) -> dict[str, dict[str, float]]:
    """Per stack process (with its children): current RSS and peak RSS (VmHWM) in MB.

    With several Sanic workers the figures are summed over the process tree.
    """
    names = ("action server", "rasa server")
    report = {}
    for name, process in zip(names, stack.processes, strict=False):
        tree = [process.pid, *descendants(process.pid)]
        statuses = [_status(pid) for pid in tree]
        report[name] = {
            "rss_mb": sum(s.get("VmRSS", 0) for s in statuses) / 1024,
            "peak_mb": sum(s.get("VmHWM", 0) for s in statuses) / 1024,
            "processes": len([s for s in statuses if s]),
        }
    return report


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def process_cpu(stack: Stack) -> dict[str, float]:
    """CPU seconds used so far by each stack process with its children, and by each Sanic
    worker of the Rasa server on its own (``rasa worker <pid>``, when it runs more than one)."""
    names = ("action server", "rasa server")
    used = {}
    for name, process in zip(names, stack.processes, strict=False):
        children = {pid: _cpu_seconds(pid) for pid in descendants(process.pid)}
        used[name] = _cpu_seconds(process.pid) + sum(children.values())
        if name == "rasa server":
            used |= {f"rasa worker {pid}": seconds for pid, seconds in children.items()}
    return used


def worker_split(cpu_s: dict[str, float]) -> str:
    """How the Rasa server's Sanic workers shared the CPU of a load (a :func:`process_cpu`
    difference), busiest first: ``52/48 %``; ``100/0 %`` when one did all the work."""
    each = sorted((v for k, v in cpu_s.items() if k.startswith("rasa worker ")), reverse=True)
    total = sum(each)
    return "/".join(f"{100 * v / total:.0f}" for v in each) + " %" if total else "n/a"


# ---- stores and stacks ----------------------------------------------------------------------


@contextlib.contextmanager
def postgres_databases(base_url: str = PG_URL, names: tuple[str, ...] = ("store", "tracker")):
    """Fresh PostgreSQL databases for one run (URLs by name), dropped afterwards."""
    from sqlalchemy.engine import make_url

    base = make_url(base_url)
    tag = uuid.uuid4().hex[:10]
    databases = {name: f"bench_{tag}_{name}" for name in names}
    admin = make_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for db in databases.values():
                conn.execute(text(f'create database "{db}"'))
        yield {
            name: base.set(database=db).render_as_string(hide_password=False)
            for name, db in databases.items()
        }
    finally:
        with admin.connect() as conn:
            for db in databases.values():
                conn.execute(text(f'drop database if exists "{db}" with (force)'))
        admin.dispose()


def postgres_unreachable(url: str = PG_URL) -> str | None:
    """None if PostgreSQL answers, else why not."""
    try:
        engine = make_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means: unreachable, with the reason
        return f"PostgreSQL at {url} is unreachable: {exc.__class__.__name__}: {exc}"


@dataclass
class BenchStack:
    """A running stack with its own store, and how long it took to start."""

    stack: Stack
    store: sessionmaker
    startup_s: float
    work_dir: Path


@contextlib.contextmanager
def bench_stack(
    model: Path,
    *,
    store_url: str,
    tracker_url: str,
    work_dir: Path,
    engagement_log: bool = True,
    sanic_workers: int = 1,
    lock_store_url: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[BenchStack]:
    """Migrate the store, start the action server and the Rasa server (SQL tracker store at
    ``tracker_url``), yield them, and stop them."""
    work_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(store_url)
    upgrade(engine)
    env = {
        "DEALERBOT_DATABASE_URL": store_url,
        "DEALERBOT_TRACKER_DB_URL": tracker_url,
        "DEALERBOT_FIXED_NOW": FIXED_NOW,
        "DEALERBOT_VAR_DIR": str(work_dir),
        "DEALERBOT_CUSTOMER_CHANNELS": "web,whatsapp,rest",
        "DEALERBOT_CONTACT_KEY_SECRET": SECRET,
        "DEALERBOT_ENGAGEMENT_LOG": "on" if engagement_log else "off",
        "RASA_TELEMETRY_ENABLED": "false",  # no network: no telemetry or error reports
        **(extra_env or {}),
    }
    if sanic_workers > 1:  # Rasa runs more workers only with a lock store other than in-memory
        env["SANIC_WORKERS"] = str(sanic_workers)
    started = time.monotonic()
    stack = start_stack(
        model, env=env, tracker_db_url=tracker_url, lock_store_url=lock_store_url, log_dir=work_dir
    )
    startup_s = time.monotonic() - started
    try:
        yield BenchStack(stack, make_session_factory(engine), startup_s, work_dir)
    finally:
        stack.stop()
        engine.dispose()


def server_errors(work_dir: Path) -> list[str]:
    """ERROR lines the Rasa server and the action server logged (a reply can hide a failure:
    Rasa still answers 200 when an action failed)."""
    lines = []
    for log in sorted(work_dir.glob("*.log")):
        lines += [line.rstrip() for line in log.open(errors="replace") if " ERROR " in line]
    return lines


@contextlib.contextmanager
def postgres_bench_stack(
    model: Path, work_dir: Path, base_url: str = PG_URL
) -> Iterator[tuple[BenchStack, dict[str, str]]]:
    """A stack whose store and Rasa tracker store are fresh PostgreSQL databases (dropped
    afterwards): (the stack, the databases' URLs by name)."""
    with postgres_databases(base_url) as urls, bench_stack(
        model, store_url=urls["store"], tracker_url=urls["tracker"], work_dir=work_dir
    ) as bench:  # fmt: skip
        yield bench, urls


def newest_model(models_dir: Path = REPO / "models") -> Path:
    models = sorted(models_dir.glob("dealerbot-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise SystemExit(f"no model in {models_dir}: train one first (.venv/bin/dealerbot train)")
    return models[-1]
