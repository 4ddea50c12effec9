"""The dashboard's top-lists section, in Dutch and English, from a summary's lists."""

from types import SimpleNamespace

import pytest

from metrics.summary import FallbackMessage
from metrics.web.app import top_lists
from metrics.web.pages import render

NASTY = '=HYPERLINK("x") <img src=x onerror=alert(1)> & "quoted"'


def top_lists_html(summary, lang, base):
    """The week page's top-lists section alone, as the week page includes it."""
    return render("_top_lists.html", lang, top=top_lists(summary, lang, base))


def summary(intents=(), fallbacks=()):
    return SimpleNamespace(week="2026-W47", top_intents=list(intents),
                           top_fallbacks=list(fallbacks))  # fmt: skip


@pytest.mark.parametrize("lang, texts", [
    ("nl", ["<h2>Waar klanten het meest naar vroegen</h2>", "<th>Vraag</th><th>Aantal</th>",
            "<td>werkplaatsafspraak maken</td>", "<h2>Berichten die de bot niet begreep</h2>",
            "<th>Bericht</th><th>Aantal</th><th>Gesprek</th>", ">CSV downloaden</a>"]),
    ("en", ["<h2>What customers asked most</h2>", "<th>Question</th><th>Count</th>",
            "<td>book a service</td>", "<h2>Messages the bot did not understand</h2>",
            "<th>Message</th><th>Count</th><th>Conversation</th>", ">Download CSV</a>"]),
])  # fmt: skip
def test_the_section_speaks_the_pages_language(lang, texts):
    out = str(top_lists_html(
        summary([("book_service", 4), ("ask_price", 1)],
                [FallbackMessage("heb je winterbanden?", 3, "nl", "a" * 32)]),
        lang, "/d/autohuis-demo",
    ))  # fmt: skip
    for text in texts:
        assert text in out
    assert out.index('data-intent="book_service"') < out.index('data-intent="ask_price"')
    assert f'<a href="/conversations/{"a" * 32}">{"a" * 12}</a>' in out
    assert 'href="/d/autohuis-demo/top.csv?week=2026-W47"' in out


def test_customer_text_is_escaped():
    out = str(top_lists_html(summary(fallbacks=[FallbackMessage(NASTY, 1, "en", "c1")]), "en",
                             "/d/x"))  # fmt: skip
    assert "<img" not in out and '"quoted"' not in out
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &#34;quoted&#34;" in out


@pytest.mark.parametrize("lang, empty", [
    ("nl", ["Geen vragen herkend deze week.", "Geen onbegrepen berichten deze week."]),
    ("en", ["No questions recognised this week.",
            "No messages the bot did not understand this week."]),
])  # fmt: skip
def test_an_empty_week_says_so(lang, empty):
    out = str(top_lists_html(summary(), lang, "/d/x"))
    assert "<table" not in out
    for text in empty:
        assert text in out
