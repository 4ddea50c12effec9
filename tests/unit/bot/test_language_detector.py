"""The LanguageDetector component: entity values are no evidence, one word is only a hint."""

from rasa.shared.nlu.training_data.message import Message

from bot.nlu.language import LanguageDetector, without_entities
from dealer.language import LanguageModel

TRAIN = [
    ("ik wil graag een afspraak maken voor mijn auto", "nl"),
    ("wanneer kan ik langskomen met de wagen", "nl"),
    ("kunnen jullie mijn auto nakijken", "nl"),
    ("I would like to make an appointment for my car", "en"),
    ("when can I come in with the car", "en"),
    ("could you have a look at my car", "en"),
]


def message(text: str, *entities: tuple[str, str]) -> Message:
    spans = []
    for entity, value in entities:
        start = text.index(value)
        spans.append({"entity": entity, "start": start, "end": start + len(value), "value": value})
    return Message(data={"text": text, "entities": spans})


def detector() -> LanguageDetector:
    model = LanguageModel().fit(TRAIN)
    return LanguageDetector({"min_confidence": 0.8, "min_words": 2}, None, None, model)


def test_entity_values_are_blanked_but_moments_are_kept():
    text, values = without_entities(
        message(
            "diagnose voor mijn Golf morgen",
            ("service_type", "diagnose"),
            ("model", "Golf"),
            ("time", "morgen"),
        )  # fmt: skip
    )
    assert values == ["diagnose", "Golf"]
    assert "diagnose" not in text and "Golf" not in text and "morgen" in text


def test_code_needs_two_words_the_hint_one():
    (clear, one_word, service) = detector().process(
        [
            message("when can I come"),
            message("appointment"),
            message("langskomen", ("service_type", "langskomen")),
        ]
    )
    assert clear.get("language")["code"] == "en"
    assert one_word.get("language")["code"] is None
    assert one_word.get("language")["hint"] == "en"
    assert service.get("language")["hint"] is None  # an entity value: no evidence at all
