"""Rendering the weekly summary: figures with n and change, n/a, language, escaping, chart."""

import dataclasses
import datetime as dt
import html
import io
import re
from zoneinfo import ZoneInfo

import pytest

from metrics.report.chart import chart_figure, render_chart, with_data
from metrics.report.render import (
    MIN_N_FOR_CHANGE,
    change_text,
    format_change,
    format_value,
    render_html,
    render_markdown,
    render_summary,
    render_text,
)
from metrics.summary import FallbackMessage, Figure, LowRated, TrendPoint, WeeklySummary

AMS = ZoneInfo("Europe/Amsterdam")
NASTY = '<img src=x onerror=alert(1)> & "quoted" | *bold* [link](http://evil)'
SCRIPT = '<script>alert("x")</script> | *bold*'
LONG = "Ik heb een vraag over " + "mijn auto " * 20  # 222 characters
FIGURES = {
    # name: (value, n, previous, change, unit)
    "mec": (40.0, 40, 32.0, 0.25, "count"),
    "mec_potential": (160.0, 160, 150.0, 10 / 150, "count"),
    "mec_share": (0.25, 160, 32 / 150, 0.25 - 32 / 150, "share"),
    "csat": (0.8, 20, 0.75, 0.05, "share"),
    "csat_mean": (4.25, 20, 4.0, 0.25, "mean"),
    "csat_response_rate": (0.5, 40, 0.5, 0.0, "share"),
    "ces_mean": (5.5, 18, None, None, "mean"),
    "ces_share_5_7": (0.75, 18, None, None, "share"),
    "nps": (None, 0, None, None, "score"),
    "appointments_booked": (12.0, 12, 10.0, 0.2, "count"),
    "appointments_changed": (2.0, 2, 0.0, None, "count"),
    "appointments_cancelled": (1.0, 1, 1.0, 0.0, "count"),
    "test_drives": (3.0, 3, 4.0, -0.25, "count"),
    "leads_trade_in": (2.0, 2, 1.0, 1.0, "count"),
    "leads_sales": (5.0, 5, 5.0, 0.0, "count"),
    "handoffs": (4.0, 4, 6.0, -1 / 3, "count"),
    "automation_rate": (0.9, 40, 0.8, 0.1, "share"),
    "handoff_rate": (0.1, 40, 0.2, -0.1, "share"),
    "abandonment_rate": (0.05, 40, 0.05, 0.0, "share"),
    "resolved_by_bot": (34.0, 40, 30.0, 0.1333, "count"),
    "fallback_rate": (0.1, 50, 0.12, -0.02, "share"),
    "first_response_p50": (1500.0, 40, 2000.0, -500.0, "ms"),
    "first_response_p90": (4200.0, 40, 4200.0, 0.0, "ms"),
    "answered_within_30s": (0.975, 40, 1.0, -0.025, "share"),
    "returning_contacts": (6.0, 40, 4.0, 0.5, "count"),
    "human_handled": (3.0, 4, 5.0, -0.4, "count"),
    "human_first_response_p50": (4.5, 3, 6.0, -1.5, "min"),
    "human_first_response_p90": (12.0, 3, 20.0, -8.0, "min"),
    "human_within_promised": (2 / 3, 3, 0.6, 2 / 3 - 0.6, "share"),
    "handoffs_unanswered": (1.0, 4, 1.0, 0.0, "count"),
}


def make_summary(**overrides) -> WeeklySummary:
    figures = {name: Figure(name, *values) for name, values in FIGURES.items()}
    fields = dict(
        dealer_id="autohuis-demo",
        week="2026-W47",
        start=dt.date(2026, 11, 16),
        end=dt.date(2026, 11, 22),
        conversations=55,
        qualifying=44,
        potential_estimated=False,
        by_channel={
            "web": {
                "conversations": 30,
                "qualifying": 25,
                "mec": 22,
                "appointments_booked": 7,
                "handoffs": 2,
                "csat_n": 10,
                "csat_4_5": 8,
            },
            "whatsapp": {
                "conversations": 25,
                "qualifying": 19,
                "mec": 18,
                "appointments_booked": 5,
                "handoffs": 2,
                "csat_n": 0,
                "csat_4_5": 0,
            },
        },
        by_language={
            "nl": {
                "conversations": 50,
                "qualifying": 40,
                "mec": 36,
                "appointments_booked": 11,
                "handoffs": 4,
                "csat_n": 9,
                "csat_4_5": 7,
            }
        },
        trend=[TrendPoint(f"2026-W{w}", w, 4 * w, 0.8, 5.5) for w in range(36, 48)],
        low_rated=[
            LowRated(
                "c" * 32,
                dt.datetime(2026, 11, 18, 12, 5, tzinfo=AMS),
                "whatsapp",
                "handed_off",
                1,
                NASTY,
            ),
            LowRated(
                "d" * 32, dt.datetime(2026, 11, 19, 8, 0, tzinfo=AMS), "web", "self_served", 2, None
            ),
        ],
        top_intents=[("book_service", 14), ("ask_price", 9), ("some_new_intent", 1)],
        top_fallbacks=[
            FallbackMessage("Heb je ook winterbanden?", 3, "nl", "e" * 32),
            FallbackMessage(SCRIPT, 2, "en", "f" * 32),
            FallbackMessage(LONG, 1, "nl", "g" * 32),
        ],
        **figures,
    )
    fields.update(overrides)
    return WeeklySummary(**fields)


def test_values_by_unit_and_no_denominator_is_n_a():
    assert format_value("share", 0.8, "en") == "80%"
    assert format_value("share", 0.8, "nl") == "80%"
    assert format_value("mean", 4.25, "nl") == "4,3"  # half up, as people round
    assert format_value("mean", 5.55, "en") == "5.6"
    assert format_value("share", 0.125, "en") == "13%"
    assert format_value("ms", 1500, "nl") == "1,5 s"
    assert format_value("score", 12.0, "en") == "+12"
    assert format_value("count", 40.0, "en") == "40"
    assert format_value("share", None, "en") == "n/a"
    assert format_value("share", None, "nl") == "n.v.t."
    assert format_value("share", 0.0, "en") == "0%"  # a real zero stays a zero


def test_changes_relative_for_counts_points_for_shares():
    assert format_change("count", 0.25, "en") == "+25%"
    assert format_change("count", -1 / 3, "en") == "-33%"
    assert format_change("count", 0.0, "en") == "0%"
    assert format_change("share", 0.05, "en") == "+5 pp"
    assert format_change("share", -0.004, "en") == "0 pp"  # no "-0"
    assert format_change("mean", 0.25, "nl") == "+0,3"
    assert format_change("mean", -0.04, "en") == "0.0"
    assert format_change("ms", -500.0, "en") == "-0.5 s"
    assert format_change("count", None, "en") == "–"  # nothing to compare with


def test_a_change_below_the_minimum_n_shows_both_values_not_a_percentage():
    small = Figure("leads_sales", 5.0, 5, 2.0, 1.5, "count")
    assert change_text(small, "en") == "2 → 5"  # not "+150%"
    big = Figure("mec", 40.0, 40, 32.0, 0.25, "count")
    assert change_text(big, "en") == "+25%"
    few = Figure("csat", 0.8, MIN_N_FOR_CHANGE - 1, 0.5, 0.3, "share")
    assert change_text(few, "nl") == "50% → 80%"
    enough = Figure("csat", 0.8, MIN_N_FOR_CHANGE, 0.5, 0.3, "share")
    assert change_text(enough, "en") == "+30 pp"
    assert change_text(Figure("mec", 3.0, 3, None, None, "count"), "en") == "–"


def test_text_table_shows_headline_with_change_and_n(dealer):
    text = render_text(make_summary(), dealer, language="en")
    lines = text.splitlines()
    mec = next(line for line in lines if line.startswith("MEC (engaged contacts)"))
    assert mec.split()[-3:] == ["40", "+25%", "40"]
    share = next(line for line in lines if line.startswith("MEC share"))
    assert share.split()[-4:] == ["25%", "+4", "pp", "160"]
    csat = next(line for line in lines if line.startswith("Satisfaction (CSAT"))
    assert csat.split()[-4:] == ["80%", "+5", "pp", "20"]
    ces = next(line for line in lines if line.startswith("Ease (CES"))
    assert ces.split()[-3:] == ["5.5", "–", "18"]
    automation = next(line for line in lines if line.startswith("Automation rate"))
    assert automation.split()[-4:] == ["90%", "+10", "pp", "40"]
    assert "Appointments by chat" in text and "Sales leads by chat" in text
    assert "Trade-in leads by chat" in text
    assert text.splitlines()[0] == "Autohuis De Vries · week 47, 16–22 November"
    assert "55 conversations, 44 of them qualifying" in text
    assert "NPS" not in text  # not asked: no NPS row at all
    assert "(estimated)" not in text


def test_dutch_by_default_from_the_dealer_file(dealer):
    assert dealer.report_language == "nl"
    rendered = render_summary(make_summary(), dealer, chart=False)
    assert rendered.subject == "Weekoverzicht chat: Autohuis De Vries · week 47, 16–22 november"
    assert "<h1>Autohuis De Vries · week 47, 16–22 november</h1>" in rendered.html
    assert "In één oogopslag" in rendered.text
    assert "Tevredenheid (CSAT, % 4-5)" in rendered.text
    assert "4,3" in rendered.text  # Dutch decimal comma
    assert "Laag beoordeelde gesprekken" in rendered.html
    assert rendered.chart_png is None and "<img" not in rendered.html


def test_zero_denominators_show_n_a_in_every_format(dealer):
    empty = {
        name: Figure(
            name, None if unit in ("share", "mean", "ms", "score") else 0.0, 0, None, None, unit
        )
        for name, (_, _, _, _, unit) in FIGURES.items()
    }
    summary = make_summary(
        **empty,
        potential_estimated=True,
        low_rated=[],
        top_intents=[],
        by_channel={},
        by_language={},
    )
    text = render_text(summary, dealer, language="en")
    share = next(line for line in text.splitlines() if line.startswith("MEC share"))
    assert share.split()[-3:] == ["n/a", "–", "0"]
    assert "0%" not in text
    assert "MEC potential (at least, from chat)" in text
    assert "No conversations rated 1 or 2 this week." in text
    assert "n.v.t." in render_markdown(summary, dealer, language="nl")
    assert "n/a" in render_html(summary, dealer, language="en")
    assert "0%" not in render_html(summary, dealer, language="en")


def test_nps_shown_only_when_asked(dealer):
    summary = make_summary(nps=Figure("nps", 20.0, 15, 10.0, 10.0, "score"))
    line = next(
        x for x in render_text(summary, dealer, language="en").splitlines() if x.startswith("NPS")
    )
    assert line.split()[-5:] == ["+20", "+10", "→", "+20", "15"]  # n 15: no change in points


def test_estimated_potential_is_marked_everywhere(dealer):
    rendered = render_summary(
        make_summary(potential_estimated=True), dealer, language="nl", chart=False
    )
    for body in (rendered.text, rendered.markdown, rendered.html):
        assert "MEC-potentieel (minstens, uit de chat)" in re.sub(r"<[^>]+>", "", body)
        assert "het potentieel is minstens" in body


def test_customer_text_is_escaped_in_html(dealer):
    page = render_html(make_summary(), dealer, language="en", dashboard_url="https://dash.example")
    assert "<img src=x" not in page
    assert html.escape(NASTY) in page
    assert '<a href="https://dash.example/conversations/' + "c" * 32 + '">' in page
    assert "WhatsApp" in page and "handed off" in page
    assert "Wed 18 Nov 12:05" in page  # the dealer's local time, in the local style


def test_customer_text_is_inert_in_markdown(dealer):
    md = render_markdown(make_summary(), dealer, language="en")
    row = next(line for line in md.splitlines() if "Wed 18 Nov 12:05" in line)
    assert "<img" not in row and "](http://evil)" not in row
    assert row.count(" | ") == 5  # the comment's pipe does not add a column
    assert "\\|" in row and "&lt;img" in row


def test_low_rated_and_top_intents(dealer):
    text = render_text(make_summary(), dealer, language="nl")
    assert "cccccccccccc" in text and "dddddddddddd" in text  # short ids to find them
    asked = text.split("Waar klanten het meest naar vroegen")[1]
    assert asked.index("werkplaatsafspraak maken") < asked.index("prijs")
    assert "some new intent" in asked


FALLBACK_TITLES = {"nl": "Berichten die de bot niet begreep",
                   "en": "Messages the bot did not understand"}  # fmt: skip
SHORT = LONG.strip()[:119] + "…"  # whitespace collapsed, cut at 120 characters


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_top_fallbacks_in_every_format_with_their_n(dealer, lang):
    rendered = render_summary(make_summary(), dealer, language=lang, chart=False)
    count, conversation = ("Aantal", "Gesprek") if lang == "nl" else ("Count", "Conversation")
    for body in (rendered.text, rendered.markdown, rendered.html):
        assert body.count(FALLBACK_TITLES[lang]) == 1
        section = body.split(FALLBACK_TITLES[lang])[1]
        assert count in section and conversation in section
        assert section.index("winterbanden") < section.index("alert") < section.index(SHORT)
        assert LONG.strip() not in section  # cut for display
    text = rendered.text.split(FALLBACK_TITLES[lang])[1].splitlines()
    row = next(x for x in text if x.startswith("Heb je ook winterbanden?"))
    assert row.split()[-2:] == ["3", "eeeeeeeeeeee"]
    assert next(x for x in text if x.startswith(SHORT)).split()[-2:] == ["1", "gggggggggggg"]
    md = rendered.markdown.split(FALLBACK_TITLES[lang])[1].splitlines()
    assert "| Heb je ook winterbanden? | 3 | `eeeeeeeeeeee` |" in md
    assert '<td>Heb je ook winterbanden?</td><td class="num">3</td>' in rendered.html


def test_top_fallbacks_are_escaped(dealer):
    page = render_html(make_summary(), dealer, language="en", dashboard_url="https://dash.example")
    assert "<script>" not in page
    assert f'<td>{html.escape(SCRIPT)}</td><td class="num">2</td>' in page
    assert '<a href="https://dash.example/conversations/' + "f" * 32 + '">' in page
    md = render_markdown(make_summary(), dealer, language="en")
    row = next(line for line in md.splitlines() if "script" in line)
    assert "<script>" not in row and "&lt;script&gt;" in row
    assert row.count(" | ") == 2 and "\\|" in row  # the message's pipe adds no column
    text = render_text(make_summary(), dealer, language="en")
    assert SCRIPT in text  # plain text shows the message as written


def test_a_week_without_fallbacks_says_so(dealer):
    summary = make_summary(top_fallbacks=[])
    for lang, none in (("nl", "Geen onbegrepen berichten deze week."),
                       ("en", "No messages the bot did not understand this week.")):  # fmt: skip
        rendered = render_summary(summary, dealer, language=lang, chart=False)
        for body in (rendered.text, rendered.markdown, rendered.html):
            assert FALLBACK_TITLES[lang] in body and none in body
        assert f"<p>{none}</p>" in rendered.html


def test_breakdowns_by_channel_and_language(dealer):
    text = render_text(make_summary(), dealer, language="en")
    by_channel = text.split("By channel")[1].split("By language")[0]
    web = next(x for x in by_channel.splitlines() if x.startswith("website"))
    assert web.split() == ["website", "30", "25", "22", "7", "80%", "10"]
    whatsapp = next(x for x in by_channel.splitlines() if x.startswith("WhatsApp"))
    assert whatsapp.split()[-2:] == ["n/a", "0"]


def test_render_summary_inlines_the_chart_by_content_id(dealer):
    rendered = render_summary(make_summary(), dealer, language="en")
    assert rendered.chart_png.startswith(b"\x89PNG\r\n\x1a\n")
    assert f'src="cid:{rendered.chart_cid}"' in rendered.html
    assert f'src="{rendered.chart_file}"' in rendered.outbox_html
    assert f"]({rendered.chart_file})" in rendered.markdown


def test_chart_is_a_png_of_the_trend_with_gaps():
    matplotlib = pytest.importorskip("matplotlib")
    assert matplotlib.get_backend()  # any backend: the chart never uses pyplot
    trend = [
        TrendPoint(f"2026-W{w}", w, None if w == 40 else 3 * w, None if w == 41 else 0.7, None)
        for w in range(36, 48)
    ]
    png = render_chart(trend, "nl", potential_estimated=True)
    from matplotlib.image import imread

    image = imread(io.BytesIO(png), format="png")
    assert image.shape[0] > 300 and image.shape[1] > 600


# -- the action first: the digest -----------------------------------------------------------------


def make_digest(mec=1, previous=3, potential=None, estimated=False, share=None, todos=()):
    from metrics.digest import Digest, Sentence

    sentence = Sentence("2026-W47", mec, previous, potential, estimated, share)
    return Digest("autohuis-demo", "2026-W47", sentence, list(todos),
                  low_rated_total=sum(t.kind == "csat_low" for t in todos),
                  open_total=sum(t.kind == "open_item" for t in todos))  # fmt: skip


def test_digest_sentence_variants():
    from metrics.report.render import digest_sentence

    assert digest_sentence(make_digest(), "nl") == (
        "Deze week 1 klant gesproken via chat, 2 minder dan vorige week; uw potentieel voor "
        "deze week is niet bekend."
    )
    assert digest_sentence(make_digest(5, 5, 0), "en") == (
        "This week you spoke with 5 customers by chat, as many as last week; your potential "
        "for this week is 0."
    )
    assert digest_sentence(make_digest(42, 34, 135, False, 42 / 135), "nl") == (
        "Deze week 42 klanten gesproken via chat, 8 meer dan vorige week; dat is 31% van uw "
        "potentieel van 135."
    )
    # an estimate from the chat is a floor: no share against it (not "200 %")
    assert digest_sentence(make_digest(6, 2, 3, True, None), "en") == (
        "This week you spoke with 6 customers by chat, 4 more than last week; your potential is "
        "at least 3 (estimated from the chat: import your counts for a real share)."
    )


def test_digest_with_nothing_to_do_says_so():
    from metrics.report.render import render_digest_html, render_digest_text

    lines = render_digest_text(make_digest(), "nl", None, AMS).splitlines()
    assert lines[1:4] == ["", "Te doen", "Niets te doen: geen lage beoordelingen, open leads of "
                          "onbegrepen berichten."]  # fmt: skip
    assert 'id="todo-nothing"' in render_digest_html(make_digest(), "en", "", AMS)


def test_digest_escapes_customer_text_and_links_only_with_a_dashboard():
    from metrics.digest import Contact, ToDo
    from metrics.report.render import render_digest_html, render_digest_text

    when = dt.datetime(2026, 11, 18, 14, 5, tzinfo=AMS)
    todos = [
        ToDo("csat_low", conversation_id="abc", at=when, channel="web", score=1, comment=NASTY,
             contact=Contact(name=SCRIPT)),
        ToDo("open_item", conversation_id="abc", item_id="lead1", lead_kind="financing",
             status="new", at=when, contact=Contact(email="a@b.example")),
        ToDo("not_understood", conversation_id="abc", text=SCRIPT, count=4, language="nl"),
    ]  # fmt: skip
    digest = make_digest(todos=todos)
    page = render_digest_html(digest, "en", "https://dash.example", AMS)
    assert "<script>" not in page and "<img" not in page and "&lt;script&gt;" in page
    assert '<a href="https://dash.example/conversations/abc">conversation abc</a>' in page
    # without a dashboard: no links, but the reference the erasure finds outbox files by
    assert "conversation <code>abc</code>" in render_digest_html(digest, "en", None, AMS)
    assert 'href="https://dash.example/d/autohuis-demo/inbox/lead/lead1"' in page
    text = render_digest_text(digest, "en", None, AMS)
    assert "http" not in text.replace("http://evil", "")  # no dashboard: no links
    assert "- CSAT 1 · Wed 18 Nov 14:05 · website · " in text
    assert "- financing · new · since Wed 18 Nov 14:05 · a@b.example · conversation abc\n" in text
    assert f'- "{SCRIPT}" (4×)' in text


def test_the_chart_leaves_out_the_weeks_before_the_first_data_and_labels_both_axes():
    pytest.importorskip("matplotlib")
    empty = [TrendPoint(f"2026-W{w}", 0, None, None, None) for w in range(36, 44)]
    data = [TrendPoint(f"2026-W{w}", 5, 10, 0.8, 5.5) for w in range(44, 48)]
    assert with_data(empty + data) == data
    figure = chart_figure(empty + data, "nl")
    top, bottom, right = figure.axes
    assert [t.get_text() for t in bottom.get_xticklabels()] == ["44", "45", "46", "47"]
    assert right.get_ylabel() == "CES (1-7)" and bottom.get_ylabel() == "CSAT (% 4-5)"


def test_an_empty_chart_has_no_axis_around_zero():
    pytest.importorskip("matplotlib")
    empty = [TrendPoint(f"2026-W{w}", 0, None, None, None) for w in range(36, 48)]
    top = chart_figure(empty, "en").axes[0]
    low, high = top.get_ylim()
    assert low == 0 and high >= 1  # not -0.04 .. 0.04
    assert any("No data" in t.get_text() for t in top.texts)
    assert render_chart(empty, "en").startswith(b"\x89PNG")


def test_one_section_model_feeds_every_format(dealer):
    from metrics.digest import ToDo
    from metrics.report.render import summary_model

    when = dt.datetime(2026, 11, 18, 14, 5, tzinfo=AMS)
    todos = [ToDo("csat_low", conversation_id="abc", at=when, channel="web", score=1)]
    digest = dataclasses.replace(make_digest(todos=todos), low_rated_total=3)  # 1 of 3 shown
    model = summary_model(make_summary(), dealer, "en", "https://dash.example", digest)
    assert [r.key for r in model.headline][:2] == ["mec", "mec_potential"]
    assert [b.title for b in model.breakdowns] == ["By channel", "By language"]
    assert model.low_rated[0].comment == NASTY  # unescaped: each template escapes for its format
    assert model.low_rated[0].link == "https://dash.example/conversations/" + "c" * 32
    # the digest: only the sections with lines; the rest of the low ratings behind one link
    (section,) = model.digest.sections
    assert (section.key, section.more) == (
        "csat_low",
        "and 2 more, all conversations rated CSAT 1-2",
    )
    assert section.more_link.endswith("/d/autohuis-demo/conversations?week=2026-W47&list=csat_low")
    text = render_text(make_summary(), dealer, language="en", dashboard_url="https://dash.example",
                       digest=digest)  # fmt: skip
    assert f"- {section.more}: {section.more_link}" in text
