"""The dashboard's page frame and security headers, shared by its pages (``metrics.web.app``)
and the staff inbox (``metrics.web.inbox``)."""

from __future__ import annotations

from aiohttp import web
from markupsafe import Markup

from dealer.i18n import DEFAULT_LANGUAGE, lang_or_default
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
    t = texts(lang)
    logout = Markup("")
    if user is not None:
        logout = Markup(
            '<form class="inline" method="post" action="/logout">'
            '<input type="hidden" name="csrf" value="{}">{} · <button class="logout">{}</button>'
            "</form>"
        ).format(csrf or "", user.name, t["logout"])
    switch = (switch_links(request.path, dict(request.query), lang) if request is not None
              else Markup(""))  # fmt: skip
    html = Markup(
        '<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>{title} · dealerbot</title><link rel="stylesheet" href="/static/dashboard.css">'
        '</head><body><header><strong>{app}</strong><span class="who">{switch} {logout}</span>'
        "</header><main>{body}</main></body></html>"
    ).format(lang=lang_or_default(lang), title=title, app=t["app"], switch=switch,
             logout=logout, body=body)  # fmt: skip
    return web.Response(text=str(html), content_type="text/html", charset="utf-8")


def error_page(status: int, message: str, lang: str = DEFAULT_LANGUAGE,
               request: web.Request | None = None) -> web.Response:  # fmt: skip
    """A real page (not plain text) with the error, in ``lang``."""
    t = texts(lang)
    body = Markup('<h1>{}</h1><p class="error" id="error">{}</p><p><a href="/">{}</a></p>').format(
        t["error"], message, t["back"])  # fmt: skip
    response = page(f"{status}", body, lang=lang, request=request)
    response.set_status(status)
    return response


def http_error(status: type[web.HTTPException], message: str, lang: str = DEFAULT_LANGUAGE,
               request: web.Request | None = None) -> web.HTTPException:  # fmt: skip
    """``error_page`` as an exception to raise (``web.HTTPForbidden`` etc.)."""
    text = error_page(status.status_code, message, lang, request).text
    return status(text=text, content_type="text/html")
