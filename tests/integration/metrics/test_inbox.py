"""The staff inbox over a real store (SQLite and PostgreSQL) in aiohttp's test server, with
Rasa's HTTP API replaced by a recorder: lists per location, the live stream, statuses with who
and when, takeover, staff replies, hand-back and the automatic hand-back.

tests/e2e/test_takeover.py drives the same through a browser against the real Rasa server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import shutil

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from core.settings import REPO_ROOT
from core.store import staff_inbox as inbox_store
from core.store.models import Appointment, InboxEvent, Lead
from core.store.repositories import create_lead
from metrics.web import auth
from metrics.web.app import make_app
from metrics.web.inbox import INBOX, lists_html, whatsapp_window_closed
from metrics.web.rasa_api import RasaAPI, RasaAPIError

DEALER, OTHER = "autohuis-demo", "garage-elders"


class RecordingRasa(RasaAPI):
    """Rasa's API as a list of the calls made; the tracker holds what was appended."""

    def __init__(self, down: bool = False) -> None:
        super().__init__("http://rasa.invalid", "t")
        self.calls: list[tuple[str, list[dict], bool]] = []
        self.events: list[dict] = [
            {"event": "user", "text": "ik wil een mens spreken", "timestamp": 1.0}]  # fmt: skip
        self.down = down

    async def append(self, sender_id, events, *, deliver=False):  # noqa: ANN001, ANN201
        if self.down:
            raise RasaAPIError("Rasa's API is unreachable: ClientConnectorError")
        self.calls.append((sender_id, events, deliver))
        self.events += events
        return {}

    async def tracker(self, sender_id):  # noqa: ANN001, ANN201
        if self.down:
            raise RasaAPIError("down")
        return {"latest_input_channel": "socketio", "events": self.events}


def lead(factory, dealer: str, sender: str, kind: str = "handoff", **fields) -> Lead:
    return create_lead(factory, key_parts=(sender, kind), dealer_id=dealer, kind=kind,
                       channel="web", sender_id=sender, language="nl", **fields)  # fmt: skip


@pytest.fixture
def users(tmp_path):
    path = tmp_path / "users.yml"
    path.write_text(
        f"users:\n  - {{name: anna, token: t1, locations: [{DEALER}]}}\n"
        f"  - {{name: bert, token: t2, locations: [{OTHER}]}}\n"
    )
    return path


def run(factory, users_path, scenario, rasa: RecordingRasa | None = None, name: str = "anna"):
    async def main():
        app = make_app(factory, users_path=users_path)
        app.cleanup_ctx.clear()  # no background hand-back loop in tests
        inbox = app[INBOX]
        inbox._rasa = rasa or RecordingRasa()
        async with TestClient(TestServer(app)) as client:
            token = {"anna": "t1", "bert": "t2"}[name]
            login = await client.post("/login", data={"name": name, "token": token},
                                      allow_redirects=False)  # fmt: skip
            assert login.status == 303
            cookie = next(c.value for c in client.session.cookie_jar if c.key == auth.COOKIE)
            return await scenario(client, auth.csrf_token(cookie), inbox)

    return asyncio.run(main())


def test_the_inbox_lists_the_locations_own_items_only(store, users):
    mine = lead(store, DEALER, "s-mine", note="requested")
    drive = lead(store, DEALER, "s-drive", kind="test_drive", car="VW Golf")
    theirs = lead(store, OTHER, "s-theirs")

    async def scenario(client, csrf, _inbox):
        page = await client.get(f"/d/{DEALER}/inbox")
        html = await page.text()
        assert page.status == 200
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert mine.reference in html and drive.reference in html
        assert theirs.reference not in html
        assert "Wachten op een medewerker" in html  # the demo dealer reports in Dutch
        for path in (
            f"/d/{OTHER}/inbox",
            f"/d/{OTHER}/inbox/events",
            f"/d/{DEALER}/inbox/lead/{theirs.id}",
            f"/d/{OTHER}/inbox/lead/{theirs.id}",
        ):
            response = await client.get(path, allow_redirects=False)
            assert response.status == 404, path
        refused = await client.post(f"/d/{DEALER}/inbox/handoff/{theirs.id}/status",
                                    data={"csrf": csrf, "action": "claimed"})  # fmt: skip
        assert refused.status == 404

    run(store, users, scenario)


def test_the_stream_sends_a_new_handoff_without_a_reload(store, users):
    first = lead(store, DEALER, "s-1")

    async def scenario(client, _csrf, _inbox):
        response = await client.get(f"/d/{DEALER}/inbox/events")
        assert response.headers["Content-Type"].startswith("text/event-stream")
        chunk = await response.content.readuntil(b"\n\n")
        assert first.reference.encode() in chunk
        second = await asyncio.to_thread(lead, store, DEALER, "s-2")
        chunk = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 30)
        assert second.reference.encode() in chunk and first.reference.encode() in chunk
        response.close()

    run(store, users, scenario)


def test_status_changes_keep_who_and_when(store, users):
    handoff = lead(store, DEALER, "s-1", note="two_fallbacks")
    sale = lead(store, DEALER, "s-2", kind="trade_in")

    async def scenario(client, csrf, _inbox):
        for kind, item, action in (("handoff", handoff, "claimed"), ("lead", sale, "won"),
                                   ("handoff", handoff, "done")):  # fmt: skip
            response = await client.post(f"/d/{DEALER}/inbox/{kind}/{item.id}/status",
                                         data={"csrf": csrf, "action": action})  # fmt: skip
            assert response.status == 200
        wrong = await client.post(f"/d/{DEALER}/inbox/lead/{sale.id}/status",
                                  data={"csrf": csrf, "action": "done"})  # fmt: skip
        assert wrong.status == 400  # a lead closes as won or lost
        forged = await client.post(f"/d/{DEALER}/inbox/handoff/{handoff.id}/status",
                                   data={"csrf": "x", "action": "claimed"})  # fmt: skip
        assert forged.status == 403
        html = await (await client.get(f"/d/{DEALER}/inbox")).text()
        assert handoff.reference not in html and sale.reference not in html  # closed
        page = await (await client.get(f"/d/{DEALER}/inbox/lead/{handoff.id}")).text()
        assert "opgepakt door anna" in page and "afgehandeld door anna" in page
        assert "de bot begreep de klant twee keer niet" in page  # the reason in words

    run(store, users, scenario)
    with store() as session:
        rows = session.execute(select(InboxEvent.item_id, InboxEvent.action, InboxEvent.staff)
                               .order_by(InboxEvent.id)).all()  # fmt: skip
    assert rows == [(handoff.id, "claimed", "anna"), (sale.id, "won", "anna"),
                    (handoff.id, "done", "anna")]  # fmt: skip


def test_takeover_reply_and_hand_back_go_through_rasas_api(store, users):
    handoff = lead(store, DEALER, "sender-1")
    rasa = RecordingRasa()

    async def scenario(client, csrf, _inbox):
        url = f"/d/{DEALER}/inbox/lead/{handoff.id}"
        not_yet = await client.post(f"{url}/reply", data={"csrf": csrf, "text": "hallo"})
        assert "not_held" in str(not_yet.url)
        page = await (await client.post(f"{url}/takeover", data={"csrf": csrf})).text()
        assert 'data-held="anna"' in page and "de bot zwijgt" in page
        page = await (await client.post(f"{url}/reply",
                                        data={"csrf": csrf, "text": "Goedemiddag, met Anna"})
                      ).text()  # fmt: skip
        assert 'class="msg staff"' in page and "Goedemiddag, met Anna" in page
        lists = await (await client.get(f"/d/{DEALER}/inbox")).text()
        assert "overgenomen door anna" in lists
        page = await (await client.post(f"{url}/handback", data={"csrf": csrf})).text()
        assert 'id="takeover"' in page

    run(store, users, scenario, rasa)
    assert [(events[0]["event"], deliver) for _s, events, deliver in rasa.calls] == [
        ("pause", False), ("bot", True), ("bot", True), ("resume", False)]  # fmt: skip
    assert {s for s, _e, _d in rasa.calls} == {"sender-1"}
    assert rasa.calls[1][1][0]["metadata"] == {"staff": "anna"}
    assert rasa.calls[0][1][1:] == [  # a form the bot was asking ends with the takeover
        {"event": "active_loop", "name": None},
        {"event": "slot", "name": "requested_slot", "value": None}]  # fmt: skip
    assert "teruggegeven aan de digitale assistent" in rasa.calls[2][1][0]["text"]
    with store() as session:
        actions = session.scalars(select(InboxEvent.action).order_by(InboxEvent.id)).all()
    assert actions == ["taken_over", "claimed", "replied", "handed_back"]


def test_the_hand_back_records_what_the_customer_wrote_to_staff(store, users):
    """While the bot is paused no action runs and the conversation record is not written: the
    hand-back writes it, so a conversation held by staff counts for MEC like any other."""
    from core.store.models import Conversation
    from tests.trackers import bot_event, user_event

    handoff = lead(store, DEALER, "sender-1")
    rasa = RecordingRasa()
    rasa.events = [user_event("ik wil een medewerker", "request_human", channel="socketio"),
                   {"event": "slot", "name": "dealer_id", "value": DEALER},
                   {"event": "slot", "name": "outcomes", "value": ["handed_off"]},
                   bot_event("Ik verbind u door met een collega.")]  # fmt: skip

    async def scenario(client, csrf, _inbox):
        url = f"/d/{DEALER}/inbox/lead/{handoff.id}"
        await client.post(f"{url}/takeover", data={"csrf": csrf})
        await client.post(f"{url}/reply", data={"csrf": csrf, "text": "Goedemiddag, met Anna"})
        rasa.events.append(user_event("Kan ik morgen om 9 uur komen?", "book_service",
                                      channel="socketio"))  # fmt: skip
        await client.post(f"{url}/handback", data={"csrf": csrf})

    run(store, users, scenario, rasa)
    with store() as session:
        row = session.scalars(select(Conversation)).one()
    assert (row.dealer_id, row.channel, row.customer_messages, row.bot_messages) == (
        DEALER, "web", 2, 1)  # fmt: skip
    assert row.qualifies and row.outcome == "handed_off"
    assert row.first_response_ms == 1000  # the bot's "Ik verbind u door", not the staff's


def test_a_takeover_with_rasa_down_says_so_and_keeps_nothing(store, users):
    handoff = lead(store, DEALER, "sender-1")

    async def scenario(client, csrf, _inbox):
        url = f"/d/{DEALER}/inbox/lead/{handoff.id}"
        page = await (await client.post(f"{url}/takeover", data={"csrf": csrf})).text()
        assert 'id="notice"' in page and "niet bereikbaar" in page

    run(store, users, scenario, RecordingRasa(down=True))
    with store() as session:
        assert session.scalars(select(InboxEvent)).all() == []


def test_a_held_conversation_goes_back_to_the_bot_after_the_timeout(store, users, monkeypatch):
    monkeypatch.setenv("DEALERBOT_TAKEOVER_TIMEOUT_MIN", "30")
    handoff = lead(store, DEALER, "sender-1")
    held_at = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)
    store_ = store
    inbox_store.record_event(store_, dealer_id=DEALER, kind="conversation", item_id="sender-1",
                       action="taken_over", staff="anna", at=held_at)  # fmt: skip
    inbox_store.record_event(
        store_,
        dealer_id=DEALER,
        kind="conversation",
        item_id="sender-1",
        action="replied",
        staff="anna",
        at=held_at + dt.timedelta(minutes=10),
    )
    rasa = RecordingRasa()

    async def scenario(_client, _csrf, inbox):
        assert await inbox.hand_back_expired(held_at + dt.timedelta(minutes=39)) == 0
        assert await inbox.hand_back_expired(held_at + dt.timedelta(minutes=41)) == 1
        assert await inbox.hand_back_expired(held_at + dt.timedelta(minutes=90)) == 0

    run(store, users, scenario, rasa)
    assert [e[0]["event"] for _s, e, _d in rasa.calls] == ["bot", "resume"]
    assert "niet bereikbaar" in rasa.calls[0][1][0]["text"]  # the handoff was in Dutch
    assert inbox_store.takeover_of(store_, "sender-1") is None
    assert handoff.language == "nl"


def test_outside_the_whatsapp_window_the_page_offers_phone_and_email():
    now = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc)
    old = {"event": "user", "timestamp": (now - dt.timedelta(hours=25)).timestamp()}
    fresh = {"event": "user", "timestamp": (now - dt.timedelta(hours=1)).timestamp()}
    assert whatsapp_window_closed({"latest_input_channel": "whatsapp_cloud", "events": [old]}, now)
    assert not whatsapp_window_closed(
        {"latest_input_channel": "twilio_whatsapp", "events": [old, fresh]}, now)  # fmt: skip
    assert not whatsapp_window_closed({"latest_input_channel": "socketio", "events": [old]}, now)


def test_customer_text_in_the_lists_is_escaped(store):
    nasty = lead(store, DEALER, "s-x", kind="test_drive", car="<img src=x onerror=alert(1)>",
                 customer_name='"><script>x</script>')  # fmt: skip
    lists = inbox_store.inbox_lists(
        store, DEALER, dt.datetime.now(dt.timezone.utc),
        dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1))  # fmt: skip
    html = str(lists_html(lists, DEALER, "en", dt.datetime.now(dt.timezone.utc), "c"))
    assert nasty.reference in html and "<img" not in html and "<script>" not in html
    assert re.search(r"&lt;img src=x", html)


def test_appointments_from_today_on(store):
    day = dt.datetime(2026, 11, 23, 0, 0, tzinfo=dt.timezone.utc)
    with store.begin() as session:
        for n, (start, status) in enumerate(
            (
                (day - dt.timedelta(hours=2), "booked"),
                (day + dt.timedelta(hours=9), "booked"),
                (day + dt.timedelta(days=2), "cancelled"),
            )
        ):
            session.add(Appointment(
                reference=f"A{n}", dealer_id=DEALER, service_id="apk", plate="12-ABC-3",
                starts_at=start.replace(tzinfo=None),
                ends_at=(start + dt.timedelta(hours=1)).replace(tzinfo=None),
                customer_name="Jan", sender_id=f"s{n}", idempotency_key=f"k{n}", status=status,
            ))  # fmt: skip
    lists = inbox_store.inbox_lists(store, DEALER, day, day)
    assert [a.reference for a, _s in lists.appointments] == ["A1"]


def test_the_weekly_summary_counts_the_human_part(store, monkeypatch):
    from core.periods import parse_period
    from metrics.report.render import detail_rows
    from metrics.summary import build_weekly_summary

    monkeypatch.setenv("DEALERBOT_TEST_SENDERS", "test-")
    week = parse_period("2026-W47")  # 16-22 November 2026
    at = dt.datetime(2026, 11, 18, 10, 0)
    for n, (sender, reply_after) in enumerate((("s-1", 4), ("s-2", 40), ("s-3", None),
                                                ("test-x", 1))):  # fmt: skip
        handoff = lead(store, DEALER, sender)
        with store.begin() as session:
            session.get(Lead, handoff.id).created_at = at + dt.timedelta(hours=n)
        if reply_after is not None:
            inbox_store.record_event(
                store, dealer_id=DEALER, kind="conversation", item_id=sender, action="replied",
                staff="anna", at=at + dt.timedelta(hours=n, minutes=reply_after))  # fmt: skip
    # a reply before the handoff and another dealer's handoff count for nothing here
    inbox_store.record_event(store, dealer_id=DEALER, kind="conversation", item_id="s-3",
                             action="replied", staff="anna", at=at)  # fmt: skip
    other = lead(store, OTHER, "s-4")
    with store.begin() as session:
        session.get(Lead, other.id).created_at = at
    summary = build_weekly_summary(store, DEALER, week.key)
    assert summary.human_handled.value == 2 and summary.human_handled.n == 3
    assert summary.handoffs_unanswered.value == 1
    assert summary.human_first_response_p50.value == 4
    assert summary.human_first_response_p90.value == 40
    assert summary.human_within_promised.value == 0.5  # the demo dealer promises 15 minutes
    assert summary.human_handled.previous == 0 and summary.human_first_response_p50.previous is None
    for lang, handled, p90 in (("nl", "Door een medewerker beantwoord", "40,0 min"),
                               ("en", "Answered by staff", "40.0 min")):  # fmt: skip
        rows = {r.key: r for r in detail_rows(summary, lang)}
        assert rows["human_handled"].label == handled
        assert rows["human_first_response_p90"].value == p90
        assert rows["handoffs_unanswered"].value == "1"
        assert rows["human_within_promised"].value == "50%"
        assert rows["first_response_p50"].label != rows["human_first_response_p50"].label


def test_the_week_page_shows_the_human_part(store, users):
    handoff = lead(store, DEALER, "s-1")
    at = dt.datetime(2026, 11, 18, 10, 0)
    with store.begin() as session:
        session.get(Lead, handoff.id).created_at = at
    inbox_store.record_event(store, dealer_id=DEALER, kind="conversation", item_id="s-1",
                             action="replied", staff="anna", at=at + dt.timedelta(minutes=12))  # fmt: skip

    async def scenario(client, _csrf, _inbox):
        return await (await client.get(f"/d/{DEALER}?week=2026-W47&lang=en")).text()

    page = run(store, users, scenario)
    assert ('<tr data-figure="human_first_response_p50"><td>First staff response (median)</td>'
            '<td class="num value">12.0 min</td>') in page  # fmt: skip
    assert (
        '<tr data-figure="human_within_promised"><td>Staff within the promised time</td>'
        '<td class="num value">100%</td>' in page
    )
    assert (
        '<tr data-figure="handoffs_unanswered"><td>Handoffs nobody answered</td>'
        '<td class="num value">0</td>' in page
    )


def test_a_handoff_row_shows_where_to_call_back(store):
    """The contact details a customer left after the handoff are in its row (escaped)."""
    handoff = lead(store, DEALER, "s-call", note="requested", customer_name="Anna <b>",
                   phone="+31612345678", email="anna@example.nl")  # fmt: skip
    now = dt.datetime.now(dt.timezone.utc)
    lists = inbox_store.inbox_lists(store, DEALER, now, now - dt.timedelta(days=1))
    html = str(lists_html(lists, DEALER, "nl", now, "c"))
    row = re.search(rf"<tr data-id=\"{handoff.id}\".*?</tr>", html, re.S).group(0)
    assert "Anna &lt;b&gt; · +31612345678 · anna@example.nl" in row


class OldWhatsAppRasa(RecordingRasa):
    """A WhatsApp customer whose last message is two days old: outside the 24-hour window."""

    async def tracker(self, sender_id):  # noqa: ANN001, ANN201
        old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)
        return {"latest_input_channel": "whatsapp_cloud",
                "events": [{"event": "user", "text": "hallo", "timestamp": old.timestamp()}]}  # fmt: skip


def test_outside_the_whatsapp_window_staff_can_send_the_template_once(
    store, users, tmp_path, monkeypatch
):
    folder = tmp_path / "dealers"
    shutil.copytree(REPO_ROOT / "data" / "dealers", folder)
    path = folder / DEALER / "dealer.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.setdefault("handoff", {})["whatsapp"] = {"template": "nog_vragen"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("DEALERBOT_DEALERS_DIR", str(folder))
    handoff = lead(store, DEALER, "whatsapp:+31612340077/autohuis-demo", phone="+31612340077")

    async def scenario(client, csrf, _inbox):
        url = f"/d/{DEALER}/inbox/lead/{handoff.id}"
        page = await (await client.get(url)).text()
        assert 'id="window-closed"' in page and "+31612340077" in page
        assert 'id="send-template"' in page and "Sjabloonbericht sturen" in page
        page = await (await client.post(f"{url}/template", data={"csrf": csrf})).text()
        assert 'id="template-sent"' in page and 'id="send-template"' not in page
        assert "sjabloonbericht op WhatsApp verstuurd door anna" in page
        refused = await client.post(f"{url}/template", data={"csrf": "wrong"},
                                    allow_redirects=False)  # fmt: skip
        assert refused.status in (400, 403)

    run(store, users, scenario, OldWhatsAppRasa())
    with store() as session:
        actions = session.scalars(select(InboxEvent.action)).all()
    assert actions == ["template_sent"]


def test_without_a_template_the_page_offers_no_button(store, users):
    handoff = lead(store, DEALER, "whatsapp:+31612340078/autohuis-demo")

    async def scenario(client, csrf, _inbox):
        url = f"/d/{DEALER}/inbox/lead/{handoff.id}"
        page = await (await client.get(url)).text()
        assert 'id="window-closed"' in page and 'id="send-template"' not in page
        response = await client.post(f"{url}/template", data={"csrf": csrf})
        assert "error=no_template" in str(response.url)

    run(store, users, scenario, OldWhatsAppRasa())
