"""The dealer dashboard (aiohttp): weekly figures, 12-week chart, top lists, drill-down,
transcripts, CSV, MEC potential. Each dealer logs in with their token and sees only their own
locations.

Every page is an autoescaped Jinja2 template (``metrics/web/templates``, ``metrics.web.pages``),
so every value put in is escaped; the handlers gather the data. Every text is in the page's
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
from dataclasses import dataclass
from typing import Any, TypedDict
from urllib.parse import quote, urlsplit

from aiohttp import web
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
from metrics.report.dates import week_span, week_title
from metrics.report.export import export_top_csv, safe_cell
from metrics.report.render import (
    TEXTS,
    DigestModel,
    channel_label,
    detail_rows,
    digest_model,
    headline_rows,
    intent_label,
    language_of,
    outcome_label,
)
from metrics.summary import build_weekly_summary
from metrics.web import auth
from metrics.web.data import DRILLS, conversation_list, get_conversation, transcript
from metrics.web.model_status import ServerModel, server_models
from metrics.web.pages import SECURITY_HEADERS, http_error, page
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


@dataclass(frozen=True)
class TopLists:
    """The week page's top intents and top fallback messages (``_top_lists.html``)."""

    texts: dict[str, str]  # the weekly e-mail's headings (``metrics.report.render.TEXTS``)
    intents: list[tuple[str, str, int]]  # intent, its label, count
    fallbacks: list[Any]  # ``metrics.summary.FallbackMessage``
    csv_url: str


def top_lists(summary: Any, lang: str, base: str) -> TopLists:
    """The week's top intents and top fallback messages (``WeeklySummary.top_intents`` /
    ``top_fallbacks``) with the weekly e-mail's headings, in ``lang`` (nl or en)."""
    lang = language_of(lang)
    intents = [(name, intent_label(name, lang), count) for name, count in summary.top_intents]
    return TopLists(TEXTS[lang], intents, list(summary.top_fallbacks),
                    f"{base}/top.csv?week={summary.week}")  # fmt: skip


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
        response = page("login.html", lang=lang, request=request, error=error, name=name)
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
        csrf = auth.csrf_token(cookie)
        # rolls up the week's dirty days first: the figures include this morning's chats
        summary = await self.db(current_weekly_summary, self.session_factory, dealer_id, week)
        digest = await self.week_digest(dealer_id, week, summary, lang)  # the action first
        base = f"/d/{dealer_id}"
        models = await self.live_models()

        def rows(items: list) -> list[dict[str, Any]]:
            return [{"key": r.key, "label": r.label, "value": r.value, "change": r.change,
                     "n": r.n, "drill": FIGURE_DRILLS.get(r.key)} for r in items]  # fmt: skip

        previous, following = week.previous(), week.next()
        title = week_title(dealer_name(dealer_id), week, lang)
        saved = request.query.get("saved")
        return page(
            "week.html", user, csrf, lang=lang, request=request,
            base=base, week=week.key, title=title, digest=digest,
            saved=t["saved"].format(saved=saved) if saved else "",
            locations=[(loc, dealer_name(loc)) for loc in user.locations],
            prev=previous.key, next=following.key,
            prev_label=week_span(previous.start, previous.last_day, lang),
            next_label=week_span(following.start, following.last_day, lang),
            is_current=week == current_week(dealer_id),
            volume=t["volume"].format(conversations=summary.conversations,
                                      qualifying=summary.qualifying),
            headline=rows(headline_rows(summary, lang)), details=rows(detail_rows(summary, lang)),
            top=top_lists(summary, lang, base),
            drills=[(key, drill_label(key, lang)) for key in DRILLS],
            models=models, zone=dealer_timezone(dealer_id),
        )  # fmt: skip

    async def week_digest(self, dealer_id: str, week: Period, summary: Any,
                          lang: str) -> DigestModel:  # fmt: skip
        """The week's digest (``metrics.digest``: the sentence and the to-do list) in the
        page's language, with links inside the dashboard; it opens the week page, which
        includes the e-mail's partial (``report/_digest.html``)."""
        digest = await self.db(
            lambda: build_digest(self.session_factory, dealer_id, week, summary=summary)
        )
        return digest_model(digest, lang, "", dealer_timezone(dealer_id))

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
        return page(
            "conversations.html", user, auth.csrf_token(cookie), lang=lang, request=request,
            dealer=dealer_id, week=week.key, drill=drill, label=drill_label(drill, lang),
            title=week_title(dealer_name(dealer_id), week, lang),
            heads=self.list_headers(lang), rows=rows,
        )  # fmt: skip

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
        settings = get_settings()
        found = await self.db(
            transcript, self.session_factory, self.tracker_db_url or settings.tracker_db_url,
            row, settings.contact_key_secret,
        )  # fmt: skip
        return page(
            "conversation.html", user, auth.csrf_token(cookie), lang=lang, request=request,
            row=row, found=found, zone=dealer_timezone(row.dealer_id),
            title=week_title(dealer_name(row.dealer_id), row.week_key, lang),
            why=reason_text(row.qualify_reason, lang),
        )  # fmt: skip

    async def potential(self, request: web.Request) -> web.Response:
        user, cookie = self.current(request)
        dealer_id = self.location(request, user)
        lang = page_language(request, dealer_id)
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
            response = page(
                "not_saved.html", user, auth.csrf_token(cookie), lang=lang, request=request,
                errors=getattr(exc, "errors", [str(exc)]), dealer=dealer_id,
                week=request.query.get("week") or "",
            )  # fmt: skip
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
        attempts = await self.db(webhook_attempts, self.session_factory, dealer_id)
        return page(
            "webhooks.html", user, auth.csrf_token(cookie), lang=lang, request=request,
            dealer=dealer_id, name=dealer_name(dealer_id), attempts=attempts,
            zone=dealer_timezone(dealer_id),
        )  # fmt: skip

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
