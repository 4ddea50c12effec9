"""Dutch / English language detection for short chat messages.

Two signals, both learned from the project's own NLU examples:

- a multinomial naive Bayes over character n-grams (1-4, with word boundaries), which ranks the
  languages and gives a confidence;
- *evidence words*: words of the message that occur in one language's examples and (nearly)
  never in the other's. The language is only reported when at least ``min_words`` such words
  agree with the n-gram ranking. One customer answer like "diagnose", "Golf", "jan@x.nl" or
  "ok" is no evidence: the conversation keeps its language (issue 16: a Dutch customer who
  answered the service question with "diagnose" got the rest of the conversation in English).

Words that never count: those inside plates, e-mail addresses, phone numbers and numbers,
capitalised words after the first word of a sentence (names, makes, places), name particles
("van", "de"), the fixed :data:`NEUTRAL_WORDS`, and the ``neutral`` words given to
:meth:`LanguageModel.fit` (the project's annotated entity values and lookup tables: services,
makes, models). Messages without evidence give ``None``: the caller keeps the language it had.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from dealer.i18n import LANGUAGES
from dealer.parsing import find_emails, find_phones, find_plates


def message_language(detected: dict | None, *, first_message: bool) -> str | None:
    """The conversation's language after a customer message, by the bot's language rule, or
    None when the message does not change it.

    ``detected`` is what the language detector put on the parsed message (``code``: the
    language on clear evidence; ``hint``: the language one evidence word points to). The
    language changes only on clear evidence; the first message of a conversation may set it on
    one word ("hello"). The action server fills the ``language`` slot with it, the NLU inbox
    uses it to find replies in the wrong language.
    """
    found = detected or {}
    language = found.get("code") or (found.get("hint") if first_message else None)
    return language if language in LANGUAGES else None


_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Said the same way by Dutch and English customers (issue 16 names these).
NEUTRAL_WORDS = frozenset(
    {"ok", "oke", "oké", "okay", "okido", "ja", "yes", "yep", "nee", "no", "nope", "stop",
     "hi", "hey", "hoi", "top", "super", "thx", "km", "nr", "email", "e", "mail", "sms"}
)  # fmt: skip
# "Jan van der Berg" is a name in any language, not Dutch text.
NAME_PARTICLES = frozenset({"van", "de", "der", "den", "ten", "ter", "te", "la", "le", "du", "von"})
# A word is evidence for a language when its rate there is this many times its rate in the other.
EVIDENCE_RATIO = 4.0
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.I)
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+)$")


def _without_patterns(text: str) -> str:
    """The text with plates, e-mail addresses, URLs and phone numbers blanked out."""
    spans = [(m.start(), m.end()) for m in _URL.finditer(text)]
    for finder in (find_emails, find_plates, find_phones):
        spans += [(start, end) for start, end, _value in finder(text)]
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _words(text: str) -> list[str]:
    """Words that carry language: not acronyms or plate letters ("APK", "ABC")."""
    return [w.lower() for w in _WORD.findall(text) if not (w.isupper() and len(w) <= 4)]


def evidence_candidates(text: str) -> list[str]:
    """The words of a message that can count as language evidence (see the module docstring)."""
    clean = _without_patterns(text or "")
    found = []
    for match in _WORD.finditer(clean):
        word = match.group(0)
        if word.isupper() and len(word) <= 4:
            continue  # acronyms, plate letters
        if word[0].isupper() and not _SENTENCE_START.search(clean[: match.start()]):
            continue  # a name, make or place in the middle of a sentence
        lower = word.lower()
        if lower in NEUTRAL_WORDS or lower in NAME_PARTICLES:
            continue
        found.append(lower)
    return found


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
    words: dict[str, Counter] = field(default_factory=dict)
    neutral: frozenset[str] = frozenset()

    def fit(
        self, examples: Iterable[tuple[str, str]], neutral: Iterable[str] = ()
    ) -> LanguageModel:
        """Learn from ``(text, language)`` pairs; ``neutral`` words never count as evidence."""
        for text, lang in examples:
            self.counts.setdefault(lang, Counter()).update(_ngrams(text))
            self.words.setdefault(lang, Counter()).update(evidence_candidates(text))
        self.totals = {lang: sum(c.values()) for lang, c in self.counts.items()}
        self.neutral = frozenset(w for phrase in neutral for w in _words(phrase))
        return self

    def evidence(self, text: str) -> dict[str, int]:
        """How many words of ``text`` are evidence for each language.

        A word is evidence for a language when it occurs in that language's examples at
        :data:`EVIDENCE_RATIO` times (or more) its rate in the other's; unknown words (typos,
        names) and neutral words count for neither.
        """
        result = {lang: 0 for lang in self.words}
        if len(self.words) < 2:
            return result
        sizes = {lang: sum(c.values()) or 1 for lang, c in self.words.items()}
        for word in evidence_candidates(text):
            if word in self.neutral:
                continue
            rates = {lang: c.get(word, 0) / sizes[lang] for lang, c in self.words.items()}
            best, rate = max(rates.items(), key=lambda kv: kv[1])
            other = max(r for lang, r in rates.items() if lang != best)
            if rate > 0 and rate >= EVIDENCE_RATIO * other:
                result[best] += 1
        return result

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

    def detect(
        self, text: str, min_confidence: float = 0.8, min_words: int = 2
    ) -> tuple[str | None, float]:
        """``(language, confidence)``; language is None when the text carries no clear signal:
        the n-gram ranking is less sure than ``min_confidence``, or fewer than ``min_words``
        evidence words back it, or the other language has as many."""
        text = _without_patterns(text or "")
        letters = sum(len(w) for w in _words(text))
        scores = self.scores(text)
        if letters < 4 or len(scores) < 2:
            return None, 0.0
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        margin = ranked[0][1] - ranked[1][1]
        # More evidence (letters) makes the same per-gram margin more certain.
        confidence = 1 / (1 + math.exp(-margin * math.sqrt(letters) * 4))
        if confidence < min_confidence:
            return None, confidence
        best = ranked[0][0]
        if self.words:
            votes = self.evidence(text)
            others = max(n for lang, n in votes.items() if lang != best)
            if votes.get(best, 0) < min_words or votes.get(best, 0) <= others:
                return None, confidence
        return best, confidence

    def to_dict(self) -> dict:
        return {
            "counts": {lang: dict(c) for lang, c in self.counts.items()},
            "words": {lang: dict(c) for lang, c in self.words.items()},
            "neutral": sorted(self.neutral),
        }

    @classmethod
    def from_dict(cls, data: dict) -> LanguageModel:
        model = cls({lang: Counter(c) for lang, c in data["counts"].items()})
        model.totals = {lang: sum(c.values()) for lang, c in model.counts.items()}
        model.words = {lang: Counter(c) for lang, c in (data.get("words") or {}).items()}
        model.neutral = frozenset(data.get("neutral") or ())
        return model
