"""Names: what counts as a person's name, and names introduced inside a longer message."""

import pytest

from dealer.names import clean_name, find_names, gives_name, is_bare_name


def test_clean_name():
    assert clean_name("I'm Sarah O'Neil") == "Sarah O'Neil"
    assert clean_name("Zoë Çelik") == "Zoë Çelik"
    assert clean_name("anne van der berg") == "Anne van der Berg"
    assert clean_name("DJ van Dijk") == "DJ van Dijk"
    assert clean_name("wat kost een apk?") is None
    assert clean_name("06 12345678") is None


@pytest.mark.parametrize(
    ("value", "name"),
    [("Jan de Vries", "Jan de Vries"), ("dag", None), ("Sanne", "Sanne"), ("it's Mark Taylor",
     "Mark Taylor"), ("Bart de Goede", "Bart de Goede"), ("Ja Rule", "Ja Rule"),
     ("under Emma Wilson", "Emma Wilson"), ("Lotte de Boer graag", "Lotte de Boer"),
     ("Hannah Clarke Please", "Hannah Clarke"), ("in the name of Tom Smith", "Tom Smith"),
     ("jan de vries, dank je wel", "Jan de Vries"), ("op naam van Priya Patel aub", "Priya Patel"),
     ("zet maar op naam van Eva Jansen", "Eva Jansen"), ("de naam is Pieter Smit", "Pieter Smit"),
     ("under the name of Tom Smith", "Tom Smith"), ("name's Daniel Kim", "Daniel Kim"),
     ("schrijf maar op: Eva Jansen", "Eva Jansen"), ("zet het maar op Jan de Vries", "Jan de Vries"),
     ("met Kees van Dijk", "Kees van Dijk"), ("Tom Smith here", "Tom Smith"),
     ("Jan de Vries, 0612345678", "Jan de Vries"), ("Eva Jansen eva@voorbeeld.nl", "Eva Jansen"),
     ("noteer maar Eva Jansen", "Eva Jansen"), ("ja thijs verbeek", "Thijs Verbeek"),
     ("ja, Megan", "Megan"), ("sure, Raj Singh", "Raj Singh"), ("Sure Lucas Martin", "Lucas Martin"),
     ("Daan 't Hart is mijn naam", "Daan 't Hart"), ("priya patel is my name", "Priya Patel"),
     ("put it down as george wright", "George Wright"), ("you can put Megan", "Megan"),
     ("the name's Tom Smith", "Tom Smith"), ("Noteboom", "Noteboom"), ("hoi, met Tom", "Tom"),
     ("hi, Tom Smith here", "Tom Smith"), ("its tom smith", "Tom Smith"), ("gewoon Sanne", "Sanne"),
     ("Tom Smith, cheers", "Tom Smith"), ("first name Sanne", "Sanne"), ("Imre Kovacs", "Imre Kovacs"),
     ("Justin Bieber", "Justin Bieber"), ("naam", None), ("met", None),
     ("name is Lucas Martin", "Lucas Martin"), ("naam: Daan 't Hart", "Daan 't Hart"),
     ("sure megan", "Megan"), ("Hi Tom", "Tom"), ("Just de Vries", "Just de Vries"),
     ("dat ben ik, Bram Hendriks", "Bram Hendriks"), ("mijn naam? Bram Hendriks", "Bram Hendriks"),
     ("voornaam Bram, achternaam Hendriks", "Bram Hendriks"), ("Bram Hendriks, mvg", "Bram Hendriks"),
     ("Bram Hendriks is mijn naam hoor", "Bram Hendriks"), ("ja hoor, Bram Hendriks", "Bram Hendriks"),
     ("met vriendelijke groet, Bram Hendriks", "Bram Hendriks"), ("Hoornstra", "Hoornstra"),
     ("Bram Hendriks (06 12345678)", "Bram Hendriks"), ("Bram Hendriks 🙂", "Bram Hendriks"),
     # the extended tuning templates (session 27)
     ("mn naam is Lisa van den Heuvel", "Lisa van den Heuvel"), ("book it under Olivia Brown",
     "Olivia Brown"), ("it's megan by the way", "Megan"), ("gert-jan bos", "Gert-Jan Bos"),
     ("Sanne Bakker trouwens", "Sanne Bakker"), ("james o'brien", "James O'Brien")],
)  # fmt: skip
def test_names_that_contain_a_common_word_are_kept(value, name):
    assert clean_name(value) == name


@pytest.mark.parametrize(
    ("text", "name"),
    [
        (
            "proefrit in de niro donderdagavond om 7 uur, mijn naam is Kees van Dijk",
            "Kees van Dijk",
        ),
        ("test drive in the yaris tomorrow at 4pm, my name is Hannah Clarke", "Hannah Clarke"),
        ("apk voor GX-123-T op naam van jan de vries graag", "Jan de Vries"),
        ("book an MOT, the name is Tom Smith and my number is 0612345678", "Tom Smith"),
        ("mijn naam is Sanne Bakker, tel 0612345678", "Sanne Bakker"),
        ("ik heet Fatima Yilmaz en wil een proefrit", "Fatima Yilmaz"),
        ("my name's mary-jane watson i'd like to trade in my car", "Mary-Jane Watson"),
        ("mn naam is Lisa van den Heuvel ik wil een proefrit", "Lisa van den Heuvel"),
        ("kan mn auto dinsdag binnen voor zomerbanden eronder groet eva jansen", "Eva Jansen"),
        ("proefrit in de Yaris? groetjes Mohamed el Amrani", "Mohamed el Amrani"),
        ("can I book an MOT for friday, kind regards, Tom Smith.", "Tom Smith"),
        # tuning seed 413: a bare "naam" / "name" after a comma, a name that runs into "could"
        ("proefrit tiguan morgen om 4 uur 's middags, naam Pieter Smit", "Pieter Smit"),
        ("test drive the Octavia estate tomorrow at 16:00, name Hannah Clarke", "Hannah Clarke"),
        ("my name is james o'brien could i book a test drive", "James O'Brien"),
        ("mijn naam is wouter lijkt me leuk om morgen een proefrit te maken", "Wouter"),  # 416
    ],
)
def test_a_name_introduced_in_a_sentence_is_found(text, name):
    [(start, end, found)] = find_names(text)
    assert found == name
    assert text[start:end].lower() == name.lower()


@pytest.mark.parametrize(
    "text",
    [
        "ik ben op zoek naar een elektrische auto",
        "I'm looking for a hybrid",
        "mijn naam is",
        "my name is 0612345678",
        "mijn naam is nee",
        "met vriendelijke groet",
        "groetjes en tot zaterdag 10 uur",
        "de groeten aan de monteur",
        "groetjes van de familie",
        "wat is de naam van de garage?",
        "proefrit morgen, name of the model?",
    ],
)
def test_no_name_without_an_introduction_of_one(text):
    assert find_names(text) == []


@pytest.mark.parametrize(
    ("text", "gives"),
    [("schrijf maar op thijs verbeek", True), ("naam: Eva", True), ("ja, schrijf maar op Kees", True),
     ("mn naam is Lisa", True), ("book it under Tom Smith", True),
     ("ik ben Ahmed Benali", True), ("I'm Tom Smith", True), ("ik ben op zoek naar een auto", False),
     ("met Gert-Jan Bos", True), ("met iemand van de werkplaats", False), ("met de chef", False),
     ("ik ben er morgen niet", False), ("i'm looking for a hybrid", False),
     ("noteer maar niks", False), ("schrijf maar niks op", False), ("voor nu stoppen", False),
     ("laat maar", False), ("naam", False)],
)  # fmt: skip
def test_a_name_given_after_a_lead_in(text, gives):
    assert gives_name(text) is gives


@pytest.mark.parametrize(
    "text, bare",
    [("gert-jan bos", True), ("jan de vries", True), ("Anna de Jong", True),
     ("o'brien smith", True), ("thijs", False), ("een medewerker", False),
     ("real person", False), ("ik wil bellen", False), ("forget it", False),
     ("doe maar", False), ("ja graag", False), ("jan 0612345678", False)],
)  # fmt: skip
def test_a_bare_name_is_two_to_four_words_of_a_name_and_nothing_else(text, bare):
    assert is_bare_name(text) is bare
