"""Load and soak test: 50 concurrent customers for 5 minutes against PostgreSQL.

The store and Rasa's SQL tracker store are fresh PostgreSQL databases, dropped afterwards.
Customers run the scripted conversations of bench/common.py without pause. Passes when no request
failed, every conversation is in the store exactly once, and (full mode) memory does not keep
growing: for each process, the mean RSS of the last third of the samples is at most
``--max-growth`` times the mean of the first third.

    .venv/bin/python bench/soak.py            # 50 customers, 300 s
    .venv/bin/python bench/soak.py --ci       # 20 customers, 20 s (tests/e2e/test_soak.py)

PostgreSQL: ``DEALERBOT_TEST_PG_URL`` (default postgresql+psycopg2://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    BenchStack,
    LoadResult,
    lost_and_duplicated,
    newest_model,
    postgres_bench_stack,
    postgres_unreachable,
    process_memory,
    run_load,
    server_errors,
)

FULL = {"customers": 50, "duration_s": 300.0, "sample_every_s": 5.0}
CI = {"customers": 20, "duration_s": 20.0, "sample_every_s": 1.0}
WARMUP_CONVERSATIONS = 4  # one of each script before the memory samples start
MAX_GROWTH = 1.10


@dataclass
class SoakResult:
    load: LoadResult
    conversations: int
    lost: int
    duplicated: int
    errors: list[str]  # ERROR lines in the servers' logs
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)  # (s, RSS MB)

    def growth(self) -> dict[str, float]:
        """Per process: mean RSS of the last third of the samples / mean of the first third."""
        third = len(self.samples) // 3
        if third == 0:
            return {}
        ratios = {}
        for name in self.samples[0][1]:
            first = [s[name] for _, s in self.samples[:third]]
            last = [s[name] for _, s in self.samples[-third:]]
            ratios[name] = (sum(last) / len(last)) / (sum(first) / len(first))
        return ratios

    @property
    def ok(self) -> bool:
        return not (self.load.failures or self.lost or self.duplicated or self.errors)


async def _sample(bench: BenchStack, every_s: float, samples: list, stop: asyncio.Event) -> None:
    started = time.monotonic()
    while not stop.is_set():
        memory = process_memory(bench.stack)
        samples.append((time.monotonic() - started, {k: v["rss_mb"] for k, v in memory.items()}))
        with contextlib.suppress(asyncio.TimeoutError):  # the next sample is due
            await asyncio.wait_for(stop.wait(), every_s)


async def _soak(
    bench: BenchStack, customers: int, duration_s: float, every_s: float, first_number: int
):
    samples: list = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample(bench, every_s, samples, stop))
    try:
        load = await run_load(
            bench.stack.rest_webhook, customers, duration_s=duration_s, first_number=first_number
        )
    finally:
        stop.set()
        await sampler
    return load, samples


def soak(
    bench: BenchStack, customers: int, duration_s: float, sample_every_s: float = 5.0
) -> SoakResult:
    """Warm up, run the load while sampling memory, then count the store's rows."""
    webhook = bench.stack.rest_webhook
    warm = asyncio.run(run_load(webhook, 1, conversations_each=WARMUP_CONVERSATIONS))
    load, samples = asyncio.run(
        _soak(bench, customers, duration_s, sample_every_s, len(warm.senders))
    )
    load.failures[:0] = warm.failures
    senders = warm.senders + load.senders
    lost, duplicated = lost_and_duplicated(bench.store, senders)
    errors = server_errors(bench.work_dir)
    return SoakResult(load, len(senders), lost, duplicated, errors, samples)


def report(result: SoakResult, bench: BenchStack) -> str:
    load = result.load
    peak = process_memory(bench.stack)
    lines = [
        f"{load.customers} customers, {load.elapsed_s:.0f} s: {load.messages} messages "
        f"({load.messages_per_s:.1f}/s), {result.conversations} conversations",
        f"latency p50 {load.p(50):.0f} ms, p95 {load.p(95):.0f} ms, p99 {load.p(99):.0f} ms",
        f"failed requests {len(load.failures)}, lost records {result.lost}, "
        f"duplicated records {result.duplicated}, server errors {len(result.errors)}",
    ]
    for name, ratio in result.growth().items():
        rss = [s[name] for _, s in result.samples]
        lines.append(
            f"{name}: RSS {rss[0]:.0f} -> {rss[-1]:.0f} MB (min {min(rss):.0f}, max "
            f"{max(rss):.0f}), peak {peak[name]['peak_mb']:.0f} MB, last third / first third "
            f"{ratio:.3f} ({len(rss)} samples)"
        )
    lines += [f"  failure: {f}" for f in load.failures[:10]]
    lines += [f"  server error: {e}" for e in result.errors[:10]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="default: newest in models/")
    parser.add_argument("--ci", action="store_true", help="short mode: 20 customers, 20 s")
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--duration", type=float, default=None, help="seconds")
    parser.add_argument("--max-growth", type=float, default=MAX_GROWTH)
    args = parser.parse_args(argv)
    mode = CI if args.ci else FULL
    customers = args.customers or mode["customers"]
    duration = args.duration or mode["duration_s"]
    if reason := postgres_unreachable():
        print(f"SKIP: {reason}")
        return 2
    model = (args.model or newest_model()).resolve()
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    with postgres_bench_stack(model, work) as (bench, _urls):
        print(f"stack up in {bench.startup_s:.1f} s (logs in {work}); soaking ...", flush=True)
        result = soak(bench, customers, duration, mode["sample_every_s"])
        print(report(result, bench))
    grown = {k: v for k, v in result.growth().items() if v > args.max_growth}
    if grown and not args.ci:  # 20 s is too short to tell warm-up from a leak
        print(f"FAIL: memory grows: {grown}")
        return 1
    if not result.ok:
        print("FAIL: failed requests, lost / duplicated records or server errors")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
