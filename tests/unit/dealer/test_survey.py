import pytest

from dealer.survey import is_no_comment, parse_score


@pytest.mark.parametrize(
    ("text", "question", "score"),
    [
        ("4", "csat", 4), ("4/5", "csat", 4), ("4 van de 5", "csat", 4), ("4 out of 5", "csat", 4),
        ("een 4", "csat", 4), ("vier", "csat", 4), ("five", "csat", 5),
        ("heel tevreden", "csat", 5), ("zeer ontevreden", "csat", 1), ("ontevreden", "csat", 2),
        ("tevreden", "csat", 4), ("very satisfied", "csat", 5), ("neutral", "csat", 3),
        ("7", "ces", 7), ("heel makkelijk", "ces", 7), ("very easy", "ces", 7),
        ("makkelijk", "ces", 6), ("niet makkelijk", "ces", 2), ("strongly disagree", "ces", 1),
        ("0", "nps", 0), ("10", "nps", 10), ("oké", "csat", 3), ("ik ben heel tevreden", "csat", 5),
        ("it was ok", "csat", 3), ("goed hoor", "csat", 4),
    ],
)  # fmt: skip
def test_scores_typed_or_tapped(text, question, score):
    assert parse_score(text, question) == score


@pytest.mark.parametrize(
    ("text", "question"),
    [("6", "csat"), ("0", "csat"), ("8", "ces"), ("11", "nps"), ("banaan", "csat"), ("", "ces"),
     ("x" * 5000, "csat"), ("😀", "csat"), ("<b>5</b>", "csat"),
     # a rating word inside another answer is no rating (issue 16)
     ("Oké, ik wacht wel", "csat"), ("ok but where is my car", "csat"),
     ("goed, wanneer is mijn auto klaar?", "csat"), ("makkelijk te vinden?", "ces")],
)  # fmt: skip
def test_unclear_or_out_of_range(text, question):
    assert parse_score(text, question) is None


def test_no_comment():
    assert is_no_comment("nee") and is_no_comment("Geen opmerking.") and is_no_comment("no thanks")
    assert not is_no_comment("de koffie was lekker")
    assert is_no_comment("stop maar") and is_no_comment("laat maar zitten")
    assert not is_no_comment("graag wat meer tijden in het weekend")


@pytest.mark.parametrize(
    ("text", "none"),
    [("nee hoor, verder niet", True), ("no thanks, that's all", True), ("nothing more to add", True),
     ("ik heb niets toe te voegen", True), ("niks op aan te merken", False),
     ("nee, het duurde te lang", False), ("all good", False), ("n.v.t.", True), ("nee.", True)],
)  # fmt: skip
def test_a_no_with_more_words_is_a_comment(text, none):
    assert is_no_comment(text) is none


@pytest.mark.parametrize(
    ("text", "question", "score"),
    [
        # one number among words that leave it the answer
        ("5 stars", "csat", 5), ("vier sterren", "csat", 4), ("I would say 4", "csat", 4),
        ("ik geef een 4", "csat", 4), ("5 - great", "csat", 5), ("a solid 4", "csat", 4),
        ("6 punten", "ces", 6),
        # an intensifier moves a base word one step out
        ("extremely happy", "csat", 5), ("helemaal tevreden", "csat", 5), ("very unhappy", "csat", 1),
        ("kinderlijk eenvoudig", "ces", 7), ("totally agree", "ces", 7), ("eenvoudig", "ces", 6),
        ("volledig mee eens", "ces", 7), ("heel lastig", "ces", 1),
        # thanks around a rating word
        ("satisfied, thanks", "csat", 4), ("zeer tevreden, dank je", "csat", 5),
        # the scale after the score
        ("four out of five", "csat", 4), ("3 van de 5 sterren", "csat", 3), ("6 out of 7", "ces", 6),
        # words beyond the scale's own labels
        ("amazing", "csat", 5), ("kon beter", "csat", 3), ("not great", "csat", 2),
        ("een dikke 5", "csat", 5), ("ging soepel", "ces", 6), ("hassle-free", "ces", 7),
        ("ja hoor", "ces", 6), ("zeker weten", "ces", 7), ("mostly agree", "ces", 5),
    ],
)  # fmt: skip
def test_ratings_as_people_write_them(text, question, score):
    assert parse_score(text, question) == score


@pytest.mark.parametrize(
    ("text", "question"),
    [("5 of 6", "csat"), ("2 minuten wachten, daarna 4", "csat"), ("5 stars <3", "csat"),
     ("I would say 9", "csat")],
)  # fmt: skip
def test_two_numbers_or_other_words_are_no_rating(text, question):
    assert parse_score(text, question) is None
