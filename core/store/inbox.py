"""NLU inbox items: customer messages the bot did not understand well, from real chats.

``inbox_items`` derives the items from a session's events (pure), with personal data masked.
The recorder stores them with the conversation record (``core.store.recorder``), one row per
conversation and message time, so recording the same session again changes nothing. Trainers
list, export and close the items with ``trainer.inbox``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core.engagement import session_events
from core.store.models import NluInboxItem
from dealer.parsing import find_emails, find_phones, find_plates

log = logging.getLogger(__name__)
FALLBACK_INTENT = "nlu_fallback"
DEFAULT_CONFIDENCE = 0.6
# Intents that say "you got the previous message wrong", or ask for a person instead.
DENY_INTENT = "deny"
HANDOFF_INTENT = "request_human"
# A greeting or thanks before a handoff request is not a misunderstanding.
SMALL_TALK = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "stop", HANDOFF_INTENT})
REASONS = ("fallback", "low_confidence", "handoff", "denied")
MASKS = {
    "email": "<email>", "iban": "<iban>", "phone": "<phone>", "plate": "<plate>",
    "postcode": "<postcode>", "address": "<address>", "date": "<date>", "name": "<name>",
}  # fmt: skip
MAX_TEXT = 1000
NAME_SLOT = "customer_name"

# Names: a capitalised name after a self-introduction ("ik ben Jan de Vries", "my name is Ann").
# Lower-case words after "ik ben" are mostly not names ("ik ben benieuwd"), so they stay.
_PARTICLES = r"(?:van|de|der|den|het|ter|ten|te|von|la|le|du|da|di|'t)"
_CAPITALISED = r"[A-ZÀ-Ý](?:[a-zà-ÿ]|['’-][A-Za-zà-ÿ])+"  # also O'Brien, Jan-Willem
_NAME = re.compile(
    r"(?i:\b(?:ik\s+ben|ik\s+heet|mijn\s+naam\s+is|my\s+name\s+is|i\s*['’]?\s*m|i\s+am|"
    r"naam\s*:|name\s*:|met\s+vriendelijke\s+groet,?|groet(?:en|jes)?,?|regards,?)\s+)"
    rf"({_CAPITALISED}(?:\s+(?:{_PARTICLES}\s+)*{_CAPITALISED})*)"
)
# Dutch postcodes: 4 digits (no leading 0) and two letters; SA, SD and SS are not used, and the
# usual two-letter words and units after a number are no postcode ("2000 km", "1500 en").
_POSTCODE = re.compile(
    r"\b([1-9]\d{3}\s?(?!(?i:sa|sd|ss|en|te|de|km|kg|pk|cc|hp|kw|ps|mm|cm|ml|am|pm|gb|mb|nl|eu|"
    r"we|ze|at|as|an|be|me|he)\b)[A-EGHJ-NPR-TV-XZa-egh-np-tv-xz]{2})\b"
)  # the letters F, I, O, Q, U and Y are not used: "1500 of", "2000 op" stay
_STREET_SUFFIX = r"(?:straat|weg|laan|plein|gracht|kade|singel|dijk|steeg|hof|dreef|markt|burgwal)"
_ADDRESS = re.compile(
    rf"(?i:\b(?!(?:onder|half|aan|tussen|over|af)weg\b)"
    rf"(?:[\w'-]+{_STREET_SUFFIX}|{_STREET_SUFFIX}(?=\s+(?:van|de|der|den|het)\s))"
    r"(?:\s+(?:van|de|der|den|het|aan|op)(?:\s+[\w'-]+){1,2})?"
    r"\s+\d{1,5}(?:\s?-?\s?[a-z](?![a-z]))?(?:\s?-\s?\d{1,4})?"
    r"|\b\d{1,5}\s+(?:[a-z][\w'-]*\s+){1,3}(?:street|st|road|rd|avenue|ave|lane|ln|square)\b)"
)
_MONTHS = (
    r"(?:jan(?:uari|uary)?|feb(?:ruari|ruary)?|maa(?:rt)?|mar(?:ch)?|apr(?:il)?|mei|may|"
    r"jun[ie]?|jul[iy]?|aug(?:ustus|ust)?|sep(?:t|tember)?|okt(?:ober)?|oct(?:ober)?|"
    r"nov(?:ember)?|dec(?:ember)?)\.?"
)
# Birth dates: a whole date (day, month and year) of a year up to 2015; an appointment date
# ("24-11", "morgen", "24 november 2026") stays, the trainers need those words.
_YEAR = r"(?:19\d\d|200\d|201[0-5])"
_DATE = re.compile(
    rf"(?i:\b(?:\d{{1,2}}[-/.]\d{{1,2}}[-/.]{_YEAR}|{_YEAR}[-/.]\d{{1,2}}[-/.]\d{{1,2}}"
    rf"|\d{{1,2}}\s+{_MONTHS}\s+{_YEAR}|{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+{_YEAR})\b)"
)
_IBAN = re.compile(r"(?i:\b([a-z]{2}\d{2}(?:\s?[a-z0-9]{4}){2,7}(?:\s?[a-z0-9]{1,3})?)\b)")


class InboxSettingError(ValueError):
    """A bad inbox setting in the environment."""


def confidence_threshold() -> float:
    """``DEALERBOT_INBOX_CONFIDENCE`` (default 0.6): intents below it go to the inbox."""
    raw = os.environ.get("DEALERBOT_INBOX_CONFIDENCE", str(DEFAULT_CONFIDENCE))
    try:
        value = float(raw)
    except ValueError:
        raise InboxSettingError(
            f"DEALERBOT_INBOX_CONFIDENCE must be a number from 0 to 1, not {raw!r}"
        ) from None
    if not 0 <= value <= 1:
        raise InboxSettingError(f"DEALERBOT_INBOX_CONFIDENCE must be from 0 to 1, not {value}")
    return value


def _iban_valid(candidate: str) -> bool:
    """ISO 13616 check digits (mod 97 = 1). Hand-written: three lines, no dependency for it."""
    value = candidate.replace(" ", "").upper()
    digits = "".join(str(int(c, 36)) for c in value[4:] + value[:4])
    return 15 <= len(value) <= 34 and int(digits) % 97 == 1


def _find_ibans(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(1), m.end(1), m.group(1)) for m in _IBAN.finditer(text)
            if _iban_valid(m.group(1))]  # fmt: skip


def _regex_finder(pattern: re.Pattern, group: int = 0):  # noqa: ANN202
    return lambda text: [(m.start(group), m.end(group), m.group(group))
                         for m in pattern.finditer(text)]  # fmt: skip


def _name_finder(names: tuple[str, ...]):  # noqa: ANN202
    """The customer's name (slot value) and its parts of 3 letters or more, as whole words."""
    parts = {p for name in names for p in [name, *name.split()] if len(p) >= 3}
    parts -= {"van", "der", "den", "het", "ter", "ten"}
    if not parts:
        return lambda _text: []
    words = "|".join(re.escape(p) for p in sorted(parts, key=len, reverse=True))
    return _regex_finder(re.compile(rf"(?i)(?<![\w])(?:{words})(?![\w])"))


# Order matters where spans overlap: the first finder wins (an e-mail's digits are no phone,
# an IBAN's digits no phone, a postcode in an address is part of the address).
_FINDERS = (
    ("email", find_emails), ("iban", _find_ibans), ("date", _regex_finder(_DATE)),
    ("address", _regex_finder(_ADDRESS)), ("postcode", _regex_finder(_POSTCODE, 1)),
    ("phone", find_phones), ("plate", find_plates), ("name", _regex_finder(_NAME, 1)),
)  # fmt: skip


def pseudonymise(text: str, names: Sequence[str] = ()) -> str:
    """The text with personal data masked: e-mail addresses, IBANs, birth dates (whole dates of
    a year up to 2015), street addresses, Dutch postcodes, phone numbers, number plates, names
    after a self-introduction ("ik ben", "mijn naam is", "my name is", "I'm", ...), and the
    customer's ``names`` (the ``customer_name`` slot) wherever they appear."""
    spans: list[tuple[int, int, str]] = []
    finders = _FINDERS + ((("name", _name_finder(tuple(names))),) if names else ())
    for kind, finder in finders:
        for start, end, _value in finder(text):
            if all(end <= s or start >= e for s, e, _k in spans):
                spans.append((start, end, kind))
    for start, end, kind in sorted(spans, reverse=True):
        text = text[:start] + MASKS[kind] + text[end:]
    return text


@lru_cache(maxsize=2048)
def _masked_cached(text: str, names: tuple[str, ...]) -> str:
    return pseudonymise(" ".join(text.split()), names)[:MAX_TEXT]


def _masked(text: str, names: tuple[str, ...] = ()) -> str:
    """An item's text. A session's messages are masked again on each of its turns (the phone
    number matcher is slow): short texts come from a cache."""
    if len(text) > MAX_TEXT:
        return pseudonymise(" ".join(text.split()), names)[:MAX_TEXT]
    return _masked_cached(text, names)


@dataclass(frozen=True)
class InboxItem:
    text: str  # pseudonymised
    intent: str  # predicted
    confidence: float
    suggested_intent: str | None  # best intent that is not the fallback
    reason: str  # one of REASONS
    language: str
    sent_at: dt.datetime  # naive UTC
    conversation_id: str
    dealer_id: str


_ITEM_FIELDS = tuple(f.name for f in fields(InboxItem))


def _intent(user: dict[str, Any]) -> tuple[str | None, float]:
    intent = (user.get("parse_data") or {}).get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def _suggestion(user: dict[str, Any]) -> str | None:
    parse = user.get("parse_data") or {}
    ranking = parse.get("intent_ranking") or [parse.get("intent") or {}]
    for entry in ranking:
        if entry.get("name") and entry["name"] != FALLBACK_INTENT:
            return entry["name"]
    return None


def inbox_items(
    events: Sequence[dict[str, Any]],
    *,
    conversation_id: str,
    dealer_id: str,
    threshold: float | None = None,
) -> list[InboxItem]:
    """The messages of the current session that the bot did not understand well.

    A customer message (typed, not a button) is an item when:
    - its intent is ``nlu_fallback`` (reason ``fallback``);
    - its intent confidence is below ``threshold`` (``low_confidence``; default from
      ``DEALERBOT_INBOX_CONFIDENCE``, 0.6);
    - the next customer message asks for a person (``handoff``), unless this one was small talk
      (a greeting, thanks, yes/no) or already a handoff request;
    - the next customer message is a ``deny`` ("no, that's not what I meant") that does not
      answer a question of the bot: no form was active and the bot's last action was not an
      ``utter_ask_*`` / ``action_ask_*`` question (``denied``).
    The text is pseudonymised (``pseudonymise``, with the ``customer_name`` slot's values).
    Language: the message's detected language, else the ``language`` slot at that moment, else
    ``nl``.
    """
    threshold = confidence_threshold() if threshold is None else threshold
    session = session_events(events)
    # Per customer message: the language slot, the active form and the bot's last action after it.
    users: list[tuple[dict[str, Any], str, bool, str | None]] = []
    lang_slot, active_loop, last_action = "nl", False, None
    names: set[str] = set()  # the customer's name, wherever given: masked in every message
    for event in events[: len(events) - len(session)]:
        if event.get("event") == "slot" and event.get("value"):
            if event.get("name") == "language":
                lang_slot = event["value"]
            elif event.get("name") == NAME_SLOT:
                names.add(str(event["value"]))
    for event in session:
        kind = event.get("event")
        if kind == "slot":
            if event.get("value"):
                if event.get("name") == "language":
                    lang_slot = event["value"]
                elif event.get("name") == NAME_SLOT:
                    names.add(str(event["value"]))
        elif kind == "active_loop":
            active_loop = bool(event.get("name"))
        elif kind == "action" and event.get("name") not in (None, "action_listen"):
            last_action = event["name"]
        elif kind == "user":
            users.append((event, lang_slot, active_loop, last_action))
            last_action = None
    masked_names = tuple(sorted(names))
    items = []
    for i, (user, lang_slot, _active, _last) in enumerate(users):
        text = (user.get("text") or "").strip()
        if not text or text.startswith("/"):  # a button payload, not the customer's words
            continue
        intent, confidence = _intent(user)
        reason = None
        if intent == FALLBACK_INTENT:
            reason = "fallback"
        elif intent is None or confidence < threshold:
            reason = "low_confidence"
        elif i + 1 < len(users):
            following, _lang, active, asked = users[i + 1]
            next_intent, _c = _intent(following)
            question = active or (asked or "").startswith(("utter_ask_", "action_ask_"))
            if next_intent == HANDOFF_INTENT and intent not in SMALL_TALK:
                reason = "handoff"
            elif next_intent == DENY_INTENT and not question and intent not in SMALL_TALK:
                reason = "denied"
        if reason is None or user.get("timestamp") is None:
            continue
        detected = ((user.get("parse_data") or {}).get("language") or {}).get("code")
        items.append(
            InboxItem(
                text=_masked(text, masked_names),
                intent=intent or FALLBACK_INTENT,
                confidence=round(confidence, 4),
                suggested_intent=_suggestion(user),
                reason=reason,
                language=detected if detected in ("nl", "en") else lang_slot,
                sent_at=dt.datetime.fromtimestamp(user["timestamp"], dt.timezone.utc).replace(
                    tzinfo=None
                ),
                conversation_id=conversation_id,
                dealer_id=dealer_id,
            )
        )
    return items


def item_dicts(items: Iterable[InboxItem]) -> list[dict]:
    """JSON-safe items, for the recorder's op (and its spool)."""
    return [{name: getattr(i, name) for name in _ITEM_FIELDS} | {"sent_at": i.sent_at.isoformat()}
            for i in items]  # fmt: skip


def recorded_items(events: Sequence[dict[str, Any]], conversation_id: str, dealer_id: str) -> list:
    """The JSON-safe inbox items the recorder stores with a conversation record.

    A bad ``DEALERBOT_INBOX_CONFIDENCE`` is logged and the default used: the conversation record
    must never be lost over an inbox setting.
    """
    try:
        threshold = confidence_threshold()
    except InboxSettingError as exc:
        log.error("%s; using %s", exc, DEFAULT_CONFIDENCE)
        threshold = DEFAULT_CONFIDENCE
    items = inbox_items(
        events, conversation_id=conversation_id, dealer_id=dealer_id, threshold=threshold
    )
    return item_dicts(items)


def inbox_row(item: dict) -> dict[str, Any]:
    """The ``nlu_inbox`` columns of a JSON-safe item, except its conversation and time."""
    return {
        "dealer_id": item["dealer_id"],
        "language": item["language"],
        "text": item["text"],
        "intent": item["intent"],
        "confidence": item["confidence"],
        "suggested_intent": item.get("suggested_intent"),
        "reason": item["reason"],
        "status": "open",
    }


def upsert_items(session: Session, conversation_id: str, items: Iterable[dict]) -> int:
    """Store items not stored yet (unique per conversation + message time); returns how many.

    An item already there keeps its status, so a handled item stays handled.
    """
    rows: dict[dt.datetime, dict[str, Any]] = {}
    for item in items:
        sent_at = item["sent_at"]
        sent_at = (
            sent_at if isinstance(sent_at, dt.datetime) else dt.datetime.fromisoformat(sent_at)
        )
        rows.setdefault(sent_at, {**inbox_row(item), "conversation_id": conversation_id,
                                  "sent_at": sent_at})  # fmt: skip
    if not rows:
        return 0
    table = NluInboxItem.__table__
    stored = session.execute(
        select(table.c.sent_at).where(table.c.conversation_id == conversation_id)
    ).scalars()
    for sent_at in stored:
        rows.pop(sent_at, None)
    if rows:
        session.execute(insert(table), list(rows.values()))
    return len(rows)
