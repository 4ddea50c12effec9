"""The weekly summary as a terminal table, HTML e-mail/page and Markdown, in nl or en.

One section model (``summary_model``, with the digest's ``digest_model``) holds what every
format shows, its figures, dates and numbers already formatted; the Jinja2 templates in
``metrics/report/templates`` lay it out: ``summary.txt``, ``summary.md``, ``summary.html`` and
the digest partials ``_digest.txt`` / ``_digest.html`` (the latter also on the dashboard's week
page). So the formats always show the same figures. A ratio without a denominator shows "n/a"
("n.v.t."), never 0 %. All customer text is escaped for the format it goes into: the HTML
templates are autoescaped, the Markdown one escapes customer text with the ``md`` filter.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

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

    @property
    def cells(self) -> tuple[str, str, str, str]:
        """The row's table cells: label, value, change, n."""
        return (self.label, self.value, self.change, self.n)


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


# -- shared by every format ----------------------------------------------------------------------


def _single_line(text: str | None, limit: int = 300) -> str:
    flat = re.sub(r"\s+", " ", text or "").strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


FALLBACK_CHARS = 120  # a fallback message longer than this is cut, with an ellipsis


def _fallbacks(summary: Any) -> list[Any]:
    """The summary's top fallback messages (``metrics.summary.FallbackMessage``)."""
    return list(getattr(summary, "top_fallbacks", None) or ())


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


# -- the section model: what every format shows, as plain data ------------------------------------


@dataclass(frozen=True)
class Breakdown:
    """A breakdown table (``by_channel`` / ``by_language``): its rows are (label, *cells)."""

    title: str
    headers: tuple[str, ...]  # the first column (the channel, the language) has none
    rows: list[tuple[str, ...]]


@dataclass(frozen=True)
class LowRatedLine:
    date: str  # the dealer's local time
    channel: str
    outcome: str
    csat: str
    ref: str  # conversation_ref's short id
    link: str | None  # the conversation in the dashboard, when its URL is known
    comment: str  # customer text on one line (at most 300 characters), unescaped


@dataclass(frozen=True)
class FallbackLine:
    text: str  # customer text on one line (at most FALLBACK_CHARS), unescaped
    count: str
    ref: str
    link: str | None


@dataclass(frozen=True)
class SummaryModel:
    """The weekly summary's sections, built once (``summary_model``) and rendered by the
    templates in ``metrics/report/templates`` (text, Markdown, HTML)."""

    lang: str
    t: dict[str, str]  # TEXTS[lang]
    title: str  # "Autohuis De Vries · week 47, 16–22 november"
    volume: str  # "N conversations, M qualifying"
    headline: list[Row]
    details: list[Row]
    estimated: bool  # the MEC potential is a floor from the chat: the note says so
    breakdowns: list[Breakdown]  # only those with rows
    low_rated: list[LowRatedLine]
    intents: list[tuple[str, str]]  # (question, count)
    fallbacks: list[FallbackLine]
    dashboard_url: str | None
    legend: list[tuple[str, str]]  # (abbreviation, explanation)
    digest: DigestModel | None  # the action first, when given


def summary_model(
    summary: Any,
    dealer: Any = None,
    language: str | None = None,
    dashboard_url: str | None = None,
    digest: Digest | None = None,
) -> SummaryModel:
    """The summary's sections in the dealer's language (or ``language``), every figure and
    date formatted; ``digest`` (``metrics.digest``) with links into ``dashboard_url``."""
    c = _context(summary, dealer, language, dashboard_url)
    low_rated = []
    for x in getattr(summary, "low_rated", None) or ():
        ref, link = conversation_ref(x.conversation_id, dashboard_url)
        low_rated.append(LowRatedLine(
            date=local_datetime(x.started_at, c.tz, c.lang, "short"),
            channel=channel_label(x.channel, c.lang), outcome=outcome_label(x.outcome, c.lang),
            csat=str(x.csat), ref=ref, link=link, comment=_single_line(x.comment),
        ))  # fmt: skip
    fallbacks = []
    for x in _fallbacks(summary):
        ref, link = conversation_ref(x.conversation_id, dashboard_url)
        fallbacks.append(
            FallbackLine(_single_line(x.text, FALLBACK_CHARS), str(x.count), ref, link)
        )
    breakdowns = [
        Breakdown(c.t[attribute], ("", *BREAKDOWN_HEADERS[c.lang]),
                  [(label, *cells) for label, cells in rows])
        for attribute in ("by_channel", "by_language")
        if (rows := breakdown_rows(summary, attribute, c.lang))
    ]  # fmt: skip
    return SummaryModel(
        lang=c.lang,
        t=c.t,
        title=c.week_title,
        volume=c.volume,
        headline=headline_rows(summary, c.lang),
        details=detail_rows(summary, c.lang),
        estimated=bool(getattr(summary, "potential_estimated", False)),
        breakdowns=breakdowns,
        low_rated=low_rated,
        intents=[
            (intent_label(i, c.lang), str(n))
            for i, n in getattr(summary, "top_intents", None) or ()
        ],  # fmt: skip
        fallbacks=fallbacks,
        dashboard_url=dashboard_url,
        legend=_legend(summary, c.lang),
        digest=digest_model(digest, c.lang, dashboard_url, c.tz) if digest else None,
    )


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


@dataclass(frozen=True)
class DigestSection:
    key: str  # one of DIGEST_SECTIONS
    title: str
    lines: list[DigestLine]
    more: str | None  # "and 3 more, ...": the lines not shown
    more_link: str | None  # where they are (the drill-down, the inbox), with a dashboard
    trainer: str | None  # the note for the bot trainer, under what the bot did not understand


@dataclass(frozen=True)
class DigestModel:
    """The digest's sentence and its to-do sections (only those with lines), for the templates
    ``_digest.txt`` and ``_digest.html``."""

    t: dict[str, str]  # DIGEST_TEXTS[lang]
    sentence: str
    sections: list[DigestSection]


def digest_model(digest: Digest, lang: str, base: str | None, tz: ZoneInfo) -> DigestModel:
    """The digest in ``lang``; ``base``: the dashboard's URL for links (e-mail), "" (the
    dashboard itself, relative links) or None (no links)."""
    lang = language_of(lang)
    t = DIGEST_TEXTS[lang]
    links = _digest_links(digest, base)
    sections = []
    for key, lines in digest_lines(digest, lang, base, tz).items():
        if not lines:
            continue
        more = _more(digest, key, len(lines))
        sections.append(DigestSection(
            key=key, title=t[key], lines=lines,
            more=t["more_open" if key == "open_item" else "more_low"].format(n=more) if more
            else None,
            more_link=links["drill" if key == "csat_low" else "inbox"] if more else None,
            trainer=t["trainer"] if key == "not_understood" else None,
        ))  # fmt: skip
    return DigestModel(t, digest_sentence(digest, lang), sections)


# -- the formats: one Jinja2 template each (metrics/report/templates) -----------------------------


def _table(rows: Iterable[Sequence[str]], headers: Sequence[str], right: Sequence[int]) -> str:
    """``{{ rows | table(headers, right) }}``: a plain-text table, columns padded to their
    widest cell, the ``right`` ones (numbers) aligned right."""
    rows = [list(r) for r in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=False))
        ).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *map(line, rows)])


def _md_table(rows: Iterable[Sequence[str]], headers: Sequence[str]) -> str:
    """``{{ rows | md_table(headers) }}``: a Markdown table (cells already made inert)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _md(text: str | None) -> str:
    """Customer text made inert in Markdown: no markup, no HTML, no table breaks."""
    flat = html.escape(_single_line(text), quote=False)
    return re.sub(r"([\\`*_{}\[\]()#+!|~>-])", r"\\\1", flat)


def _escape(value: Any) -> Any:
    # The HTML templates' finalize: escaped as html.escape does (quotes as &quot;, as the e-mails
    # always were); Markup (explain, macros) is left as it is.
    return value if isinstance(value, Markup) else Markup(html.escape(str(value)))


@lru_cache(maxsize=2)
def templates(kind: str) -> Environment:
    """The summary's templates: ``kind`` "html" autoescaped (every value escaped unless it is
    ``Markup``), "text" (plain text and Markdown) not. Filters: ``table`` (a padded text
    table), ``md_table``, ``md`` (customer text made inert in Markdown), ``cut`` (on one line,
    cut), ``explain`` (``<abbr title>``, ``metrics.report.glossary``)."""
    env = Environment(
        loader=PackageLoader("metrics.report", "templates"),
        autoescape=kind == "html",
        finalize=_escape if kind == "html" else None,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do"],
    )
    env.filters.update(table=_table, md_table=_md_table, md=_md, cut=_single_line, explain=explain)
    return env


def _render(kind: str, template: str, **context: Any) -> str:
    return templates(kind).get_template(template).render(**context)


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
    model = summary_model(summary, dealer, language, dashboard_url, digest)
    return _render("text", "summary.txt", model=model, t=model.t, digest=model.digest)


def render_markdown(
    summary: Any,
    dealer: Any = None,
    *,
    language: str | None = None,
    dashboard_url: str | None = None,
    chart_file: str | None = None,
) -> str:
    """The summary as Markdown (outbox), the chart as an image next to the file."""
    model = summary_model(summary, dealer, language, dashboard_url)
    return _render("text", "summary.md", model=model, t=model.t, chart=chart_file)


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
    model = summary_model(summary, dealer, language, dashboard_url, digest)
    return _render("html", "summary.html", model=model, t=model.t, digest=model.digest,
                   chart=chart_src, style=Markup(STYLE))  # fmt: skip


def render_digest_text(digest: Digest, lang: str, base: str | None, tz: ZoneInfo) -> str:
    """The digest as plain text: the sentence, then the to-do list (the e-mail's first lines).
    ``base``: the dashboard's URL for links, or None."""
    return _render("text", "_digest.txt", digest=digest_model(digest, lang, base, tz))


def render_digest_html(digest: Digest, lang: str, base: str | None, tz: ZoneInfo) -> Markup:
    """The digest as an HTML fragment (``<section id="digest">``), every value escaped; for
    the e-mail (``base`` the dashboard URL, or None) and the week page (``base`` "")."""
    return Markup(_render("html", "_digest.html", digest=digest_model(digest, lang, base, tz)))


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
