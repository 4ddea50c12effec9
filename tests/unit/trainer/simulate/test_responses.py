"""Bot replies identified as domain responses, with the language of the variation."""

import pytest

from trainer.simulate.responses import Catalog, compile_template


@pytest.fixture(scope="module")
def catalog():
    return Catalog.from_domain()


@pytest.mark.parametrize(
    ("text", "name", "language"),
    [
        ("Wat is het kenteken van de auto? (bijvoorbeeld 12-ABC-3)", "utter_ask_plate", "nl"),
        ("What's the licence plate of the car? (e.g. 12-ABC-3)", "utter_ask_plate", "en"),
        ("Sorry, dat begreep ik niet. Kunt u het anders zeggen? U kunt ook een van deze kiezen:",
         "utter_default", "nl"),
        ("Prices for the Volkswagen Golf in stock:\n• Golf 1.5 (2024): €36,495\n• Golf 1.0: €17,950",
         "utter_price", "en"),
        ("Dinsdag 24 november om 10:00 zit helaas vol.", "utter_slot_full", "nl"),
    ],
)  # fmt: skip
def test_a_reply_is_its_response_and_language(catalog, text, name, language):
    assert catalog.identify(text) == (name, language)


def test_text_from_no_response_is_unknown(catalog):
    assert catalog.identify("Hallo, ik ben een nieuwe tekst die niet in het domein staat.") == (
        None,
        None,
    )


def test_the_more_specific_template_wins():
    catalog = Catalog(
        {
            "utter_any": [{"text": "{anything}"}],
            "utter_hours": [{"text": "{day}: open {hours}."}],
        }
    )
    assert catalog.identify("maandag: open 9-18.")[0] == "utter_hours"


def test_placeholders_match_several_lines():
    pattern, literal = compile_template("Found {n}:\n{cars}\nWant one?")
    assert pattern.fullmatch("Found 2:\n• a\n• b\nWant one?")
    assert literal == len("Found :\n\nWant one?")


def test_replies_keep_the_buttons(catalog):
    [reply] = catalog.replies(
        [{"text": "Wilt u ja of nee antwoorden?",
          "buttons": [{"title": "Ja", "payload": "/affirm"}, {"title": "Nee", "payload": "/deny"}]}]
    )  # fmt: skip
    assert reply.name == "utter_invalid_confirmation" and reply.language == "nl"
    assert reply.buttons == (("Ja", "/affirm"), ("Nee", "/deny"))


def test_every_question_of_the_domain_has_a_profile_answer(catalog):
    """A new ``utter_ask_*`` response needs a line in QUESTION_FIELDS, or simulated customers
    would not answer it."""
    from trainer.simulate.customer import QUESTION_FIELDS

    asks = {name for name in catalog.names if name.startswith("utter_ask_")}
    assert asks - set(QUESTION_FIELDS) == set(), "map them in trainer/simulate/customer.py"
    assert set(QUESTION_FIELDS) - catalog.names == set(), "mapped responses the domain lacks"


def test_a_reply_whose_placeholder_was_empty_is_still_recognised(catalog):
    assert catalog.identify("is fully booked.") == ("utter_slot_full", "en")
    assert catalog.identify("Op  zijn we gesloten.") == ("utter_slot_closed_day", "nl")
