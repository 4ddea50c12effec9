"""What the ValueTokenizer costs per message against Rasa's WhitespaceTokenizer.

Tokenizes every training example in ``data/`` (about 7,300 texts, one in nine with a digit or
an @) with both and prints the mean time per message, and the share of
the Rasa server's CPU per message (``--rasa-cpu-ms``, docs/benchmarks.md) that the difference
is.

    .venv/bin/python bench/tokenizer.py
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.tokenizer import ValueTokenizer


def mean_ms(tokenizer: WhitespaceTokenizer, texts: list[str], rounds: int) -> float:
    """Mean milliseconds to tokenize one text, best of ``rounds`` passes."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for text in texts:
            tokenizer.tokenize(Message(data={"text": text}), "text")
        best = min(best, time.perf_counter() - start)
    return best / len(texts) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rasa-cpu-ms", type=float, default=25.3,
                        help="the Rasa server's CPU per message (docs/benchmarks.md)")  # fmt: skip
    args = parser.parse_args()
    texts = [
        example.get("text")
        for path in sorted(Path(args.data).glob("*/nlu_*.yml"))
        for example in load_data(str(path)).intent_examples
    ]
    with_values = sum(any(c.isdigit() or c == "@" for c in t) for t in texts)
    whitespace = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    plain = mean_ms(whitespace, texts, args.rounds)
    values = mean_ms(ValueTokenizer(ValueTokenizer.get_default_config()), texts, args.rounds)
    share = (values - plain) / args.rasa_cpu_ms
    print(f"{len(texts)} texts, {with_values} with a digit or @")
    print(f"WhitespaceTokenizer: {plain:.3f} ms/message")
    print(f"ValueTokenizer:      {values:.3f} ms/message (+{values - plain:.3f} ms, "
          f"{share:.1%} of {args.rasa_cpu_ms} ms Rasa CPU/message)")  # fmt: skip


if __name__ == "__main__":
    main()
