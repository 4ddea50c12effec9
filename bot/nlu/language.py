"""LanguageDetector: adds ``language`` ({"code", "confidence"}) to every parsed message.

Trained on the NLU examples, which carry their file's language as intent metadata
(``metadata: {language: nl}``). The action server copies the result into the ``language`` slot
(custom slot mapping), keeping the previous language when a message carries no signal.

``code`` is the language only on clear evidence (``min_words`` words of it, see
dealer.language); ``hint`` is the language a single evidence word points to, which the action
server uses for a conversation's first message only ("hello"). Entity values (services, makes,
models, plates, e-mail addresses, ...) are no evidence: their spans are left out, in training
and when parsing, and so are the words of the lookup tables. Runs after the entity extractors.
"""

from __future__ import annotations

import json
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from dealer.language import LanguageModel

LANGUAGE_KEY = "language"
# Entity values that belong to a language: what a customer says about a moment.
LANGUAGE_ENTITIES = frozenset({"time"})


def without_entities(message: Message) -> tuple[str, list[str]]:
    """The message text with its language-neutral entity values blanked out, and those values."""
    text = message.get("text") or ""
    chars, values = list(text), []
    for entity in message.get("entities") or []:
        if entity.get("entity") in LANGUAGE_ENTITIES:
            continue
        start, end = entity.get("start"), entity.get("end")
        if start is None or end is None:
            continue
        values.append(text[start:end])
        chars[start:end] = " " * (end - start)
    return "".join(chars), values


def example_language(message: Message) -> str | None:
    """The language an NLU example was written in, from its intent or example metadata."""
    metadata = message.get("metadata") or {}
    for level in ("example", "intent"):
        lang = (metadata.get(level) or {}).get(LANGUAGE_KEY)
        if lang:
            return str(lang)
    return None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LanguageDetector(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"min_confidence": 0.8, "min_words": 2}

    def __init__(self, config, model_storage, resource, model: LanguageModel | None = None):
        self._config = config
        self._storage = model_storage
        self._resource = resource
        self._model = model or LanguageModel()

    @classmethod
    def create(cls, config, model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> LanguageDetector:  # fmt: skip
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config, model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> LanguageDetector:  # fmt: skip
        try:
            with model_storage.read_from(resource) as directory:
                data = json.loads((directory / "language_model.json").read_text())
            return cls(config, model_storage, resource, LanguageModel.from_dict(data))
        except (ValueError, FileNotFoundError):
            return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples, neutral = [], []
        for m in training_data.training_examples:
            if m.get("text") and (lang := example_language(m)):
                text, values = without_entities(m)
                examples.append((text, lang))
                neutral += values
        for table in training_data.lookup_tables:
            elements = table.get("elements")
            if isinstance(elements, list):
                neutral += [str(e) for e in elements]
        self._model = LanguageModel().fit(examples, neutral)
        with self._storage.write_to(self._resource) as directory:
            (directory / "language_model.json").write_text(json.dumps(self._model.to_dict()))
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        min_confidence = self._config["min_confidence"]
        min_words = self._config.get("min_words", 2)
        for message in messages:
            text, _values = without_entities(message)
            code, confidence = self._model.detect(text, min_confidence, min_words)
            hint = code or self._model.detect(text, min_confidence, 1)[0]
            message.set(
                LANGUAGE_KEY,
                {"code": code, "hint": hint, "confidence": round(confidence, 3)},
                add_to_output=True,
            )
        return messages
