"""NoThanks: a thank / deny split is a no; anything else keeps its ranking."""

from rasa.shared.nlu.training_data.message import Message

from bot.nlu.no_thanks import NoThanks


def _processed(*ranking: tuple[str, float]) -> Message:
    ranked = [{"name": name, "confidence": conf} for name, conf in ranking]
    message = Message(data={"text": "nothing more, cheers", "intent": ranked[0],
                            "intent_ranking": ranked})  # fmt: skip
    return NoThanks().process([message])[0]


def test_a_split_between_thanks_and_no_is_a_no():
    """ "nothing more, cheers" to "anything else?": thank 0.37, deny 0.33, then "did not
    understand" from the FallbackClassifier."""
    message = _processed(("thank", 0.37), ("deny", 0.33), ("stop", 0.2))
    assert message.get("intent")["name"] == "deny"
    assert abs(message.get("intent")["confidence"] - 0.70) < 1e-9
    assert [r["name"] for r in message.get("intent_ranking")] == ["deny", "stop"]


def test_a_clear_thanks_or_another_split_is_left_alone():
    assert _processed(("thank", 0.8), ("deny", 0.15)).get("intent")["name"] == "thank"
    assert _processed(("thank", 0.37), ("stop", 0.33)).get("intent")["name"] == "thank"
    assert _processed(("deny", 0.4), ("affirm", 0.35)).get("intent")["name"] == "deny"
    assert _processed(("greet", 0.9)).get("intent")["name"] == "greet"
