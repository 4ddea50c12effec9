"""Dutch / English language detection for short chat messages.

A multinomial naive Bayes over character n-grams (1-4, with word boundaries), trained on the
project's own NLU examples, so it knows the domain words ("apk", "proefrit", "test drive").
Messages without language evidence (numbers, plates, "ok", emoji) give ``None``: the caller
keeps the language it had.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _words(text: str) -> list[str]:
    """Words that carry language: not acronyms or plate letters ("APK", "ABC")."""
    return [w.lower() for w in _WORD.findall(text) if not (w.isupper() and len(w) <= 4)]


def _ngrams(text: str, max_n: int = 4) -> Iterable[str]:
    for word in _words(text):
        padded = f" {word} "
        for n in range(1, max_n + 1):
            for i in range(len(padded) - n + 1):
                gram = padded[i : i + n]
                if gram.strip():
                    yield gram


@dataclass
class LanguageModel:
    counts: dict[str, Counter] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)

    def fit(self, examples: Iterable[tuple[str, str]]) -> LanguageModel:
        """Learn from ``(text, language)`` pairs."""
        for text, lang in examples:
            self.counts.setdefault(lang, Counter()).update(_ngrams(text))
        self.totals = {lang: sum(c.values()) for lang, c in self.counts.items()}
        return self

    def scores(self, text: str) -> dict[str, float]:
        """Mean log-likelihood per n-gram for each language."""
        grams = list(_ngrams(text))
        if not grams:
            return {}
        vocab = len(set().union(*self.counts.values())) + 1
        result = {}
        for lang, counts in self.counts.items():
            total = self.totals[lang] + vocab
            result[lang] = sum(math.log((counts.get(g, 0) + 1) / total) for g in grams) / len(grams)
        return result

    def detect(self, text: str, min_confidence: float = 0.8) -> tuple[str | None, float]:
        """``(language, confidence)``; language is None when the text carries no clear signal."""
        letters = sum(len(w) for w in _words(text or ""))
        scores = self.scores(text or "")
        if letters < 4 or len(scores) < 2:
            return None, 0.0
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        margin = ranked[0][1] - ranked[1][1]
        # More evidence (letters) makes the same per-gram margin more certain.
        confidence = 1 / (1 + math.exp(-margin * math.sqrt(letters) * 4))
        if confidence < min_confidence:
            return None, confidence
        return ranked[0][0], confidence

    def to_dict(self) -> dict:
        return {"counts": {lang: dict(c) for lang, c in self.counts.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> LanguageModel:
        model = cls({lang: Counter(c) for lang, c in data["counts"].items()})
        model.totals = {lang: sum(c.values()) for lang, c in model.counts.items()}
        return model
