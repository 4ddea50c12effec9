"""The dealer dashboard (aiohttp): weekly figures, 12-week chart, top lists, drill-down,
transcripts, CSV, MEC potential. Each dealer logs in with their token and sees only their own
locations.

Every page is built from autoescaped Jinja2 templates (``metrics/web/templates``) or
``markupsafe.Markup`` templates, so every value put in is escaped; every text is in the page's
language (``metrics.web.texts``: the dealer's ``reports.language`` or the user's switch);
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
from typing import Any, TypedDict
from urllib.parse import quote, urlsplit

from aiohttp import web
from markupsafe import Markup
from sqlalchemy.orm import sessionmaker

from core.periods import Period, PeriodError, dealer_timezone, local_day, parse_period, period_of
from core.settings import get_settings, rasa_api_token, utc_now
from core.store.session import default_session_factory
from metrics.digest import build_digest
from metrics.figures import FIGURE_DRILLS
from metrics.jobs import current_weekly_summary
from metrics.potential import (
    PotentialImportError,
    import_potential,
    read_potential_csv,
    validate_rows,
)
from metrics.report.dates import local_datetime, week_span, week_title
from metrics.report.export import export_top_csv, safe_cell
from metrics.report.glossary import explain
from metrics.report.render import (
    TEXTS,
    channel_label,
    detail_rows,
    headline_rows,
    intent_label,
    language_of,
    outcome_label,
    render_digest_html,
)
from metrics.summary import build_weekly_summary
from metrics.web import auth
from metrics.web.data import DRILLS, conversation_list, get_conversation, transcript
from metrics.web.model_status import ServerModel, model_status_html, server_models
from metrics.web.pages import SECURITY_HEADERS, http_error, page, render
from metrics.web.texts import (
    dealer_name,
    page_language,
    reason_text,
    remember_language,
    texts,
)

log = logging.getLogger(__name__)

CSS = """
body{margin:0;font:15px/1.45 system-ui,sans-serif;color:#1d1d1f;background:#f4f6f9}
header{display:flex;flex-wrap:wrap;gap:8px;justify-content:space-between;align-items:center;
padding:12px 24px;background:#1f5fa8;color:#fff}header a{color:#fff}
header button{color:#fff;background:#174a84;border:1px solid #fff;border-radius:4px;
padding:3px 10px;font:inherit;cursor:pointer}header button:hover{background:#0f3561}
.lang-switch{margin-right:12px}abbr[title]{text-decoration:underline dotted;cursor:help}
a{color:#1a56a0}
main{max-width:1000px;margin:0 auto;padding:16px 24px}
table{border-collapse:collapse;width:100%;background:#fff;margin:8px 0 20px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e3e7ec;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.chart{max-width:100%;background:#fff}.muted{color:#667}.error{color:#a33}.ok{color:#276}
.msg{margin:6px 0;padding:8px 12px;border-radius:10px;max-width:75%;white-space:pre-wrap;
overflow-wrap:anywhere}.customer{background:#fff;border:1px solid #dde3ea}
.bot{background:#e4edf8;margin-left:auto}form.inline{display:inline}
nav a{margin-right:12px}label{display:inline-block;margin-right:12px}
td.text{overflow-wrap:anywhere}.scroll{overflow-x:auto;max-width:100%}
@media (max-width:700px){main{padding:12px 10px}header{padding:10px}
table{display:block;overflow-x:auto;max-width:100%}th,td{padding:5px 6px}
img.chart{width:100%;height:auto}.msg{max-width:92%}label{display:block;margin:4px 0}}
"""


def top_lists_html(summary: Any, lang: str, base: str) -> Markup:
    """The week's top intents and top fallback messages (``WeeklySummary.top_intents`` /
    ``top_fallbacks``) with the weekly e-mail's headings, in ``lang`` (nl or en). The fallback
    texts are customer text: Markup escapes them like every other value."""
    lang = language_of(lang)
    t = TEXTS[lang]
    week = summary.week
    dash = texts(lang)
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
             fallbacks=fallbacks, base=base, week=week, download=dash["download_csv"])  # fmt: skip


def drill_label(drill: str, lang: str) -> str:
    """A drill-down list's name in ``lang`` (``texts`` ``drill_<key>``; a list added to
    ``metrics.web.data.DRILLS`` without texts shows its own label)."""
    return texts(lang).get(f"drill_{drill}", DRILLS[drill][0])


def current_week(dealer_id: str) -> Period:
    """The ISO week that is running now in the dealer's time zone (the week page's default)."""
    return period_of("week", local_day(utc_now(), dealer_timezone(dealer_id)))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Forwarded(TypedDict, total=False):
    """What the trusted proxy's headers change in a request (``web.Request.clone``)."""

    scheme: str
    host: str
    remote: str


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
            changes: _Forwarded = {}
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
        if user is None:  # no cookie: the log-in page; a dead or forged one: with the reason
            raise web.HTTPFound("/login?expired=1" if cookie else "/login")
        assert cookie is not None  # a user is found only by the session cookie
        return user, cookie

    def location(self, request: web.Request, user: auth.User) -> str:
        dealer_id = request.match_info["dealer"]
        if dealer_id not in user.locations:
            # Not one of this dealer's locations: answer as if it did not exist.
            lang = page_language(request)
            raise http_error(web.HTTPNotFound, texts(lang)["not_found"], lang, request)
        return dealer_id

    @staticmethod
    def same_origin(request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        return not origin or origin == f"{request.scheme}://{request.host}"

    async def check_form(self, request: web.Request, cookie: str) -> Any:
        form = await request.post()
        lang = page_language(request, request.match_info.get("dealer"))
        if not self.same_origin(request):
            raise http_error(web.HTTPForbidden, texts(lang)["cross_site"], lang, request)
        if form.get("csrf") != auth.csrf_token(cookie):
            raise http_error(web.HTTPForbidden, texts(lang)["form_expired"], lang, request)
        return form

    def login_page(self, request: web.Request, error: str = "", name: str = "",
                   status: int = 200) -> web.Response:  # fmt: skip
        """The log-in form in the user's language, with ``error`` (a text key) above it."""
        lang = page_language(request)
        t = texts(lang)
        response = page(t["login_title"], render("login.html", lang, error=error, name=name),
                        lang=lang, request=request)  # fmt: skip
        response.set_status(status)
        return response

    def locked_page(self, request: web.Request, seconds: int, name: str) -> web.Response:
        minutes = max(1, -(-seconds // 60))
        text = texts(page_language(request))["login_locked"].format(minutes=minutes)
        response = self.login_page(request, text, name, 429)
        response.headers["Retry-After"] = str(seconds)
        return response

    async def login_form(self, request: web.Request) -> web.Response:
        expired = request.query.get("expired")
        return self.login_page(
            request, texts(page_language(request))["login_expired"] if expired else ""
        )

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        t = texts(page_language(request))
        if not self.same_origin(request):
            return self.login_page(request, t["login_cross_site"], status=403)
        name = str(form.get("name") or "").strip()[:100]
        keys = (f"ip:{client_key(request.remote)}", f"user:{name}")
        # One check at a time: parallel guesses cannot all pass before the first failure is
        # counted, and at most one scrypt (32 MiB) runs per process.
        async with self._login_lock:
            wait = self.throttle.retry_after(*keys)
            if wait:  # locked: the token is not even looked at
                return self.locked_page(request, wait, name)
            token = str(form.get("token") or "")
            user = await self.db(auth.authenticate, self.users(), name, token)
            if user is None:
                log.warning("dashboard: failed log-in")  # no name or address: personal data
                wait = self.throttle.failed(*keys)
                if wait:
                    return self.locked_page(request, wait, name)
                return self.login_page(request, t["login_wrong"], name, 403)
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
            lang = page_language(request, dealer_id)
            try:
                period = parse_period(wanted)
            except PeriodError as exc:
                raise http_error(web.HTTPBadRequest, texts(lang)["bad_week"], lang,
                                 request) from exc  # fmt: skip
            if period.kind != "week":
                raise http_error(web.HTTPBadRequest, texts(lang)["bad_week"], lang, request)
            return period
        # The current week in the dealer's time zone: what a dealer opening the page expects.
        return current_week(dealer_id)

    async def home(self, request: web.Request) -> web.Response:
        user, _ = self.current(request)
        raise web.HTTPFound(f"/d/{user.locations[0]}")

    async def summary(self, request: web.Request) -> web.Response:
        user, cookie = self.current(request)
        dealer_id = self.location(request, user)
        week = self.week_of(request, dealer_id)
        lang = page_language(request, dealer_id)
        t = texts(lang)
        # rolls up the week's dirty days first: the figures include this morning's chats
        summary = await self.db(current_weekly_summary, self.session_factory, dealer_id, week)
        digest = await self.digest_html(dealer_id, week, summary, lang)  # the action first
        base = f"/d/{dealer_id}"
        models = await self.live_models()

        def rows(items: list) -> list[dict[str, Any]]:
            return [{"key": r.key, "label": r.label, "value": r.value, "change": r.change,
                     "n": r.n, "drill": FIGURE_DRILLS.get(r.key)} for r in items]  # fmt: skip

        previous, following = week.previous(), week.next()
        title = week_title(dealer_name(dealer_id), week, lang)
        saved = request.query.get("saved")
        body = render(
            "week.html", lang, base=base, week=week.key, title=title, digest=digest,
            saved=t["saved"].format(saved=saved) if saved else "",
            locations=[(loc, dealer_name(loc)) for loc in user.locations],
            prev=previous.key, next=following.key,
            prev_label=week_span(previous.start, previous.last_day, lang),
            next_label=week_span(following.start, following.last_day, lang),
            is_current=week == current_week(dealer_id),
            volume=t["volume"].format(conversations=summary.conversations,
                                      qualifying=summary.qualifying),
            headline=rows(headline_rows(summary, lang)), details=rows(detail_rows(summary, lang)),
            top=top_lists_html(summary, lang, base),
            drills=[(key, drill_label(key, lang)) for key in DRILLS],
            csrf=auth.csrf_token(cookie),
            model=model_status_html(models, dealer_timezone(dealer_id), lang),
        )  # fmt: skip
        return page(title, body, user, auth.csrf_token(cookie), lang=lang,
                    request=request)  # fmt: skip

    async def digest_html(self, dealer_id: str, week: Period, summary: Any, lang: str) -> Markup:
        """The week's digest (``metrics.digest``: the sentence and the to-do list) in the
        page's language, with links inside the dashboard; it opens the week page."""
        digest = await self.db(
            lambda: build_digest(self.session_factory, dealer_id, week, summary=summary)
        )
        # render_digest_html escapes every value it puts in
        return Markup(render_digest_html(digest, lang, "", dealer_timezone(dealer_id)))

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
        lang = page_language(request, dealer_id)
        png = await self.db(
            lambda: render_chart(summary.trend, lang,
                                 potential_estimated=summary.potential_estimated)
        )  # fmt: skip
        return web.Response(body=png, content_type="image/png")

    async def _listed(self, request: web.Request) -> tuple[auth.User, str, str, Period, list, str]:
        user, cookie = self.current(request)
        dealer_id = self.location(request, user)
        week = self.week_of(request, dealer_id)
        drill = request.query.get("list", "all")
        if drill not in DRILLS:
            lang = page_language(request, dealer_id)
            raise http_error(web.HTTPBadRequest, texts(lang)["bad_list"], lang, request)
        rows = await self.db(conversation_list, self.session_factory, dealer_id, week, drill)
        return user, cookie, dealer_id, week, rows, drill

    async def conversations(self, request: web.Request) -> web.Response:
        user, cookie, dealer_id, week, rows, drill = await self._listed(request)
        lang = page_language(request, dealer_id)
        t = texts(lang)
        table = Markup("").join(
            Markup(
                '<tr><td><a href="/conversations/{id}">{short}</a></td><td>{when}</td>'
                "<td>{channel}</td><td>{lang}</td><td>{outcome}</td><td>{q}</td>"
                '<td>{contact}</td><td class="num">{csat}</td><td class="num">{ces}</td>'
                '<td class="text">{comment}</td></tr>'
            ).format(
                id=r.id,
                short=r.id[:12],
                when=local_datetime(r.started_at, r.started_at.tzinfo, lang, "short"),
                channel=channel_label(r.channel, lang),
                lang=r.language,
                outcome=outcome_label(r.outcome, lang),
                q=t["yes"] if r.qualifies else t["no"],
                contact=r.contact,
                csat="" if r.csat is None else r.csat,
                ces="" if r.ces is None else r.ces,
                comment=r.comment or "",
            )  # fmt: skip
            for r in rows
        )
        title = week_title(dealer_name(dealer_id), week, lang)
        head = Markup("").join(Markup("<th>{}</th>").format(explain(h, lang))
                               for h in self.list_headers(lang))  # fmt: skip
        body = Markup(
            '<p><a id="back" href="/d/{d}?week={w}">← {title}</a></p><h1>{label}</h1>'
            '<p><span id="count">{n}</span> {n_conversations} · '
            '<a href="/d/{d}/conversations.csv?week={w}&amp;list={drill}">{download}</a></p>'
            '<div class="scroll"><table id="conversations"><tr>{head}</tr>{table}</table></div>'
        ).format(d=dealer_id, w=week.key, title=title,
                 label=explain(drill_label(drill, lang), lang), n=len(rows),
                 n_conversations=t["n_conversations"], drill=drill,
                 download=t["download_csv"], head=head, table=table)  # fmt: skip
        return page(f"{drill_label(drill, lang)} · {title}", body, user, auth.csrf_token(cookie),
                    lang=lang, request=request)  # fmt: skip

    @staticmethod
    def list_headers(lang: str) -> list[str]:
        """The column headers of a drill-down list and its CSV, in ``lang``."""
        t = texts(lang)
        return [t["conversation"], t["started"], t["channel"], t["lang_short"], t["outcome"],
                "MEC", t["contact"], "CSAT", "CES", t["comment"]]  # fmt: skip

    async def conversations_csv(self, request: web.Request) -> web.Response:
        """The drill-down list as CSV; the header row in the page's language (people read it),
        the times as ``YYYY-MM-DD HH:MM`` in the dealer's time zone (spreadsheets read them)."""
        _user, _cookie, dealer_id, week, rows, drill = await self._listed(request)
        lang = page_language(request, dealer_id)
        t = texts(lang)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(self.list_headers(lang))
        for r in rows:
            writer.writerow([r.id, r.started_at.strftime("%Y-%m-%d %H:%M"),
                             channel_label(r.channel, lang), r.language,
                             outcome_label(r.outcome, lang), t["yes"] if r.qualifies else t["no"],
                             r.contact, "" if r.csat is None else r.csat,
                             "" if r.ces is None else r.ces, safe_cell(r.comment)])  # fmt: skip
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
            lang = page_language(request)
            raise http_error(web.HTTPNotFound, texts(lang)["not_found"], lang, request)
        lang = page_language(request, row.dealer_id)
        t = texts(lang)
        settings = get_settings()
        found = await self.db(
            transcript, self.session_factory, self.tracker_db_url or settings.tracker_db_url,
            row, settings.contact_key_secret,
        )  # fmt: skip
        zone = dealer_timezone(row.dealer_id)
        lines = Markup("").join(
            Markup('<div class="msg {}"><span class="muted">{} · {}</span>\n{}</div>').format(
                line.who, line.staff or (t["customer"] if line.who == "customer" else t["bot"]),
                local_datetime(line.at, zone, lang, "time") if line.at else "", line.text)
            for line in found.lines
        )  # fmt: skip
        if not found.found:
            lines = Markup('<p class="muted">{}</p>').format(t["gone"])
        answers = Markup("").join(
            Markup("<tr><th>{}</th><td>{}</td></tr>").format(
                explain(t.get(f"question_{q}", q), lang), a)
            for q, a in sorted(found.answers.items())
        )  # fmt: skip
        title = week_title(dealer_name(row.dealer_id), row.week_key, lang)
        body = Markup(
            '<p><a id="back" href="/d/{d}?week={w}">← {title}</a></p>'
            "<h1>{conversation} {short}</h1>"
            '<table id="facts"><tr><th>{contact_label}</th><td id="contact">{contact}</td></tr>'
            "<tr><th>{started}</th><td>{when}</td></tr><tr><th>{channel_label}</th>"
            '<td>{channel}</td></tr><tr><th>{outcome_label}</th><td id="outcome">{outcome}</td>'
            "</tr><tr><th>{qualifies}</th><td>{q} ({why})</td></tr></table>"
            '<h2>{survey}</h2><table id="answers">{answers}</table>'
            '<h2>{transcript}</h2><div id="transcript">{lines}</div>'
        ).format(
            d=row.dealer_id, w=row.week_key, title=title, conversation=t["conversation"],
            short=row.id[:12], contact_label=t["contact"], contact=found.contact,
            started=t["started"], when=local_datetime(row.started_at, zone, lang),
            channel_label=t["channel"], channel=channel_label(row.channel, lang),
            outcome_label=t["outcome"], outcome=outcome_label(row.outcome, lang),
            qualifies=explain(t["qualifies"], lang), q=t["yes"] if row.qualifies else t["no"],
            why=reason_text(row.qualify_reason, lang), survey=t["survey"],
            answers=answers or Markup('<tr><td class="muted">{}</td></tr>').format(
                t["no_answers"]),
            transcript=t["transcript"], lines=lines,
        )  # fmt: skip
        return page(f"{t['conversation']} {row.id[:12]}", body, user, auth.csrf_token(cookie),
                    lang=lang, request=request)  # fmt: skip

    async def potential(self, request: web.Request) -> web.Response:
        user, cookie = self.current(request)
        dealer_id = self.location(request, user)
        lang = page_language(request, dealer_id)
        t = texts(lang)
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
            back = request.query.get("week") or ""
            body = Markup(
                '<h1>{}</h1><ul class="error" id="errors">{}</ul>'
                '<p><a href="/d/{}?week={}">{}</a></p>'
            ).format(t["not_saved"], items, dealer_id, back, t["back"])
            response = page(t["not_saved"], body, user, auth.csrf_token(cookie), lang=lang,
                            request=request)  # fmt: skip
            response.set_status(400)
            return response
        saved = ", ".join(f"{r.dealer_id} {r.period.key}" for r in done)
        raise web.HTTPSeeOther(
            f"/d/{dealer_id}?week={self.edited_week(request, done, dealer_id).key}&saved="
            + quote(saved)
        )

    def edited_week(self, request: web.Request, done: list, dealer_id: str) -> Period:
        """The week to return to after saving potential: the week saved (the form's period),
        else the week the form was on (``?week=``), else the current week."""
        for row in done:
            if row.dealer_id == dealer_id and row.period.kind == "week":
                return row.period
        return self.week_of(request, dealer_id)

    async def webhooks(self, request: web.Request) -> web.Response:
        """The location's webhook delivery log: every attempt, newest first (docs/webhooks.md)."""
        from core.store.outbox import webhook_attempts

        user, cookie = self.current(request)
        dealer_id = self.location(request, user)
        lang = page_language(request, dealer_id)
        t = texts(lang)
        zone = dealer_timezone(dealer_id)
        attempts = await self.db(webhook_attempts, self.session_factory, dealer_id)
        rows = Markup("").join(
            Markup(
                '<tr><td>{}</td><td class="text">{}</td><td class="num">{}</td>'
                '<td class="text">{}</td><td class="num">{}</td></tr>'
            ).format(
                local_datetime(a.attempted_at, zone, lang, "full_seconds"),
                a.url,
                a.status_code or "",
                a.error or "",
                a.duration_ms,
            )  # fmt: skip
            for a in attempts
        )
        name = dealer_name(dealer_id)
        body = Markup(
            '<p><a href="/d/{d}">← {name}</a></p><h1>{title}</h1>'
            '<p class="muted">{intro}</p>'
            '<div class="scroll"><table id="webhook-attempts"><tr><th>{time}</th><th>URL</th>'
            "<th>{http}</th><th>{error}</th><th>{ms}</th></tr>{rows}</table></div>"
        ).format(d=dealer_id, name=name, title=t["webhooks"], intro=t["webhooks_intro"],
                 time=t["time"], http=t["http"], error=t["error_col"], ms=t["ms"],
                 rows=rows)  # fmt: skip
        return page(f"{t['webhooks']} · {name}", body, user, auth.csrf_token(cookie),
                    lang=lang, request=request)  # fmt: skip

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
                     security_headers, remember_language],
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
