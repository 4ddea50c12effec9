"""Data lint for bot trainers: problems in ``data/`` and ``bot/domain/`` that make the bot worse.

``lint_project`` reads the files and returns every problem as a clear message; an empty list
means clean. The checks (issue 7):
- the same example under two intents;
- an example in the wrong language file (a language check fitted on the data itself);
- fewer than the minimum examples (25) per intent per language;
- an intent that has examples in one language but not the other;
- an entity used in examples but missing from the domain;
- a response without a variation for both languages;
- a dealer's word for a service that the ``service_type`` lookup table lacks (the word would not
  be found as an entity in a one-shot message), and a word of the table that names none of a
  dealer's services (found, then asked again).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dealer.config import DealerConfigError, all_dealers
from dealer.i18n import LANGUAGES
from dealer.language import LanguageModel, _ngrams, _words

MIN_EXAMPLES = 25
# Only flag a language when the check is sure and the text has real words: short or neutral
# texts ("ok", numbers, plates, brand names) carry too little evidence to judge.
LANGUAGE_CONFIDENCE = 0.99
LANGUAGE_MIN_LETTERS = 12
LANGUAGE_MIN_WORDS = 3
# [text](entity), [text](entity:value), [text]{"entity": ...}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]*)\](?:\((?P<entity>[^)]*)\)|(?P<json>\{[^}]*\}))")


@dataclass(frozen=True)
class Problem:
    rule: str  # duplicate | language | too_few | one_language | entity | response | lookup
    where: str  # a file, or the domain
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class Example:
    text: str  # without entity annotations
    raw: str
    intent: str
    language: str | None
    file: str


def plain_text(example: str) -> str:
    """An annotated example as the customer would type it: ``[golf](model)`` -> ``golf``."""
    return _ANNOTATION.sub(lambda m: m.group("text"), example).strip()


def annotated_entities(example: str) -> list[str]:
    """The entity names an example annotates."""
    names = []
    for match in _ANNOTATION.finditer(example):
        if match.group("entity") is not None:
            names.append(match.group("entity").split(":", 1)[0].strip())
        else:
            try:
                names.append(str(json.loads(match.group("json")).get("entity", "")).strip())
            except (json.JSONDecodeError, AttributeError):
                names.append("")
    return names


def _file_language(path: Path) -> str | None:
    match = re.search(r"_(nl|en)$", path.stem)
    return match.group(1) if match else None


def read_examples(data_dir: Path, root: Path | None = None) -> tuple[list[Example], list[Problem]]:
    """Every intent example under ``data_dir`` (files with an ``nlu:`` list), and read problems."""
    root = root or data_dir.parent
    examples: list[Example] = []
    problems: list[Problem] = []
    for path, name, blocks in _nlu_lists(data_dir, root, problems):
        file_lang = _file_language(path)
        for block in blocks:
            if not isinstance(block, dict) or "intent" not in block:
                continue  # synonyms, regexes and lookups
            intent = str(block["intent"])
            block_lang = (block.get("metadata") or {}).get("language")
            if file_lang and block_lang and block_lang != file_lang:
                problems.append(
                    Problem(
                        "language",
                        name,
                        f"intent {intent}: the block says "
                        f"language {block_lang}, the file is {file_lang}",
                    )
                )
            lang = file_lang or block_lang
            lines = block.get("examples") or ""
            if isinstance(lines, str):
                lines = [
                    line.strip()[1:].strip()
                    for line in lines.splitlines()
                    if line.strip().startswith("-")
                ]
            else:  # the list form: [{text: ..., metadata: ...}]
                lines = [str(e.get("text", "")) if isinstance(e, dict) else str(e) for e in lines]
            for raw in lines:
                if raw:
                    examples.append(Example(plain_text(raw), raw, intent, lang, name))
    return examples, problems


def _nlu_lists(
    data_dir: Path, root: Path, problems: list[Problem]
) -> Iterator[tuple[Path, str, list[Any]]]:
    """The ``nlu:`` list of each YAML file under ``data_dir``, with the file and its name
    relative to ``root``; a file that is no YAML is added to ``problems``."""
    for path in sorted(data_dir.rglob("*.yml")):
        name = _relative(path, root)
        try:
            content = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problems.append(Problem("read", name, f"cannot be read as YAML: {exc}"))
            continue
        if isinstance(content, dict) and isinstance(content.get("nlu"), list):
            yield path, name, content["nlu"]


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _key(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .!?,")


def check_duplicates(examples: Iterable[Example]) -> list[Problem]:
    """The same example (ignoring case, spaces and end punctuation) under two or more intents."""
    seen: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for ex in examples:
        seen[_key(ex.text)][ex.intent].add(ex.file)
    problems = []
    for text, intents in sorted(seen.items()):
        if len(intents) > 1:
            where = sorted({f for files in intents.values() for f in files})
            names = ", ".join(sorted(intents))
            problems.append(
                Problem(
                    "duplicate",
                    ", ".join(where),
                    f"'{text}' is an example of {len(intents)} intents ({names}): "
                    "keep it under one",
                )
            )
    return problems


def _leave_one_out(model: LanguageModel, text: str, own: str) -> tuple[str | None, float]:
    """``LanguageModel.detect`` as if the example itself were not in the training data."""
    grams = list(_ngrams(text))
    letters = sum(len(w) for w in _words(text))
    if not grams or letters < 4:
        return None, 0.0
    mine = Counter(grams)
    vocab = len(set().union(*model.counts.values())) + 1
    scores = {}
    for lang, counts in model.counts.items():
        minus = mine if lang == own else Counter()
        total = model.totals[lang] - sum(minus.values()) + vocab
        scores[lang] = sum(
            math.log((max(counts.get(g, 0) - minus[g], 0) + 1) / total) for g in grams
        ) / len(grams)
    if len(scores) < 2:
        return None, 0.0
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    margin = ranked[0][1] - ranked[1][1]
    return ranked[0][0], 1 / (1 + math.exp(-margin * math.sqrt(letters) * 4))


def check_languages(examples: list[Example]) -> list[Problem]:
    """Examples that look like the other language. Two checks must agree, each as if the
    example itself were not in the data: the language model (character n-grams, fitted on the
    project's examples) is at least 99% sure, and more of its words occur only in the other
    language's examples than only in its own. Texts under 3 words or 12 letters are skipped."""
    known = [ex for ex in examples if ex.language in LANGUAGES]
    model = LanguageModel().fit((ex.text, ex.language) for ex in known)
    if len(model.counts) < 2:
        return []
    vocab: dict[str, Counter] = {lang: Counter() for lang in LANGUAGES}
    for ex in known:
        vocab[ex.language].update(set(_words(ex.text)))
    problems = []
    for ex in known:
        words = set(_words(ex.text))
        if len(words) < LANGUAGE_MIN_WORDS or sum(map(len, words)) < LANGUAGE_MIN_LETTERS:
            continue
        if _looks_like_a_name(ex.text):
            continue
        lang, confidence = _leave_one_out(model, ex.text, ex.language)
        if not lang or lang == ex.language or confidence < LANGUAGE_CONFIDENCE:
            continue
        own = {w for w in words if vocab[ex.language][w] > 1 and not vocab[lang][w]}
        other = {w for w in words if vocab[lang][w] and vocab[ex.language][w] <= 1}
        if len(other) > len(own):
            problems.append(
                Problem(
                    "language",
                    ex.file,
                    f"intent {ex.intent}: '{ex.text}' looks {_NAMES[lang]}, "
                    f"not {_NAMES[ex.language]}: move it to the {lang} file",
                )
            )
    return problems


# Name particles: "Jan van der Berg" is a name in any language, not Dutch text.
_PARTICLES = frozenset({"van", "de", "der", "den", "het", "ten", "ter", "te", "la", "le", "du"})


def _looks_like_a_name(text: str) -> bool:
    """Names, brands and models ("Jan-Willem van der Berg", "Opel Corsa"): every word with
    letters is capitalised or a name particle."""
    words = re.findall(r"[^\W\d_]+", text)
    return bool(words) and all(w[0].isupper() or w.lower() in _PARTICLES for w in words)


_NAMES = {"nl": "Dutch", "en": "English"}


def check_counts(examples: Iterable[Example], minimum: int = MIN_EXAMPLES) -> list[Problem]:
    """Intents with fewer than ``minimum`` distinct examples in a language, and intents with
    examples in one language only."""
    per: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    files: dict[tuple[str, str], set[str]] = defaultdict(set)
    for ex in examples:
        if ex.language in LANGUAGES:
            per[ex.intent][ex.language].add(_key(ex.text))
            files[ex.intent, ex.language].add(ex.file)
    problems = []
    for intent in sorted(per):
        for lang in LANGUAGES:
            count = len(per[intent][lang])
            other = "en" if lang == "nl" else "nl"
            if count == 0:
                where = ", ".join(sorted(files[intent, other]))
                problems.append(
                    Problem(
                        "one_language",
                        where,
                        f"intent {intent} has {_NAMES[other]} examples but no "
                        f"{_NAMES[lang]} ones: add them to the {lang} file",
                    )
                )
            elif count < minimum:
                where = ", ".join(sorted(files[intent, lang]))
                problems.append(
                    Problem(
                        "too_few",
                        where,
                        f"intent {intent} has {count} {_NAMES[lang]} examples; "
                        f"at least {minimum} are needed",
                    )
                )
    return problems


def read_domain(domain_dir: Path) -> tuple[dict, list[Problem]]:
    """The merged domain: ``entities`` (names), ``intents`` and ``responses`` (name -> file)."""
    merged: dict = {"entities": set(), "intents": set(), "responses": {}}
    problems = []
    paths = sorted(domain_dir.rglob("*.yml")) if domain_dir.is_dir() else [domain_dir]
    for path in paths:
        name = _relative(path, domain_dir.parent.parent if domain_dir.is_dir() else path.parent)
        try:
            content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problems.append(Problem("read", name, f"cannot be read as YAML: {exc}"))
            continue
        for key in ("entities", "intents"):
            for entry in content.get(key) or []:
                merged[key].add(next(iter(entry)) if isinstance(entry, dict) else str(entry))
        for response, variations in (content.get("responses") or {}).items():
            merged["responses"][response] = (name, variations)
    return merged, problems


def check_entities(examples: Iterable[Example], domain_entities: set[str]) -> list[Problem]:
    """Entities annotated in examples that the domain does not declare."""
    used: dict[str, set[str]] = defaultdict(set)
    for ex in examples:
        for entity in annotated_entities(ex.raw):
            used[entity].add(ex.file)
    return [
        Problem(
            "entity",
            ", ".join(sorted(files)),
            f"entity '{entity}' is used in examples but missing from the domain "
            "(add it under entities: in bot/domain/)",
        )
        for entity, files in sorted(used.items())
        if entity not in domain_entities
    ]


def variation_language(variation: dict) -> str:
    """``en`` or ``nl`` for a response variation: its language condition; none means Dutch."""
    for condition in variation.get("condition") or []:
        if isinstance(condition, dict) and condition.get("name") == "language":
            return str(condition.get("value"))
    return "nl"


def check_responses(responses: dict[str, tuple[str, list]]) -> list[Problem]:
    """Responses without a variation for each language (English: a ``language: en``
    condition; Dutch: ``language: nl`` or no condition)."""
    problems = []
    for name, (file, variations) in sorted(responses.items()):
        have = {variation_language(v) for v in variations or [] if isinstance(v, dict)}
        missing = [_NAMES[lang] for lang in LANGUAGES if lang not in have]
        if missing:
            problems.append(
                Problem(
                    "response", file, f"response {name} has no {' or '.join(missing)} variation"
                )
            )
    return problems


def read_lookup(data_dir: Path, name: str) -> set[str]:
    """The entries (lower case) of the lookup table ``name`` in the files under ``data_dir``."""
    entries: set[str] = set()
    unread: list[Problem] = []  # read_examples reports them
    for _path, _name, blocks in _nlu_lists(data_dir, data_dir.parent, unread):
        for block in blocks:
            if isinstance(block, dict) and block.get("lookup") == name:
                lines = str(block.get("examples") or "").splitlines()
                entries |= {x.strip()[1:].strip().lower() for x in lines if x.strip()[:1] == "-"}
    return entries


def check_service_words(data_dir: Path) -> list[Problem]:
    """The ``service_type`` lookup table against the dealer files (``data/dealers/*``): a
    dealer's service alias missing from the table is not found in a one-shot message, and a word
    of the table that names none of a dealer's services is found but then asked again."""
    try:
        dealers = all_dealers(data_dir / "dealers")
    except DealerConfigError:
        return []  # no dealer folder here (`dealerbot dealers check` reports broken ones)
    lookup = read_lookup(data_dir, "service_type")
    problems = []
    for d in sorted(dealers.values(), key=lambda d: d.id):
        for alias in sorted({a for s in d.services for a in s.aliases} - lookup):
            problems.append(
                Problem("lookup", d.id, f"service word {alias!r} is not in the service_type lookup")
            )
        for word in sorted(w for w in lookup if d.match_service(w) is None):
            problems.append(
                Problem("lookup", d.id, f"lookup word {word!r} names none of the services")
            )
    return problems


def lint_project(
    data_dir: Path, domain_dir: Path, *, min_examples: int = MIN_EXAMPLES
) -> list[Problem]:
    """Every problem in the training data and the domain; an empty list when clean."""
    if not data_dir.is_dir():
        return [Problem("read", str(data_dir), "the data folder does not exist")]
    if not domain_dir.exists():
        return [Problem("read", str(domain_dir), "the domain does not exist")]
    examples, problems = read_examples(data_dir)
    domain, domain_problems = read_domain(domain_dir)
    return [
        *problems,
        *domain_problems,
        *check_duplicates(examples),
        *check_languages(examples),
        *check_counts(examples, min_examples),
        *check_entities(examples, domain["entities"]),
        *check_responses(domain["responses"]),
        *check_service_words(data_dir),
    ]
