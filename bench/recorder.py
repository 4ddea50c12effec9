"""The engagement log's cost per customer message in the action server, without the Rasa stack.

Each customer message makes the op an action makes (``actions.common.record_conversation``): the
conversation's record (``summarize``), its op with the session's NLU inbox items
(``recorder.conversation_op``) and the write-behind journal line; the writer thread then stores
the ops that queued up together (``recorder.coalesce`` + ``Recorder.write_many``), as
``core.store.write_behind`` does. Conversations are interleaved, as under load; they grow to
about eight events per message, some messages are not understood (inbox items) and the last
messages answer the survey.

It prints, per backend, the CPU time (``time.process_time``) per customer message of (a) the
event loop's part (``summarize`` apart from building the op and its journal line) and (b) the
writer's store writes, over ``--conversations`` × ``--messages`` messages, written in batches
of ``--batch``: the median of ``--repeat`` runs.

    .venv/bin/python bench/recorder.py                       # SQLite and PostgreSQL
    .venv/bin/python bench/recorder.py --only sqlite --profile /tmp/recorder.prof
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PG_URL, postgres_databases, postgres_unreachable  # noqa: E402
from core.engagement import summarize  # noqa: E402
from core.store.migrate import upgrade  # noqa: E402
from core.store.recorder import Recorder, answer, coalesce, conversation_op  # noqa: E402
from core.store.session import make_engine, make_session_factory  # noqa: E402
from core.store.spool import Spool  # noqa: E402

SECRET = "bench-contact-key-secret"
INTENTS = ["book_service", "ask_price", "greet", "inform", "affirm", "nlu_fallback", "thank",
           "ask_opening_hours", "deny", "request_human"]  # fmt: skip
SURVEY = (("csat", 5, None), ("ces", 6, None), ("comment", None, "Alles was duidelijk"))
_clock = itertools.count(17_954_208_000)


def _t() -> float:
    return next(_clock) / 10


def session_start() -> list[dict[str, Any]]:
    return [
        {"event": "action", "name": "action_session_start", "timestamp": _t()},
        {"event": "session_started", "timestamp": _t()},
        {"event": "slot", "name": "language", "value": "nl", "timestamp": _t()},
        {"event": "slot", "name": "dealer_id", "value": "autohuis-demo", "timestamp": _t()},
        {"event": "action", "name": "action_listen", "timestamp": _t()},
    ]


def message_events(c: int, m: int, messages: int) -> list[dict[str, Any]]:
    """One customer message and the turn it starts (about what the round trip's turns add)."""
    intent = INTENTS[(c + m) % len(INTENTS)]
    confidence = 0.45 if (c + m) % 4 == 0 else 0.93  # every fourth message: low confidence
    ranking = [{"name": intent, "confidence": confidence}] + [
        {"name": name, "confidence": round(0.05 / (i + 1), 4)}
        for i, name in enumerate(n for n in INTENTS if n != intent)
    ]
    text = f"bericht {m} over een afspraak voor onderhoud, bel 06 1234567{c % 10}"
    parse = {"text": text, "intent": ranking[0], "intent_ranking": ranking,
             "entities": [{"entity": "service", "value": "onderhoud", "start": 30, "end": 39,
                           "extractor": "DIETClassifier", "confidence_entity": 0.97}],
             "language": {"code": "nl", "confidence": 0.99}, "message_id": f"m{c}-{m}"}  # fmt: skip
    buttons = [{"title": f"keuze {i}", "payload": f"/intent_{i}"} for i in range(4)]
    events = [
        {"event": "user", "text": text, "parse_data": parse, "timestamp": _t(),
         "input_channel": "web", "message_id": f"m{c}-{m}"},
        {"event": "action", "name": "action_validate_slot_mappings", "timestamp": _t()},
        {"event": "slot", "name": "service", "value": "onderhoud", "timestamp": _t()},
    ]  # fmt: skip
    if m == 1:
        events.append({"event": "active_loop", "name": "appointment_form", "timestamp": _t()})
    if m == messages - len(SURVEY) - 1:
        events += [
            {"event": "slot", "name": "outcomes", "value": ["appointment_booked"],
             "timestamp": _t()},
            {"event": "active_loop", "name": "survey_form", "timestamp": _t()},
        ]  # fmt: skip
    events += [
        {"event": "action", "name": "appointment_form", "policy": "RulePolicy", "timestamp": _t()},
        {"event": "bot", "text": "Voor welke dag wilt u de afspraak?",
         "data": {"buttons": buttons}, "metadata": {"utter_action": "utter_ask_date"},
         "timestamp": _t()},
        {"event": "action", "name": "action_listen", "timestamp": _t()},
    ]  # fmt: skip
    return events


def conversations_ops(conversations: int, messages: int) -> list[list[tuple[str, list, list]]]:
    """Per round (one message of every conversation): (sender, events so far, answers)."""
    prefix = uuid.uuid4().hex[:8]
    events: dict[int, list[dict[str, Any]]] = {c: [] for c in range(conversations)}
    rounds = []
    for m in range(messages):
        current = []
        for c in range(conversations):
            events[c] += (session_start() if m == 0 else []) + message_events(c, m, messages)
            survey = m - (messages - len(SURVEY))
            answers = []
            if survey >= 0:
                question, score, comment = SURVEY[survey]
                answers = [answer(question, score=score, comment=comment)]
            current.append((f"{prefix}-{c}", list(events[c]), answers))
        rounds.append(current)
    return rounds


def run(recorder: Recorder, rounds: list, batch: int) -> tuple[float, float, float]:
    """CPU seconds per message: summarize, op + journal line, store writes (coalesced batches)."""
    summary = build = store = 0.0
    queue: list[dict] = []
    n = 0
    for current in rounds:
        for sender, events, answers in current:
            t0 = time.process_time()
            record = summarize(events, sender_id=sender, secret=SECRET,
                               default_dealer="autohuis-demo")  # fmt: skip
            t1 = time.process_time()
            op = conversation_op(record, answers, events=events)
            json.dumps(op, default=str, ensure_ascii=False)
            t2 = time.process_time()
            summary += t1 - t0
            build += t2 - t1
            queue.append(op)
            n += 1
            if len(queue) == batch:
                t3 = time.process_time()
                recorder.write_many(coalesce(queue))
                store += time.process_time() - t3
                queue = []
    if queue:
        t3 = time.process_time()
        recorder.write_many(coalesce(queue))
        store += time.process_time() - t3
    return summary / n, build / n, store / n


def measure(name: str, url: str, args: argparse.Namespace, spool_dir: Path) -> None:
    engine = make_engine(url)
    upgrade(engine)
    recorder = Recorder(make_session_factory(engine), Spool(spool_dir / f"{name}.jsonl"))
    run(recorder, conversations_ops(5, 4), args.batch)  # warm up: statements compiled
    results = []
    for _ in range(args.repeat):
        rounds = conversations_ops(args.conversations, args.messages)
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        results.append(run(recorder, rounds, args.batch))
        if profiler:
            profiler.disable()
            profiler.dump_stats(f"{args.profile}.{name.lower()}")
    engine.dispose()
    summary, build, store = (statistics.median(column) for column in zip(*results, strict=True))
    if not recorder.spool.is_empty():
        raise SystemExit(f"{name}: records were spooled, the figures would be wrong")
    print(f"| {name} | {summary * 1000:.3f} | {build * 1000:.3f} | {store * 1000:.3f} "
          f"| {(build + store) * 1000:.3f} |", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--messages", type=int, default=12)
    parser.add_argument("--batch", type=int, default=10, help="ops per write-behind batch")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is printed")
    parser.add_argument("--profile", help="write cProfile stats to PROFILE.<backend>")
    args = parser.parse_args()
    print(f"{args.conversations} conversations × {args.messages} messages, interleaved, "
          f"batches of {args.batch} ops; median of {args.repeat} runs\n")  # fmt: skip
    print("| backend | summarize ms/msg | (a) op + journal line ms/msg | (b) store write ms/msg "
          "| (a) + (b) ms/msg |")  # fmt: skip
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        if args.only != "postgresql":
            measure("SQLite", f"sqlite:///{Path(tmp) / 'store.sqlite3'}", args, Path(tmp))
        if args.only != "sqlite":
            if reason := postgres_unreachable(PG_URL):
                print(f"PostgreSQL skipped: {reason}")
                return
            with postgres_databases(PG_URL, ("store",)) as urls:
                measure("PostgreSQL", urls["store"], args, Path(tmp))


if __name__ == "__main__":
    main()
