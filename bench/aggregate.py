"""Benchmark of the metric rollups (metrics.aggregate) on SQLite and PostgreSQL.

Seeds N dealers x M conversations over 2026-01-01 .. 2026-11-22 (about 0.3 answers per
conversation), then times, each in a fresh child process so its peak memory is its own:
- the day rebuild from scratch: the cells of every day, week and month (the bulk load wrote no
  dirty-day marks) and the day summary rows; then ``ANALYZE`` of the cells;
- a full weekly rebuild of all weeks, and a full monthly rebuild (sums of the cells, plus the
  distinct counts from the conversations);
- the incremental job for one closed week (``rebuild_period``), best of 5: with no day changed
  since the last run, and with all 7 days of the week marked dirty (recomputed from the
  conversations first);
- a naive Python aggregation (every conversation and answer fetched, weeks computed in Python).

    .venv/bin/python bench/aggregate.py            # 100 dealers x 10,000 = 1 M conversations
    .venv/bin/python bench/aggregate.py --small    # 10 dealers x 2,000, a quick check

PostgreSQL: ``DEALERBOT_TEST_PG_URL`` (default postgresql+psycopg2://postgres@127.0.0.1:5432/test),
in a schema of its own that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

os.environ.setdefault("DEALERBOT_FIXED_NOW", "2026-11-23T09:00:00+01:00")
PG_URL = os.environ.get(
    "DEALERBOT_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
START = dt.datetime(2026, 1, 1)
END = dt.datetime(2026, 11, 23)
CLOSED_WEEK = "2026-W46"
CHUNK = 50_000
OUTCOMES = (
    ["self_served"] * 40 + ["abandoned"] * 15 + ["appointment_booked"] * 15
    + ["appointment_changed"] * 3 + ["appointment_cancelled"] * 2 + ["test_drive_booked"] * 8
    + ["lead_created"] * 9 + ["handed_off"] * 8
)  # fmt: skip
CONVERSATION_COLUMNS = (
    "id", "dealer_id", "channel", "contact_key", "language", "started_at", "last_message_at",
    "customer_messages", "bot_messages", "first_response_ms", "intents", "outcome", "qualifies",
    "qualify_reason", "is_test", "survey_offered_at", "updated_at", "day_key", "week_key",
    "month_key", "first_response_bucket", "csat", "ces", "nps", "person", "customer_channel",
)  # fmt: skip
ANSWER_COLUMNS = ("conversation_id", "question", "score", "answered_at")
LEAD_COLUMNS = (
    "id", "reference", "dealer_id", "kind", "status", "language", "channel", "sender_id",
    "conversation_id", "idempotency_key", "created_at",
)  # fmt: skip
APPOINTMENT_COLUMNS = (
    "id", "reference", "dealer_id", "service_id", "plate", "starts_at", "ends_at",
    "customer_name", "status", "language", "channel", "sender_id", "conversation_id",
    "idempotency_key", "created_at", "updated_at",
)  # fmt: skip


def generate(dealers: int, per_dealer: int, seed: int = 42):
    """Yield (conversations, answers, leads, appointments) chunks; deterministic."""
    from core.engagement import bucket_index
    from core.periods import period_keys

    rng = random.Random(seed)
    span = (END - START).total_seconds()
    contacts = max(per_dealer // 3, 10)  # ~3 conversations per contact: returning contacts
    conversations, answers, leads, appointments = [], [], [], []
    n = 0
    for d in range(dealers):
        dealer_id = f"dealer-{d:03d}"
        for _ in range(per_dealer):
            n += 1
            cid = f"c{n:09d}"
            started = START + dt.timedelta(seconds=int(rng.random() * span))
            roll = rng.random()
            channel = "web" if roll < 0.6 else "whatsapp" if roll < 0.95 else "rest"
            is_test = rng.random() < 0.02
            qualifies = channel != "rest" and not is_test and rng.random() < 0.75
            fallback = ("abandoned", "self_served")
            outcome = rng.choice(OUTCOMES) if qualifies else rng.choice(fallback)
            first_ms = None if rng.random() < 0.03 else int(rng.lognormvariate(7.5, 1.0))
            offered = qualifies and rng.random() < 0.4
            day, week, month = period_keys(started)
            contact = f"{channel[0]}{d:03d}{rng.randrange(contacts):08d}".ljust(64, "0")
            language = "nl" if rng.random() < 0.8 else "en"  # drawn first: same data as before
            scores = {}  # kept on the conversation too, as the store's mapper events do
            if offered:
                at = started + dt.timedelta(minutes=6)
                if rng.random() < 0.6:
                    scores["csat"] = rng.choice((1, 2, 3, 4, 4, 5, 5, 5))
                if rng.random() < 0.5:
                    scores["ces"] = rng.choice((2, 4, 5, 6, 6, 7, 7))
                answers.extend((cid, question, score, at) for question, score in scores.items())
            conversations.append((
                cid, dealer_id, channel, contact, language, started,
                started + dt.timedelta(minutes=6), 4, 5, first_ms, "ask_price", outcome,
                qualifies, "bench", is_test, started + dt.timedelta(minutes=5) if offered else None,
                started, day, week, month, None if first_ms is None else bucket_index(first_ms),
                scores.get("csat"), scores.get("ces"), None, contact,  # person: the contact
                channel != "rest",  # customer_channel: REST is not one
            ))  # fmt: skip
            if outcome in ("test_drive_booked", "lead_created", "handed_off") and not is_test:
                kind = {"test_drive_booked": "test_drive", "handed_off": "handoff"}.get(
                    outcome, rng.choice(("trade_in", "sales", "financing"))
                )
                leads.append((f"l{n:09d}", f"L{n:09d}", dealer_id, kind, "open", "nl", channel,
                              cid, cid, f"lead-{n}", started))  # fmt: skip
            if outcome == "appointment_booked":
                at = started + dt.timedelta(days=3)
                appointments.append((f"a{n:09d}", f"W{n:09d}", dealer_id, "apk", "12-ABC-3", at,
                                     at + dt.timedelta(hours=1), "bench", "booked", "nl", channel,
                                     cid, cid, f"appt-{n}", started, started))  # fmt: skip
            if len(conversations) >= CHUNK:
                yield conversations, answers, leads, appointments
                conversations, answers, leads, appointments = [], [], [], []
    if conversations:
        yield conversations, answers, leads, appointments


def _conversation_indexes():
    from core.store.models import Conversation

    return list(Conversation.__table__.indexes)


def seed_sqlite(url: str, dealers: int, per_dealer: int) -> dict:
    from core.store.migrate import upgrade
    from core.store.session import make_engine

    engine = make_engine(url)
    upgrade(engine)
    indexes = _conversation_indexes()
    counts = {"conversations": 0, "answers": 0}
    with engine.begin() as conn:
        for index in indexes:  # bulk load first, index afterwards: several times faster
            index.drop(conn)
        raw = conn.connection.driver_connection
        for convs, answers, leads, appointments in generate(dealers, per_dealer):
            _executemany(raw, "conversations", CONVERSATION_COLUMNS, convs)
            _executemany(raw, "survey_answers", ANSWER_COLUMNS, answers)
            _executemany(raw, "leads", LEAD_COLUMNS, leads)
            _executemany(raw, "appointments", APPOINTMENT_COLUMNS, appointments)
            counts["conversations"] += len(convs)
            counts["answers"] += len(answers)
        for index in indexes:
            index.create(conn)
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return counts


def _executemany(raw, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    if not rows:
        return
    marks = ",".join("?" * len(columns))
    rows = [tuple(_sqlite_value(v) for v in row) for row in rows]
    raw.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)


def _sqlite_value(value):
    # SQLAlchemy's SQLite DateTime format, so the ORM reads these rows back as datetimes.
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


def seed_postgres(url: str, schema: str, dealers: int, per_dealer: int) -> dict:
    from sqlalchemy import text

    from core.store.migrate import upgrade
    from core.store.session import make_engine

    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'drop schema if exists "{schema}" cascade'))
        conn.execute(text(f'create schema "{schema}"'))
    admin.dispose()
    engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    upgrade(engine)
    indexes = _conversation_indexes()
    counts = {"conversations": 0, "answers": 0}
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
        cursor = conn.connection.driver_connection.cursor()
        for convs, answers, leads, appointments in generate(dealers, per_dealer):
            _copy(cursor, "conversations", CONVERSATION_COLUMNS, convs)
            _copy(cursor, "survey_answers", ANSWER_COLUMNS, answers)
            _copy(cursor, "leads", LEAD_COLUMNS, leads)
            _copy(cursor, "appointments", APPOINTMENT_COLUMNS, appointments)
            counts["conversations"] += len(convs)
            counts["answers"] += len(answers)
        for index in indexes:
            index.create(conn)
    # What autovacuum does after a bulk load: statistics, and the visibility map that lets
    # PostgreSQL answer from a covering index without visiting the table (index-only scans).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    return counts


def _copy(cursor, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    if not rows:
        return
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_pg_value(v) for v in row) + "\n")
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({','.join(columns)}) FROM STDIN", buffer)


def _pg_value(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def measure(url: str, schema: str | None, what: str) -> dict:
    """Run in a child process: time one job and report its own peak memory."""
    from core.store.session import make_engine, make_session_factory
    from metrics.aggregate import rebuild, rebuild_period

    kwargs = {"connect_args": {"options": f"-csearch_path={schema}"}} if schema else {}
    factory = make_session_factory(make_engine(url, **kwargs))
    with factory() as session:  # warm the pool and the page cache like a long-running process
        session.execute(__import__("sqlalchemy").text("select count(*) from conversations"))
    first, last = START.date(), (END - dt.timedelta(days=1)).date()
    before = time.perf_counter()
    if what == "days":  # from scratch: day cells, week and month cells, day summary rows
        rows = rebuild(factory, "day", first, last).rows
    elif what == "week":
        rows = rebuild(factory, "week", first, last).rows
    elif what == "month":
        rows = rebuild(factory, "month", first, last).rows
    elif what == "incremental":
        timings = []
        for _ in range(5):
            start = time.perf_counter()
            rows = rebuild_period(factory, CLOSED_WEEK).rows
            timings.append(time.perf_counter() - start)
        before = time.perf_counter() - min(timings)
    elif what == "incremental-dirty":  # the same week after a change on each of its 7 days
        timings = []
        for _ in range(5):
            _mark_week_dirty(factory, CLOSED_WEEK)
            start = time.perf_counter()
            rows = rebuild_period(factory, CLOSED_WEEK).rows
            timings.append(time.perf_counter() - start)
        before = time.perf_counter() - min(timings)
    elif what == "naive":
        rows = naive_weekly(factory)
    else:
        raise SystemExit(f"unknown measurement {what}")
    seconds = time.perf_counter() - before
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"what": what, "seconds": seconds, "rows": rows, "peak_mb": peak_mb}


def _mark_week_dirty(factory, week: str) -> None:
    """Mark every day of ``week`` dirty for every dealer, as writes on those days would."""
    from sqlalchemy import select

    from core.periods import parse_period
    from core.store.models import Conversation, mark_days

    period = parse_period(week)
    days = [(period.start + dt.timedelta(days=n)).isoformat() for n in range(7)]
    with factory.begin() as session:
        dealers = session.scalars(select(Conversation.dealer_id).distinct()).all()
        mark_days(session.connection(), [(day, dealer) for day in days for dealer in dealers])


def analyze(url: str, schema: str | None) -> None:
    """Statistics for the freshly built cells (what autovacuum does after a bulk write)."""
    from core.store.session import make_engine

    kwargs = {"connect_args": {"options": f"-csearch_path={schema}"}} if schema else {}
    engine = make_engine(url, **kwargs)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE metric_cells" if schema else "ANALYZE")
    engine.dispose()


def naive_weekly(factory) -> int:
    """Fetch every conversation and answer, compute the weekly figures in Python."""
    from collections import defaultdict

    from sqlalchemy import select

    from core.periods import week_key
    from core.store.models import Conversation as C
    from core.store.models import SurveyAnswer as A

    zone = __import__("zoneinfo").ZoneInfo("Europe/Amsterdam")
    groups: dict = defaultdict(lambda: {"n": 0, "q": 0, "contacts": set(), "csat": [], "out": {}})
    week_of = {}
    with factory() as session:
        query = select(C.id, C.dealer_id, C.started_at, C.contact_key, C.qualifies, C.is_test,
                       C.outcome, C.first_response_ms, C.channel, C.language)  # fmt: skip
        for cid, dealer, started, contact, q, test, outcome, _fr, _ch, _lang in session.execute(
            query
        ):
            if test:
                continue
            local = started.replace(tzinfo=dt.timezone.utc).astimezone(zone).date()
            key = (dealer, week_key(local))
            week_of[cid] = key
            group = groups[key]
            group["n"] += 1
            if q:
                group["q"] += 1
                group["contacts"].add(contact)
                group["out"][outcome] = group["out"].get(outcome, 0) + 1
        for cid, question, score in session.execute(select(A.conversation_id, A.question, A.score)):
            if question == "csat" and cid in week_of:
                groups[week_of[cid]]["csat"].append(score)
    return len(groups)


def run_child(url: str, schema: str | None, what: str) -> dict:
    command = [sys.executable, __file__, "--measure", what, "--url", url]
    if schema:
        command += ["--schema", schema]
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench(name: str, url: str, schema: str | None, dealers: int, per_dealer: int) -> dict:
    start = time.perf_counter()
    if schema:
        counts = seed_postgres(url, schema, dealers, per_dealer)
    else:
        counts = seed_sqlite(url, dealers, per_dealer)
    seeded = time.perf_counter() - start
    print(f"{name}: seeded {counts['conversations']:,} conversations and "
          f"{counts['answers']:,} survey answers in {seeded:.1f} s", flush=True)  # fmt: skip
    results = {}
    for what in ("days", "week", "month", "incremental", "incremental-dirty", "naive"):
        result = run_child(url, schema, what)
        results[what] = result
        print(f"  {what:<17} {result['seconds'] * 1000:9.1f} ms  {result['rows']:6d} rows  "
              f"peak {result['peak_mb']:6.1f} MB", flush=True)  # fmt: skip
        if what == "days":
            analyze(url, schema)
    ratio = results["naive"]["seconds"] / results["week"]["seconds"]
    print(f"  naive Python / weekly rebuild: {ratio:.1f}x", flush=True)
    return {"seeded_s": seeded, **counts, **results, "ratio": ratio}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="10 dealers x 2,000 conversations")
    parser.add_argument("--dealers", type=int)
    parser.add_argument("--per-dealer", type=int)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.url, args.schema, args.measure)))
        return 0
    dealers = args.dealers or (10 if args.small else 100)
    per_dealer = args.per_dealer or (2_000 if args.small else 10_000)
    print(f"{dealers} dealers x {per_dealer:,} conversations, {os.cpu_count()} CPUs", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="bench-aggregate-"))
    schema = f"bench_aggregate_{os.getpid()}"
    try:
        if args.only != "postgresql":
            bench("SQLite", f"sqlite:///{folder / 'bench.sqlite3'}", None, dealers, per_dealer)
        if args.only != "sqlite":
            bench("PostgreSQL", PG_URL, schema, dealers, per_dealer)
    finally:
        if not args.keep:
            for path in folder.glob("*"):
                path.unlink()
            folder.rmdir()
            if args.only != "sqlite":
                from sqlalchemy import text

                from core.store.session import make_engine

                admin = make_engine(PG_URL)
                with admin.begin() as conn:
                    conn.execute(text(f'drop schema if exists "{schema}" cascade'))
                admin.dispose()
        else:
            print(f"kept: {folder} and PostgreSQL schema {schema}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
