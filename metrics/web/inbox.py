"""The staff inbox of the dashboard: live lists per location, statuses with who and when, and
the live takeover of a conversation (docs/staff.md).

- ``/d/{dealer}/inbox``: open handoffs (with the customer's waiting time), new leads, test drives
  and today's and later workshop appointments. The lists update without a reload through
  server-sent events (``/d/{dealer}/inbox/events``): the server re-reads the store every
  ``POLL_SECONDS`` and sends the lists when they changed. Polling the store, not a message bus,
  because the actions, Rasa and the dashboard are separate processes that share only the store
  and Rasa; one small query per open inbox per second is nothing for either database.
- ``/d/{dealer}/inbox/lead/{id}``: one handoff or lead with its conversation (live too, read
  from Rasa's API), its history, and "Overnemen" / "Teruggeven aan de bot" / a reply form.
- A background task hands conversations back to the bot after
  ``DEALERBOT_TAKEOVER_TIMEOUT_MIN`` minutes without a staff action, with a message to the
  customer.

Access: the existing log-in; a location, lead or appointment of another dealer answers 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from markupsafe import Markup

from core.periods import dealer_timezone
from core.settings import get_settings, utc_now
from core.store import staff_inbox as store
from core.store.models import Appointment, Lead
from core.store.recorder import Recorder, record_session, spool_path
from core.store.spool import Spool
from dealer.config import DealerConfigError, all_dealers, template_route
from dealer.i18n import DEFAULT_LANGUAGE, lang_or_default
from metrics.report.dates import local_datetime
from metrics.web import auth
from metrics.web.data import transcript_lines
from metrics.web.inbox_texts import customer_text, texts
from metrics.web.pages import SECURITY_HEADERS, http_error, page, render
from metrics.web.rasa_api import RasaAPI, RasaAPIError
from metrics.web.texts import dealer_name, page_language
from metrics.web.texts import texts as texts_of_dashboard

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
HANDBACK_CHECK_SECONDS = 30.0
WHATSAPP_CHANNELS = ("whatsapp_cloud", "twilio_whatsapp")
WHATSAPP_WINDOW = dt.timedelta(hours=24)
MAX_REPLY_CHARS = 2000
AUTO_STAFF = "auto"  # the staff name of the automatic hand-back
# The inbox pages run one script of our own (the live lists) and open one event stream.
CSP = (
    "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SCRIPT = """(function () {
  document.querySelectorAll("[data-events]").forEach(function (box) {
    var source = new EventSource(box.getAttribute("data-events"));
    source.onmessage = function (e) {
      box.innerHTML = JSON.parse(e.data);
      box.setAttribute("data-updated", String(Date.now()));
    };
  });
})();
"""
CSS = """
.inbox h2{margin-top:24px}.staff{background:#fff4d6;margin-left:auto}
.notice{background:#fff4d6;padding:8px 12px}button.small{font-size:13px}
"""


def real_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def template_offered(dealer_id: str, lead: Lead) -> bool:
    """The dealer file names an approved template (``handoff.whatsapp``) with a route to this
    customer's language: staff may send it outside WhatsApp's 24-hour window."""
    try:
        dealer = all_dealers().get(dealer_id)
    except DealerConfigError:
        return False
    if dealer is None:
        return False
    lang = lang_or_default(lead.language)
    return template_route(dealer, dealer.handoff_whatsapp, lang) is not None


def _at(moment: dt.datetime | None, zone: Any, lang: str = DEFAULT_LANGUAGE) -> str:
    """A time of today as ``09:05``, of another day as ``18 nov 09:05`` (local style)."""
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
    today = aware.astimezone(zone).date() == real_now().astimezone(zone).date()
    return local_datetime(aware, zone, lang, "clock" if today else "day_time")


def status_text(status: store.Status, t: dict[str, str], zone: Any,
                lang: str = DEFAULT_LANGUAGE) -> str:  # fmt: skip
    if status.action == "new":
        return t["new"]
    return t[status.action].format(staff=status.staff, at=_at(status.at, zone, lang))


def note_text(lead: Lead, t: dict[str, str]) -> str:
    """A lead's note; a handoff's note is its reason code (``actions.handoff``), shown in words."""
    if lead.kind == "handoff" and lead.note:
        return t.get(f"reason_{lead.note}", lead.note)
    return lead.note or ""


def waiting_minutes(created_at: dt.datetime, now: dt.datetime) -> int:
    """Whole minutes since ``created_at`` (naive UTC), never negative."""
    waited = now.replace(tzinfo=None) - created_at if now.tzinfo is None else (
        now.astimezone(dt.timezone.utc).replace(tzinfo=None) - created_at)  # fmt: skip
    return max(0, int(waited.total_seconds() // 60))


def item_actions(kind: str, status: store.Status) -> list[str]:
    """The status buttons that fit an item's status (``status_forms`` in ``_macros.html``)."""
    return [a for a in ("claimed", "done", "won", "lost") if a in store.ITEM_ACTIONS[kind]
            and not (a == "claimed" and status.action == "claimed")]  # fmt: skip


def lists_html(lists: store.InboxLists, dealer_id: str, lang: str, now: dt.datetime,
               csrf: str) -> Markup:  # fmt: skip
    """The four live lists, as the page shows them and the event stream sends them
    (``templates/_inbox_lists.html``)."""
    t, zone = texts(lang), dealer_timezone(dealer_id)

    def lead_row(lead: Lead, status: store.Status, waiting: bool) -> dict[str, Any]:
        kind = store.item_kind_of(lead)
        held = lists.held.get(lead.sender_id)
        state = status_text(status, t, zone, lang)
        if held is not None:
            state = t["taken_over"].format(staff=held.staff, at=_at(held.since, zone, lang))
        minutes = waiting_minutes(lead.created_at, real_now())
        return {
            "id": lead.id, "item_kind": kind, "status": status.action, "state": state,
            "actions": item_actions(kind, status), "reference": lead.reference,
            "kind": t.get(f"kind_{lead.kind}", lead.kind), "channel": lead.channel,
            "customer": lead.customer_name or "", "car": lead.car or "",
            # a handoff: who, and where to call back (contact details, issue 19)
            "who": " · ".join(x for x in (lead.customer_name, lead.phone, lead.email) if x),
            "waiting": t["minutes"].format(n=minutes) if waiting else None,
        }  # fmt: skip

    def appointment_row(a: Appointment, status: store.Status) -> dict[str, Any]:
        return {
            "id": a.id, "item_kind": "appointment", "status": status.action,
            "state": status_text(status, t, zone, lang),
            "actions": item_actions("appointment", status), "reference": a.reference,
            "when": local_datetime(a.starts_at, zone, lang, "short"), "service": a.service_id,
            "plate": a.plate, "customer": a.customer_name,
        }  # fmt: skip

    return render(
        "_inbox_lists.html", lang, inbox_t=t, base=f"/d/{dealer_id}", csrf=csrf,
        handoffs=[lead_row(lead, s, True) for lead, s in lists.handoffs],
        leads=[lead_row(lead, s, False) for lead, s in lists.leads],
        test_drives=[lead_row(lead, s, False) for lead, s in lists.test_drives],
        appointments=[appointment_row(a, s) for a, s in lists.appointments],
    )  # fmt: skip


def transcript_html(tracker: dict | None, lang: str, zone: Any) -> Markup:
    """The conversation's messages from Rasa's tracker: customer, bot, and staff (named)
    (``templates/_inbox_transcript.html``)."""
    lines = None if tracker is None else transcript_lines(tracker.get("events") or [])
    return render("_inbox_transcript.html", lang, inbox_t=texts(lang), lines=lines, zone=zone)


def whatsapp_window_closed(tracker: dict | None, now: dt.datetime) -> bool:
    """A WhatsApp customer whose latest message is older than 24 hours: outside the window in
    which WhatsApp lets a business send free text."""
    if not tracker or tracker.get("latest_input_channel") not in WHATSAPP_CHANNELS:
        return False
    events = tracker.get("events") or []
    times = [e.get("timestamp") or 0 for e in events if e.get("event") == "user"]
    if not times:
        return True
    return now.timestamp() - max(times) > WHATSAPP_WINDOW.total_seconds()


def not_found(request: web.Request) -> web.HTTPException:
    """The 404 page of an item that is not there or not the user's, in the page's language."""
    lang = page_language(request, request.match_info.get("dealer"))
    return http_error(web.HTTPNotFound, texts_of_dashboard(lang)["not_found"], lang, request)


class Inbox:
    """The inbox's handlers, on the dashboard's log-in and store (``metrics.web.app``)."""

    def __init__(self, dash: Any, rasa: RasaAPI | None = None) -> None:
        self.dash = dash
        self._rasa = rasa

    @property
    def rasa(self) -> RasaAPI:
        if self._rasa is None:
            settings = get_settings()
            self._rasa = RasaAPI(settings.rasa_url, settings.rasa_api_token)
        return self._rasa

    # -- helpers ---------------------------------------------------------------------------
    def _page(self, template: str, user: auth.User, cookie: str, request: web.Request,
              lang: str, **context: Any) -> web.Response:  # fmt: skip
        """An inbox page (``template`` extends ``inbox_base.html``), with its own CSP."""
        response = page(template, user, auth.csrf_token(cookie), lang=lang, request=request,
                        inbox_t=texts(lang), **context)  # fmt: skip
        response.headers["Content-Security-Policy"] = CSP
        return response

    async def _lead(self, request: web.Request) -> tuple[auth.User, str, str, Lead]:
        user, cookie = self.dash.current(request)
        dealer_id = self.dash.location(request, user)
        lead = await self.dash.db(self._get, Lead, request.match_info["id"])
        if lead is None or lead.dealer_id != dealer_id:
            raise not_found(request)
        return user, cookie, dealer_id, lead

    def _get(self, model: type, item_id: str) -> Any:
        with self.dash.session_factory() as session:
            row = session.get(model, item_id)
            if row is not None:
                session.expunge(row)
            return row

    def _lists(self, dealer_id: str, csrf: str, lang: str) -> Markup:
        now = utc_now()  # the project's clock (DEALERBOT_FIXED_NOW in tests and demos)
        zone = dealer_timezone(dealer_id)
        day_start = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        lists = store.inbox_lists(self.dash.session_factory, dealer_id, now, day_start)
        return lists_html(lists, dealer_id, lang, now, csrf)

    async def _stream(self, request: web.Request, cookie: str,
                      render: Callable[[], Awaitable[str]]) -> web.StreamResponse:  # fmt: skip
        """Server-sent events: ``render()`` again every ``POLL_SECONDS``, sent when changed,
        until the client goes or the session ends (log-out stops the stream too)."""
        response = web.StreamResponse(headers={
            **SECURITY_HEADERS, "Content-Type": "text/event-stream",
            "X-Accel-Buffering": "no"})  # fmt: skip
        await response.prepare(request)
        last, quiet = None, 0.0
        try:
            while self.dash.sessions.user(self.dash.users(), cookie) is not None:
                html = await render()
                if html != last:
                    await response.write(f"data: {json.dumps(html)}\n\n".encode())
                    last, quiet = html, 0.0
                elif quiet >= HEARTBEAT_SECONDS:
                    await response.write(b": ping\n\n")
                    quiet = 0.0
                await asyncio.sleep(POLL_SECONDS)
                quiet += POLL_SECONDS
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response

    async def _tracker(self, sender_id: str) -> dict | None:
        try:
            return await self.rasa.tracker(sender_id)
        except RasaAPIError as exc:
            log.warning("inbox: conversation not read: %s", exc)
            return None

    # -- the lists -------------------------------------------------------------------------
    async def page(self, request: web.Request) -> web.Response:
        user, cookie = self.dash.current(request)
        dealer_id = self.dash.location(request, user)
        lang = page_language(request, dealer_id)
        lists = await self.dash.db(self._lists, dealer_id, auth.csrf_token(cookie), lang)
        return self._page("inbox.html", user, cookie, request, lang, dealer=dealer_id,
                          name=dealer_name(dealer_id), lists=lists)  # fmt: skip

    async def events(self, request: web.Request) -> web.StreamResponse:
        user, cookie = self.dash.current(request)
        dealer_id = self.dash.location(request, user)
        csrf, lang = auth.csrf_token(cookie), page_language(request, dealer_id)

        async def render() -> str:
            return str(await self.dash.db(self._lists, dealer_id, csrf, lang))

        return await self._stream(request, cookie, render)

    async def set_status(self, request: web.Request) -> web.Response:
        user, cookie = self.dash.current(request)
        dealer_id = self.dash.location(request, user)
        form = await self.dash.check_form(request, cookie)
        kind, item_id = request.match_info["kind"], request.match_info["id"]
        model = Appointment if kind == "appointment" else Lead
        row = await self.dash.db(self._get, model, item_id)
        if kind not in ("handoff", "lead", "appointment") or row is None or (
                row.dealer_id != dealer_id):  # fmt: skip
            raise not_found(request)
        if model is Lead and store.item_kind_of(row) != kind:
            raise not_found(request)
        try:
            await self.dash.db(lambda: store.record_event(
                self.dash.session_factory, dealer_id=dealer_id, kind=kind, item_id=item_id,
                action=str(form.get("action") or ""), staff=user.name))  # fmt: skip
        except store.InboxError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        back = request.headers.get("Referer", "")
        target = back if back.startswith(f"{request.scheme}://{request.host}/d/{dealer_id}/") else (
            f"/d/{dealer_id}/inbox")  # fmt: skip
        raise web.HTTPSeeOther(target)

    # -- one conversation ------------------------------------------------------------------
    async def conversation(self, request: web.Request) -> web.Response:
        user, cookie, dealer_id, lead = await self._lead(request)
        lang = page_language(request, dealer_id)
        t, zone, base = texts(lang), dealer_timezone(dealer_id), f"/d/{dealer_id}"
        kind = store.item_kind_of(lead)
        held = await self.dash.db(store.takeover_of, self.dash.session_factory, lead.sender_id)
        events = await self.dash.db(store.history, self.dash.session_factory, kind, lead.id)
        talk = await self.dash.db(store.history, self.dash.session_factory, "conversation",
                                  lead.sender_id)  # fmt: skip
        tracker = await self._tracker(lead.sender_id)
        status = store.statuses_of(self.dash.session_factory, kind, lead.id)
        facts = [
            (t["reference"], lead.reference),
            (t["kind"], t.get(f"kind_{lead.kind}", lead.kind)),
            (t["channel"], lead.channel), (t["name"], lead.customer_name or ""),
            (t["phone"], lead.phone or ""), (t["email"], lead.email or ""),
            (t["car"], lead.car or ""), (t["note"], note_text(lead, t)),
            (t["created"], _at(lead.created_at, zone, lang)),
            (t["status"], status_text(status, t, zone, lang)),
        ]  # fmt: skip
        window, offer = None, ""
        if whatsapp_window_closed(tracker, real_now()):
            window = ", ".join(x for x in (lead.phone, lead.email) if x)
            if template_offered(dealer_id, lead):
                sent = await self.dash.db(store.template_sent, self.dash.session_factory,
                                          lead.sender_id)  # fmt: skip
                offer = "sent" if sent else "send"
        changes = sorted([*events, *talk], key=lambda e: (e.at, e.id))
        notice = request.query.get("error")
        return self._page(
            "inbox_lead.html", user, cookie, request, lang,
            lead=lead, base=base, url=f"{base}/inbox/lead/{lead.id}", facts=facts,
            item_kind=kind, actions=item_actions(kind, status),
            held=held, window=window, offer=offer, max_reply=MAX_REPLY_CHARS,
            held_text=t["held_by"].format(staff=held.staff, at=_at(held.since, zone, lang))
            if held else "",
            transcript=transcript_html(tracker, lang, zone),
            history=[(_at(e.at, zone, lang), t[e.action].format(staff=e.staff,
                                                                 at=_at(e.at, zone, lang)))
                     for e in changes],
            notice=notice if notice in ("not_held", "empty_reply", "chat_unavailable",
                                        "no_template") else None,
        )  # fmt: skip

    async def conversation_events(self, request: web.Request) -> web.StreamResponse:
        _user, cookie, dealer_id, lead = await self._lead(request)
        lang, zone = page_language(request, dealer_id), dealer_timezone(dealer_id)

        async def render() -> str:
            return str(transcript_html(await self._tracker(lead.sender_id), lang, zone))

        return await self._stream(request, cookie, render)

    async def takeover(self, request: web.Request) -> web.Response:
        user, cookie, dealer_id, lead = await self._lead(request)
        await self.dash.check_form(request, cookie)
        url = f"/d/{dealer_id}/inbox/lead/{lead.id}"
        held = await self.dash.db(store.takeover_of, self.dash.session_factory, lead.sender_id)
        if held is None:
            try:
                await self.rasa.pause(lead.sender_id)
            except RasaAPIError as exc:
                log.warning("inbox: takeover failed: %s", exc)
                raise web.HTTPSeeOther(f"{url}?error=chat_unavailable") from exc
            kind = store.item_kind_of(lead)

            def keep() -> None:
                factory = self.dash.session_factory
                store.record_event(
                    factory,
                    dealer_id=dealer_id,
                    kind="conversation",
                    item_id=lead.sender_id,
                    action="taken_over",
                    staff=user.name,
                )
                if store.statuses_of(factory, kind, lead.id).action == "new":
                    store.record_event(factory, dealer_id=dealer_id, kind=kind, item_id=lead.id,
                                       action="claimed", staff=user.name)  # fmt: skip

            await self.dash.db(keep)
        raise web.HTTPSeeOther(url)

    async def reply(self, request: web.Request) -> web.Response:
        user, cookie, dealer_id, lead = await self._lead(request)
        form = await self.dash.check_form(request, cookie)
        url = f"/d/{dealer_id}/inbox/lead/{lead.id}"
        text = str(form.get("text") or "").strip()[:MAX_REPLY_CHARS]
        if not text:
            raise web.HTTPSeeOther(f"{url}?error=empty_reply")
        held = await self.dash.db(store.takeover_of, self.dash.session_factory, lead.sender_id)
        if held is None:
            raise web.HTTPSeeOther(f"{url}?error=not_held")
        try:
            await self.rasa.say(lead.sender_id, text, user.name)
        except RasaAPIError as exc:
            log.warning("inbox: staff message not sent: %s", exc)
            raise web.HTTPSeeOther(f"{url}?error=chat_unavailable") from exc
        await self.dash.db(lambda: store.record_event(
            self.dash.session_factory, dealer_id=dealer_id, kind="conversation",
            item_id=lead.sender_id, action="replied", staff=user.name))  # fmt: skip
        log.info("inbox: staff message sent (lead %s, %d chars)", lead.id, len(text))
        raise web.HTTPSeeOther(url)

    async def handback(self, request: web.Request) -> web.Response:
        user, cookie, dealer_id, lead = await self._lead(request)
        await self.dash.check_form(request, cookie)
        url = f"/d/{dealer_id}/inbox/lead/{lead.id}"
        held = await self.dash.db(store.takeover_of, self.dash.session_factory, lead.sender_id)
        if held is not None:
            try:
                await hand_back(
                    self.rasa,
                    self.dash.session_factory,
                    dealer_id,
                    lead.sender_id,
                    user.name,
                    lead.language,
                    "handed_back",
                )
            except RasaAPIError as exc:
                log.warning("inbox: hand-back failed: %s", exc)
                raise web.HTTPSeeOther(f"{url}?error=chat_unavailable") from exc
        raise web.HTTPSeeOther(url)

    async def template(self, request: web.Request) -> web.Response:
        """Queue the approved WhatsApp template for the customer (outside the 24-hour window);
        the outbox sends it, once per handoff."""
        user, cookie, dealer_id, lead = await self._lead(request)
        await self.dash.check_form(request, cookie)
        url = f"/d/{dealer_id}/inbox/lead/{lead.id}"
        if not template_offered(dealer_id, lead):
            raise web.HTTPSeeOther(f"{url}?error=no_template")
        await self.dash.db(store.send_template, self.dash.session_factory, lead.id, user.name)
        log.info("inbox: WhatsApp template queued (lead %s)", lead.id)
        raise web.HTTPSeeOther(url)

    async def script(self, _request: web.Request) -> web.Response:
        return web.Response(text=SCRIPT, content_type="application/javascript")

    # -- the automatic hand-back -----------------------------------------------------------
    async def hand_back_expired(self, now: dt.datetime | None = None) -> int:
        """Hand back every conversation held without a staff action for the configured time;
        the customer is told. Returns how many were handed back."""
        timeout = dt.timedelta(minutes=get_settings().takeover_timeout_min)
        factory = self.dash.session_factory
        expired = await self.dash.db(store.expired_takeovers, factory, now or real_now(), timeout)
        done = 0
        for dealer_id, sender_id in expired:
            lead = await self.dash.db(store.latest_handoff, factory, sender_id)
            try:
                await hand_back(
                    self.rasa,
                    factory,
                    dealer_id,
                    sender_id,
                    AUTO_STAFF,
                    lead.language if lead else None,
                    "timed_out",
                )
                done += 1
            except RasaAPIError as exc:
                log.warning("inbox: automatic hand-back failed, retried later: %s", exc)
        return done

    async def background(self, _app: web.Application) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                await asyncio.sleep(HANDBACK_CHECK_SECONDS)
                try:
                    await self.hand_back_expired()
                except Exception:  # noqa: BLE001 - the loop must outlive a store outage
                    log.exception("inbox: automatic hand-back check failed")

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def hand_back(rasa: RasaAPI, session_factory: Any, dealer_id: str, sender_id: str,
                    staff: str, language: str | None, message: str) -> None:  # fmt: skip
    """Tell the customer (``message``: a key of ``CUSTOMER``), resume the bot, keep the change,
    and write the conversation record: while the bot was paused no action ran, so the record
    lacks the customer's messages to staff until now (``core.store.recorder.record_session``).
    The message goes first: once resumed, the bot may already be answering."""
    await rasa.say(sender_id, customer_text(language, message), None)
    await rasa.resume(sender_id)
    store.record_event(session_factory, dealer_id=dealer_id, kind="conversation",
                       item_id=sender_id, action="handed_back", staff=staff)  # fmt: skip
    try:
        events = (await rasa.tracker(sender_id)).get("events") or []
    except RasaAPIError as exc:  # the next customer message records it (action server)
        log.warning("inbox: conversation record not updated: %s", exc)
        return
    recorder = Recorder(session_factory, Spool(spool_path()))
    await asyncio.to_thread(record_session, recorder, sender_id, events, dealer_id)


def add_routes(app: web.Application, dash: Any, rasa: RasaAPI | None = None) -> Inbox:
    """The inbox's routes and its hand-back task, on the dashboard ``app``."""
    inbox = Inbox(dash, rasa)
    app.add_routes([
        web.get("/static/inbox.js", inbox.script),
        web.get("/d/{dealer}/inbox", inbox.page),
        web.get("/d/{dealer}/inbox/events", inbox.events),
        web.post("/d/{dealer}/inbox/{kind}/{id}/status", inbox.set_status),
        web.get("/d/{dealer}/inbox/lead/{id}", inbox.conversation),
        web.get("/d/{dealer}/inbox/lead/{id}/events", inbox.conversation_events),
        web.post("/d/{dealer}/inbox/lead/{id}/takeover", inbox.takeover),
        web.post("/d/{dealer}/inbox/lead/{id}/reply", inbox.reply),
        web.post("/d/{dealer}/inbox/lead/{id}/handback", inbox.handback),
        web.post("/d/{dealer}/inbox/lead/{id}/template", inbox.template),
    ])  # fmt: skip
    app.cleanup_ctx.append(inbox.background)
    app[INBOX] = inbox
    return inbox


INBOX = web.AppKey("inbox", Inbox)
