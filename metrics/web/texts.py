"""Every text of the dealer dashboard, in Dutch and English, and the choice of language.

A page speaks the dealer's ``reports.language`` (dealer file), unless the user picked the other
language with the switch in the header (``?lang=en``): that choice is kept in a cookie
(``LANG_COOKIE``) for every later page. The staff inbox's own texts: ``inbox_texts``; the
figures' labels: ``metrics.figures``; the e-mail's: ``metrics.report.render.TEXTS``.
"""

from __future__ import annotations

from urllib.parse import quote_plus

from aiohttp import web

from dealer.config import DealerConfigError, all_dealers
from dealer.i18n import DEFAULT_LANGUAGE, LANGUAGES, lang_or_default
from metrics.report.render import intent_label, outcome_label

LANG_COOKIE = "dealerbot_lang"
LANG_PARAM = "lang"
LANG_COOKIE_SECONDS = 365 * 24 * 3600

TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "app": "dealerbot dashboard",
        "logout": "Uitloggen",
        "language": "Taal",
        "login_title": "Inloggen",
        "login_intro": "Gebruik de naam en het dashboardtoken die u voor uw vestigingen kreeg.",
        "login_name": "Naam",
        "login_token": "Token",
        "login_button": "Inloggen",
        "login_wrong": "Onbekende naam of verkeerd token.",
        "login_locked": "Te vaak mislukt. Probeer het over {minutes} minuten opnieuw.",
        "login_cross_site": "Dit inlogformulier kwam van een andere site.",
        "login_expired": "Uw sessie is verlopen of ongeldig. Log opnieuw in.",
        "form_expired": "Het formulier is verlopen. Laad de pagina opnieuw.",
        "cross_site": "Dit formulier kwam van een andere site.",
        "not_found": "Niet gevonden.",
        "bad_week": "Geen geldige week (voorbeeld: 2026-W47).",
        "bad_list": "Onbekende lijst.",
        "error": "Fout",
        "back": "Terug",
        "locations": "Vestigingen",
        "inbox": "Inbox",
        "this_week": "deze week",
        "volume": "{conversations} gesprekken, waarvan {qualifying} kwalificerend voor MEC.",
        "headline": "In één oogopslag",
        "details": "Meer cijfers",
        "figure": "Cijfer",
        "value": "Deze week",
        "change": "t.o.v. vorige week",
        "chart": "De afgelopen 12 weken",
        "chart_alt": "Grafiek: MEC tegenover potentieel, CSAT en CES over 12 weken",
        "conversations": "Gesprekken",
        "potential": "MEC-potentieel",
        "period": "Periode",
        "service_appointments": "Werkplaatsafspraken",
        "sales_leads": "Verkoopleads",
        "save": "Opslaan",
        "import_csv": "of importeer een CSV (dealer,period,service_appointments,sales_leads)",
        "import": "Importeren",
        "saved": "MEC-potentieel opgeslagen: {saved}",
        "not_saved": "Niet opgeslagen",
        "webhooks": "Webhook-afleveringen",
        "webhooks_intro": "Elke aanroep van de CRM-webhooks, nieuwste eerst.",
        "time": "Tijd",
        "http": "HTTP",
        "error_col": "Fout",
        "ms": "ms",
        "n_conversations": "gesprekken",
        "download_csv": "CSV downloaden",
        "conversation": "Gesprek",
        "started": "Begonnen",
        "channel": "Kanaal",
        "lang_short": "Taal",
        "outcome": "Uitkomst",
        "contact": "Contact",
        "comment": "Opmerking",
        "qualifies": "Kwalificeert (MEC)",
        "yes": "ja",
        "no": "nee",
        "survey": "Enquête",
        "no_answers": "geen antwoorden",
        "transcript": "Gesprek",
        "customer": "Klant",
        "bot": "Bot",
        "gone": "De berichten zijn niet meer bewaard (gewist of ouder dan de bewaartermijn).",
        "model": "Assistentmodel",
        "server": "Rasa-server",
        "live_model": "Actief model",
        "live_since": "Actief sinds",
        "not_answering": "antwoordt niet",
        "not_recorded": "niet vastgelegd",
        "question_csat": "Tevredenheid (CSAT, 1-5)",
        "question_ces": "Gemak (CES, 1-7)",
        "question_nps": "Aanbevelen (NPS, 0-10)",
        "question_comment": "Opmerking",
        "drill_all": "Alle gesprekken",
        "drill_qualifying": "Kwalificerende gesprekken (MEC)",
        "drill_csat_low": "CSAT 1-2",
        "drill_csat_high": "CSAT 4-5",
        "drill_booked": "Afspraken gemaakt",
        "drill_handoffs": "Doorverbonden",
        "drill_abandoned": "Afgebroken",
        "legend": "Afkortingen",
    },
    "en": {
        "app": "dealerbot dashboard",
        "logout": "Log out",
        "language": "Language",
        "login_title": "Log in",
        "login_intro": "Use the name and dashboard token you received for your locations.",
        "login_name": "Name",
        "login_token": "Token",
        "login_button": "Log in",
        "login_wrong": "Wrong name or token.",
        "login_locked": "Too many failed log-ins. Try again in {minutes} minutes.",
        "login_cross_site": "This log-in form came from another site.",
        "login_expired": "Your session has ended or is not valid. Please log in again.",
        "form_expired": "The form expired. Reload the page.",
        "cross_site": "This form came from another site.",
        "not_found": "Not found.",
        "bad_week": "Not a valid week (example: 2026-W47).",
        "bad_list": "Unknown list.",
        "error": "Error",
        "back": "Back",
        "locations": "Locations",
        "inbox": "Inbox",
        "this_week": "this week",
        "volume": "{conversations} conversations, {qualifying} of them qualifying for MEC.",
        "headline": "At a glance",
        "details": "More figures",
        "figure": "Figure",
        "value": "This week",
        "change": "vs last week",
        "chart": "The last 12 weeks",
        "chart_alt": "Chart: MEC against potential, CSAT and CES over 12 weeks",
        "conversations": "Conversations",
        "potential": "MEC potential",
        "period": "Period",
        "service_appointments": "Service appointments",
        "sales_leads": "Sales leads",
        "save": "Save",
        "import_csv": "or import a CSV (dealer,period,service_appointments,sales_leads)",
        "import": "Import",
        "saved": "MEC potential saved: {saved}",
        "not_saved": "Not saved",
        "webhooks": "Webhook deliveries",
        "webhooks_intro": "Every call to the CRM webhooks, newest first.",
        "time": "Time",
        "http": "HTTP",
        "error_col": "Error",
        "ms": "ms",
        "n_conversations": "conversations",
        "download_csv": "Download CSV",
        "conversation": "Conversation",
        "started": "Started",
        "channel": "Channel",
        "lang_short": "Lang.",
        "outcome": "Outcome",
        "contact": "Contact",
        "comment": "Comment",
        "qualifies": "Qualifies (MEC)",
        "yes": "yes",
        "no": "no",
        "survey": "Survey",
        "no_answers": "no answers",
        "transcript": "Transcript",
        "customer": "Customer",
        "bot": "Bot",
        "gone": "The messages are no longer stored (erased or past the retention period).",
        "model": "Assistant model",
        "server": "Rasa server",
        "live_model": "Live model",
        "live_since": "Live since",
        "not_answering": "not answering",
        "not_recorded": "not recorded",
        "question_csat": "Satisfaction (CSAT, 1-5)",
        "question_ces": "Ease (CES, 1-7)",
        "question_nps": "Recommend (NPS, 0-10)",
        "question_comment": "Comment",
        "drill_all": "All conversations",
        "drill_qualifying": "Qualifying conversations (MEC)",
        "drill_csat_low": "CSAT 1-2",
        "drill_csat_high": "CSAT 4-5",
        "drill_booked": "Appointments booked",
        "drill_handoffs": "Handed off",
        "drill_abandoned": "Abandoned",
        "legend": "Abbreviations",
    },
}


# Why a conversation does (not) count for MEC (``core.engagement.qualifies``), in words.
REASONS: dict[str, dict[str, str]] = {
    "outcome": {"nl": "uitkomst: {}", "en": "outcome: {}"},
    "business intent": {"nl": "vraag: {}", "en": "question: {}"},
    "test or demo sender": {"nl": "test- of demoafzender", "en": "test or demo sender"},
    "fewer than two customer messages": {"nl": "minder dan twee berichten van de klant",
                                         "en": "fewer than two customer messages"},
    "out of scope: not a customer's conversation": {
        "nl": "buiten onderwerp: geen gesprek van een klant",
        "en": "out of scope: not a customer's conversation"},
    "no business intent and no outcome": {"nl": "geen vraag en geen uitkomst",
                                          "en": "no question and no outcome"},
}  # fmt: skip


def reason_text(reason: str | None, lang: str) -> str:
    """A stored ``qualify_reason`` in words in ``lang``; an unknown one as it is."""
    lang = lang_or_default(lang)
    reason = reason or ""
    if reason in REASONS:
        return REASONS[reason][lang]
    if reason.startswith("outcome "):
        return REASONS["outcome"][lang].format(outcome_label(reason[len("outcome ") :], lang))
    if reason.startswith("business intent "):
        names = reason[len("business intent ") :].split(", ")
        return REASONS["business intent"][lang].format(
            ", ".join(intent_label(n, lang) for n in names)
        )
    return reason


def texts(lang: str | None) -> dict[str, str]:
    """The dashboard's texts in ``lang`` (the default language for any other)."""
    return TEXTS[lang_or_default(lang)]


def dealer_language(dealer_id: str) -> str:
    """The dealer's ``reports.language`` (the default language when the file cannot be read)."""
    try:
        dealer = all_dealers().get(dealer_id)
    except DealerConfigError:
        return DEFAULT_LANGUAGE
    return lang_or_default(dealer.report_language) if dealer else DEFAULT_LANGUAGE


def dealer_name(dealer_id: str) -> str:
    """The dealer's name from its dealer file (the folder id when the file cannot be read)."""
    try:
        dealer = all_dealers().get(dealer_id)
    except DealerConfigError:
        return dealer_id
    return dealer.name if dealer and dealer.name else dealer_id


def chosen_language(request: web.Request) -> str | None:
    """The user's own choice: ``?lang=`` of this request, else the cookie; None when none."""
    for value in (request.query.get(LANG_PARAM), request.cookies.get(LANG_COOKIE)):
        if value in LANGUAGES:
            return value
    return None


def page_language(request: web.Request, dealer_id: str | None = None) -> str:
    """The language of a page: the user's choice, else the dealer's ``reports.language``, else
    the default language (log-in page)."""
    chosen = chosen_language(request)
    if chosen:
        return chosen
    return dealer_language(dealer_id) if dealer_id else DEFAULT_LANGUAGE


@web.middleware
async def remember_language(request: web.Request, handler) -> web.StreamResponse:  # noqa: ANN001
    """A ``?lang=nl|en`` in any URL becomes the user's choice, kept in ``LANG_COOKIE``."""
    wanted = request.query.get(LANG_PARAM)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if wanted in LANGUAGES and exc.status < 400:
            exc.set_cookie(LANG_COOKIE, wanted, max_age=LANG_COOKIE_SECONDS, path="/",
                           samesite="Lax", httponly=True)  # fmt: skip
        raise
    if wanted in LANGUAGES and not response.prepared:
        response.set_cookie(LANG_COOKIE, wanted, max_age=LANG_COOKIE_SECONDS, path="/",
                            samesite="Lax", httponly=True)  # fmt: skip
    return response


def language_links(path: str, query: dict[str, str], lang: str) -> list[tuple[str, str | None]]:
    """The header's language switch (``NL · EN``, ``base.html``): (language, the link to this
    page in it), the current language without a link."""
    links: list[tuple[str, str | None]] = []
    for code in LANGUAGES:
        params = {k: v for k, v in query.items() if k != LANG_PARAM}
        params[LANG_PARAM] = code
        qs = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in params.items())
        links.append((code, None if code == lang else f"{path}?{qs}"))
    return links
