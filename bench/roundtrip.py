"""Round-trip benchmark: simulated customers against the real stack, over the REST channel.

For each store backend (SQLite, PostgreSQL; the store and Rasa's SQL tracker store both on it)
and with the engagement logging on and off (DEALERBOT_ENGAGEMENT_LOG), it starts the action
server and the Rasa server on a fresh database, warms them up, and runs N = 1, 10, 50 concurrent
customers for a fixed time each. Every customer runs scripted Dutch and English conversations
(book an appointment, ask a price, answer the survey), one message at a time.

It reports messages/s, p50/p95/p99 latency per message, failed requests, lost records
(conversations sent minus Conversation rows in the store; duplicates too), the peak memory
(VmHWM) and the CPU time per message of the Rasa server and the action server (each with its
workers), the stack's start-up time, the model size,
and the logging overhead (mean round trip with logging / without, per N).

    .venv/bin/python bench/roundtrip.py                       # everything, 30 s per N
    .venv/bin/python bench/roundtrip.py --customers 1 --duration 5 --backends sqlite  # a smoke run
    .venv/bin/python bench/roundtrip.py --backends postgresql --sanic-workers 2 \\
        --lock-store redis://127.0.0.1:6379/1                 # two Sanic workers, Redis locks
    .venv/bin/python bench/roundtrip.py --train               # also time `dealerbot train --force`
    .venv/bin/python bench/roundtrip.py --think 2,8           # customers pause 2 to 8 s per message

Without ``--think`` each customer sends its next message as soon as the reply arrives (a closed
loop: N = 10 means 10 messages always in flight, the server's saturation). With it, each pauses
as a person reading the reply and typing does (before the first message too: they do not all
arrive at once), and the latency is what a customer waits while N people chat at once.

PostgreSQL: ``DEALERBOT_TEST_PG_URL`` (default postgresql+psycopg2://postgres@127.0.0.1:5432/test);
each run gets fresh databases that are dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from bench.common import (  # noqa: E402
    ARRIVAL_GAP_S,
    REPO,
    BenchStack,
    LoadResult,
    bench_stack,
    lost_and_duplicated,
    newest_model,
    postgres_databases,
    postgres_unreachable,
    process_cpu,
    process_memory,
    records_written,
    run_load,
    server_errors,
    stored_conversations,
    worker_split,
)
from core.store.models import Conversation  # noqa: E402

WARMUP_CONVERSATIONS = 4  # one of each script, so every code path has run once


@dataclass
class Level:
    """One load level of one configuration."""

    backend: str
    logging: bool
    load: LoadResult
    memory: dict[str, dict[str, float]]
    cpu_ms: dict[str, float]  # CPU per message, per process (tree)


@dataclass
class Config:
    backend: str
    logging: bool
    startup_s: float
    levels: list[Level]
    conversations: int  # sent, including the warm-up
    stored: int  # Conversation rows for them
    lost: int
    duplicated: int
    errors: list[str]  # ERROR lines in the servers' logs


@contextlib.contextmanager
def databases(backend: str, work: Path):
    if backend == "sqlite":
        yield {"store": f"sqlite:///{work / 'store.sqlite3'}",
               "tracker": f"sqlite:///{work / 'tracker.sqlite3'}"}  # fmt: skip
    else:
        with postgres_databases() as urls:
            yield urls


def run_backend(model: Path, backend: str, args: argparse.Namespace) -> list[Config]:
    """Both stacks (logging on, and off unless --no-baseline) at once, each on fresh databases.

    The load alternates between them in ``--rounds`` slices per N, so a change in the shared
    machine's load hits both alike; only one stack is busy at a time.
    """
    modes = (True,) if args.no_baseline else (True, False)
    with contextlib.ExitStack() as exits:
        benches = {}
        for logging in modes:
            label = f"{backend}, logging {'on' if logging else 'off'}"
            work = Path(tempfile.mkdtemp(prefix=f"roundtrip-{label.replace(', logging ', '-')}-"))
            urls = exits.enter_context(databases(backend, work))
            benches[logging] = exits.enter_context(bench_stack(
                model, store_url=urls["store"], tracker_url=urls["tracker"], work_dir=work,
                engagement_log=logging, sanic_workers=args.sanic_workers,
                lock_store_url=args.lock_store,
            ))  # fmt: skip
            print(f"[{label}] stack up in {benches[logging].startup_s:.1f} s (logs in {work})",
                  flush=True)  # fmt: skip
        senders = {logging: [] for logging in modes}
        for logging, bench in benches.items():
            warm = asyncio.run(
                run_load(bench.stack.rest_webhook, 1, conversations_each=WARMUP_CONVERSATIONS)
            )
            senders[logging] += warm.senders
        levels = {logging: [] for logging in modes}
        for n in args.customers:
            merged = {logging: LoadResult(n) for logging in modes}
            cpu_before = {logging: process_cpu(bench.stack) for logging, bench in benches.items()}
            for _ in range(args.rounds):
                for logging, bench in benches.items():
                    load = asyncio.run(run_load(
                        bench.stack.rest_webhook, n, duration_s=args.duration / args.rounds,
                        first_number=len(senders[logging]), think_s=args.think,
                    ))  # fmt: skip
                    senders[logging] += load.senders
                    merged[logging].merge(load)
            for logging, bench in benches.items():
                records_written(bench.work_dir)  # the records' writes count for this level
                used = process_cpu(bench.stack)
                cpu_ms = {name: (used[name] - cpu_before[logging][name]) * 1000
                          / max(merged[logging].messages, 1) for name in used}  # fmt: skip
                level = Level(backend, logging, merged[logging], process_memory(bench.stack),
                              cpu_ms)  # fmt: skip
                levels[logging].append(level)
                print(f"[{backend}, logging {'on' if logging else 'off'}] {row(level)}",
                      flush=True)  # fmt: skip
        return [
            finish(backend, logging, bench, levels[logging], senders[logging])
            for logging, bench in benches.items()
        ]


def finish(
    backend: str, logging: bool, bench: BenchStack, levels: list[Level], senders: list[str]
) -> Config:
    """Count the store's rows for the conversations sent, and the servers' logged errors."""
    if logging:
        lost, duplicated = lost_and_duplicated(bench.store, senders)
        stored = sum(stored_conversations(bench.store, senders).values())
    else:  # the switch must really switch the logging off
        lost, duplicated, stored = 0, 0, 0
        with bench.store() as session:
            rows = session.scalar(select(func.count()).select_from(Conversation))
        if rows:
            raise SystemExit(f"DEALERBOT_ENGAGEMENT_LOG=off, yet {rows} rows were written")
    errors = server_errors(bench.work_dir)
    return Config(backend, logging, bench.startup_s, levels, len(senders), stored, lost,
                  duplicated, errors)  # fmt: skip


def row(level: Level) -> str:
    load, memory = level.load, level.memory
    return (
        f"N={load.customers:>2}: {load.messages} msgs in {load.elapsed_s:.1f} s = "
        f"{load.messages_per_s:.1f} msg/s; p50 {load.p(50):.0f} ms, p95 {load.p(95):.0f} ms, "
        f"p99 {load.p(99):.0f} ms, mean {load.mean_ms:.0f} ms; failed {len(load.failures)}; "
        f"peak RSS rasa {memory['rasa server']['peak_mb']:.0f} MB, "
        f"actions {memory['action server']['peak_mb']:.0f} MB; CPU per message "
        f"rasa {level.cpu_ms['rasa server']:.1f} ms, actions {level.cpu_ms['action server']:.1f} ms"
        f"; Rasa workers' share {worker_split(level.cpu_ms)}"
    )


def train_time() -> tuple[float, str]:
    """Run ``dealerbot train --force`` and read its own figure ("trained X in N s")."""
    started = time.monotonic()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dealerbot")), "train", "--force"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    match = re.search(r"trained (\S+) in (\d+) s", done.stdout)
    return (float(match.group(2)) if match else time.monotonic() - started), done.stdout


def markdown(configs: list[Config], model: Path, args: argparse.Namespace) -> str:
    lines = [
        "| store + tracker | logging | N | messages | msg/s | p50 ms | p95 ms | p99 ms | "
        "mean ms | failed | peak RSS Rasa | peak RSS actions | CPU/msg Rasa | CPU/msg actions | "
        "Rasa workers' CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for config in configs:
        for level in config.levels:
            load, mem = level.load, level.memory
            lines.append(
                f"| {config.backend} | {'on' if config.logging else 'off'} | {load.customers} | "
                f"{load.messages} | {load.messages_per_s:.1f} | {load.p(50):.0f} | "
                f"{load.p(95):.0f} | {load.p(99):.0f} | {load.mean_ms:.0f} | "
                f"{len(load.failures)} | {mem['rasa server']['peak_mb']:.0f} MB | "
                f"{mem['action server']['peak_mb']:.0f} MB | "
                f"{level.cpu_ms['rasa server']:.1f} ms | {level.cpu_ms['action server']:.1f} ms | "
                f"{worker_split(level.cpu_ms)} |"
            )
    lines += ["", "| store + tracker | logging | start-up | conversations sent | rows | lost | "
              "duplicated | server errors |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for c in configs:
        lines.append(
            f"| {c.backend} | {'on' if c.logging else 'off'} | {c.startup_s:.1f} s | "
            f"{c.conversations} | {c.stored} | {c.lost if c.logging else 'n/a'} | "
            f"{c.duplicated if c.logging else 'n/a'} | {len(c.errors)} |"
        )
    overhead = logging_overhead(configs)
    if overhead:
        lines += ["", "| store + tracker | N | mean with logging / without |", "|---|---|---|"]
        lines += [f"| {b} | {n} | {ratio:.3f} ({(ratio - 1) * 100:+.1f} %) |"
                  for (b, n), ratio in overhead.items()]  # fmt: skip
    size = model.stat().st_size / 1e6
    pacing = (f"each customer pauses {args.think[0]:g} to {args.think[1]:g} s before each "
              "message, its first too" if args.think else "closed loop: each customer sends its "
              "next message as soon as the reply arrives; customers arrive "
              f"{ARRIVAL_GAP_S * 1000:g} ms apart")  # fmt: skip
    lines += ["", f"Model `{model.name}`: {size:.1f} MB. Load: {pacing}."]
    return "\n".join(lines)


def logging_overhead(configs: list[Config]) -> dict[tuple[str, int], float]:
    """Mean round trip with logging / without, per backend and N."""
    means = {
        (c.backend, c.logging, lv.load.customers): lv.load.mean_ms
        for c in configs
        for lv in c.levels
    }
    return {
        (backend, n): mean / means[(backend, False, n)]
        for (backend, logging, n), mean in means.items()
        if logging and means.get((backend, False, n))
    }


def think_range(text: str) -> tuple[float, float]:
    low, high = (float(x) for x in text.split(","))
    if not 0 <= low <= high:
        raise argparse.ArgumentTypeError(f"want LOW,HIGH with 0 <= LOW <= HIGH, not {text!r}")
    return low, high


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="default: newest in models/")
    parser.add_argument("--customers", default="1,10,50", help="load levels, comma-separated")
    parser.add_argument("--duration", type=float, default=30, help="seconds per load level")
    parser.add_argument("--rounds", type=int, default=3, help="on/off slices per load level")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--no-baseline", action="store_true", help="skip logging off")
    parser.add_argument("--think", type=think_range, default=None, metavar="LOW,HIGH",
                        help="seconds each customer pauses before its next message, e.g. 2,8 "
                             "(default: none, a closed loop)")  # fmt: skip
    parser.add_argument("--sanic-workers", type=int, default=1)
    parser.add_argument("--lock-store", default=None, help="e.g. redis://127.0.0.1:6379/1")
    parser.add_argument("--train", action="store_true", help="also time dealerbot train --force")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = parser.parse_args(argv)
    args.customers = [int(n) for n in args.customers.split(",")]
    if args.sanic_workers > 1 and not args.lock_store:
        parser.error("more than one Sanic worker needs --lock-store (Rasa refuses otherwise)")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - {"sqlite", "postgresql"}:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    if "postgresql" in backends and (reason := postgres_unreachable()):
        print(f"SKIP postgresql: {reason}")
        backends.remove("postgresql")

    trained = None
    if args.train:
        seconds, output = train_time()
        trained = seconds
        print(output.strip().splitlines()[-1] if output.strip() else "")
        print(f"model training time: {seconds:.0f} s")
    model = (args.model or newest_model()).resolve()
    print(f"model {model.name}: {model.stat().st_size / 1e6:.1f} MB")

    configs = []
    for backend in backends:
        configs += run_backend(model, backend, args)
    report = markdown(configs, model, args)
    if trained is not None:
        report += f"\nModel training time (`dealerbot train --force`): {trained:.0f} s."
    print()
    print(report)
    if args.json:
        args.json.write_text(json.dumps(
            [{"backend": c.backend, "logging": c.logging, "startup_s": c.startup_s,
              "conversations": c.conversations, "stored": c.stored, "lost": c.lost,
              "duplicated": c.duplicated, "errors": c.errors[:20],
              "levels": [{"customers": lv.load.customers, "messages": lv.load.messages,
                          "elapsed_s": lv.load.elapsed_s, "msg_per_s": lv.load.messages_per_s,
                          "p50": lv.load.p(50), "p95": lv.load.p(95), "p99": lv.load.p(99),
                          "mean": lv.load.mean_ms, "failed": len(lv.load.failures),
                          "failures": lv.load.failures[:20], "empty": lv.load.empty_replies,
                          "memory": lv.memory} for lv in c.levels]}
             for c in configs], indent=2))  # fmt: skip
    bad = [
        c
        for c in configs
        if c.lost or c.duplicated or c.errors or any(lv.load.failures for lv in c.levels)
    ]
    for c in bad:
        failed = sum(len(lv.load.failures) for lv in c.levels)
        print(f"FAIL {c.backend} logging {'on' if c.logging else 'off'}: lost {c.lost}, "
              f"duplicated {c.duplicated}, failed {failed}, "
              f"server errors {len(c.errors)}")  # fmt: skip
        print("\n".join(f"  {e}" for e in c.errors[:5]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
