"""The NLU inbox for trainers: list, export and close the items the recorder stored.

The items themselves (which messages, why, masked how) come from ``core.store.inbox``.
``add_to_data`` turns chosen items into training examples in ``data/<topic>/nlu_<lang>.yml``.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from core.store.models import NluInboxItem, utcnow
from trainer.lint import read_examples


def open_items(
    session_factory: sessionmaker,
    *,
    language: str | None = None,
    intent: str | None = None,
    dealer: str | None = None,
) -> list[NluInboxItem]:
    """Open inbox items, oldest first, optionally for one language, predicted intent or dealer."""
    query = select(NluInboxItem).where(NluInboxItem.status == "open")
    if language:
        query = query.where(NluInboxItem.language == language)
    if intent:
        query = query.where(NluInboxItem.intent == intent)
    if dealer:
        query = query.where(NluInboxItem.dealer_id == dealer)
    with session_factory.begin() as session:
        rows = list(session.scalars(query.order_by(NluInboxItem.sent_at, NluInboxItem.id)))
        session.expunge_all()
    return rows


def group_by_intent(rows: Iterable[NluInboxItem]) -> list[tuple[str, list[NluInboxItem]]]:
    """Items per predicted intent, the largest group first (ties by name)."""
    groups: dict[str, list[NluInboxItem]] = defaultdict(list)
    for row in rows:
        groups[row.intent].append(row)
    return sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def render_list(rows: Sequence[NluInboxItem]) -> str:
    """The inbox as text: per predicted intent its count, then one line per message."""
    if not rows:
        return "The inbox is empty."
    langs = Counter(r.language for r in rows)
    lines = [f"{len(rows)} open items ({', '.join(f'{k} {v}' for k, v in sorted(langs.items()))})"]
    for intent, group in group_by_intent(rows):
        lines.append(f"\n{intent}: {len(group)}")
        for row in group:
            hint = f" -> {row.suggested_intent}?" if row.suggested_intent != row.intent else ""
            lines.append(
                f"  #{row.id} [{row.language}] {row.confidence:.2f} {row.reason:<16} "
                f"{row.sent_at:%Y-%m-%d} {row.dealer_id}: {row.text}{hint}"
            )
            if getattr(row, "detail", None):
                lines.append(f"      why: {row.detail}")
            lines += [f"      | {line}" for line in context_lines(row)]
    return "\n".join(lines)


def context_lines(row: NluInboxItem) -> list[str]:
    """The pseudonymised messages stored before an item (a low rating's conversation)."""
    raw = getattr(row, "context", None)
    if not raw:
        return []
    try:
        return [str(line) for line in json.loads(raw)]
    except (TypeError, ValueError):
        return []


def export_yaml(rows: Iterable[NluInboxItem]) -> dict[str, str]:
    """Rasa YAML NLU text per language, one intent block per suggested intent.

    The suggestion is the predicted intent (for a fallback: the best real intent); the trainer
    checks each example and moves it to the right intent before pasting it into ``data/``.
    Identical texts are listed once. A comment above each block names the inbox items.
    """
    by_lang: dict[str, dict[str, dict[str, list[int]]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        intent = row.suggested_intent or row.intent
        by_lang[row.language][intent].setdefault(row.text, []).append(row.id)
    files = {}
    for lang in sorted(by_lang):
        out = ['version: "3.1"', "", "nlu:"]
        for intent in sorted(by_lang[lang]):
            examples = by_lang[lang][intent]
            ids = sorted(i for group in examples.values() for i in group)
            out.append(f"# suggestion from the inbox: check every line (items {_ids(ids)})")
            out += [f"- intent: {intent}", "  metadata:", f"    language: {lang}", "  examples: |"]
            out += [f"    - {text}" for text in sorted(examples)]
        files[lang] = "\n".join(out) + "\n"
    return files


def _ids(ids: Sequence[int]) -> str:
    return ", ".join(str(i) for i in ids)


def items_by_id(session_factory: sessionmaker, ids: Iterable[int]) -> list[NluInboxItem]:
    """The items with these numbers (open or done), in the order of the numbers."""
    ids = list(ids)
    with session_factory.begin() as session:
        rows = {
            r.id: r for r in session.scalars(select(NluInboxItem).where(NluInboxItem.id.in_(ids)))
        }
        session.expunge_all()
    return [rows[i] for i in ids if i in rows]


def mark_done(
    session_factory: sessionmaker,
    *,
    ids: Iterable[int] = (),
    intent: str | None = None,
    language: str | None = None,
    everything: bool = False,
) -> int:
    """Mark open items handled so they leave the inbox; returns how many.

    Items are kept (marked ``done``) rather than deleted, so that recording the same conversation
    again does not bring them back. They go with their conversation (erasure, retention).
    """
    ids = list(ids)
    if not (ids or intent or language or everything):
        raise ValueError("say which items: ids, an intent, a language, or all")
    query = update(NluInboxItem).where(NluInboxItem.status == "open")
    if ids:
        query = query.where(NluInboxItem.id.in_(ids))
    if intent:
        query = query.where(NluInboxItem.intent == intent)
    if language:
        query = query.where(NluInboxItem.language == language)
    with session_factory.begin() as session:
        result = session.execute(
            query.values(status="done", done_at=utcnow()),
            execution_options={"synchronize_session": False},
        )
        return result.rowcount


# What an exported example says instead of a mask: plain, obviously made-up values of the same
# kind, so the model learns the sentence and not the "<phone>" token (the bot finds phones,
# plates and e-mail addresses itself; never annotate them).
MASK_SAMPLES = {
    "nl": {"<name>": "Sanne de Boer", "<date>": "12 maart 1985", "<address>": "Dorpsstraat 12"},
    "en": {"<name>": "Sam Jones", "<date>": "12 March 1985", "<address>": "12 High Street"},
    "": {"<phone>": "0612345678", "<email>": "naam@example.com", "<plate>": "GX-123-T",
         "<iban>": "NL91ABNA0417164300", "<postcode>": "1234 AB"},
}  # fmt: skip
_INTENT_LINE = re.compile(r"^- intent:\s*(?P<intent>\S+)\s*$")
_SPECIAL = re.compile(r"[\[\]()]")


class ExportError(ValueError):
    """An example that cannot go into the training data, with the reason."""


@dataclass(frozen=True)
class Exported:
    path: Path
    intent: str
    language: str
    added: tuple[str, ...]  # example lines written
    skipped: tuple[str, ...]  # already in the data


def unmasked(text: str, language: str) -> str:
    """An item's text with each mask replaced by a made-up value of its kind (``MASK_SAMPLES``)."""
    for mask, value in {**MASK_SAMPLES[""], **MASK_SAMPLES.get(language, {})}.items():
        text = text.replace(mask, value)
    return text


def annotate(text: str, entities: Mapping[str, str]) -> str:
    """``text`` with each ``entity -> value`` marked as ``[value](entity)`` at the value's first
    occurrence (as the customer wrote it, case ignored)."""
    if _SPECIAL.search(text):
        raise ExportError(f"brackets in the text clash with Rasa's entity marks: {text!r}")
    for entity, value in entities.items():
        match = re.search(rf"(?<![\w]){re.escape(value)}(?![\w])", text, re.IGNORECASE)
        if not value or match is None:
            raise ExportError(f"entity {entity}: {value!r} is not in the text {text!r}")
        start, end = match.span()
        text = f"{text[:start]}[{text[start:end]}]({entity}){text[end:]}"
    return text


def intent_file(data_dir: Path, intent: str, language: str) -> Path:
    """The ``data/<topic>/nlu_<language>.yml`` for an intent: the file of that language that
    holds it, else the topic folder that holds it in the other language."""
    examples, _problems = read_examples(data_dir, data_dir.parent)
    homes = sorted({(e.language != language, str(Path(e.file).parent)) for e in examples
                    if e.intent == intent})  # fmt: skip
    if homes:
        return data_dir.parent / homes[0][1] / f"nlu_{language}.yml"
    raise ExportError(f"no topic in {data_dir} has the intent {intent}: check its name")


def _insert(text: str, intent: str, language: str, lines: Sequence[str]) -> str:
    """The NLU file's text with ``lines`` added at the end of the intent's examples (a new intent
    block at the end when the file has none); the rest of the file is left as it was."""
    rows = text.splitlines()
    start = next((i for i, r in enumerate(rows) if (m := _INTENT_LINE.match(r))
                  and m.group("intent") == intent), None)  # fmt: skip
    if start is not None:
        key = next((i for i in range(start + 1, len(rows))
                    if rows[i].strip().startswith("examples:")), None)  # fmt: skip
        if key is None or rows[key].split(":", 1)[1].strip() not in ("|", "|-", "|+"):
            raise ExportError(f"intent {intent}: its examples are not a '|' block")
        indent = len(rows[key]) - len(rows[key].lstrip())
        last = key
        for i in range(key + 1, len(rows)):
            if rows[i].strip() and len(rows[i]) - len(rows[i].lstrip()) <= indent:
                break
            if rows[i].strip():
                last = i
        pad = " " * (indent + 2)
        if last > key:
            pad = rows[last][: len(rows[last]) - len(rows[last].lstrip())]
        rows[last + 1 : last + 1] = [f"{pad}- {line}" for line in lines]
        return "\n".join(rows) + "\n"
    if not rows:
        rows = ['version: "3.1"', "", "nlu:"]
    block = [f"- intent: {intent}", "  metadata:", f"    language: {language}", "  examples: |"]
    return "\n".join([*rows, *block, *(f"    - {line}" for line in lines)]) + "\n"


def _key(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .!?,")


def add_to_data(
    data_dir: Path,
    *,
    intent: str,
    language: str,
    examples: Sequence[str],
    holdout_dir: Path | None = None,
) -> Exported:
    """Write annotated ``examples`` under ``intent`` in the right ``data/<topic>/nlu_<lang>.yml``.

    Examples already in the data (same words, any intent) are skipped. An example that is also
    a held-out message (``holdout_dir``, e.g. ``tests/nlu_holdout``) is refused: training on it
    would make the held-out gate measure nothing. Nothing is ever written outside ``data_dir``.
    The file is checked to read back as Rasa YAML with the examples under the intent before it
    is written.
    """
    if language not in ("nl", "en"):
        raise ExportError(f"language {language!r}: nl or en")
    path = intent_file(data_dir, intent, language)
    known, _problems = read_examples(data_dir, data_dir.parent)
    seen = {_key(e.text) for e in known if e.language in (language, None)}
    if holdout_dir is not None and holdout_dir.is_dir():
        held_out = {_key(e.text) for e in read_examples(holdout_dir, holdout_dir.parent)[0]}
        leaked = [e for e in examples if _key(_plain(e)) in held_out]
        if leaked:
            raise ExportError(f"also in the held-out set {holdout_dir}: {leaked}")
    added, skipped = [], []
    for example in examples:
        key = _key(_plain(example))
        (skipped if key in seen else added).append(example)
        seen.add(key)
    if added:
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        new = _insert(old, intent, language, added)
        blocks = (yaml.safe_load(new) or {}).get("nlu") or []
        written = "".join(str(b.get("examples") or "") for b in blocks if b.get("intent") == intent)
        if not all(f"- {line}" in written for line in added):
            raise ExportError(f"{path}: the examples did not read back under {intent}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new, encoding="utf-8")
    return Exported(path, intent, language, tuple(added), tuple(skipped))


def _plain(example: str) -> str:
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", example)
