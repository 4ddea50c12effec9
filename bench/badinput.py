"""Bad input under load: the normal load of bench/common.py with bad requests mixed in.

While simulated customers run their conversations over REST, a second client sends, in rounds:

- ``big``: a 100 KB message (and one just over the 2,000-character cap);
- ``invalid_json``: a cut-off body, plain text, a JSON array, an empty body;
- ``unknown_sender``: a sender id never seen before (a new customer: answered), and sender ids
  that are missing, empty, 300 characters long, with spaces or control characters, non-ASCII or
  not a string;
- ``non_utf8``: a Latin-1 body, an unpaired surrogate (``"\\ud800"``), a NUL character;
- ``burst``: once, 1,000 messages from one sender at the same time.

Each bad request must get the documented answer (docs/limits.md): the status, a JSON body with
the error code, ``Retry-After`` on 429. Passes when, in addition, no good customer's request
failed, every good conversation (the load's, the new senders', the burst sender's) is in the
store exactly once, no refused request left a row in the store or an event in Rasa's tracker
store, and the servers logged no error and no traceback.

    .venv/bin/python bench/badinput.py          # 20 customers, 120 s
    .venv/bin/python bench/badinput.py --ci     # 10 customers, 30 s (tests/e2e/test_bad_input.py)

PostgreSQL: ``DEALERBOT_TEST_PG_URL`` (default postgresql+psycopg2://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import bindparam, text  # noqa: E402

from bench.common import (  # noqa: E402
    BenchStack,
    LoadResult,
    lost_and_duplicated,
    newest_model,
    postgres_bench_stack,
    postgres_unreachable,
    run_load,
    server_errors,
    stored_conversations,
)
from core.settings import rest_client_headers  # noqa: E402
from core.store.session import make_engine  # noqa: E402

FULL = {"customers": 20, "duration_s": 120.0}
CI = {"customers": 10, "duration_s": 30.0}
BURST = 1000
ROUND_EVERY_S = 2.0
REJECTED = "REJECTED"  # in every refused message, to look for it in the stores afterwards


@dataclass(frozen=True)
class Probe:
    """One bad (or odd) request and the answer docs/limits.md promises for it."""

    kind: str
    variant: str
    sender: str | None  # the sender id in the body, if it has a usable one
    body: bytes
    status: int
    error: str | None = None  # the JSON error code (None: 200 with the bot's replies)


def probes(tag: str, n: int) -> list[Probe]:
    """The bad requests of round ``n``; senders and texts are unique per round."""
    s = f"bad-{tag}-{n:03d}"
    bad = f"{REJECTED}-{tag}"

    def msg(sender: object, message: object) -> bytes:
        return json.dumps({"sender": sender, "message": message}).encode()

    return [
        Probe("big", "100 KB message", f"{s}-big", msg(f"{s}-big", f"{bad} " + "x" * 102_400),
              413, "body_too_large"),
        Probe("big", "2,001 characters", f"{s}-cap", msg(f"{s}-cap", bad + "y" * (2001 - len(bad))),
              413, "message_too_long"),
        Probe("invalid_json", "cut off", f"{s}-cut",
              f'{{"sender": "{s}-cut", "message": "{bad}'.encode(), 400, "invalid_json"),
        Probe("invalid_json", "plain text", None, f"hoi {bad}".encode(), 400, "invalid_json"),
        Probe("invalid_json", "array", None, json.dumps([s, bad]).encode(), 400, "invalid_json"),
        Probe("invalid_json", "empty", None, b"", 400, "invalid_json"),
        Probe("unknown_sender", "never seen", f"{s}-new", msg(f"{s}-new", "hoi"), 200),
        Probe("unknown_sender", "missing", None, json.dumps({"message": bad}).encode(), 400,
              "invalid_sender"),
        Probe("unknown_sender", "empty", None, msg("", bad), 400, "invalid_sender"),
        Probe("unknown_sender", "300 characters", None, msg("x" * 300, bad), 400,
              "invalid_sender"),
        Probe("unknown_sender", "spaces/control", None, msg(f"{s} \n\t", bad), 400,
              "invalid_sender"),
        Probe("unknown_sender", "non-ASCII", None, msg(f"{s}-ü", bad), 400, "invalid_sender"),
        Probe("unknown_sender", "number", None, msg(12345, bad), 400, "invalid_sender"),
        Probe("non_utf8", "Latin-1 body", f"{s}-latin",
              f'{{"sender": "{s}-latin", "message": "{bad} café"}}'.encode("latin-1"), 400,
              "invalid_utf8"),
        Probe("non_utf8", "unpaired surrogate", f"{s}-surr",
              f'{{"sender": "{s}-surr", "message": "{bad} \\ud800"}}'.encode(), 400,
              "invalid_message"),
        Probe("non_utf8", "NUL character", f"{s}-nul", msg(f"{s}-nul", f"{bad} \x00"), 400,
              "invalid_message"),
    ]  # fmt: skip


@dataclass
class BadResult:
    """What the bad requests got, per kind, and the answers that broke the contract."""

    statuses: dict[str, Counter] = field(default_factory=dict)  # kind -> Counter("variant: 400")
    wrong: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)  # senders of good odd requests (200)
    refused: list[str] = field(default_factory=list)  # usable sender ids of refused requests
    burst_sender: str = ""
    burst_answered: int = 0  # 200 with at least one reply
    burst_limited: int = 0  # 429 as documented

    def count(self, kind: str, what: str) -> None:
        self.statuses.setdefault(kind, Counter())[what] += 1


async def _send(
    http: aiohttp.ClientSession, webhook: str, body: bytes
) -> tuple[int | str, dict, object]:
    """(status or exception name, headers, JSON body or the raw text)."""
    try:
        async with http.post(webhook, data=body, headers=rest_client_headers()) as r:
            raw = await r.read()
            try:
                data: object = json.loads(raw) if r.content_type == "application/json" else raw
            except ValueError:
                data = raw[:200]
            return r.status, dict(r.headers), data
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return exc.__class__.__name__, {}, None


def _check(probe: Probe, status: int | str, data: object, result: BadResult) -> None:
    result.count(probe.kind, f"{probe.variant}: {status}")
    if status != probe.status:
        result.wrong.append(f"{probe.kind}/{probe.variant}: HTTP {status}, {str(data)[:200]}")
    elif probe.error is None:
        if not (isinstance(data, list) and data):
            result.wrong.append(f"{probe.kind}/{probe.variant}: no reply ({data!r:.100})")
    elif not (isinstance(data, dict) and data.get("error") == probe.error and data.get("detail")):
        result.wrong.append(f"{probe.kind}/{probe.variant}: not the JSON error {probe.error}")
    if probe.sender:
        (result.accepted if probe.status == 200 else result.refused).append(probe.sender)


async def _burst(http: aiohttp.ClientSession, webhook: str, tag: str, size: int, result: BadResult):
    sender = result.burst_sender = f"burst-{tag}"
    texts = ("hoi", "wat zijn jullie openingstijden?", "waar zitten jullie?", "bedankt")
    answers = await asyncio.gather(*(
        _send(http, webhook, json.dumps({"sender": sender, "message": texts[i % 4]}).encode())
        for i in range(size)
    ))  # fmt: skip
    for status, headers, data in answers:
        result.count("burst", f"{size} from one sender: {status}")
        if status == 200 and isinstance(data, list) and data:
            result.burst_answered += 1
        elif (
            status == 429
            and isinstance(data, dict)
            and data.get("error") == "rate_limited"
            and int(headers.get("Retry-After", "0")) >= 1
        ):
            result.burst_limited += 1
        else:
            result.wrong.append(f"burst: HTTP {status}, {str(data)[:200]}")


async def bad_traffic(webhook: str, duration_s: float, tag: str, burst: int = BURST) -> BadResult:
    """Rounds of bad requests every ROUND_EVERY_S until ``duration_s`` is over; the burst once,
    a quarter of the way in (the load is running by then)."""
    result = BadResult()
    timeout = aiohttp.ClientTimeout(total=300)
    # Its own connections: the burst must not wait for the customers' connection pool.
    async with aiohttp.ClientSession(
        timeout=timeout, connector=aiohttp.TCPConnector(limit=200)
    ) as http:
        started = time.monotonic()
        burst_task = None
        n = 0
        while time.monotonic() - started < duration_s:
            if burst_task is None and time.monotonic() - started >= duration_s / 4:
                burst_task = asyncio.create_task(_burst(http, webhook, tag, burst, result))
            for probe in probes(tag, n):
                status, _headers, data = await _send(http, webhook, probe.body)
                _check(probe, status, data, result)
            n += 1
            await asyncio.sleep(ROUND_EVERY_S)
        if burst_task is None:
            burst_task = asyncio.create_task(_burst(http, webhook, tag, burst, result))
        await burst_task
    return result


@dataclass
class BadInputRun:
    load: LoadResult
    bad: BadResult
    lost: int  # good conversations without a row
    duplicated: int  # extra rows beyond one per good conversation
    refused_rows: int  # store rows of senders whose requests were all refused
    refused_events: int  # tracker events of refused senders or with refused text
    errors: list[str]  # ERROR lines in the servers' logs
    tracebacks: int  # 'Traceback' lines in the servers' logs

    @property
    def good_senders(self) -> list[str]:
        return self.load.senders + self.bad.accepted + [self.bad.burst_sender]

    @property
    def ok(self) -> bool:
        return not (self.load.failures or self.bad.wrong or self.lost or self.duplicated
                    or self.refused_rows or self.refused_events or self.errors or self.tracebacks
                    or not self.bad.burst_answered or not self.bad.burst_limited)  # fmt: skip


def tracker_events(tracker_url: str, senders: list[str], marker: str) -> int:
    """Events in Rasa's SQL tracker store of these senders or whose data holds ``marker``."""
    engine = make_engine(tracker_url)
    try:
        with engine.connect() as conn:
            query = text(
                "select count(*) from events where sender_id in :senders or data like :marker"
            ).bindparams(bindparam("senders", expanding=True))
            return conn.execute(
                query, {"senders": senders or [""], "marker": f"%{marker}%"}
            ).scalar()
    finally:
        engine.dispose()


def badinput(
    bench: BenchStack, tracker_url: str, customers: int, duration_s: float, burst: int = BURST
) -> BadInputRun:
    """The load and the bad requests side by side, then the stores and the logs checked."""
    webhook = bench.stack.rest_webhook
    tag = uuid.uuid4().hex[:8]

    async def both() -> tuple[LoadResult, BadResult]:
        return await asyncio.gather(
            run_load(webhook, customers, duration_s=duration_s, prefix=f"good-{tag}"),
            bad_traffic(webhook, duration_s, tag, burst),
        )

    load, bad = asyncio.run(both())
    good = load.senders + bad.accepted + [bad.burst_sender]
    lost, duplicated = lost_and_duplicated(bench.store, good)
    refused_rows = sum(stored_conversations(bench.store, bad.refused, settle_s=0).values())
    marker = f"{REJECTED}-{tag}"
    refused_events = tracker_events(tracker_url, bad.refused, marker)
    logs = [line for log in sorted(bench.work_dir.glob("*.log"))
            for line in log.open(errors="replace") if "Traceback" in line]  # fmt: skip
    return BadInputRun(load, bad, lost, duplicated, refused_rows, refused_events,
                       server_errors(bench.work_dir), len(logs))  # fmt: skip


def report(run: BadInputRun) -> str:
    load, bad = run.load, run.bad
    lines = [
        f"good customers: {load.customers} for {load.elapsed_s:.0f} s, {load.messages} messages "
        f"({load.messages_per_s:.1f}/s), {len(load.senders)} conversations; latency p50 "
        f"{load.p(50):.0f} ms, p95 {load.p(95):.0f} ms, max {max(load.latencies_ms, default=0):.0f}"
        f" ms; failed requests {len(load.failures)}, empty replies {load.empty_replies}",
        f"store: lost {run.lost}, duplicated {run.duplicated} (of {len(run.good_senders)} good "
        f"conversations); rows of refused senders {run.refused_rows}, tracker events of refused "
        f"requests {run.refused_events}",
        f"burst: {bad.burst_answered} answered, {bad.burst_limited} refused with 429",
        f"server logs: {len(run.errors)} ERROR lines, {run.tracebacks} tracebacks",
        "status codes per kind:",
    ]
    for kind, counts in bad.statuses.items():
        lines.append(f"  {kind}:")
        lines += [f"    {what} x{count}" for what, count in sorted(counts.items())]
    lines += [f"  WRONG: {w}" for w in bad.wrong[:20]]
    lines += [f"  failure: {f}" for f in load.failures[:10]]
    lines += [f"  server error: {e}" for e in run.errors[:10]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="default: newest in models/")
    parser.add_argument("--ci", action="store_true", help="short mode: 10 customers, 30 s")
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--duration", type=float, default=None, help="seconds")
    parser.add_argument("--burst", type=int, default=BURST, help="messages in the burst")
    args = parser.parse_args(argv)
    mode = CI if args.ci else FULL
    if reason := postgres_unreachable():
        print(f"SKIP: {reason}")
        return 2
    model = (args.model or newest_model()).resolve()
    work = Path(tempfile.mkdtemp(prefix="badinput-"))
    with postgres_bench_stack(model, work) as (bench, urls):
        print(f"stack up in {bench.startup_s:.1f} s (logs in {work}); running ...", flush=True)
        run = badinput(bench, urls["tracker"], args.customers or mode["customers"],
                       args.duration or mode["duration_s"], args.burst)  # fmt: skip
        print(report(run))
    print("OK" if run.ok else "FAIL")
    return 0 if run.ok else 1


if __name__ == "__main__":
    sys.exit(main())
