"""The dashboard's page frame and security headers, shared by its pages (``metrics.web.app``)
and the staff inbox (``metrics.web.inbox``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from dealer.i18n import DEFAULT_LANGUAGE, lang_or_default
from metrics.report.glossary import explain
from metrics.web import auth
from metrics.web.texts import switch_links, texts

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


@lru_cache(maxsize=1)
def templates() -> Environment:
    """The dashboard's Jinja2 templates (``metrics/web/templates``), autoescaped: every value
    put in is escaped unless it is already ``Markup``. The ``explain`` filter wraps the
    abbreviations of a text in ``<abbr title>`` (``metrics.report.glossary``)."""
    env = Environment(
        loader=PackageLoader("metrics.web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["explain"] = explain
    return env


def render(template: str, lang: str, **context: Any) -> Markup:
    """The ``template`` with the dashboard's texts in ``lang`` as ``t``."""
    lang = lang_or_default(lang)
    return Markup(templates().get_template(template).render(lang=lang, t=texts(lang), **context))


def page(
    title: str,
    body: Markup,
    user: auth.User | None = None,
    csrf: str | None = None,
    *,
    lang: str = DEFAULT_LANGUAGE,
    request: web.Request | None = None,
) -> web.Response:
    """A dashboard page in ``lang``: the header with the user, "Log out" and the language
    switch (``metrics.web.texts``; links to this ``request``'s page in the other language)."""
    # The switch links to this page again: only a GET page can be asked for again.
    switch = (switch_links(request.path, dict(request.query), lang)
              if request is not None and request.method == "GET" else Markup(""))  # fmt: skip
    html = render("base.html", lang, title=title, switch=switch, user=user, csrf=csrf or "",
                  body=body)  # fmt: skip
    return web.Response(text=str(html), content_type="text/html", charset="utf-8")


def error_page(status: int, message: str, lang: str = DEFAULT_LANGUAGE,
               request: web.Request | None = None) -> web.Response:  # fmt: skip
    """A real page (not plain text) with the error, in ``lang``."""
    response = page(f"{status}", render("error.html", lang, message=message), lang=lang,
                    request=request)  # fmt: skip
    response.set_status(status)
    return response


def http_error(status: type[web.HTTPException], message: str, lang: str = DEFAULT_LANGUAGE,
               request: web.Request | None = None) -> web.HTTPException:  # fmt: skip
    """``error_page`` as an exception to raise (``web.HTTPForbidden`` etc.)."""
    text = error_page(status.status_code, message, lang, request).text
    return status(text=text, content_type="text/html")
