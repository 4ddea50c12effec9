"""NoThanks: a message the classifier splits between ``thank`` and ``deny`` is a "no thanks".

"nothing more, cheers" to "anything else?" was ``thank`` 0.37 and ``deny`` 0.33, and the
FallbackClassifier made it "did not understand" (7 of the 10 in English of tuning seed 421),
though the customer had said no, with thanks. When the two best intents are these two and the
first has less than half of the confidence, the message is ``deny`` with their joint
confidence: a thanks with a no in it declines ("nee bedankt, verder niks"), it is no yes.
Runs before the FallbackClassifier, which reads the ranking's top two.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message

_SPLIT = frozenset({"thank", "deny"})
_UNSURE = 0.5


def merged_ranking(ranking: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The ranking with a thank / deny split as one ``deny``, or None when it is no such split."""
    if len(ranking) < 2 or {r.get("name") for r in ranking[:2]} != _SPLIT:
        return None
    if (ranking[0].get("confidence") or 0) >= _UNSURE:
        return None
    joint = sum(r.get("confidence") or 0 for r in ranking[:2])
    return [{"name": "deny", "confidence": joint}, *ranking[2:]]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class NoThanks(GraphComponent):
    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> NoThanks:  # fmt: skip
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            ranking = merged_ranking(message.get("intent_ranking") or [])
            if ranking is not None:
                message.set("intent", ranking[0], add_to_output=True)
                message.set("intent_ranking", ranking, add_to_output=True)
        return messages
