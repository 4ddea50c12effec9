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
