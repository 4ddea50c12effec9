"""The dashboard's templates, page frame and security headers, shared by its pages
(``metrics.web.app``) and the staff inbox (``metrics.web.inbox``).

Every page is a Jinja2 template in ``metrics/web/templates`` that extends ``base.html`` (the
header with the user, "Log out" and the language switch); the handlers gather the data and call
``page``. Parts that are also sent or tested on their own are templates whose names start
with ``_``: the week page includes its top lists and model status; the inbox's live lists and
transcript are rendered once (``inbox.lists_html``, ``inbox.transcript_html``) and put in the
page as they are, the same fragment the event stream sends. ``_macros.html`` holds what two
pages share. The week page also includes the weekly e-mail's digest partial
(``report/_digest.html`` from ``metrics/report/templates``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aiohttp import web
from jinja2 import (
    ChoiceLoader,
    Environment,
    PackageLoader,
    PrefixLoader,
    StrictUndefined,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context
from markupsafe import Markup

from dealer.i18n import DEFAULT_LANGUAGE, lang_or_default
from metrics.report.dates import local_datetime
from metrics.report.glossary import explain
from metrics.report.render import channel_label, outcome_label
from metrics.web import auth
from metrics.web.texts import language_links, texts

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer would make form posts Origin: null
    "Cache-Control": "no-store",
}


@pass_context
def _local(context: Context, moment: Any, zone: Any, style: str = "full") -> str:
    """``{{ moment | local(zone, "time") }}``: ``metrics.report.dates.local_datetime`` in the
    page's language; no moment, no text."""
    return local_datetime(moment, zone, context["lang"], style) if moment else ""


@lru_cache(maxsize=1)
def templates() -> Environment:
    """The dashboard's Jinja2 templates (``metrics/web/templates``), autoescaped: every value
    put in is escaped unless it is already ``Markup``. The ``explain`` filter wraps the
    abbreviations of a text in ``<abbr title>`` (``metrics.report.glossary``); ``local`` puts a
    moment in the dealer's time zone and the page's language; ``channel_label`` and
    ``outcome_label`` name a channel and an outcome in words, as the e-mail does."""
    env = Environment(
        # report/...: the weekly e-mail's templates (metrics/report/templates), for its digest
        loader=ChoiceLoader(
            [
                PackageLoader("metrics.web", "templates"),
                PrefixLoader({"report": PackageLoader("metrics.report", "templates")}),
            ]
        ),  # fmt: skip
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["explain"] = explain
    env.filters["local"] = _local
    env.filters["channel_label"] = channel_label
    env.filters["outcome_label"] = outcome_label
    return env


def render(template: str, lang: str, **context: Any) -> Markup:
    """The ``template`` with the dashboard's texts in ``lang`` as ``t``."""
    lang = lang_or_default(lang)
    return Markup(templates().get_template(template).render(lang=lang, t=texts(lang), **context))


def page(
    template: str,
    user: auth.User | None = None,
    csrf: str | None = None,
    *,
    lang: str = DEFAULT_LANGUAGE,
    request: web.Request | None = None,
    **context: Any,
) -> web.Response:
    """The page ``template`` (it extends ``base.html``) in ``lang``, with ``context``: the header
    with the user, "Log out" and the language switch (``metrics.web.texts``; links to this
    ``request``'s page in the other language). ``csrf`` is the session's form token."""
    # The switch links to this page again: only a GET page can be asked for again.
    switch = (language_links(request.path, dict(request.query), lang)
              if request is not None and request.method == "GET" else [])  # fmt: skip
    html = render(template, lang, switch=switch, user=user, csrf=csrf or "", **context)
    return web.Response(text=str(html), content_type="text/html", charset="utf-8")


def error_page(status: int, message: str, lang: str = DEFAULT_LANGUAGE,
               request: web.Request | None = None) -> web.Response:  # fmt: skip
    """A real page (not plain text) with the error, in ``lang``."""
    response = page("error.html", lang=lang, request=request, status=status, message=message)
    response.set_status(status)
    return response


def http_error(status: type[web.HTTPException], message: str, lang: str = DEFAULT_LANGUAGE,
               request: web.Request | None = None) -> web.HTTPException:  # fmt: skip
    """``error_page`` as an exception to raise (``web.HTTPForbidden`` etc.)."""
    text = error_page(status.status_code, message, lang, request).text
    return status(text=text, content_type="text/html")
