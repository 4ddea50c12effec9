"""The dashboard's shared template parts: a conversation's messages (``_macros.html``), as the
staff inbox streams them; every page extends ``base.html``."""

from pathlib import Path
from zoneinfo import ZoneInfo

from metrics.web.inbox import transcript_html
from metrics.web.pages import templates

AMS = ZoneInfo("Europe/Amsterdam")
TEMPLATES = Path(__file__).resolve().parents[4] / "metrics" / "web" / "templates"


def test_the_messages_name_who_wrote_them_and_keep_customer_text_as_text():
    events = [
        {"event": "bot", "text": "Hoe tevreden?", "timestamp": 1_764_000_000.0,
         "data": {"buttons": [{"title": "5 sterren", "payload": "/inform{\"csat\": \"5\"}"}]}},
        {"event": "user", "text": "/inform{\"csat\": \"5\"}", "timestamp": 1_764_000_060.0},
        {"event": "user", "text": "<img src=x onerror=alert(1)>", "timestamp": 1_764_000_120.0},
        {"event": "bot", "text": "Met Anna", "metadata": {"staff": "anna"}},  # no time known
    ]  # fmt: skip
    html = str(transcript_html({"events": events}, "nl", AMS))
    assert (
        '<div class="msg bot"><span class="muted">Bot · 17:00:00</span>\nHoe tevreden?</div>'
        in html
    )
    assert '<span class="muted">Klant · 17:01:00</span>\n5 sterren</div>' in html  # the button
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '<div class="msg staff"><span class="muted">anna · </span>\nMet Anna</div>' in html


def test_a_conversation_rasa_did_not_give_says_so_in_the_pages_language():
    assert "niet bereikbaar" in str(transcript_html(None, "nl", AMS))
    assert "cannot be reached" in str(transcript_html(None, "en", AMS))


def test_every_page_extends_the_frame():
    pages = [p.name for p in TEMPLATES.glob("*.html") if not p.name.startswith("_")]
    assert {"week.html", "inbox_lead.html", "conversation.html"} <= set(pages)
    for name in pages:
        if name != "base.html":
            source = templates().loader.get_source(templates(), name)[0]
            assert '{% extends "base.html" %}' in source or (
                '{% extends "inbox_base.html" %}' in source
            ), name
