"""PatternExtractor: plates, e-mail addresses, phone numbers and mileages found by code.

These values have strict formats, so rules beat a learned model; they are never annotated in
the training data. Values are normalised here (``12abc3`` -> ``12-ABC-3``).
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message

from dealer.parsing import find_emails, find_mileage, find_phones, find_plates


def find_pattern_entities(text: str) -> list[dict[str, Any]]:
    """Non-overlapping entities, most specific first (e-mail, plate, mileage, phone)."""
    found: list[dict[str, Any]] = []

    def add(entity: str, spans) -> None:
        for start, end, value in spans:
            if all(end <= e["start"] or start >= e["end"] for e in found):
                found.append({"entity": entity, "start": start, "end": end, "value": value})

    add("email", find_emails(text))
    add("plate", find_plates(text))
    add("mileage", find_mileage(text))
    add("phone", find_phones(text))
    return sorted(found, key=lambda e: e["start"])


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class PatternExtractor(GraphComponent):
    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> PatternExtractor:  # fmt: skip
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            new = find_pattern_entities(message.get("text") or "")
            if not new:
                continue
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
        return messages
