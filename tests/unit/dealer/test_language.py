from dealer.language import LanguageModel

TRAIN = [
    ("ik wil een afspraak maken voor de apk", "nl"),
    ("wat zijn jullie openingstijden", "nl"),
    ("hebben jullie een elektrische auto", "nl"),
    ("kan ik een proefrit maken morgen", "nl"),
    ("I would like to book a service", "en"),
    ("what are your opening hours", "en"),
    ("do you have an electric car", "en"),
    ("can I take a test drive tomorrow", "en"),
    ("I want to know the price of this car", "en"),
    ("please call me back about my appointment", "en"),
]


def test_detects_both_languages_and_abstains_without_evidence():
    model = LanguageModel().fit(TRAIN)
    assert model.detect("ik wil graag een afspraak")[0] == "nl"
    assert model.detect("I want an appointment please")[0] == "en"
    assert model.detect("12-ABC-3")[0] is None
    assert model.detect("👍")[0] is None


def test_round_trips_through_a_dict():
    model = LanguageModel().fit(TRAIN)
    again = LanguageModel.from_dict(model.to_dict())
    assert again.scores("openingstijden") == model.scores("openingstijden")


def test_one_word_or_an_entity_value_is_no_evidence():
    """Issue 16: "diagnose", an e-mail address, a name, a plate or "ok" never switch."""
    model = LanguageModel().fit(TRAIN + [("graag een diagnose", "nl"), ("a diagnose please", "en")],
                                neutral=["apk", "service"])  # fmt: skip
    for text in ["diagnose", "jan.devries@example.com", "Jan de Vries", "12-ABC-3", "ok", "ja",
                 "yes", "stop", "+44 7700 900123", "service", "apk"]:  # fmt: skip
        assert model.detect(text)[0] is None, text
    assert model.detect("I would like a test drive")[0] == "en"
    assert model.detect("tomorrow", min_words=1)[0] == "en"  # the first-message hint
    assert model.detect("tomorrow")[0] is None


def test_capitalised_words_inside_a_sentence_are_names():
    model = LanguageModel().fit(TRAIN)
    assert model.evidence("ik wil een Proefrit") == {"nl": 3, "en": 0}


def test_the_conversation_language_changes_on_clear_evidence_or_a_first_message_hint():
    from dealer.language import message_language

    assert message_language({"code": "en", "hint": "en"}, first_message=False) == "en"
    assert message_language({"code": None, "hint": "en"}, first_message=False) is None
    assert message_language({"code": None, "hint": "en"}, first_message=True) == "en"
    assert message_language({"code": "fr"}, first_message=True) is None
    assert message_language(None, first_message=True) is None
