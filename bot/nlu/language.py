"""LanguageDetector: adds ``language`` ({"code", "confidence"}) to every parsed message.

Trained on the NLU examples, which carry their file's language as intent metadata
(``metadata: {language: nl}``). The action server copies the result into the ``language`` slot
(custom slot mapping), keeping the previous language when a message carries no signal.
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
        return {"min_confidence": 0.8}

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
        examples = [
            (m.get("text"), lang)
            for m in training_data.training_examples
            if m.get("text") and (lang := example_language(m))
        ]
        self._model = LanguageModel().fit(examples)
        with self._storage.write_to(self._resource) as directory:
            (directory / "language_model.json").write_text(json.dumps(self._model.to_dict()))
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            code, confidence = self._model.detect(
                message.get("text") or "", self._config["min_confidence"]
            )
            message.set(
                LANGUAGE_KEY,
                {"code": code, "confidence": round(confidence, 3)},
                add_to_output=True,
            )
        return messages
