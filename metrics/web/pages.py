"""The dashboard's page frame and security headers, shared by its pages (``metrics.web.app``)
and the staff inbox (``metrics.web.inbox``)."""

from __future__ import annotations

from aiohttp import web
from markupsafe import Markup

from metrics.web import auth

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


def page(title: str, body: Markup, user: auth.User | None = None,
         csrf: str | None = None) -> web.Response:  # fmt: skip
    logout = Markup("")
    if user is not None:
        logout = Markup(
            '<form class="inline" method="post" action="/logout">'
            '<input type="hidden" name="csrf" value="{}">{} · <button>Log out</button></form>'
        ).format(csrf or "", user.name)
    html = Markup(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>{} · dealerbot</title><link rel="stylesheet" href="/static/dashboard.css">'
        "</head><body><header><strong>dealerbot dashboard</strong><span>{}</span></header>"
        "<main>{}</main></body></html>"
    ).format(title, logout, body)
    return web.Response(text=str(html), content_type="text/html", charset="utf-8")
