"""The weekly summary as a terminal table, HTML e-mail/page and Markdown, in nl or en.

Every renderer works from the same rows (``headline_rows`` / ``detail_rows``), so the three
formats always show the same figures. A ratio without a denominator shows "n/a" ("n.v.t."),
never 0 %. All customer text is escaped for the format it goes into.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from core.periods import dealer_timezone
from dealer.i18n import lang_or_default
from metrics.digest import Digest
from metrics.figures import BY_NAME, DETAILS, HEADLINE
from metrics.formulas import share
from metrics.report.dates import local_datetime, week_title
from metrics.report.glossary import explain, legend

# Figures come from metrics.summary.WeeklySummary; which, in what order, with what labels and
# units: metrics.figures (HEADLINE, DETAILS, FIGURES). Shares are 0-1; the change of a count is
# relative (0.25 = +25%), of the others a difference (shares in percentage points).

TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "subject": "Weekoverzicht chat: {title}",
        "title": "Weekoverzicht chat",
        "legend": "Afkortingen",
        "volume": "{conversations} gesprekken, waarvan {qualifying} kwalificerend voor MEC.",
        "figure": "Cijfer",
        "value": "Deze week",
        "change": "t.o.v. vorige week",
        "n": "n",
        "headline": "In één oogopslag",
        "details": "Meer cijfers",
        "by_channel": "Per kanaal",
        "by_language": "Per taal",
        "chart": "De afgelopen 12 weken",
        "chart_alt": "Grafiek: MEC tegenover potentieel, CSAT en CES over 12 weken",
        "low_rated": "Laag beoordeelde gesprekken (CSAT 1-2)",
        "no_low_rated": "Geen gesprekken met CSAT 1 of 2 deze week.",
        "asked": "Waar klanten het meest naar vroegen",
        "no_intents": "Geen vragen herkend deze week.",
        "fallbacks": "Berichten die de bot niet begreep",
        "no_fallbacks": "Geen onbegrepen berichten deze week.",
        "message": "Bericht",
        "date": "Datum",
        "channel": "Kanaal",
        "outcome": "Uitkomst",
        "comment": "Opmerking",
        "conversation": "Gesprek",
        "question": "Vraag",
        "count": "Aantal",
        "estimated": "minstens, uit de chat",
        "spread": "verdeeld naar dagen",
        "estimated_note": (
            "Er zijn geen aantallen uit het dealersysteem aangeleverd: het potentieel is minstens "
            "het aantal afspraken en leads via de chat (een ondergrens, niet het potentieel). "
            "Het MEC-aandeel volgt zodra de aantallen zijn aangeleverd."
        ),
        "returning": "Terugkerende contacten",
        "n_a": "n.v.t.",
        "no_change": "–",
        "dashboard": "Dashboard",
        "footer": (
            "MEC: unieke contacten met minstens één kwalificerend gesprek. Potentieel: "
            "werkplaatsafspraken + verkoopleads uit alle bronnen. n = aantal waarnemingen."
        ),
        "sep": ",",
    },
    "en": {
        "subject": "Weekly chat summary: {title}",
        "title": "Weekly chat summary",
        "legend": "Abbreviations",
        "volume": "{conversations} conversations, {qualifying} of them qualifying for MEC.",
        "figure": "Figure",
        "value": "This week",
        "change": "vs last week",
        "n": "n",
        "headline": "At a glance",
        "details": "More figures",
        "by_channel": "By channel",
        "by_language": "By language",
        "chart": "The last 12 weeks",
        "chart_alt": "Chart: MEC against potential, CSAT and CES over 12 weeks",
        "low_rated": "Low-rated conversations (CSAT 1-2)",
        "no_low_rated": "No conversations rated 1 or 2 this week.",
        "asked": "What customers asked most",
        "no_intents": "No questions recognised this week.",
        "fallbacks": "Messages the bot did not understand",
        "no_fallbacks": "No messages the bot did not understand this week.",
        "message": "Message",
        "date": "Date",
        "channel": "Channel",
        "outcome": "Outcome",
        "comment": "Comment",
        "conversation": "Conversation",
        "question": "Question",
        "count": "Count",
        "estimated": "at least, from chat",
        "spread": "spread by days",
        "estimated_note": (
            "No counts were supplied from the dealer system: the potential is at least the "
            "appointments and leads made in chat (a floor, not the potential). The MEC share "
            "follows once the counts are supplied."
        ),
        "returning": "Returning contacts",
        "n_a": "n/a",
        "no_change": "–",
        "dashboard": "Dashboard",
        "footer": (
            "MEC: distinct contacts with at least one qualifying conversation. Potential: "
            "service appointments + sales leads from all sources. n = number of observations."
        ),
        "sep": ".",
    },
}


OUTCOME_LABELS = {
    "appointment_booked": {"nl": "afspraak gemaakt", "en": "appointment booked"},
    "appointment_changed": {"nl": "afspraak verzet", "en": "appointment changed"},
    "appointment_cancelled": {"nl": "afspraak geannuleerd", "en": "appointment cancelled"},
    "test_drive_booked": {"nl": "proefrit gepland", "en": "test drive booked"},
    "lead_created": {"nl": "lead", "en": "lead"},
    "handed_off": {"nl": "doorverbonden", "en": "handed off"},
    "self_served": {"nl": "zelf geholpen", "en": "self-served"},
    "abandoned": {"nl": "afgebroken", "en": "abandoned"},
    "out_of_scope": {"nl": "buiten onderwerp", "en": "out of scope"},
}

INTENT_LABELS = {
    "book_service": {"nl": "werkplaatsafspraak maken", "en": "book a service"},
    "reschedule_appointment": {"nl": "afspraak verzetten", "en": "move an appointment"},
    "cancel_appointment": {"nl": "afspraak annuleren", "en": "cancel an appointment"},
    "ask_opening_hours": {"nl": "openingstijden", "en": "opening hours"},
    "ask_location": {"nl": "adres en route", "en": "address and directions"},
    "ask_car_availability": {"nl": "auto op voorraad?", "en": "car in stock?"},
    "ask_price": {"nl": "prijs", "en": "price"},
    "book_test_drive": {"nl": "proefrit", "en": "test drive"},
    "trade_in": {"nl": "inruil", "en": "trade-in"},
    "ask_financing": {"nl": "financiering", "en": "financing"},
    "request_human": {"nl": "medewerker spreken", "en": "speak to a person"},
    "ask_unanswerable": {"nl": "vraag voor een collega", "en": "question for a colleague"},
    "nlu_fallback": {"nl": "niet begrepen", "en": "not understood"},
}

CHANNEL_LABELS = {
    "web": {"nl": "website", "en": "website"},
    "whatsapp": {"nl": "WhatsApp", "en": "WhatsApp"},
}
LANGUAGE_LABELS = {
    "nl": {"nl": "Nederlands", "en": "Dutch"},
    "en": {"nl": "Engels", "en": "English"},
}


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    value: str
    change: str
    n: str


@dataclass(frozen=True)
class RenderedSummary:
    subject: str
    text: str  # plain text: the e-mail's text part and the terminal table
    html: str  # the e-mail's HTML part; the chart as cid:<chart_cid>
    outbox_html: str  # the same page; the chart as a file next to it
    markdown: str
    chart_png: bytes | None
    chart_cid: str
    chart_file: str


def language_of(language: str | None) -> str:
    """The report's language: ``dealer.i18n.lang_or_default`` (every language has ``TEXTS``)."""
    return lang_or_default(language)


# -- numbers --------------------------------------------------------------------------------------


def _decimal(value: float, digits: int, lang: str) -> str:
    # Half up, as people round (4.25 -> 4.3), not Python's half-to-even on binary floats.
    exact = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
    return f"{exact:.{digits}f}".replace(".", TEXTS[lang]["sep"])


def format_value(unit: str, value: Any, lang: str) -> str:
    """One figure for display; None (no data, or a ratio over 0) is "n/a" ("n.v.t.")."""
    if value is None:
        return TEXTS[lang]["n_a"]
    if unit == "share":
        return f"{_decimal(100 * value, 0, lang)}%"
    if unit == "mean":
        return _decimal(value, 1, lang)
    if unit == "ms":
        return f"{_decimal(value / 1000, 1, lang)} s"
    if unit == "min":
        return f"{_decimal(value, 1, lang)} min"
    if unit == "score":
        return f"{value:+.0f}"
    return f"{value:.0f}"


def format_change(unit: str, change: Any, lang: str) -> str:
    """The change from last week: relative for counts, percentage points for shares, the
    figure's own unit otherwise; "–" when last week had no value to compare with."""
    if change is None:
        return TEXTS[lang]["no_change"]
    if unit == "count":
        return _signed(f"{_decimal(100 * change, 0, lang)}%")
    if unit == "share":
        return _signed(f"{_decimal(100 * change, 0, lang)} pp")
    if unit == "mean":
        return _signed(_decimal(change, 1, lang))
    if unit == "ms":
        return _signed(f"{_decimal(change / 1000, 1, lang)} s")
    if unit == "min":
        return _signed(f"{_decimal(change, 1, lang)} min")
    return _signed(f"{change:.0f}")


MIN_N_FOR_CHANGE = 20  # below this n a change is shown as "last week → this week", not as a %


def change_text(fig: Any, lang: str) -> str:
    """A figure's "vs last week": ``format_change`` from ``MIN_N_FOR_CHANGE`` on; below it the
    two values themselves (``5 → 8``), so n = 5 never reads as "+60%". For a count the small
    number is the count of either week, for the others the figure's n this week."""
    if fig.change is None or fig.previous is None or fig.value is None:
        return format_change(fig.unit, fig.change, lang)
    small = (min(fig.previous, fig.value) < MIN_N_FOR_CHANGE if fig.unit == "count"
             else fig.n < MIN_N_FOR_CHANGE)  # fmt: skip
    if not small:
        return format_change(fig.unit, fig.change, lang)
    before, now = (format_value(fig.unit, v, lang) for v in (fig.previous, fig.value))
    return f"{before} → {now}"


def _signed(text: str) -> str:
    if not any(ch in "123456789" for ch in text):
        return text.lstrip("-")  # -0 and 0 read as no change, without a sign
    return text if text.startswith("-") else f"+{text}"


# -- reading the summary --------------------------------------------------------------------------


def figure(summary: Any, key: str) -> Any:
    """A ``Figure`` of the summary by name, or None when the summary has none."""
    return getattr(summary, key, None)


def period_dates(summary: Any) -> tuple[dt.date, dt.date]:
    """First and last day (inclusive) of the summary's week."""
    return summary.start, summary.end


def _row(summary: Any, key: str, lang: str) -> Row | None:
    fig = figure(summary, key)
    if fig is None:
        return None
    label = BY_NAME[key].labels[lang] if key in BY_NAME else key
    if key == "mec_potential" and summary.potential_estimated:
        label = f"{label} ({TEXTS[lang]['estimated']})"
    elif key == "mec_potential" and getattr(summary, "potential_spread", None):
        label = f"{label} ({TEXTS[lang]['spread']}: {summary.potential_spread})"
    return Row(
        key=key,
        label=label,
        value=format_value(fig.unit, fig.value, lang),
        change=change_text(fig, lang),
        n=str(fig.n),
    )


def headline_rows(summary: Any, lang: str) -> list[Row]:
    return [r for r in (_row(summary, k, lang) for k in HEADLINE) if r is not None]


def detail_rows(summary: Any, lang: str) -> list[Row]:
    # e.g. NPS only where the survey asked for it (no answers: the question was not asked)
    keys = [k for k in DETAILS if not (BY_NAME[k].only_if_observed and not figure(summary, k).n)]
    return [r for r in (_row(summary, k, lang) for k in keys) if r is not None]


BREAKDOWN_HEADERS = {
    "nl": ("gesprekken", "kwalificerend", "MEC", "afspraken", "CSAT (% 4-5)", "n CSAT"),
    "en": ("conversations", "qualifying", "MEC", "appointments", "CSAT (% 4-5)", "n CSAT"),
}


def breakdown_rows(summary: Any, attribute: str, lang: str) -> list[tuple[str, list[str]]]:
    """Rows of a breakdown (``by_channel`` / ``by_language``): (label, cells)."""
    labels = CHANNEL_LABELS if attribute == "by_channel" else LANGUAGE_LABELS
    rows = []
    for key, counts in (getattr(summary, attribute, None) or {}).items():
        csat = share(counts.get("csat_4_5", 0), counts.get("csat_n", 0)).value
        cells = [str(counts.get(name, 0)) for name in
                 ("conversations", "qualifying", "mec", "appointments_booked")]  # fmt: skip
        cells += [format_value("share", csat, lang), str(counts.get("csat_n", 0))]
        rows.append((labels.get(key, {}).get(lang, str(key)), cells))
    return rows


def intent_label(intent: str, lang: str) -> str:
    return INTENT_LABELS.get(intent, {}).get(lang, intent.replace("_", " "))


def channel_label(channel: str, lang: str) -> str:
    return CHANNEL_LABELS.get(channel, {}).get(lang, channel)


def outcome_label(outcome: str, lang: str) -> str:
    return OUTCOME_LABELS.get(outcome, {}).get(lang, outcome)


def local_time(moment: dt.datetime, tz: ZoneInfo) -> str:
    """A stored naive-UTC (or aware) time as 'YYYY-MM-DD HH:MM' in the dealer's time zone."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
    return aware.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def conversation_ref(conversation_id: str, dashboard_url: str | None) -> tuple[str, str | None]:
    """(short id shown, link or None). The short id is enough to find it in the store."""
    link = f"{dashboard_url}/conversations/{conversation_id}" if dashboard_url else None
    return conversation_id[:12], link


# -- the three formats ----------------------------------------------------------------------------


def _single_line(text: str | None, limit: int = 300) -> str:
    flat = re.sub(r"\s+", " ", text or "").strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


FALLBACK_CHARS = 120  # a fallback message longer than this is cut, with an ellipsis


def _fallbacks(summary: Any) -> list[Any]:
    """The summary's top fallback messages (``metrics.summary.FallbackMessage``)."""
    return list(getattr(summary, "top_fallbacks", None) or ())


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], right: set[int]) -> list[str]:
    rows = [list(r) for r in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=False))
        ).rstrip()

    return [line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


@dataclass(frozen=True)
class _Context:
    lang: str
    t: dict[str, str]
    dealer_name: str
    tz: ZoneInfo
    week_title: str  # "Autohuis De Vries · week 47, 16–22 november"
    dashboard_url: str | None
    volume: str  # "N conversations, M qualifying"


def _context(summary: Any, dealer: Any, language: str | None, dashboard_url: str | None):
    lang = language_of(language or getattr(dealer, "report_language", None))
    dealer_name = getattr(dealer, "name", None) or summary.dealer_id
    return _Context(
        lang=lang,
        t=TEXTS[lang],
        dealer_name=dealer_name,
        tz=getattr(dealer, "timezone", None) or dealer_timezone(summary.dealer_id),
        week_title=week_title(dealer_name, summary.week, lang),
        dashboard_url=dashboard_url,
        volume=TEXTS[lang]["volume"].format(
            conversations=summary.conversations, qualifying=summary.qualifying
        ),
    )


def _legend(summary: Any, lang: str) -> list[tuple[str, str]]:
    """The abbreviations the summary's figure labels and tables use, explained (the legend)."""
    labels = " ".join(r.label for r in headline_rows(summary, lang) + detail_rows(summary, lang))
    return legend(f"{labels} CSAT {' '.join(BREAKDOWN_HEADERS[lang])}", lang)


def _legend_html(summary: Any, c: _Context) -> str:
    items = "".join(f"<li><abbr>{html.escape(a)}</abbr>: {html.escape(text)}</li>"
                    for a, text in _legend(summary, c.lang))  # fmt: skip
    return f'<h2>{html.escape(c.t["legend"])}</h2><ul class="muted" id="legend">{items}</ul>'


def render_text(
    summary: Any,
    dealer: Any = None,
    *,
    language: str | None = None,
    dashboard_url: str | None = None,
    digest: Digest | None = None,
) -> str:
    """The summary as plain text tables (the terminal view and the e-mail's text part); the
    ``digest`` (the action first: sentence and to-do list), when given, comes first."""
    c = _context(summary, dealer, language, dashboard_url)
    t = c.t
    head = render_digest_text(digest, c.lang, c.dashboard_url, c.tz) if digest else ""
    out = [c.week_title, t["title"], c.volume, ""]
    headers = (t["figure"], t["value"], t["change"], t["n"])
    for title, figures in (
        (t["headline"], headline_rows(summary, c.lang)),
        (t["details"], detail_rows(summary, c.lang)),
    ):
        out += [
            title,
            *_table(headers, [(r.label, r.value, r.change, r.n) for r in figures], {1, 2, 3}),
            "",
        ]
    if getattr(summary, "potential_estimated", False):
        out += [f"* {t['estimated_note']}", ""]
    for attribute in ("by_channel", "by_language"):
        breakdown = breakdown_rows(summary, attribute, c.lang)
        if breakdown:
            out += [
                t[attribute],
                *_table(
                    ("", *BREAKDOWN_HEADERS[c.lang]),
                    [(lb, *cells) for lb, cells in breakdown],
                    {1, 2, 3, 4, 5, 6},
                ),
                "",
            ]
    out.append(t["low_rated"])
    low = list(getattr(summary, "low_rated", None) or ())
    if low:
        out += _table(
            (t["date"], t["channel"], t["outcome"], "CSAT", t["conversation"], t["comment"]),
            [
                (
                    local_datetime(x.started_at, c.tz, c.lang, "short"),
                    channel_label(x.channel, c.lang),
                    outcome_label(x.outcome, c.lang),
                    str(x.csat),
                    conversation_ref(x.conversation_id, None)[0],
                    _single_line(x.comment, 80),
                )
                for x in low
            ],
            {3},
        )
    else:
        out.append(t["no_low_rated"])
    out += ["", t["asked"]]
    intents = list(getattr(summary, "top_intents", None) or ())
    if intents:
        out += _table(
            (t["question"], t["count"]),
            [(intent_label(i, c.lang), str(n)) for i, n in intents],
            {1},
        )
    else:
        out.append(t["no_intents"])
    out += ["", t["fallbacks"]]
    fallbacks = _fallbacks(summary)
    if fallbacks:
        out += _table(
            (t["message"], t["count"], t["conversation"]),
            [
                (
                    _single_line(x.text, FALLBACK_CHARS),
                    str(x.count),
                    conversation_ref(x.conversation_id, None)[0],
                )
                for x in fallbacks
            ],
            {1},
        )
    else:
        out.append(t["no_fallbacks"])
    if c.dashboard_url:
        out += ["", f"{t['dashboard']}: {c.dashboard_url}"]
    out += ["", t["legend"], *(f"{a}: {text}" for a, text in _legend(summary, c.lang))]
    out += ["", t["footer"]]
    return head + "\n".join(out) + "\n"


def _md(text: str | None) -> str:
    """Customer text made inert in Markdown: no markup, no HTML, no table breaks."""
    flat = html.escape(_single_line(text), quote=False)
    return re.sub(r"([\\`*_{}\[\]()#+!|~>-])", r"\\\1", flat)


def render_markdown(
    summary: Any,
    dealer: Any = None,
    *,
    language: str | None = None,
    dashboard_url: str | None = None,
    chart_file: str | None = None,
) -> str:
    """The summary as Markdown (outbox), the chart as an image next to the file."""
    c = _context(summary, dealer, language, dashboard_url)
    t = c.t
    out = [
        f"# {_md(c.week_title)}",
        "",
        f"{t['title']}. {c.volume}",
        "",
    ]

    def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        return lines + ["| " + " | ".join(r) + " |" for r in rows]

    headers = (t["figure"], t["value"], t["change"], t["n"])
    for title, figures in (
        (t["headline"], headline_rows(summary, c.lang)),
        (t["details"], detail_rows(summary, c.lang)),
    ):
        out += [
            f"## {title}",
            "",
            *table(headers, [(r.label, r.value, r.change, r.n) for r in figures]),
            "",
        ]
    if getattr(summary, "potential_estimated", False):
        out += [f"*{t['estimated_note']}*", ""]
    for attribute in ("by_channel", "by_language"):
        breakdown = breakdown_rows(summary, attribute, c.lang)
        if breakdown:
            out += [
                f"## {t[attribute]}",
                "",
                *table(("", *BREAKDOWN_HEADERS[c.lang]), [(lb, *cl) for lb, cl in breakdown]),
                "",
            ]
    if chart_file:
        out += [f"## {t['chart']}", "", f"![{t['chart_alt']}]({chart_file})", ""]
    out += [f"## {t['low_rated']}", ""]
    low = list(getattr(summary, "low_rated", None) or ())
    if low:
        rows = []
        for x in low:
            ref, link = conversation_ref(x.conversation_id, c.dashboard_url)
            rows.append(
                (
                    local_datetime(x.started_at, c.tz, c.lang, "short"),
                    _md(channel_label(x.channel, c.lang)),
                    outcome_label(x.outcome, c.lang),
                    str(x.csat),
                    f"[{ref}]({link})" if link else f"`{ref}`",
                    _md(x.comment),
                )
            )
        out += table(
            (t["date"], t["channel"], t["outcome"], "CSAT", t["conversation"], t["comment"]), rows
        )
    else:
        out.append(t["no_low_rated"])
    out += ["", f"## {t['asked']}", ""]
    intents = list(getattr(summary, "top_intents", None) or ())
    if intents:
        out += table(
            (t["question"], t["count"]),
            [(_md(intent_label(i, c.lang)), str(n)) for i, n in intents],
        )
    else:
        out.append(t["no_intents"])
    out += ["", f"## {t['fallbacks']}", ""]
    fallbacks = _fallbacks(summary)
    if fallbacks:
        fallback_rows = []
        for x in fallbacks:
            ref, link = conversation_ref(x.conversation_id, c.dashboard_url)
            fallback_rows.append(
                (
                    _md(_single_line(x.text, FALLBACK_CHARS)),
                    str(x.count),
                    f"[{ref}]({link})" if link else f"`{ref}`",
                )
            )
        out += table((t["message"], t["count"], t["conversation"]), fallback_rows)
    else:
        out.append(t["no_fallbacks"])
    out += ["", f"## {t['legend']}", "", *(f"- **{a}**: {text}" for a, text in
                                            _legend(summary, c.lang))]  # fmt: skip
    out += ["", f"_{t['footer']}_", ""]
    return "\n".join(out)


STYLE = (
    "body{font-family:Arial,Helvetica,sans-serif;color:#222;max-width:760px}"
    "table{border-collapse:collapse;margin:4px 0 16px}"
    "th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;font-size:14px}"
    "td.num{text-align:right;white-space:nowrap}h2{font-size:17px;margin-top:22px}"
    ".muted{color:#666;font-size:12px}"
)


def render_html(
    summary: Any,
    dealer: Any = None,
    *,
    language: str | None = None,
    dashboard_url: str | None = None,
    chart_src: str | None = None,
    digest: Digest | None = None,
) -> str:
    """The summary as an HTML page; ``chart_src`` is ``cid:...`` in e-mail, a file name on disk;
    the ``digest`` (the action first), when given, opens the body."""
    c = _context(summary, dealer, language, dashboard_url)
    t = c.t
    e = html.escape

    def table(headers: Sequence[str], rows: Iterable[Sequence[str]], right: set[int]) -> str:
        # cells are already-escaped HTML
        head = "".join(f"<th>{h}</th>" for h in headers)
        body = "".join(
            "<tr>"
            + "".join(
                f'<td class="num">{cell}</td>' if i in right else f"<td>{cell}</td>"
                for i, cell in enumerate(row)
            )
            + "</tr>"
            for row in rows
        )
        return f"<table><tr>{head}</tr>{body}</table>"

    parts = [
        f'<!DOCTYPE html><html lang="{c.lang}"><head><meta charset="utf-8">'
        f"<title>{e(c.week_title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{e(c.week_title)}</h1>",
        f"<p>{e(t['title'])}<br>{e(c.volume)}</p>",
    ]
    if digest is not None:  # the action first: right after <body>, before the title
        parts.insert(1, render_digest_html(digest, c.lang, c.dashboard_url, c.tz))
    headers = [e(h) for h in (t["figure"], t["value"], t["change"], t["n"])]
    for title_text, figures in (
        (t["headline"], headline_rows(summary, c.lang)),
        (t["details"], detail_rows(summary, c.lang)),
    ):
        parts.append(f"<h2>{e(title_text)}</h2>")
        parts.append(
            table(
                headers,
                [(explain(r.label, c.lang), e(r.value), e(r.change), e(r.n)) for r in figures],
                {1, 2, 3},
            )  # fmt: skip
        )
        if title_text == t["headline"] and getattr(summary, "potential_estimated", False):
            parts.append(f'<p class="muted">{e(t["estimated_note"])}</p>')
    if chart_src:
        parts.append(f"<h2>{e(t['chart'])}</h2>")
        parts.append(f'<img src="{e(chart_src)}" alt="{e(t["chart_alt"])}" width="640">')
    for attribute in ("by_channel", "by_language"):
        breakdown = breakdown_rows(summary, attribute, c.lang)
        if breakdown:
            parts.append(f"<h2>{e(t[attribute])}</h2>")
            parts.append(
                table(
                    ["", *(explain(h, c.lang) for h in BREAKDOWN_HEADERS[c.lang])],
                    [(e(lb), *(e(x) for x in cl)) for lb, cl in breakdown],
                    {1, 2, 3, 4, 5, 6},
                )
            )
    parts.append(f"<h2>{e(t['low_rated'])}</h2>")
    low = list(getattr(summary, "low_rated", None) or ())
    if low:
        rows = []
        for x in low:
            ref, link = conversation_ref(x.conversation_id, c.dashboard_url)
            ref_html = f'<a href="{e(link)}">{e(ref)}</a>' if link else f"<code>{e(ref)}</code>"
            rows.append(
                (
                    e(local_datetime(x.started_at, c.tz, c.lang, "short")),
                    e(channel_label(x.channel, c.lang)),
                    e(outcome_label(x.outcome, c.lang)),
                    e(str(x.csat)),
                    ref_html,
                    e(_single_line(x.comment)),
                )
            )
        parts.append(
            table(
                [
                    explain(h, c.lang)
                    for h in (
                        t["date"],
                        t["channel"],
                        t["outcome"],
                        "CSAT",
                        t["conversation"],
                        t["comment"],
                    )
                ],
                rows,
                {3},
            )
        )
    else:
        parts.append(f"<p>{e(t['no_low_rated'])}</p>")
    parts.append(f"<h2>{e(t['asked'])}</h2>")
    intents = list(getattr(summary, "top_intents", None) or ())
    if intents:
        parts.append(
            table(
                [e(t["question"]), e(t["count"])],
                [(e(intent_label(i, c.lang)), e(str(n))) for i, n in intents],
                {1},
            )
        )
    else:
        parts.append(f"<p>{e(t['no_intents'])}</p>")
    parts.append(f"<h2>{e(t['fallbacks'])}</h2>")
    fallbacks = _fallbacks(summary)
    if fallbacks:
        fallback_rows = []
        for x in fallbacks:
            ref, link = conversation_ref(x.conversation_id, c.dashboard_url)
            ref_html = f'<a href="{e(link)}">{e(ref)}</a>' if link else f"<code>{e(ref)}</code>"
            fallback_rows.append(
                (e(_single_line(x.text, FALLBACK_CHARS)), e(str(x.count)), ref_html)
            )
        parts.append(
            table([e(h) for h in (t["message"], t["count"], t["conversation"])], fallback_rows, {1})
        )
    else:
        parts.append(f"<p>{e(t['no_fallbacks'])}</p>")
    if c.dashboard_url:
        parts.append(f'<p><a href="{e(c.dashboard_url)}">{e(t["dashboard"])}</a></p>')
    parts.append(_legend_html(summary, c))
    parts.append(f'<p class="muted">{e(t["footer"])}</p></body></html>')
    return "\n".join(parts) + "\n"


# -- the action first: the digest (metrics.digest) above the figures ------------------------------

DIGEST_TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "sentence": "Deze week {mec} {customers} gesproken via chat, {difference}{potential}.",
        "customer": "klant",
        "customers": "klanten",
        "more": "{n} meer dan vorige week",
        "fewer": "{n} minder dan vorige week",
        "same": "evenveel als vorige week",
        "share": "; dat is {share} van uw potentieel van {potential}",
        "potential_floor": "; uw potentieel is minstens {potential} (geschat uit de chat: "
        "geef uw aantallen op voor een echt aandeel)",
        "potential_zero": "; uw potentieel voor deze week is 0",
        "potential_unknown": "; uw potentieel voor deze week is niet bekend",
        "todo": "Te doen",
        "nothing": "Niets te doen: geen lage beoordelingen, open leads of onbegrepen berichten.",
        "csat_low": "Ontevreden klanten (CSAT 1-2): neem contact op",
        "no_contact": "geen contactgegevens bekend",
        "more_low": "en nog {n}, alle gesprekken met CSAT 1-2",
        "open_item": "Nog open in de inbox: overdrachten en leads",
        "new": "nieuw",
        "claimed": "opgepakt door {staff}",
        "since": "sinds {at}",
        "more_open": "en nog {n}, in de inbox",
        "not_understood": "Wat de bot het vaakst niet begreep",
        "times": "{count}×",
        "trainer": (
            "Voor de bottrainer: de NLU-inbox zet deze berichten klaar om de bot te leren "
            "(dealerbot trainer inbox, zie docs/training.md)."
        ),
        "open_conversation": "gesprek",
        "open_inbox": "inbox",
        "kind_handoff": "overdracht",
        "kind_test_drive": "proefrit",
        "kind_trade_in": "inruil",
        "kind_financing": "financiering",
        "kind_callback": "terugbelverzoek",
    },
    "en": {
        "sentence": "This week you spoke with {mec} {customers} by chat, {difference}{potential}.",
        "customer": "customer",
        "customers": "customers",
        "more": "{n} more than last week",
        "fewer": "{n} fewer than last week",
        "same": "as many as last week",
        "share": "; that is {share} of your potential of {potential}",
        "potential_floor": "; your potential is at least {potential} (estimated from the chat: "
        "import your counts for a real share)",
        "potential_zero": "; your potential for this week is 0",
        "potential_unknown": "; your potential for this week is not known",
        "todo": "To do",
        "nothing": "Nothing to do: no low ratings, open leads or messages the bot did not "
        "understand.",
        "csat_low": "Unhappy customers (CSAT 1-2): get in touch",
        "no_contact": "no contact details known",
        "more_low": "and {n} more, all conversations rated CSAT 1-2",
        "open_item": "Still open in the inbox: handoffs and leads",
        "new": "new",
        "claimed": "claimed by {staff}",
        "since": "since {at}",
        "more_open": "and {n} more, in the inbox",
        "not_understood": "What the bot most often did not understand",
        "times": "{count}×",
        "trainer": (
            "For the bot trainer: the NLU inbox lists these messages to teach the bot "
            "(dealerbot trainer inbox, see docs/training.md)."
        ),
        "open_conversation": "conversation",
        "open_inbox": "inbox",
        "kind_handoff": "handoff",
        "kind_test_drive": "test drive",
        "kind_trade_in": "trade-in",
        "kind_financing": "financing",
        "kind_callback": "call back",
    },
}
DIGEST_SECTIONS = ("csat_low", "open_item", "not_understood")


def digest_sentence(digest: Digest, lang: str) -> str:
    """The opening sentence: MEC against last week and against the MEC potential."""
    t = DIGEST_TEXTS[lang]
    s = digest.sentence
    if s.difference > 0:
        difference = t["more"].format(n=s.difference)
    elif s.difference < 0:
        difference = t["fewer"].format(n=-s.difference)
    else:
        difference = t["same"]
    if s.potential is None:
        potential = t["potential_unknown"]
    elif s.potential_estimated:  # a floor from the chat's own bookings and leads, no share
        potential = t["potential_floor"].format(potential=s.potential)
    elif s.share is None:
        potential = t["potential_zero"]
    else:
        potential = t["share"].format(share=format_value("share", s.share, lang),
                                      potential=s.potential)  # fmt: skip
    return t["sentence"].format(
        mec=s.mec, customers=t["customer"] if s.mec == 1 else t["customers"],
        difference=difference, potential=potential,
    )  # fmt: skip


@dataclass(frozen=True)
class DigestLine:
    """One to-do line: its text parts and quoted customer text (unescaped), the conversation's
    short reference (always shown: the erasure finds the outbox files that name it,
    ``core.store.privacy.drop_outbox_files``) and the links into the dashboard."""

    parts: tuple[str, ...]
    quoted: str | None  # customer text (a comment, a message), shown in quotes
    ref: str | None  # conversation_ref's short id
    conversation_link: str | None
    item_link: str | None  # an open item in the dashboard's inbox


def _digest_links(digest: Digest, base: str | None) -> dict[str, str | None]:
    """Links into the dashboard; ``base`` is its URL (e-mail; None: no links) or "" (the
    dashboard itself, relative links)."""
    if base is None:
        return {"drill": None, "inbox": None}
    dealer = quote(digest.dealer_id)
    return {
        "drill": f"{base}/d/{dealer}/conversations?week={digest.week}&list=csat_low",
        "inbox": f"{base}/d/{dealer}/inbox",
    }


def _contact_parts(contact: Any, t: dict[str, str]) -> tuple[str, ...]:
    parts = tuple(p for p in (contact.name, contact.phone, contact.email) if p)
    return parts or (t["no_contact"],)


def digest_lines(digest: Digest, lang: str, base: str | None, tz: ZoneInfo) -> dict[str, list]:
    """The to-do lines per section (``DIGEST_SECTIONS``), the same for text and HTML."""
    t = DIGEST_TEXTS[lang]
    out: dict[str, list] = {key: [] for key in DIGEST_SECTIONS}
    for todo in digest.todos:
        quoted, item_link = None, None
        if todo.kind == "csat_low":
            assert todo.at is not None and todo.channel is not None  # filled for this kind (ToDo)
            parts = (
                f"CSAT {todo.score}",
                local_datetime(todo.at, tz, lang, "short"),
                channel_label(todo.channel, lang),
                *_contact_parts(todo.contact, t),
            )
            quoted = _single_line(todo.comment, 200) or None
        elif todo.kind == "open_item":
            assert todo.at is not None and todo.item_id is not None  # filled for this kind (ToDo)
            kind = t.get(f"kind_{todo.lead_kind}", str(todo.lead_kind).replace("_", " "))
            status = t["claimed"].format(staff=todo.staff) if todo.status == "claimed" else t["new"]
            parts = (
                kind,
                status,
                t["since"].format(at=local_datetime(todo.at, tz, lang, "short")),
                *_contact_parts(todo.contact, t),
            )
            if base is not None:
                item_link = f"{base}/d/{quote(digest.dealer_id)}/inbox/lead/{quote(todo.item_id)}"
        elif todo.kind == "not_understood":
            parts = (t["times"].format(count=todo.count),)
            quoted = _single_line(todo.text, FALLBACK_CHARS)
        else:
            continue
        cid = todo.conversation_id
        ref = conversation_ref(cid, None)[0] if cid else None
        link = f"{base}/conversations/{quote(cid)}" if cid and base is not None else None
        out[todo.kind].append(DigestLine(parts, quoted, ref, link, item_link))
    return out  # fmt: skip


def _more(digest: Digest, section: str, shown: int) -> int:
    total = {"csat_low": digest.low_rated_total, "open_item": digest.open_total}.get(section, 0)
    return max(0, total - shown)


def render_digest_text(digest: Digest, lang: str, base: str | None, tz: ZoneInfo) -> str:
    """The digest as plain text: the sentence, then the to-do list (the e-mail's first lines).
    ``base``: the dashboard's URL for links, or None."""
    lang = language_of(lang)
    t = DIGEST_TEXTS[lang]
    links = _digest_links(digest, base)
    out = [digest_sentence(digest, lang), "", t["todo"]]
    sections = digest_lines(digest, lang, base, tz)
    if not any(sections.values()):
        out.append(t["nothing"])
    for section, lines in sections.items():
        if not lines:
            continue
        out += ["", f"{t[section]}:"]
        for line in lines:
            text = " · ".join(line.parts)
            if line.quoted and section == "not_understood":
                text = f'"{line.quoted}" ({text})'
            elif line.quoted:
                text += f' · "{line.quoted}"'
            if line.ref:
                text += f" · {t['open_conversation']} {line.ref}"
                text += f": {line.conversation_link}" if line.conversation_link else ""
            if line.item_link:
                text += f" · {t['open_inbox']}: {line.item_link}"
            out.append(f"- {text}")
        more = _more(digest, section, len(lines))
        if more:
            link = links["drill" if section == "csat_low" else "inbox"]
            label = t["more_open" if section == "open_item" else "more_low"].format(n=more)
            out.append(f"- {label}" + (f": {link}" if link else ""))
        if section == "not_understood":
            out.append(t["trainer"])
    return "\n".join(out) + "\n\n"


def render_digest_html(digest: Digest, lang: str, base: str | None, tz: ZoneInfo) -> str:
    """The digest as an HTML fragment (``<section id="digest">``), every value escaped; for
    the e-mail (``base`` the dashboard URL, or None) and the week page (``base`` "")."""
    lang = language_of(lang)
    t = DIGEST_TEXTS[lang]
    e = html.escape
    links = _digest_links(digest, base)
    out = [
        f'<section id="digest"><p id="digest-sentence"><strong>'
        f"{e(digest_sentence(digest, lang))}</strong></p>",
        f'<h2 id="todo">{e(t["todo"])}</h2>',
    ]
    sections = digest_lines(digest, lang, base, tz)
    if not any(sections.values()):
        out.append(f'<p id="todo-nothing">{e(t["nothing"])}</p>')
    for section, lines in sections.items():
        if not lines:
            continue
        items = []
        for line in lines:
            text = e(" · ".join(line.parts))
            if line.quoted and section == "not_understood":
                text = f"“{e(line.quoted)}” ({text})"
            elif line.quoted:
                text += f" · “{e(line.quoted)}”"
            if line.ref and line.conversation_link:
                text += (f' · <a href="{e(line.conversation_link)}">'
                         f"{e(t['open_conversation'])} {e(line.ref)}</a>")  # fmt: skip
            elif line.ref:
                text += f" · {e(t['open_conversation'])} <code>{e(line.ref)}</code>"
            if line.item_link:
                text += f' · <a href="{e(line.item_link)}">{e(t["open_inbox"])}</a>'
            items.append(f"<li>{text}</li>")
        more = _more(digest, section, len(lines))
        if more:
            label = e(t["more_open" if section == "open_item" else "more_low"].format(n=more))
            link = links["drill" if section == "csat_low" else "inbox"]
            items.append(
                f'<li><a href="{e(link)}">{label}</a></li>' if link else f"<li>{label}</li>"
            )
        out.append(f'<h3>{e(t[section])}</h3><ul id="todo-{section}">{"".join(items)}</ul>')
        if section == "not_understood":
            out.append(f'<p class="muted">{e(t["trainer"])}</p>')
    out.append("</section>")
    return "".join(out) + "\n"


def render_summary(
    summary: Any,
    dealer: Any = None,
    *,
    language: str | None = None,
    dashboard_url: str | None = None,
    chart: bool = True,
    digest: Digest | None = None,
) -> RenderedSummary:
    """Everything delivery needs: subject, text, HTML (e-mail and file), Markdown and the chart;
    the text and HTML open with the ``digest`` when given (``metrics.digest``)."""
    from metrics.report.chart import render_chart  # matplotlib: 2.5 s to import, only when drawn

    c = _context(summary, dealer, language, dashboard_url)
    chart_png = (
        render_chart(
            list(getattr(summary, "trend", None) or ()),
            c.lang,
            potential_estimated=bool(getattr(summary, "potential_estimated", False)),
        )
        if chart and getattr(summary, "trend", None)
        else None
    )
    cid = f"chart-{summary.dealer_id}-{summary.week}@dealerbot"
    chart_file = f"{summary.week}-chart.png"
    kwargs = {"language": c.lang, "dashboard_url": dashboard_url}
    return RenderedSummary(
        subject=c.t["subject"].format(title=c.week_title),
        text=render_text(summary, dealer, digest=digest, **kwargs),
        html=render_html(
            summary, dealer, chart_src=f"cid:{cid}" if chart_png else None, digest=digest, **kwargs
        ),  # fmt: skip
        outbox_html=render_html(
            summary, dealer, chart_src=chart_file if chart_png else None, digest=digest, **kwargs
        ),
        markdown=render_markdown(
            summary, dealer, chart_file=chart_file if chart_png else None, **kwargs
        ),
        chart_png=chart_png,
        chart_cid=cid,
        chart_file=chart_file,
    )
