"""What the LinearIntentVote costs per parsed message.

Parses every held-out NLU example (612 texts) with the trained model and times the vote's
``process`` inside each parse, so the figure does not move with the rest of the machine's load
as a difference of two whole parses would. Prints the best of ``--rounds`` passes: the mean
time per message in the vote and in the whole parse.

    .venv/bin/python bench/intent_vote.py [--model models/dealerbot-....tar.gz] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from pathlib import Path

from core.settings import REPO_ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="default: the newest models/dealerbot-*")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    model = args.model or max((REPO_ROOT / "models").glob("dealerbot-*.tar.gz"),
                              key=lambda p: p.stat().st_mtime)  # fmt: skip

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    from bot.nlu.intent_vote import LinearIntentVote
    from trainer.gate import holdout_examples

    configure_structlog(logging.WARNING)
    voting = LinearIntentVote.process
    in_vote = [0.0]

    def timed(self, messages):
        start = time.perf_counter()
        try:
            return voting(self, messages)
        finally:
            in_vote[0] += time.perf_counter() - start

    async def parse_all() -> float:
        start = time.perf_counter()
        for text in texts:
            await agent.parse_message(text)
        return time.perf_counter() - start

    LinearIntentVote.process = timed  # before the load: the graph binds the method then
    agent = Agent.load(str(model))
    texts = [text for text, _intent, _lang in holdout_examples()]
    asyncio.run(parse_all())  # warm-up
    best_vote = best_parse = float("inf")
    for _ in range(args.rounds):
        in_vote[0] = 0.0
        whole = asyncio.run(parse_all())
        best_vote, best_parse = min(best_vote, in_vote[0]), min(best_parse, whole)
    LinearIntentVote.process = voting
    print(f"model {model.name}; {len(texts)} messages, best of {args.rounds} rounds")
    print(f"  in the vote   {best_vote * 1000 / len(texts):6.3f} ms per message")
    print(f"  whole parse   {best_parse * 1000 / len(texts):6.3f} ms per message")


if __name__ == "__main__":
    main()
