"""LinearIntentVote: a logistic regression's vote blended with DIET's ranking."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.intent_vote import LinearIntentVote, blend

EXAMPLES = {
    "greet": ["hallo", "hoi daar", "goedemorgen", "hello there", "hi", "good morning"],
    "book_service": ["apk afspraak maken", "onderhoud inplannen", "book an mot",
                     "i need a service", "kan mijn auto voor onderhoud", "book my car in"],
}  # fmt: skip


def test_blend_weighs_both_rankings_and_counts_a_missing_intent_as_zero():
    first = [{"name": "greet", "confidence": 0.6}, {"name": "thank", "confidence": 0.4}]
    second = {"greet": 0.2, "thank": 0.3, "deny": 0.5}
    ranking = blend(first, second, weight=0.5, length=10)
    assert [r["name"] for r in ranking] == ["greet", "thank", "deny"]
    assert [r["confidence"] for r in ranking] == pytest.approx([0.4, 0.35, 0.25])


def test_blend_with_weight_one_is_the_second_opinion_cut_to_length():
    ranking = blend([{"name": "greet", "confidence": 1.0}], {"deny": 0.7, "thank": 0.3}, 1.0, 1)
    assert ranking == [{"name": "deny", "confidence": pytest.approx(0.7)}]


@pytest.fixture()
def parts(tmp_path):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    featurizer = CountVectorsFeaturizer.create(
        {**CountVectorsFeaturizer.get_default_config(), "analyzer": "char_wb",
         "min_ngram": 1, "max_ngram": 3},
        storage, Resource("cvf"), context,
    )  # fmt: skip

    def featurized(messages: list[Message]) -> list[Message]:
        tokenizer.process(messages)
        return featurizer.process(messages)

    data = TrainingData([Message(data={"text": t, "intent": i})
                         for i, texts in EXAMPLES.items() for t in texts])  # fmt: skip
    tokenizer.process_training_data(data)
    featurizer.train(data)
    featurizer.process_training_data(data)
    return storage, context, data, featurized


def _message(text: str, *diet: tuple[str, float]) -> Message:
    ranking = [{"name": n, "confidence": c} for n, c in diet]
    return Message(data={"text": text, "intent": ranking[0], "intent_ranking": ranking})


def test_the_vote_moves_an_unsure_diet_to_the_intent_both_lean_to(parts):
    storage, context, data, featurized = parts
    vote = LinearIntentVote.create({**LinearIntentVote.get_default_config()}, storage,
                                   Resource("vote"), context)  # fmt: skip
    vote.train(data)
    labels = [m.get("intent") for m in data.training_examples]
    assert vote.process_training_data(data) is data
    assert [m.get("intent") for m in data.training_examples] == labels  # gold labels stay

    [message] = vote.process(featurized([_message("apk afspraak", ("greet", 0.51),
                                                  ("book_service", 0.49))]))  # fmt: skip
    assert message.get("intent")["name"] == "book_service"
    confidences = [r["confidence"] for r in message.get("intent_ranking")]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(1.0)


def test_a_loaded_vote_gives_the_trained_ones_answer(parts):
    storage, context, data, featurized = parts
    config = {**LinearIntentVote.get_default_config(), "weight": 1.0}
    trained = LinearIntentVote.create(config, storage, Resource("vote"), context)
    trained.train(data)
    loaded = LinearIntentVote.load(config, storage, Resource("vote"), context)
    [a] = trained.process(featurized([_message("hoi hallo", ("book_service", 1.0))]))
    [b] = loaded.process(featurized([_message("hoi hallo", ("book_service", 1.0))]))
    assert a.get("intent")["name"] == b.get("intent")["name"] == "greet"
    assert a.get("intent_ranking") == b.get("intent_ranking")


def test_an_untrained_vote_leaves_diets_answer(parts):
    storage, context, _data, featurized = parts
    vote = LinearIntentVote.create(LinearIntentVote.get_default_config(), storage,
                                   Resource("empty"), context)  # fmt: skip
    [message] = vote.process(featurized([_message("hallo", ("greet", 0.9))]))
    assert message.get("intent") == {"name": "greet", "confidence": 0.9}
