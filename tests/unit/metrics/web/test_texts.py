"""The dashboard's texts exist in Dutch and English; the language of a page is chosen."""

from aiohttp.test_utils import make_mocked_request

from metrics.web import inbox_texts
from metrics.web.pages import page
from metrics.web.texts import LANG_COOKIE, TEXTS, page_language, reason_text


def test_every_dashboard_text_exists_in_dutch_and_english():
    assert set(TEXTS) == {"nl", "en"}
    assert set(TEXTS["nl"]) == set(TEXTS["en"])
    assert all(TEXTS[lang][key].strip() for lang in TEXTS for key in TEXTS[lang])
    assert set(inbox_texts.TEXTS["nl"]) == set(inbox_texts.TEXTS["en"])


def test_the_dealer_file_decides_unless_the_user_chose(monkeypatch):
    monkeypatch.setattr("metrics.web.texts.dealer_language", lambda dealer_id: "nl")
    assert page_language(make_mocked_request("GET", "/d/x"), "x") == "nl"
    assert page_language(make_mocked_request("GET", "/d/x?lang=en"), "x") == "en"
    chosen = make_mocked_request("GET", "/d/x", headers={"Cookie": f"{LANG_COOKIE}=en"})
    assert page_language(chosen, "x") == "en"
    odd = make_mocked_request("GET", "/d/x?lang=fr", headers={"Cookie": f"{LANG_COOKIE}=de"})
    assert page_language(odd, "x") == "nl"  # not a language of ours: the dealer's
    assert page_language(make_mocked_request("GET", "/login")) == "nl"  # no dealer: the default


def test_the_switch_links_to_the_same_page_in_the_other_language():
    request = make_mocked_request("GET", "/d/x?week=2026-W47&lang=nl")
    html = page("error.html", lang="nl", request=request, status=404, message="x").text
    assert '<strong lang="nl">NL</strong>' in html
    assert 'href="/d/x?week=2026-W47&amp;lang=en"' in html


def test_why_a_conversation_counts_in_words():
    assert reason_text("outcome appointment_booked", "nl") == "uitkomst: afspraak gemaakt"
    assert reason_text("business intent ask_opening_hours, ask_price", "en") == (
        "question: opening hours, price"
    )
    assert reason_text("fewer than two customer messages", "nl") == (
        "minder dan twee berichten van de klant"
    )
    assert reason_text("a reason from a newer rule", "nl") == "a reason from a newer rule"
