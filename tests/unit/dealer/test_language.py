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
