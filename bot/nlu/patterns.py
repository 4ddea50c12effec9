"""PatternExtractor: plates, e-mail addresses, phone numbers, mileages and introduced names
("mijn naam is ...") found by code.

These values have strict formats, so rules beat a learned model; they are never annotated in
the training data. Values are normalised here (``12abc3`` -> ``12-ABC-3``).

A message that carries a phone number, an e-mail address or a plate is an answer, not a wish to
stop or an off-topic message: "mail maar naar jan@voorbeeld.nl" was read as ``stop`` (0.90)
and ended the form that had just asked for it, "telefoon 0612345678 graag" as ``out_of_scope``.
Such a message gets the intent ``inform``, first in the ranking (the FallbackClassifier reads the
ranking's top two), and the rest of the ranking keeps what the classifier said. So does a
message that is nothing but such values and mileages ("GX-123-T"), whatever the intent, and a
message that is only a name written with capitals ("John Smith") when the classifier is unsure
of it (below ``_UNSURE``) or reads it as a wish for a person ("Gert-Jan Bos" was
``request_human`` 0.54): it answers the name question, it is no call for the fallback; a
name given with a lead-in ("schrijf maar op thijs verbeek", read as ``stop`` 0.87; "met Gert-Jan
Bos", read as ``request_human``); and a message the classifier is unsure of that is all
entities of any extractor but for a word or two ("zondagmiddag", "de passat").
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message

from dealer.names import find_names, gives_name, is_written_name
from dealer.parsing import find_emails, find_mileage, find_phones, find_plates

# Intents a message with a strict-format value cannot have (it answers a question).
_NOT_AN_ANSWER = frozenset({"stop", "out_of_scope", "bot_challenge"})
# Intents a name given with a lead-in cannot have ("met Gert-Jan Bos" is no wish for a person).
_NOT_A_NAME_ANSWER = _NOT_AN_ANSWER | {"request_human"}
_ANSWER_VALUES = frozenset({"phone", "email", "plate"})
_UNSURE = 0.5


def find_pattern_entities(text: str) -> list[dict[str, Any]]:
    """Non-overlapping entities, most specific first (e-mail, plate, mileage, phone, name)."""
    found: list[dict[str, Any]] = []

    def add(entity: str, spans) -> None:
        for start, end, value in spans:
            if all(end <= e["start"] or start >= e["end"] for e in found):
                found.append({"entity": entity, "start": start, "end": end, "value": value})

    add("email", find_emails(text))
    add("plate", find_plates(text))
    add("mileage", find_mileage(text))
    add("phone", find_phones(text))
    add("customer_name", find_names(text))
    return sorted(found, key=lambda e: e["start"])


def _words_outside(text: str, entities: list[dict[str, Any]]) -> list[str]:
    """The words of the text that no entity's span covers."""
    covered = [False] * len(text)
    for entity in entities:
        for i in range(max(entity.get("start", 0), 0), min(entity.get("end", 0), len(text))):
            covered[i] = True
    return re.findall(
        r"[^\W_]+", "".join(" " if c else ch for ch, c in zip(text, covered, strict=True))
    )


def _only_values(text: str, entities: list[dict[str, Any]]) -> bool:
    """The message is nothing but strict-format values ("GX-123-T", "0612345678", "85k"): an
    answer whatever the classifier made of it (a bare plate came out as ``affirm`` 0.47 from
    one model and below the fallback threshold from the next). A name alone is judged by
    ``is_written_name``."""
    return (
        bool(entities)
        and all(e["entity"] != "customer_name" for e in entities)
        and not _words_outside(text, entities)
    )


def _mostly_values(text: str, entities: list[dict[str, Any]]) -> bool:
    """Entities of any extractor cover the message but for at most two short words:
    "zondagmiddag", "de passat", "sportage graag". When the classifier is unsure of such a
    message (a bare time was ``nlu_fallback``, "greet" 0.17), it answers a question."""
    rest = _words_outside(text, entities)
    return bool(entities) and len(rest) <= 2 and all(len(word) <= 5 for word in rest)


def _as_answer(message: Message) -> None:
    """Make ``inform`` the message's intent, first in its ranking."""
    inform = {"name": "inform", "confidence": 1.0}
    ranking = [r for r in message.get("intent_ranking") or [] if r.get("name") != "inform"]
    message.set("intent", inform, add_to_output=True)
    message.set("intent_ranking", [inform, *ranking], add_to_output=True)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class PatternExtractor(GraphComponent):
    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> PatternExtractor:  # fmt: skip
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get("text") or ""
            intent = message.get("intent") or {}
            unsure = (intent.get("confidence") or 0) < _UNSURE
            new = find_pattern_entities(text)
            if new:
                kept = [
                    e
                    for e in message.get("entities", [])
                    if all(e["end"] <= n["start"] or e["start"] >= n["end"] for n in new)
                ]
                for entity in new:
                    entity.update(confidence_entity=1.0, extractor=self.__class__.__name__)
                message.set(
                    "entities", sorted(kept + new, key=lambda e: e["start"]), add_to_output=True
                )
            entities = message.get("entities") or []
            values = {e["entity"] for e in new}
            if (
                (unsure and _mostly_values(text, entities))
                or (
                    (unsure or intent.get("name") in _NOT_A_NAME_ANSWER)
                    and (is_written_name(text) or gives_name(text))
                )
                or (intent.get("name") in _NOT_AN_ANSWER and _ANSWER_VALUES & values)
                or _only_values(text, new)
            ):
                _as_answer(message)
        return messages
