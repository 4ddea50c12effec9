"""Abbreviations explained where they appear, in both languages."""

from metrics.report.glossary import ABBREVIATIONS, abbreviations_in, explain, legend


def test_every_abbreviation_is_explained_in_both_languages():
    for abbr, texts in ABBREVIATIONS.items():
        assert set(texts) == {"nl", "en"}, abbr
        assert all(text.strip() for text in texts.values())


def test_abbreviations_get_a_title_and_the_rest_stays_escaped():
    html = str(explain("Tevredenheid (CSAT, % 4-5) <b>", "nl"))
    assert '<abbr title="Klanttevredenheid: ' in html and ">CSAT</abbr>" in html
    assert "&lt;b&gt;" in html
    assert str(explain("MEC-potentieel", "en")).startswith('<abbr title="Engaged contacts')
    assert str(explain("First response (p90)", "en")).count("<abbr") == 1
    assert "<abbr" not in str(explain("MECHANIC", "en"))  # whole words only


def test_the_legend_lists_what_the_text_uses():
    assert abbreviations_in("CES and CSAT, no NPS here? NPS") == ["CSAT", "CES", "NPS"]
    assert [a for a, _ in legend("MEC share, p90", "nl")] == ["MEC", "p90"]
