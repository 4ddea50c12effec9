"""The NLU inbox for trainers: list, export and close the items the recorder stored.

The items themselves (which messages, masked how) come from ``core.store.inbox``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from core.store.models import NluInboxItem, utcnow


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
                f"  #{row.id} [{row.language}] {row.confidence:.2f} {row.reason:<14} "
                f"{row.sent_at:%Y-%m-%d} {row.dealer_id}: {row.text}{hint}"
            )
    return "\n".join(lines)


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
