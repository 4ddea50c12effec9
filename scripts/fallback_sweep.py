"""Sweep the FallbackClassifier thresholds on the held-out NLU set (tests/nlu_holdout).

    .venv/bin/python scripts/fallback_sweep.py [--model models/x.tar.gz]

For each threshold it prints, per language, the held-out intent accuracy (an ``out_of_scope``
message counts as understood when it gets ``out_of_scope`` or ``nlu_fallback``, as in the CI
gate) and the share of out-of-scope messages (``out_of_scope`` and ``not_a_customer`` in
``tests/nlu_holdout/out_of_scope_*.yml``) that get a business intent. The model is parsed once;
the thresholds are applied to the classifiers' ranking (DIET's blended with the linear vote), so
the model's configured threshold does not matter. Only held-out data is used: never the
training examples.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections import defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core.engagement import BUSINESS_INTENTS  # noqa: E402

HOLDOUT = REPO / "tests" / "nlu_holdout"
THRESHOLDS = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)
AMBIGUITY = (0.0, 0.02, 0.05, 0.1)
FALLBACK = "nlu_fallback"


def examples() -> list[tuple[str, str, str, bool]]:
    """(text, intent, language, from an out-of-scope file) for every held-out example."""
    found = []
    for path in sorted(HOLDOUT.glob("*.yml")):
        for block in yaml.safe_load(path.read_text())["nlu"]:
            for line in block["examples"].splitlines():
                text = re.sub(r"\[([^\]]+)\](\([^)]*\)|\{[^}]*\})", r"\1", line.strip()[2:])
                if text:
                    found.append((text, block["intent"], block["metadata"]["language"],
                                  path.name.startswith("out_of_scope")))  # fmt: skip
    return found


def decide(ranking: list[tuple[str, float]], threshold: float, ambiguity: float) -> str:
    """What FallbackClassifier makes of the intent ranking (best first)."""
    if not ranking or ranking[0][1] < threshold:
        return FALLBACK
    if len(ranking) > 1 and ranking[0][1] - ranking[1][1] < ambiguity:
        return FALLBACK
    return ranking[0][0]


def is_hit(expected: str, predicted: str) -> bool:
    return predicted == expected or (expected == "out_of_scope" and predicted == FALLBACK)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model file (default: the newest in models/)")
    args = parser.parse_args()
    model = args.model or str(
        max((REPO / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    )
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    cases = examples()

    async def parse_all():
        return [await agent.parse_message(text) for text, *_ in cases]

    rankings = [
        [
            (r["name"], r["confidence"])
            for r in parsed.get("intent_ranking", [])
            if r["name"] != FALLBACK
        ]
        for parsed in asyncio.run(parse_all())
    ]
    print(f"model {Path(model).name}; {len(cases)} held-out messages")
    print(
        "threshold ambiguity | "
        + " | ".join(f"{lang}: accuracy, oos->business" for lang in ("nl", "en"))
    )
    for threshold in THRESHOLDS:
        for ambiguity in AMBIGUITY:
            hits, totals, oos, business = (defaultdict(int) for _ in range(4))
            for (_text, intent, lang, oos_file), ranking in zip(cases, rankings, strict=True):
                predicted = decide(ranking, threshold, ambiguity)
                totals[lang] += 1
                hits[lang] += is_hit(intent, predicted)
                if oos_file:
                    oos[lang] += 1
                    business[lang] += predicted in BUSINESS_INTENTS
            cells = [
                f"{hits[lang] / totals[lang]:.3f}, {business[lang] / max(oos[lang], 1):.3f}"
                for lang in ("nl", "en")
            ]
            print(f"{threshold:9.2f} {ambiguity:9.2f} | " + " | ".join(cells))


if __name__ == "__main__":
    main()
