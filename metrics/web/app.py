"""The dealer dashboard (aiohttp): weekly figures, 12-week chart, top lists, drill-down,
transcripts, CSV, MEC potential. Each dealer logs in with their token and sees only their own
locations.

Every page is built from ``markupsafe.Markup`` templates, so every value put in is escaped;
every response carries a strict CSP, ``X-Frame-Options: DENY``, ``nosniff`` and a
``Referrer-Policy``. Database calls run in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import csv
import io
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web
from markupsafe import Markup
from sqlalchemy.orm import sessionmaker

from core.periods import (
    Period,
    PeriodError,
    dealer_timezone,
    last_closed_week,
    parse_period,
)
from core.settings import get_settings, rasa_api_token, utc_now
from core.store.session import default_session_factory
from metrics.figures import FIGURE_DRILLS
from metrics.jobs import current_weekly_summary
from metrics.potential import (
    PotentialImportError,
    import_potential,
    read_potential_csv,
    validate_rows,
)
from metrics.report.export import export_top_csv, safe_cell
from metrics.report.render import (
    TEXTS,
    detail_rows,
    headline_rows,
    intent_label,
    language_of,
    local_time,
)
from metrics.summary import build_weekly_summary
from metrics.web import auth
from metrics.web.data import DRILLS, conversation_list, get_conversation, transcript
from metrics.web.model_status import ServerModel, model_status_html, server_models
from metrics.web.pages import SECURITY_HEADERS, page

log = logging.getLogger(__name__)

CSS = """
body{margin:0;font:15px/1.45 system-ui,sans-serif;color:#1d1d1f;background:#f4f6f9}
header{display:flex;justify-content:space-between;align-items:center;padding:12px 24px;
background:#1f5fa8;color:#fff}header a,header button{color:#fff}
main{max-width:1000px;margin:0 auto;padding:16px 24px}
table{border-collapse:collapse;width:100%;background:#fff;margin:8px 0 20px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e3e7ec;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.chart{max-width:100%;background:#fff}.muted{color:#667}.error{color:#a33}.ok{color:#276}
.msg{margin:6px 0;padding:8px 12px;border-radius:10px;max-width:75%;white-space:pre-wrap;
overflow-wrap:anywhere}.customer{background:#fff;border:1px solid #dde3ea}
.bot{background:#e4edf8;margin-left:auto}form.inline{display:inline}
nav a{margin-right:12px}label{display:inline-block;margin-right:12px}
td.text{overflow-wrap:anywhere}
"""
DOWNLOAD_CSV = {"nl": "CSV downloaden", "en": "Download CSV"}


def error_page(status: int, message: str) -> web.Response:
    response = page(f"{status}", Markup('<p class="error">{}</p>').format(message))
    response.set_status(status)
    return response


def top_lists_html(summary: Any, lang: str, base: str) -> Markup:
    """The week's top intents and top fallback messages (``WeeklySummary.top_intents`` /
    ``top_fallbacks``) with the weekly e-mail's headings, in ``lang`` (nl or en). The fallback
    texts are customer text: Markup escapes them like every other value."""
    lang = language_of(lang)
    t = TEXTS[lang]
    week = summary.week
    intents = Markup("").join(
        Markup('<tr data-intent="{}"><td>{}</td><td class="num">{}</td></tr>').format(
            name, intent_label(name, lang), count)
        for name, count in summary.top_intents
    )  # fmt: skip
    fallbacks = Markup("").join(
        Markup('<tr><td class="text">{}</td><td class="num">{}</td>'
               '<td><a href="/conversations/{}">{}</a></td></tr>').format(
            m.text, m.count, m.conversation_id, m.conversation_id[:12])
        for m in summary.top_fallbacks
    )  # fmt: skip
    if intents:
        intents = Markup('<table id="top-intents"><tr><th>{}</th><th>{}</th></tr>{}</table>'
                         ).format(t["question"], t["count"], intents)  # fmt: skip
    else:
        intents = Markup('<p class="muted" id="top-intents">{}</p>').format(t["no_intents"])
    if fallbacks:
        fallbacks = Markup(
            '<table id="top-fallbacks"><tr><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>'
        ).format(t["message"], t["count"], t["conversation"], fallbacks)
    else:
        fallbacks = Markup('<p class="muted" id="top-fallbacks">{}</p>').format(
            t["no_fallbacks"])  # fmt: skip
    return Markup(
        '<h2>{asked}</h2>{intents}<h2>{fallbacks_title}</h2>{fallbacks}'
        '<p><a id="top-csv" href="{base}/top.csv?week={week}">{download}</a></p>'
    ).format(asked=t["asked"], intents=intents, fallbacks_title=t["fallbacks"],
             fallbacks=fallbacks, base=base, week=week, download=DOWNLOAD_CSV[lang])  # fmt: skip


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if isinstance(response, web.HTTPException) and response.status >= 400:
        raise response
    return response


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(values: Iterable[str]) -> tuple[Network, ...]:
    """``DEALERBOT_TRUSTED_PROXIES`` items (addresses or networks) as networks."""
    try:
        return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())
    except ValueError as exc:
        raise ValueError(f"DEALERBOT_TRUSTED_PROXIES: {exc} (give addresses or networks, "
                         "e.g. 127.0.0.1,::1 or 10.0.0.0/8)") from exc  # fmt: skip


def _in(address: str | None, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in net for net in networks)


def _last(header: str | None) -> str:
    """The value the nearest proxy set (the last of a comma list)."""
    return (header or "").split(",")[-1].strip()


def forwarded_middleware(trusted: tuple[Network, ...]) -> Callable:
    """Honour ``X-Forwarded-Proto``, ``-Host`` and ``-For`` only from a trusted proxy peer.

    Behind the TLS proxy the scheme is https and the host the public one, so the form's
    same-origin check and the ``Secure`` cookie see what the browser sees, and the log-in limit
    counts the client's address, not the proxy's. From any other peer the headers are ignored.
    A dozen lines instead of the ``aiohttp-remotes`` package (not a dependency of the project).
    """

    @web.middleware
    async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        if trusted and _in(request.remote, trusted):
            changes: dict[str, str] = {}
            proto = _last(request.headers.get("X-Forwarded-Proto")).lower()
            if proto in ("http", "https"):
                changes["scheme"] = proto
            host = _last(request.headers.get("X-Forwarded-Host"))
            if host:
                changes["host"] = host
            chain = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
            for address in reversed([a for a in chain if a]):
                changes["remote"] = address  # the first address no trusted proxy wrote
                if not _in(address, trusted):
                    break
            if changes:
                request = request.clone(**changes)
        return await handler(request)

    return forwarded


def local_development(request: web.Request) -> bool:
    """Plain http on loopback (peer and host): the only case where the cookie is not Secure."""
    try:
        host = (urlsplit(f"//{request.host}").hostname or "").lower()
    except ValueError:
        return False
    return (request.scheme == "http" and _in(request.remote, LOOPBACK)
            and (host == "localhost" or _in(host, LOOPBACK)))  # fmt: skip


def session_cookie(response: web.StreamResponse, request: web.Request, value: str,
                   max_age: int) -> None:  # fmt: skip
    """Set (or with ``max_age`` 0 remove) the session cookie: HttpOnly, SameSite=Strict, and
    Secure except in local development."""
    response.set_cookie(auth.COOKIE, value, httponly=True, samesite="Strict", path="/",
                        secure=not local_development(request), max_age=max_age)  # fmt: skip


def client_key(address: str | None) -> str:
    """What the log-in limit counts: the address, or its /64 for IPv6 (one subscriber's
    prefix: rotating addresses inside it does not get more guesses)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return str(address)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else str(ip)


LOOPBACK = parse_trusted_proxies(["127.0.0.0/8", "::1"])
LOGIN_TEXTS = {
    "title": "Log in",
    "intro": "Use the name and dashboard token you received for your locations.",
    "name": "Name",
    "token": "Token",
    "button": "Log in",
    "wrong": "Wrong name or token.",
    "locked": "Too many failed log-ins. Try again in {minutes} minutes.",
    "cross_site": "This log-in form came from another site.",
}


class Dashboard:
    def __init__(self, session_factory: sessionmaker | None = None,
                 users_path: Any = None, tracker_db_url: str | None = None,
                 clock: auth.Clock = time.time) -> None:  # fmt: skip
        self._session_factory = session_factory
        self.users_path = users_path
        self.tracker_db_url = tracker_db_url
        self.sessions = auth.Sessions(clock)
        self.throttle = auth.LoginThrottle(clock)
        self._login_lock = asyncio.Lock()
        # Rasa's API for the live model (default: DEALERBOT_RASA_URLS, the API token)
        self.rasa_urls: tuple[str, ...] | None = None
        self.rasa_api_token: str | None = None

    @property
    def session_factory(self) -> sessionmaker:
        return self._session_factory or default_session_factory()

    def users(self) -> dict[str, auth.User]:
        return auth.load_users(self.users_path)

    async def db(self, func: Callable, *args: Any) -> Any:
        return await asyncio.to_thread(func, *args)

    # -- authentication ---------------------------------------------------------------------
    def current(self, request: web.Request) -> tuple[auth.User, str]:
        cookie = request.cookies.get(auth.COOKIE)
        user = self.sessions.user(self.users(), cookie)
        if user is None:
            raise web.HTTPFound("/login")
        return user, cookie

    def location(self, request: web.Request, user: auth.User) -> str:
        dealer_id = request.match_info["dealer"]
        if dealer_id not in user.locations:
            # Not one of this dealer's locations: answer as if it did not exist.
            raise web.HTTPNotFound(text="no such location")
        return dealer_id

    @staticmethod
    def same_origin(request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        return not origin or origin == f"{request.scheme}://{request.host}"

    async def check_form(self, request: web.Request, cookie: str) -> Any:
        form = await request.post()
        if not self.same_origin(request):
            raise web.HTTPForbidden(text="cross-site form")
        if form.get("csrf") != auth.csrf_token(cookie):
            raise web.HTTPForbidden(text="the form expired: reload the page")
        return form

    def login_page(self, error: str = "", name: str = "", status: int = 200) -> web.Response:
        t = LOGIN_TEXTS
        message = Markup('<p class="error" id="login-error">{}</p>').format(error) if error else ""
        response = page(t["title"], Markup(
            "<h1>{title}</h1>{message}<p>{intro}</p>"
            '<form method="post" action="/login"><label>{name_label} '
            '<input name="name" value="{name}" autocomplete="username" required></label>'
            '<label>{token_label} <input type="password" name="token" autocomplete="off" '
            "required></label><button>{button}</button></form>"
        ).format(title=t["title"], message=message, intro=t["intro"], name_label=t["name"],
                 name=name, token_label=t["token"], button=t["button"]))  # fmt: skip
        response.set_status(status)
        return response

    def locked_page(self, seconds: int, name: str) -> web.Response:
        minutes = max(1, -(-seconds // 60))
        response = self.login_page(LOGIN_TEXTS["locked"].format(minutes=minutes), name, 429)
        response.headers["Retry-After"] = str(seconds)
        return response

    async def login_form(self, request: web.Request) -> web.Response:
        return self.login_page()

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        if not self.same_origin(request):
            return self.login_page(LOGIN_TEXTS["cross_site"], status=403)
        name = str(form.get("name") or "").strip()[:100]
        keys = (f"ip:{client_key(request.remote)}", f"user:{name}")
        # One check at a time: parallel guesses cannot all pass before the first failure is
        # counted, and at most one scrypt (32 MiB) runs per process.
        async with self._login_lock:
            wait = self.throttle.retry_after(*keys)
            if wait:  # locked: the token is not even looked at
                return self.locked_page(wait, name)
            token = str(form.get("token") or "")
            user = await self.db(auth.authenticate, self.users(), name, token)
            if user is None:
                log.warning("dashboard: failed log-in")  # no name or address: personal data
                wait = self.throttle.failed(*keys)
                if wait:
                    return self.locked_page(wait, name)
                return self.login_page(LOGIN_TEXTS["wrong"], name, 403)
            self.throttle.succeeded(*keys)
        response = web.HTTPSeeOther("/")
        session_cookie(response, request, self.sessions.start(user), auth.SESSION_SECONDS)
        return response

    async def logout(self, request: web.Request) -> web.Response:
        _user, cookie = self.current(request)
        await self.check_form(request, cookie)
        self.sessions.end(cookie)  # the cookie is dead on the server, not only in this browser
        response = web.HTTPSeeOther("/login")
        session_cookie(response, request, "", 0)  # same flags, so browsers accept the removal
        return response

    # -- pages --------------------------------------------------------------------------------
    def week_of(self, request: web.Request, dealer_id: str) -> Period:
        wanted = request.query.get("week")
        if wanted:
            try:
                period = parse_period(wanted)
            except PeriodError as exc:
                raise web.HTTPBadRequest(text=str(exc)) from exc
            if period.kind != "week":
                raise web.HTTPBadRequest(text="week must look like 2026-W47")
            return period
        # The last complete week in the dealer's time zone, as in the Monday summary.
        return last_closed_week(utc_now(), dealer_timezone(dealer_id))

    async def home(self, request: web.Request) -> web.Response:
        user, _ = self.current(request)
        raise web.HTTPFound(f"/d/{user.locations[0]}")

    async def summary(self, request: web.Request) -> web.Response:
        user, cookie = self.current(request)
        dealer_id = self.location(request, user)
        week = self.week_of(request, dealer_id)
        # rolls up the week's dirty days first: the figures include this morning's chats
        summary = await self.db(current_weekly_summary, self.session_factory, dealer_id, week)
        base = f"/d/{dealer_id}"
        models = await self.live_models()

        def rows(items: list) -> Markup:
            out = Markup("")
            for row in items:
                drill = FIGURE_DRILLS.get(row.key)
                label = (Markup('<a href="{}/conversations?week={}&amp;list={}">{}</a>')
                         .format(base, week, drill, row.label) if drill else row.label)  # fmt: skip
                out += Markup(
                    '<tr data-figure="{}"><td>{}</td><td class="num value">{}</td>'
                    '<td class="num">{}</td><td class="num">{}</td></tr>'
                ).format(row.key, label, row.value, row.change, row.n)
            return out

        switch = Markup("").join(
            Markup('<a href="/d/{}?week={}">{}</a>').format(loc, week, loc)
            for loc in user.locations
        )
        previous, following = week.previous().key, week.next().key
        drills = Markup("").join(
            Markup('<a href="{}/conversations?week={}&amp;list={}">{}</a>').format(
                base, week, key, label)
            for key, (label, _cond) in DRILLS.items()
        )  # fmt: skip
        head = Markup("<tr><th>Figure</th><th>This week</th><th>vs last week</th><th>n</th></tr>")
        body = Markup(
            '<nav>Locations: {switch} · <a id="inbox-link" href="{base}/inbox">Inbox</a></nav>'
            '<h1 id="title">{dealer} · {week}</h1>'
            '<p><a href="{base}?week={prev}">← {prev}</a> · <a href="{base}?week={next}">'
            '{next} →</a></p><p id="volume">{conversations} conversations, {qualifying} qualifying '
            "for MEC.</p><h2>Headline</h2><table id=\"headline\">{head}{headline}</table>"
            '<h2>12 weeks</h2><img class="chart" alt="MEC against potential, CSAT and CES over '
            '12 weeks" src="{base}/chart.png?week={week}" width="800" height="520">'
            '<h2>Details</h2><table id="details">{head}{details}</table>{top}'
            "<h2>Conversations</h2><nav>{drills}</nav>"
            '<h2>MEC potential</h2><form method="post" action="{base}/potential">'
            '<input type="hidden" name="csrf" value="{csrf}">'
            '<label>Period <input name="period" value="{week}" required '
            'pattern="\\d{{4}}-(W\\d{{2}}|\\d{{2}})"></label>'
            '<label>Service appointments <input name="service_appointments" type="number" '
            'min="0" required></label><label>Sales leads <input name="sales_leads" '
            'type="number" min="0" required></label><button>Save</button></form>'
            '<form method="post" action="{base}/potential" enctype="multipart/form-data">'
            '<input type="hidden" name="csrf" value="{csrf}"><p><label>or import a CSV '
            "(dealer,period,service_appointments,sales_leads) "
            '<input type="file" name="file" accept=".csv,text/csv" required></label>'
            "<button>Import</button></p></form>{model}"
            '<p><a id="webhooks-link" href="{base}/webhooks">Webhook deliveries</a></p>'
        ).format(
            switch=switch, dealer=dealer_id, week=week, base=base, prev=previous,
            next=following, conversations=summary.conversations,
            qualifying=summary.qualifying, head=head, drills=drills,
            headline=rows(headline_rows(summary, "en")),
            details=rows(detail_rows(summary, "en")), top=top_lists_html(summary, "en", base),
            csrf=auth.csrf_token(cookie),
            model=model_status_html(models, dealer_timezone(dealer_id)),
        )  # fmt: skip
        message = request.query.get("saved")
        if message:
            body = Markup('<p class="ok" id="notice">{}</p>').format(message) + body
        return page(f"{dealer_id} {week}", body, user, auth.csrf_token(cookie))

    async def live_models(self) -> list[ServerModel]:
        """Which model every Rasa server runs, since when (metrics/web/model_status.py)."""
        settings = get_settings()
        token = self.rasa_api_token or rasa_api_token(settings, create=False)
        return await server_models(self.rasa_urls or settings.rasa_urls, token,
                                   self.session_factory)  # fmt: skip

    async def chart(self, request: web.Request) -> web.Response:
        from metrics.report.chart import render_chart  # matplotlib: 2.5 s, on the first chart

        user, _ = self.current(request)
        dealer_id = self.location(request, user)
        summary = await self.db(
            build_weekly_summary, self.session_factory, dealer_id, self.week_of(request, dealer_id)
        )
        png = await self.db(
            lambda: render_chart(summary.trend, "en",
                                 potential_estimated=summary.potential_estimated)
        )  # fmt: skip
        return web.Response(body=png, content_type="image/png")

    async def _listed(self, request: web.Request) -> tuple[auth.User, str, str, Period, list, str]:
        user, cookie = self.current(request)
        dealer_id = self.location(request, user)
        week = self.week_of(request, dealer_id)
        drill = request.query.get("list", "all")
        if drill not in DRILLS:
            raise web.HTTPBadRequest(text=f"unknown list {drill!r}")
        rows = await self.db(conversation_list, self.session_factory, dealer_id, week, drill)
        return user, cookie, dealer_id, week, rows, drill

    async def conversations(self, request: web.Request) -> web.Response:
        user, cookie, dealer_id, week, rows, drill = await self._listed(request)
        table = Markup("").join(
            Markup(
                '<tr><td><a href="/conversations/{id}">{short}</a></td><td>{when}</td>'
                "<td>{channel}</td><td>{lang}</td><td>{outcome}</td><td>{q}</td>"
                '<td>{contact}</td><td class="num">{csat}</td><td class="num">{ces}</td>'
                "<td>{comment}</td></tr>"
            ).format(
                id=r.id,
                short=r.id[:12],
                when=r.started_at.strftime("%a %d %b %H:%M"),
                channel=r.channel,
                lang=r.language,
                outcome=r.outcome,
                q="yes" if r.qualifies else "no",
                contact=r.contact,
                csat="" if r.csat is None else r.csat,
                ces="" if r.ces is None else r.ces,
                comment=r.comment or "",
            )  # fmt: skip
            for r in rows
        )
        body = Markup(
            '<p><a href="/d/{d}?week={w}">← {d} · {w}</a></p><h1>{label}</h1>'
            '<p><span id="count">{n}</span> conversations · '
            '<a href="/d/{d}/conversations.csv?week={w}&amp;list={drill}">Download CSV</a></p>'
            '<table id="conversations"><tr><th>Conversation</th><th>Started</th><th>Channel</th>'
            "<th>Lang.</th><th>Outcome</th><th>MEC</th><th>Contact</th><th>CSAT</th><th>CES</th>"
            "<th>Comment</th></tr>{table}</table>"
        ).format(d=dealer_id, w=week, label=DRILLS[drill][0], n=len(rows), drill=drill,
                 table=table)  # fmt: skip
        return page(f"{dealer_id} {week} {drill}", body, user, auth.csrf_token(cookie))

    async def conversations_csv(self, request: web.Request) -> web.Response:
        _user, _cookie, dealer_id, week, rows, drill = await self._listed(request)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["conversation_id", "started", "channel", "language", "outcome",
                         "qualifying", "contact", "csat", "ces", "comment"])  # fmt: skip
        for r in rows:
            writer.writerow([r.id, r.started_at.isoformat(timespec="minutes"), r.channel,
                             r.language, r.outcome, 1 if r.qualifies else 0, r.contact,
                             "" if r.csat is None else r.csat, "" if r.ces is None else r.ces,
                             safe_cell(r.comment)])  # fmt: skip
        name = f"{dealer_id}-{week}-{drill}.csv"
        return web.Response(
            text=out.getvalue(), content_type="text/csv", charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )  # fmt: skip

    async def top_csv(self, request: web.Request) -> web.Response:
        """The week's top intents and fallback messages as the CLI's ``export --top`` CSV."""
        user, _ = self.current(request)
        dealer_id = self.location(request, user)
        week = self.week_of(request, dealer_id)
        text = await self.db(export_top_csv, self.session_factory, dealer_id, week)
        return web.Response(
            text=text, content_type="text/csv", charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{dealer_id}-{week}-top.csv"'},
        )  # fmt: skip

    async def conversation(self, request: web.Request) -> web.Response:
        user, cookie = self.current(request)
        row = await self.db(get_conversation, self.session_factory, request.match_info["id"])
        if row is None or row.dealer_id not in user.locations or row.is_test:
            raise web.HTTPNotFound(text="no such conversation")
        settings = get_settings()
        found = await self.db(
            transcript, self.session_factory, self.tracker_db_url or settings.tracker_db_url,
            row, settings.contact_key_secret,
        )  # fmt: skip
        zone = dealer_timezone(row.dealer_id)
        lines = Markup("").join(
            Markup('<div class="msg {}"><span class="muted">{} · {}</span>\n{}</div>').format(
                line.who, line.staff or ("Customer" if line.who == "customer" else "Bot"),
                line.at.astimezone(zone).strftime("%H:%M:%S") if line.at else "", line.text)
            for line in found.lines
        )  # fmt: skip
        if not found.found:
            lines = Markup('<p class="muted">The messages are no longer stored (erased or past '
                           "the retention period).</p>")  # fmt: skip
        answers = Markup("").join(
            Markup("<tr><td>{}</td><td>{}</td></tr>").format(q, a)
            for q, a in sorted(found.answers.items())
        )
        body = Markup(
            '<p><a href="/d/{d}?week={w}">← {d} · {w}</a></p><h1>Conversation {short}</h1>'
            '<table id="facts"><tr><th>Contact</th><td id="contact">{contact}</td></tr>'
            "<tr><th>Started</th><td>{when}</td></tr><tr><th>Channel</th><td>{channel}</td></tr>"
            "<tr><th>Outcome</th><td>{outcome}</td></tr><tr><th>Qualifies</th><td>{q} ({why})"
            '</td></tr></table><h2>Survey</h2><table id="answers">{answers}</table>'
            '<h2>Transcript</h2><div id="transcript">{lines}</div>'
        ).format(
            d=row.dealer_id, w=row.week_key, short=row.id[:12], contact=found.contact,
            when=local_time(row.started_at, zone), channel=row.channel, outcome=row.outcome,
            q="yes" if row.qualifies else "no", why=row.qualify_reason,
            answers=answers or Markup('<tr><td class="muted">no answers</td></tr>'), lines=lines,
        )  # fmt: skip
        return page(f"Conversation {row.id[:12]}", body, user, auth.csrf_token(cookie))

    async def potential(self, request: web.Request) -> web.Response:
        user, cookie = self.current(request)
        dealer_id = self.location(request, user)
        form = await self.check_form(request, cookie)
        upload = form.get("file")
        try:
            if isinstance(upload, web.FileField):
                text = upload.file.read().decode("utf-8-sig")
                rows = read_potential_csv(io.StringIO(text), known_dealers=user.locations)
                source = f"dashboard upload {upload.filename}"[:200]
            else:
                rows = validate_rows([{
                    "dealer": dealer_id, "period": form.get("period"),
                    "service_appointments": form.get("service_appointments"),
                    "sales_leads": form.get("sales_leads"),
                }], known_dealers=user.locations)  # fmt: skip
                source = f"dashboard form ({user.name})"
            done = await self.db(
                lambda: import_potential(self.session_factory, rows, source=source,
                                         known_dealers=user.locations)
            )  # fmt: skip
        except (PotentialImportError, UnicodeDecodeError) as exc:
            errors = getattr(exc, "errors", [str(exc)])
            items = Markup("").join(Markup("<li>{}</li>").format(e) for e in errors)
            body = Markup(
                '<h1>Not saved</h1><ul class="error" id="errors">{}</ul>'
                '<p><a href="/d/{}">Back</a></p>'
            ).format(items, dealer_id)
            response = page("Not saved", body, user, auth.csrf_token(cookie))
            response.set_status(400)
            return response
        saved = ", ".join(f"{r.dealer_id} {r.period.key}" for r in done)
        week = request.query.get("week") or self.week_of(request, dealer_id)
        raise web.HTTPSeeOther(
            f"/d/{dealer_id}?week={week}&saved=" + quote(f"MEC potential saved: {saved}")
        )

    async def webhooks(self, request: web.Request) -> web.Response:
        """The location's webhook delivery log: every attempt, newest first (docs/webhooks.md)."""
        from core.store.outbox import webhook_attempts

        user, cookie = self.current(request)
        dealer_id = self.location(request, user)
        attempts = await self.db(webhook_attempts, self.session_factory, dealer_id)
        rows = Markup("").join(
            Markup(
                '<tr><td>{}</td><td>{}</td><td class="num">{}</td><td>{}</td>'
                '<td class="num">{}</td></tr>'
            ).format(
                a.attempted_at.strftime("%Y-%m-%d %H:%M:%S"),
                a.url,
                a.status_code or "",
                a.error or "",
                a.duration_ms,
            )  # fmt: skip
            for a in attempts
        )
        body = Markup(
            '<p><a href="/d/{d}">← {d}</a></p><h1>Webhook deliveries</h1>'
            '<p class="muted">Every call to the CRM webhooks, newest first (times in UTC).</p>'
            '<table id="webhook-attempts"><tr><th>Time</th><th>URL</th><th>HTTP</th>'
            "<th>Error</th><th>ms</th></tr>{rows}</table>"
        ).format(d=dealer_id, rows=rows)
        return page(f"{dealer_id} webhooks", body, user, auth.csrf_token(cookie))

    async def stylesheet(self, _request: web.Request) -> web.Response:
        from metrics.web.inbox import CSS as INBOX_CSS

        return web.Response(text=CSS + INBOX_CSS, content_type="text/css")


DASHBOARD = web.AppKey("dashboard", Dashboard)  # the app's Dashboard, for handlers and tests


def make_app(session_factory: sessionmaker | None = None, *, users_path: Any = None,
             tracker_db_url: str | None = None, clock: auth.Clock = time.time,
             trusted_proxies: Iterable[str] | None = None) -> web.Application:  # fmt: skip
    """The dashboard application; nothing touches the database until a request comes.

    ``trusted_proxies`` (default ``DEALERBOT_TRUSTED_PROXIES``): peers whose ``X-Forwarded-*``
    headers are believed; ``clock`` drives sessions and the log-in limit (tests set it).
    """
    if trusted_proxies is None:
        trusted_proxies = get_settings().trusted_proxies
    dash = Dashboard(session_factory, users_path, tracker_db_url, clock)
    app = web.Application(
        middlewares=[forwarded_middleware(parse_trusted_proxies(trusted_proxies)),
                     security_headers],
        client_max_size=2 * 1024 * 1024,
    )  # fmt: skip
    app.add_routes([
        web.get("/", dash.home),
        web.get("/login", dash.login_form),
        web.post("/login", dash.login),
        web.post("/logout", dash.logout),
        web.get("/static/dashboard.css", dash.stylesheet),
        web.get("/d/{dealer}", dash.summary),
        web.get("/d/{dealer}/chart.png", dash.chart),
        web.get("/d/{dealer}/conversations", dash.conversations),
        web.get("/d/{dealer}/conversations.csv", dash.conversations_csv),
        web.get("/d/{dealer}/top.csv", dash.top_csv),
        web.post("/d/{dealer}/potential", dash.potential),
        web.get("/d/{dealer}/webhooks", dash.webhooks),
        web.get("/conversations/{id}", dash.conversation),
    ])  # fmt: skip
    app[DASHBOARD] = dash
    from metrics.web.inbox import add_routes as add_inbox_routes

    add_inbox_routes(app, dash)
    return app


def run(host: str = "127.0.0.1", port: int = 8090, **kwargs: Any) -> None:
    web.run_app(make_app(**kwargs), host=host, port=port, print=None)
