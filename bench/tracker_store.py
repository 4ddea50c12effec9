"""The tracker store's cost per message: Rasa's SQLTrackerStore against bot.tracker_store's cache.

Each message does what the Rasa server does with the tracker store: load the conversation's
tracker (or create it), add the message's events, save. The conversations look like the round
trip's: a session start, then messages of about eight events each (the customer's message with
its NLU parse and intent ranking, slots, the bot's replies with buttons, the policies' actions),
so a session grows to about 100 events. Conversations are interleaved, as under load.

It prints, per store and backend, the Rasa server's CPU time and the wall time per message.

    .venv/bin/python bench/tracker_store.py                    # SQLite and PostgreSQL
    .venv/bin/python bench/tracker_store.py --only sqlite --conversations 20 --messages 12
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rasa.core.tracker_store import SQLTrackerStore  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import (  # noqa: E402
    ActionExecuted,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)

from bench.common import PG_URL, postgres_databases, postgres_unreachable  # noqa: E402
from bot.runtime import tracker_store_kwargs  # noqa: E402
from bot.tracker_store import CachedSQLTrackerStore  # noqa: E402

INTENTS = [f"intent_{i}" for i in range(10)]
SLOTS = ["language", "dealer_id", "service", "plate", "date", "time", "name", "requested_slot"]
DOMAIN = Domain.from_dict({
    "intents": INTENTS,
    "slots": {s: {"type": "any", "mappings": [{"type": "custom"}]} for s in SLOTS},
})  # fmt: skip
_clock = itertools.count(1_795_420_800)


def _t() -> float:
    return float(next(_clock)) / 10


def session_start() -> list[Any]:
    return [ActionExecuted("action_session_start", timestamp=_t()), SessionStarted(timestamp=_t()),
            SlotSet("language", "nl", timestamp=_t()), SlotSet("dealer_id", "d1", timestamp=_t()),
            ActionExecuted("action_listen", timestamp=_t())]  # fmt: skip


def message_events(n: int) -> list[Any]:
    """One customer message and the turn it starts (about what the round trip's turns add)."""
    ranking = [{"name": name, "confidence": round(0.9 / (i + 1), 4)}
               for i, name in enumerate(INTENTS)]  # fmt: skip
    parse = {"text": f"bericht nummer {n} over een afspraak voor onderhoud",
             "intent": ranking[0], "intent_ranking": ranking,
             "entities": [{"entity": "service", "value": "onderhoud", "start": 30, "end": 39,
                           "extractor": "DIETClassifier", "confidence_entity": 0.97}],
             "language": {"code": "nl", "confidence": 0.99}, "message_id": f"m{n}"}  # fmt: skip
    buttons = [{"title": f"keuze {i}", "payload": f"/intent_{i}"} for i in range(4)]
    return [
        UserUttered(
            parse["text"],
            parse["intent"],
            parse["entities"],
            parse,
            timestamp=_t(),
            input_channel="rest",
            message_id=f"m{n}",
        ),  # fmt: skip
        ActionExecuted("action_extract_slots", timestamp=_t()),
        SlotSet("service", "onderhoud", timestamp=_t()),
        ActionExecuted("appointment_form", policy="RulePolicy", confidence=1.0, timestamp=_t()),
        SlotSet("requested_slot", "date", timestamp=_t()),
        BotUttered(
            "Voor welke dag wilt u de afspraak?",
            {"buttons": buttons},
            {"utter_action": "utter_ask_date"},
            timestamp=_t(),
        ),  # fmt: skip
        ActionExecuted("action_listen", policy="RulePolicy", confidence=1.0, timestamp=_t()),
    ]


async def run(store: SQLTrackerStore, conversations: int, messages: int) -> tuple[float, float]:
    """CPU and wall seconds per message over ``conversations`` × ``messages`` interleaved."""
    prefix = f"c{time.monotonic_ns()}"
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for m in range(messages):
        for c in range(conversations):
            tracker = await store.get_or_create_tracker(f"{prefix}-{c}")
            for event in (session_start() if m == 0 else []) + message_events(m):
                tracker.update(event)
            await store.save(tracker)
    n = conversations * messages
    return (time.process_time() - cpu0) / n, (time.perf_counter() - wall0) / n


def measure(name: str, db: dict[str, Any], conversations: int, messages: int) -> None:
    for label, cls in (("Rasa SQLTrackerStore", SQLTrackerStore),
                       ("CachedSQLTrackerStore", CachedSQLTrackerStore)):  # fmt: skip
        store = cls(DOMAIN, **db)
        asyncio.run(run(store, 5, 3))  # warm up: statements compiled, connections open
        cpu, wall = asyncio.run(run(store, conversations, messages))
        store.engine.dispose()
        print(f"| {name} | {label} | {cpu * 1000:.2f} | {wall * 1000:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--messages", type=int, default=12)
    args = parser.parse_args()
    print(f"{args.conversations} conversations × {args.messages} messages, interleaved\n")
    print("| backend | store | CPU ms per message | wall ms per message |")
    print("|---|---|---|---|")
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            db = {"dialect": "sqlite", "db": str(Path(tmp) / "tracker.db")}
            measure("SQLite", db, args.conversations, args.messages)
    if args.only != "sqlite":
        if reason := postgres_unreachable(PG_URL):
            print(f"PostgreSQL skipped: {reason}")
            return
        with postgres_databases(PG_URL, ("tracker",)) as urls:
            db = tracker_store_kwargs(urls["tracker"])
            measure("PostgreSQL", db, args.conversations, args.messages)


if __name__ == "__main__":
    main()
