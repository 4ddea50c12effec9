"""The PatternExtractor's entities: every strict-format value of a one-shot message at once."""

from rasa.shared.nlu.training_data.message import Message

from bot.nlu.patterns import PatternExtractor, find_pattern_entities


def test_a_one_shot_message_gives_every_entity_once():
    text = "proefrit in de niro, kenteken GX-123-T, 85.000 op de teller, mijn naam is Kees van Dijk"
    found = {e["entity"]: e["value"] for e in find_pattern_entities(text)}
    assert found == {"plate": "GX-123-T", "mileage": 85000, "customer_name": "Kees van Dijk"}


def test_entities_do_not_overlap_and_keep_their_order():
    text = "my name is Tom Smith, tom.smith@example.com or +44 7700 900123"
    entities = find_pattern_entities(text)
    assert [e["entity"] for e in entities] == ["customer_name", "email", "phone"]
    assert all(a["end"] <= b["start"] for a, b in zip(entities, entities[1:], strict=False))


def _processed(text: str, intent: str) -> Message:
    message = Message(data={"text": text, "intent": {"name": intent, "confidence": 0.9}})
    return PatternExtractor().process([message])[0]


def test_a_message_with_a_contact_or_plate_is_an_answer_not_a_stop():
    """Simulator: "mail maar naar jan@voorbeeld.nl" was read as stop and ended the form."""
    assert _processed("mail maar naar jan@voorbeeld.nl", "stop").get("intent")["name"] == "inform"
    assert _processed("telefoon 0612345678 graag", "out_of_scope").get("intent")["name"] == "inform"
    # first in the ranking too: the FallbackClassifier compares the ranking's top two
    ranked = _processed("mail maar naar jan@voorbeeld.nl", "stop").get("intent_ranking")
    assert ranked[0] == {"name": "inform", "confidence": 1.0}


def test_other_intents_and_messages_without_such_values_keep_their_intent():
    assert _processed("stop maar", "stop").get("intent")["name"] == "stop"
    assert _processed("bel me op 0612345678", "request_human").get("intent")["name"] == (
        "request_human"
    )
    assert _processed("85.000 km, stop", "stop").get("intent")["name"] == "stop"


def test_a_message_that_is_only_values_is_an_answer_whatever_the_classifier_said():
    """A bare plate was ``affirm`` 0.47 from one model and below the fallback threshold from the
    next (tuning dev set)."""
    for text in ("GX-123-T", "gx123t", "0612345678", "jan@voorbeeld.nl", "85.000 km",
                 "GX-123-T, 0612345678", "+44 7700 900123"):  # fmt: skip
        assert _processed(text, "affirm").get("intent")["name"] == "inform", text
    assert _processed("apk voor GX-123-T", "book_service").get("intent")["name"] == "book_service"
    assert _processed("ja, GX-123-T", "affirm").get("intent")["name"] == "affirm"
    assert _processed("Jan", "deny").get("intent")["name"] == "deny"


def test_a_written_name_the_classifier_is_unsure_of_is_an_answer():
    def intent(text: str, confidence: float) -> str:
        message = Message(data={"text": text, "intent": {"name": "deny", "confidence": confidence}})
        return PatternExtractor().process([message])[0].get("intent")["name"]

    assert intent("John Smith", 0.2) == "inform"
    assert intent("Anne van der Berg", 0.3) == "inform"
    assert intent("John Smith", 0.9) == "deny"  # the classifier was sure
    # tuning seed 419: "Gert-Jan Bos" to the name question was request_human 0.54: handed over
    assert _processed("Gert-Jan Bos", "request_human").get("intent")["name"] == "inform"
    assert intent("no thanks", 0.2) == "deny" and intent("Yes Please", 0.2) == "deny"


def test_a_name_given_with_a_lead_in_is_an_answer_not_a_stop():
    """Simulator: "schrijf maar op thijs verbeek" was read as stop (0.87) and ended the form."""
    assert _processed("schrijf maar op thijs verbeek", "stop").get("intent")["name"] == "inform"
    assert _processed("zet maar op jan", "stop").get("intent")["name"] == "inform"
    assert _processed("schrijf maar niks op", "stop").get("intent")["name"] == "stop"
    assert _processed("laat maar", "stop").get("intent")["name"] == "stop"
    # tuning seed 415: "met Gert-Jan Bos" to the name question was handed over to a person
    assert _processed("met Gert-Jan Bos", "request_human").get("intent")["name"] == "inform"
    assert (
        _processed("met een medewerker", "request_human").get("intent")["name"] == "request_human"
    )


def test_a_message_of_entities_the_classifier_is_unsure_of_is_an_answer():
    """A bare time ("zondagmiddag") was ``nlu_fallback`` (greet 0.17): "did not understand" at
    the time question."""

    def intent(text: str, confidence: float, entities: list[tuple[int, int, str]]) -> str:
        found = [
            {"entity": kind, "start": s, "end": e, "value": text[s:e]} for s, e, kind in entities
        ]
        message = Message(
            data={"text": text, "intent": {"name": "greet", "confidence": confidence},
                  "entities": found}
        )  # fmt: skip
        return PatternExtractor().process([message])[0].get("intent")["name"]

    assert intent("zondagmiddag", 0.17, [(0, 12, "time")]) == "inform"
    assert intent("de passat", 0.3, [(3, 9, "model")]) == "inform"
    assert intent("zondagmiddag", 0.9, [(0, 12, "time")]) == "greet"  # the classifier was sure
    assert intent("hallo daar", 0.3, []) == "greet"  # no entity
    # more than a word or two besides: a request the classifier should decide
    assert intent("kan ik zondagmiddag langskomen", 0.3, [(7, 19, "time")]) == "greet"
    # a name with a lead-in when the classifier is unsure ("mijn naam: ella vos" was fallback)
    assert intent("mijn naam: ella vos", 0.25, []) == "inform"
