"""NLU inbox items: what went wrong in real chats, one item per customer message, with a reason.

``inbox_items`` derives the items from a session's events (pure), with personal data masked.
The recorder stores them with the conversation record (``core.store.recorder``) after every
turn, one row per conversation and message time, so recording the same session again adds
nothing (an open item takes the latest reason found for its message). What can only be judged
once a conversation is over (its last replies, an ending without a task) is found again from
Rasa's stored events when it has ended (``core.store.inbox_scan``). Trainers list, export and
close the items with ``trainer.inbox``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from core.engagement import (
    BUSINESS_INTENTS,
    OUT_OF_SCOPE,
    TASK_OUTCOMES,
    from_staff,
    session_events,
)
from core.store.models import NluInboxItem
from dealer.i18n import DEFAULT_LANGUAGE, LANGUAGES
from dealer.language import message_language
from dealer.parsing import find_emails, find_phones, find_plates

log = logging.getLogger(__name__)
FALLBACK_INTENT = "nlu_fallback"
DEFAULT_CONFIDENCE = 0.6
# Intents that say "you got the previous message wrong", or ask for a person instead.
DENY_INTENT = "deny"
HANDOFF_INTENT = "request_human"
# A greeting or thanks before a handoff request is not a misunderstanding.
SMALL_TALK = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "stop", HANDOFF_INTENT})
# Why a message is an item. A message with several reasons gets the first of this order (the
# others are named in its detail).
REASONS = (
    "fallback_handoff",  # answered "did not understand", then the conversation went to a person
    "fallback",  # the NLU could not place it (nlu_fallback)
    "fallback_reply",  # answered "did not understand" although the NLU placed it (the policy)
    "wrong_language",  # a reply in another language than the customer's
    "language_switch",  # the conversation's language changed at this message: was it right?
    "reprompt",  # the same question asked again twice in a row after it
    "low_csat",  # the conversation was rated CSAT 1-2: its last typed message before the rating
    "no_outcome",  # a confident business intent in a conversation that ended without task/answer
    "handoff",  # the next message asked for a person
    "denied",  # the next message said "no, that's not what I meant"
    "low_confidence",  # intent confidence below the threshold
)
# "Did not understand": Rasa's fallback action and the fallback response (bot/domain/core.yml).
FALLBACK_ACTIONS = frozenset({"action_default_fallback"})
FALLBACK_REPLIES = frozenset({"utter_default"})
REPROMPTS = 2  # re-prompts in a row for one question that make an item
LOW_CSAT = (1, 2)
HIGH_CONFIDENCE = 0.9  # a business intent this sure, in a conversation that ended without result
# Intents a reply answers (an information question): the others need a task outcome.
ANSWERED_BY_REPLY = frozenset({"ask_opening_hours", "ask_location", "ask_car_availability",
                               "ask_price"})  # fmt: skip
CONTEXT_MESSAGES = 6  # messages shown before a low rating
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
    detail: str | None = None  # what happened, e.g. "reply utter_default; also: wrong_language"
    context: tuple[str, ...] = ()  # pseudonymised messages before it ("customer: ..", "bot: ..")


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


def reply_language(bot: dict[str, Any]) -> str | None:
    """The language of a bot reply made from a domain response: the ``language`` condition of
    the variation Rasa chose (kept in the event's metadata), else the default variation's
    language (Dutch). None for a text that is no domain response."""
    metadata = bot.get("metadata") or {}
    if not metadata.get("utter_action"):
        return None
    for condition in metadata.get("condition") or ():
        if condition.get("type") == "slot" and condition.get("name") == "language":
            return str(condition.get("value"))
    return DEFAULT_LANGUAGE


def _question(event: dict[str, Any]) -> str | None:
    """The slot a question asks for: ``requested_slot``, or ``utter_ask_X`` / ``action_ask_X``."""
    kind = event.get("event")
    if kind == "slot" and event.get("name") == "requested_slot":
        return event.get("value") or None
    name = None
    if kind == "action":
        name = event.get("name")
    elif kind == "bot":
        name = (event.get("metadata") or {}).get("utter_action")
    for prefix in ("utter_ask_", "action_ask_"):
        if name and name.startswith(prefix):
            return name[len(prefix) :]
    return None


def _score(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


@dataclass
class _Turn:
    """One customer message and what followed it up to the next one."""

    user: dict[str, Any]
    lang_slot: str  # the language slot when it came
    language: str  # the customer's language after it, by the bot's language rule
    in_form: bool  # a form was active when it came
    asked: str | None  # the bot's last action before it
    replies: list[dict[str, Any]] = field(default_factory=list)  # the bot's (not staff's)
    fallback: bool = False  # answered with "did not understand"
    question: str | None = None  # the last question asked after it
    csat: int | None = None  # a CSAT score given with it
    handed_off: bool = False  # the conversation went to a person after it
    requested: str | None = None  # the slot a form asked for when it came
    took: bool = False  # the form took it as the answer to that question

    @property
    def typed(self) -> str:
        """The customer's own words; empty for a button payload."""
        text = (self.user.get("text") or "").strip()
        return "" if text.startswith("/") else text


def _turns(events: Sequence[dict[str, Any]]) -> tuple[list[_Turn], set[str]]:
    """The current session's customer turns, and the customer's names (to mask everywhere)."""
    session = session_events(events)
    lang_slot, active_loop, last_action = DEFAULT_LANGUAGE, False, None
    requested: str | None = None
    names: set[str] = set()
    for event in events[: len(events) - len(session)]:
        if event.get("event") == "slot" and event.get("value"):
            if event.get("name") == "language":
                lang_slot = event["value"]
            elif event.get("name") == NAME_SLOT:
                names.add(str(event["value"]))
    turns: list[_Turn] = []
    language = lang_slot
    for event in session:
        kind = event.get("event")
        turn = turns[-1] if turns else None
        if kind == "slot":
            name, value = event.get("name"), event.get("value")
            if value and name == "language":
                lang_slot = value
                if not turns:
                    language = value  # set at the session's start (dealer, page)
            elif value and name == NAME_SLOT:
                names.add(str(value))
            elif turn and name == "csat" and _score(value) in range(1, 6):
                turn.csat = _score(value)
            elif turn and name == "outcomes" and "handed_off" in (value or ()):
                turn.handed_off = True
            if turn and name == turn.requested:
                turn.took = value is not None  # the validation's value comes last
            if name == "requested_slot":
                requested = value
        elif kind == "active_loop":
            active_loop = bool(event.get("name"))
        elif kind == "action" and event.get("name") not in (None, "action_listen"):
            last_action = event["name"]
            if turn and last_action in FALLBACK_ACTIONS:
                turn.fallback = True
        elif kind == "bot" and turn and not from_staff(event):
            turn.replies.append(event)
            if (event.get("metadata") or {}).get("utter_action") in FALLBACK_REPLIES:
                turn.fallback = True
        elif kind == "user":
            detected = (event.get("parse_data") or {}).get("language")
            language = message_language(detected, first_message=not turns) or language
            turns.append(_Turn(event, lang_slot, language, active_loop, last_action,
                               requested=requested if active_loop else None))  # fmt: skip
            last_action = None
            continue
        if turn and (asked := _question(event)):
            turn.question = asked
    return turns, names


def _context(turns: Sequence[_Turn], names: tuple[str, ...]) -> tuple[str, ...]:
    lines = []
    for turn in turns:
        lines.append(f"customer: {_masked(turn.user.get('text') or '', names)}")
        lines += [
            f"bot: {_masked(b.get('text') or '', names)}" for b in turn.replies if b.get("text")
        ]
    return tuple(lines[-CONTEXT_MESSAGES:])


def inbox_items(
    events: Sequence[dict[str, Any]],
    *,
    conversation_id: str,
    dealer_id: str,
    threshold: float | None = None,
    outcome: str | None = None,
    ended: bool = False,
) -> list[InboxItem]:
    """What went wrong in the current session: one item per customer message, with its reason.

    A typed customer message (not a button) is an item when (reasons in ``REASONS``):
    - its intent is ``nlu_fallback`` (``fallback``: the NLU fell back), or the bot answered it
      with "did not understand" (``action_default_fallback`` or the ``utter_default``
      response) whatever the NLU's confidence (``fallback_reply``: the dialogue policy fell
      back); ``fallback_handoff`` when the conversation was handed to a person after it (the
      last such message before the handoff);
    - a reply to it was in another language than the customer's (``wrong_language``): the
      customer's language is the bot's language rule (``dealer.language.message_language``)
      over the session's messages, a reply's language is the variation Rasa chose
      (``reply_language``);
    - the conversation's language changed at it (``language_switch``): the bot's rule read a
      language other than the one the conversation had, so the bot goes on in that language;
      a Dutch customer answered in English after one misread message is this item;
    - after it the bot asked the question it had asked before it for the second time in a row
      (``reprompt``: the same ``requested_slot`` asked three times in succession);
    - it was the last typed message before a CSAT rating of 1 or 2 (``low_csat``; the item sits
      on the rating message's time and carries the messages before the rating as context);
    - the conversation ``ended`` (known only afterwards) with ``outcome`` neither a task outcome
      nor ``out_of_scope``, and this is its first business intent given with a confidence of
      ``HIGH_CONFIDENCE`` or more that a reply does not answer (a task: booking, test drive,
      trade-in, financing, ...), or an information question answered "did not understand"
      (``no_outcome``: the shape of a sales pitch or spam read as a customer's question);
    - its intent confidence is below ``threshold`` (``low_confidence``; default from
      ``DEALERBOT_INBOX_CONFIDENCE``, 0.6), unless a form took it as the answer to its question
      (the intent of an answer does not matter: with the linear vote's softer confidences such
      answers were most of 244 items in 2,260 messages of a tuning run, docs/training.md);
    - the next customer message asks for a person (``handoff``), unless this one was small talk
      (a greeting, thanks, yes/no) or already a handoff request;
    - the next customer message is a ``deny`` ("no, that's not what I meant") that does not
      answer a question of the bot: no form was active and the bot's last action was not an
      ``utter_ask_*`` / ``action_ask_*`` question (``denied``).
    A message with several reasons gets the first in ``REASONS``; its ``detail`` says what
    happened and names the others. The text is pseudonymised (``pseudonymise``, with the
    ``customer_name`` slot's values). Language: the message's detected language, else the
    ``language`` slot at that moment, else ``nl``.
    """
    threshold = confidence_threshold() if threshold is None else threshold
    turns, names = _turns(events)
    masked_names = tuple(sorted(names))
    found: dict[int, dict[str, str]] = {}  # turn index -> reason -> detail
    anchors: dict[int, int] = {}  # turn index of an item -> turn whose text it shows

    def add(i: int, reason: str, detail: str, text_of: int | None = None) -> None:
        found.setdefault(i, {}).setdefault(reason, detail)
        if text_of is not None:
            anchors[i] = text_of

    handoff_at = next((i for i, t in enumerate(turns) if t.handed_off), None)
    streak = 0
    for i, turn in enumerate(turns):
        intent, confidence = _intent(turn.user)
        if intent == FALLBACK_INTENT:
            answered = ', answered "did not understand"' if turn.fallback else ""
            add(i, "fallback", f"the NLU could not place it{answered}")
        elif turn.fallback:
            add(i, "fallback_reply", f'read as {intent} {confidence:.4f}, answered "did not '
                'understand": the dialogue policy fell back')  # fmt: skip
        wrong = sorted({lang for b in turn.replies
                        if (lang := reply_language(b)) and lang != turn.language})  # fmt: skip
        if wrong:
            add(i, "wrong_language", f"customer {turn.language}, reply {', '.join(wrong)}")
        if i and turn.language != turns[i - 1].language:
            add(i, "language_switch", f"the conversation went from {turns[i - 1].language} "
                f"to {turn.language} here")  # fmt: skip
        previous = turns[i - 1].question if i else None
        streak = streak + 1 if turn.question and turn.question == previous else 0
        if streak == REPROMPTS:
            add(i, "reprompt", f"{turn.question} asked again {REPROMPTS} times in a row")
        if turn.csat in LOW_CSAT:
            before = [j for j in range(i) if turns[j].typed and turns[j].csat is None]
            if before:
                add(i, "low_csat", f"rated CSAT {turn.csat}", text_of=before[-1])
        if (intent is None or confidence < threshold) and not turn.took:
            add(i, "low_confidence", f"confidence {confidence:.2f} below {threshold:.2f}")
        elif i + 1 < len(turns):
            following = turns[i + 1]
            next_intent, _c = _intent(following.user)
            question = following.in_form or (following.asked or "").startswith(
                ("utter_ask_", "action_ask_"))  # fmt: skip
            if next_intent == HANDOFF_INTENT and intent not in SMALL_TALK:
                add(i, "handoff", "the next message asked for a person")
            elif next_intent == DENY_INTENT and not question and intent not in SMALL_TALK:
                add(i, "denied", 'the next message said "no"')
    if handoff_at is not None:
        misread = [i for i in range(handoff_at + 1) if turns[i].typed and (
            turns[i].fallback or _intent(turns[i].user)[0] == FALLBACK_INTENT)]  # fmt: skip
        if misread:
            add(misread[-1], "fallback_handoff", "handed to a person after this was not understood")
    if ended and outcome not in (*TASK_OUTCOMES, OUT_OF_SCOPE, None):
        for i, turn in enumerate(turns):
            intent, confidence = _intent(turn.user)
            sure = intent in BUSINESS_INTENTS and confidence >= HIGH_CONFIDENCE
            unanswered = intent not in ANSWERED_BY_REPLY or turn.fallback
            if sure and unanswered and turn.typed:
                add(i, "no_outcome", f"{intent} {confidence:.2f}, ended {outcome} without a task")
                break
    items = []
    for i in sorted(found):
        source = turns[anchors.get(i, i)]
        text = source.typed
        if not text or turns[i].user.get("timestamp") is None:
            continue
        reasons = found[i]
        reason = min(reasons, key=REASONS.index)
        others = [r for r in REASONS if r in reasons and r != reason]
        detail = reasons[reason] + (f"; also: {', '.join(others)}" if others else "")
        intent, confidence = _intent(source.user)
        detected = ((source.user.get("parse_data") or {}).get("language") or {}).get("code")
        context = _context(turns[:i], masked_names) if reason == "low_csat" else ()
        items.append(
            InboxItem(
                text=_masked(text, masked_names),
                intent=intent or FALLBACK_INTENT,
                confidence=round(confidence, 4),
                suggested_intent=_suggestion(source.user),
                reason=reason,
                language=detected if detected in LANGUAGES else source.lang_slot,
                sent_at=dt.datetime.fromtimestamp(
                    turns[i].user["timestamp"], dt.timezone.utc
                ).replace(tzinfo=None),
                conversation_id=conversation_id,
                dealer_id=dealer_id,
                detail=detail,
                context=context,
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


def nlu_fallback_items() -> ColumnElement:
    """SQL condition on ``nlu_inbox``: the items of messages the NLU could not place (intent
    ``nlu_fallback``), also when the conversation went to a person after it. The dealer's weekly
    summary lists these as its top fallback messages."""
    item = NluInboxItem
    return or_(
        item.reason == "fallback",
        and_(item.reason == "fallback_handoff", item.intent == FALLBACK_INTENT),
    )


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
        "detail": item.get("detail"),
        "context": json.dumps(list(item["context"]), ensure_ascii=False)
        if item.get("context")
        else None,
        "status": "open",
    }


# What a newer finding may change on a stored open item (a later turn can give a message a
# stronger reason: "did not understand", then handed to a person).
REVISED = ("reason", "detail", "context", "text", "intent", "confidence", "suggested_intent")


def revised(stored: dict[str, Any], row: dict[str, Any]) -> dict[str, Any] | None:
    """The columns to update on a stored item from a newer ``row`` of the same message, or None:
    only an open item changes, and only to a reason at least as strong as its own."""
    if stored.get("status") != "open" or stored.get("reason") not in REASONS:
        return None
    if REASONS.index(row["reason"]) > REASONS.index(stored["reason"]):
        return None
    changes = {k: row[k] for k in REVISED if stored.get(k) != row[k]}
    return changes or None


def upsert_items(session: Session, conversation_id: str, items: Iterable[dict]) -> int:
    """Store items not stored yet (unique per conversation + message time); returns how many.

    An item already there keeps its status, so a handled item stays handled; an open one takes
    a newer, at least as strong reason (``revised``).
    """
    rows: dict[dt.datetime, dict[str, Any]] = {}
    for item in items:
        sent_at = item["sent_at"]
        sent_at = (
            sent_at if isinstance(sent_at, dt.datetime) else dt.datetime.fromisoformat(sent_at)
        )
        rows[sent_at] = {**inbox_row(item), "conversation_id": conversation_id,
                         "sent_at": sent_at}  # fmt: skip
    if not rows:
        return 0
    table = NluInboxItem.__table__
    stored = session.execute(
        select(table.c.id, table.c.sent_at, table.c.status, *(table.c[k] for k in REVISED)).where(
            table.c.conversation_id == conversation_id
        )
    ).mappings()
    for row in stored:
        new = rows.pop(row["sent_at"], None)
        changes = new and revised(dict(row), new)
        if changes:
            session.execute(update(table).where(table.c.id == row["id"]).values(**changes))
    if rows:
        session.execute(insert(table), list(rows.values()))
    return len(rows)
