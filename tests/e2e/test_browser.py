"""In a real browser: the chat widget on the demo dealer page, and the dealer dashboard."""

from __future__ import annotations

import asyncio
import datetime as dt
import urllib.error
import urllib.parse
import urllib.request
from unittest import mock

import pytest
from sqlalchemy import func, select

from bench.common import records_written
from bot.runtime import free_port
from core.engagement import contact_key, conversation_id
from core.store.migrate import upgrade
from core.store.models import Appointment, Conversation, SurveyAnswer
from core.store.session import make_engine, make_session_factory
from metrics.web.auth import hash_token
from tests.conftest import FIXED_NOW
from tests.e2e.browser import (
    REPLY_TIMEOUT,
    bot_bubbles,
    chromium,
    click,
    exchange,
    screenshot,
    session_of,
    type_,
)

pytestmark = pytest.mark.e2e
SECRET = "dev-only-secret"  # the default; the stack runs without DEALERBOT_CONTACT_KEY_SECRET


# -- Test 1: the widget -------------------------------------------------------------------------


def test_book_reload_and_survey_in_the_widget(web_stack):
    with chromium() as browser:
        # A phone-sized viewport: the open chat fills the screen.
        context = browser.new_context(viewport={"width": 390, "height": 760}, locale="nl-NL")
        page = context.new_page()
        page.goto(web_stack.web_url)
        page.click(".dbw-launcher")
        page.wait_for_selector(".dbw-ready", timeout=REPLY_TIMEOUT)
        assert page.inner_text(".dbw-title") == "Autohuis De Vries"
        assert "Welkom bij Autohuis De Vries" in bot_bubbles(page)[0]
        panel = page.locator(".dbw-panel").bounding_box()
        assert panel["width"] == 390 and panel["height"] == 760

        asked = exchange(page, click(page, "Afspraak werkplaats"), "APK")
        assert page.locator(".dbw-reply", has_text="APK-keuring").count() == 1, asked
        exchange(page, click(page, "APK-keuring"), "kenteken")
        exchange(page, type_(page, "12-abc-3"), "kilometerstand")
        screenshot(page, "widget-booking.png")  # the README's come from test_widget.py
        session_id = session_of(page)
        assert session_id not in page.content()  # kept in the widget's storage, not the page

        # Reload in the middle of the form: the same conversation, its messages, then go on.
        page.reload()
        page.wait_for_selector(".dbw-ready", timeout=REPLY_TIMEOUT)
        assert session_of(page) == session_id
        assert "kilometerstand" in bot_bubbles(page)[-1]
        assert "12-abc-3" in page.locator(".dbw-user").all_inner_texts()
        exchange(page, type_(page, "ongeveer 85.000 km"), "Wanneer")
        exchange(page, type_(page, "morgen om 10 uur"), "naam")
        exchange(page, type_(page, "Jan de Vries"), "")
        summary = exchange(page, type_(page, "06 12345678"), "Klopt dat?")
        assert "12-ABC-3" in summary and "dinsdag 24 november om 10:00" in summary
        booked = exchange(page, click(page, "Ja, inplannen"), "Hoe tevreden")
        assert "Gelukt" in booked
        assert [b.strip() for b in page.locator(".dbw-reply").all_inner_texts()] == [
            "1", "2", "3", "4", "5"]  # fmt: skip
        exchange(page, click(page, "4"), "makkelijk")
        exchange(page, click(page, "6"), "Wilt u nog iets kwijt")
        screenshot(page, "widget-survey.png")
        exchange(page, click(page, "Geen opmerking"), "Bedankt voor uw feedback")
        screenshot(page, "widget-done.png")
        context.close()

    assert records_written(web_stack.var_dir)  # written just after the replies
    with web_stack.store() as session:
        appointment = session.scalars(
            select(Appointment).where(Appointment.sender_id == session_id)
        ).one()
        key = contact_key(SECRET, "web", session_id)
        conversation = session.scalars(
            select(Conversation).where(Conversation.contact_key == key)
        ).one()
        answers = {
            a.question: a.score
            for a in session.scalars(
                select(SurveyAnswer).where(SurveyAnswer.conversation_id == conversation.id)
            )
        }
    assert (appointment.plate, appointment.service_id, appointment.mileage_km) == (
        "12-ABC-3", "apk", 85000)  # fmt: skip
    assert (appointment.phone, appointment.status) == ("+31612345678", "booked")
    assert (conversation.channel, conversation.dealer_id) == ("web", "autohuis-demo")
    assert (conversation.outcome, conversation.qualifies) == ("appointment_booked", True)
    assert answers.get("csat") == 4 and answers.get("ces") == 6


def test_the_chat_server_refuses_other_origins(web_stack):
    """The widget's config and the socket answer only the dealer's own sites."""
    for path, refused in (("/webhooks/socketio/widget/autohuis-demo", 403),
                          ("/socket.io/?EIO=4&transport=polling", 400)):  # fmt: skip
        request = urllib.request.Request(
            web_stack.rasa_url + path, headers={"Origin": "http://evil.example"}
        )
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=10)
        assert answer.value.code == refused
        ok = urllib.request.Request(
            web_stack.rasa_url + path, headers={"Origin": web_stack.web_url}
        )
        with urllib.request.urlopen(ok, timeout=10) as response:
            assert response.status == 200


# -- Test 2: the dashboard ----------------------------------------------------------------------

OWN, OTHER = "autohuis-demo", "garage-elders"
WEEK = "2026-W47"


def seed(factory, tracker_url: str) -> dict:
    """Conversations of two dealers in W47 (and one in W46); one with a real tracker."""
    from tests.integration.metrics.summary_seed import NASTY, seed_week

    own_ids = seed_week(factory, OWN)
    other_ids = seed_week(factory, OTHER)
    # One conversation of our dealer with its messages in Rasa's SQL tracker store.
    sender = "b0e5c0ffee0000000000000000000001"
    started = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.timezone.utc)
    events = tracker_events(sender, started)
    cid = conversation_id(sender, events)  # as the recorder names it
    with factory.begin() as session:
        from core.periods import conversation_keys

        session.add(Conversation(
            id=cid, dealer_id=OWN, channel="web", contact_key=contact_key(SECRET, "web", sender),
            language="nl", started_at=started.replace(tzinfo=None),
            last_message_at=(started + dt.timedelta(minutes=3)).replace(tzinfo=None),
            customer_messages=3, bot_messages=3, first_response_ms=800,
            intents="ask_opening_hours", outcome="self_served", qualifies=True,
            qualify_reason="business intent ask_opening_hours", is_test=False,
            customer_channel=True,
            **conversation_keys(OWN, started.replace(tzinfo=None)),
        ))  # fmt: skip
        session.add(SurveyAnswer(conversation_id=cid, question="csat", score=1))
        session.add(SurveyAnswer(conversation_id=cid, question="comment", comment=NASTY))
    save_tracker(tracker_url, sender, events)
    from core.periods import parse_period
    from metrics.aggregate import rebuild_period

    for week in ("2026-W46", WEEK):
        rebuild_period(factory, parse_period(week))
    return {"own": own_ids, "other": other_ids, "transcript": cid, "sender": sender}


def tracker_events(sender: str, started: dt.datetime) -> list[dict]:
    t = started.timestamp()
    return [
        {"event": "action", "name": "action_session_start", "timestamp": t - 0.2},
        {"event": "session_started", "timestamp": t - 0.1},
        {"event": "user", "text": "hoi, wanneer zijn jullie open?", "timestamp": t,
         "input_channel": "socketio", "parse_data": {"intent": {"name": "ask_opening_hours"}}},
        {"event": "bot", "text": "We zijn open van 9 tot 18 uur.", "timestamp": t + 0.8},
        {"event": "user", "text": "<img src=x onerror=alert(1)> 06 12345678",
         "timestamp": t + 60, "input_channel": "socketio",
         "parse_data": {"intent": {"name": "thank"}}},
        {"event": "bot", "text": "Graag gedaan!", "timestamp": t + 61},
        {"event": "bot", "text": "Hoe tevreden bent u?", "timestamp": t + 62,
         "data": {"buttons": [{"title": f"{n} ster", "payload": f'/inform{{"csat": "{n}"}}'}
                              for n in range(1, 6)]}},
        {"event": "user", "text": '/inform{"csat": "1"}', "timestamp": t + 70,
         "input_channel": "socketio", "parse_data": {"intent": {"name": "inform"}}},
    ]  # fmt: skip


def save_tracker(tracker_url: str, sender: str, events: list[dict]) -> None:
    """Write the events through Rasa's own SQLTrackerStore, so the table is Rasa's."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.empty()
    path = tracker_url.split("///", 1)[1]
    store = SQLTrackerStore(domain, dialect="sqlite", db=path)
    tracker = DialogueStateTracker.from_dict(sender, events, domain.slots)
    asyncio.run(store.save(tracker))


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    """The dashboard command on a free port, over a seeded store; two dealers' tokens."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    tmp = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{tmp / 'store.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    tracker_url = f"sqlite:///{tmp / 'tracker.sqlite3'}"
    env = {**os.environ, "DEALERBOT_DATABASE_URL": url, "DEALERBOT_TRACKER_DB_URL": tracker_url,
           "DEALERBOT_FIXED_NOW": FIXED_NOW, "DEALERBOT_VAR_DIR": str(tmp)}  # fmt: skip
    with mock.patch.dict(os.environ, env):  # the seed's rollup reads the same settings
        seeded = seed(factory, tracker_url)
    users = tmp / "users.yml"
    users.write_text(
        "users:\n"
        f"  - {{name: devries, token_scrypt: '{hash_token('devries-token')}', locations: [{OWN}]}}\n"
        f"  - {{name: elders, token_scrypt: '{hash_token('elders-token')}', locations: [{OTHER}]}}\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "dashboard", "--port", str(port), "--users",
         str(users)], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = dt.datetime.now() + dt.timedelta(seconds=60)
    while True:
        try:
            urllib.request.urlopen(f"{base}/login", timeout=2).close()
            break
        except OSError:
            if process.poll() is not None or dt.datetime.now() > deadline:
                process.kill()
                pytest.fail("the dashboard did not start")
    yield {"url": base, "store": factory, **seeded}
    process.terminate()
    process.wait(timeout=20)
    engine.dispose()


def test_the_dashboard_shows_only_the_dealers_own_figures(dashboard):
    base, factory = dashboard["url"], dashboard["store"]
    with factory() as session:
        own = session.execute(
            select(func.count(func.distinct(Conversation.contact_key)),
                   func.count(Conversation.id))
            .where(Conversation.dealer_id == OWN, Conversation.week_key == WEEK,
                   Conversation.qualifies)
        ).one()  # fmt: skip
        low = session.scalar(
            select(func.count(Conversation.id))
            .join(SurveyAnswer, SurveyAnswer.conversation_id == Conversation.id)
            .where(Conversation.dealer_id == OWN, Conversation.week_key == WEEK,
                   Conversation.qualifies, SurveyAnswer.question == "csat",
                   SurveyAnswer.score <= 2)
        )  # fmt: skip
        rated = session.scalar(
            select(func.count(func.distinct(Conversation.id)))
            .join(SurveyAnswer, SurveyAnswer.conversation_id == Conversation.id)
            .where(Conversation.dealer_id == OWN, Conversation.week_key == WEEK,
                   Conversation.qualifies, SurveyAnswer.question == "csat",
                   SurveyAnswer.score.is_not(None))
        )  # fmt: skip
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1100, "height": 1400})
        page = context.new_page()
        page.goto(f"{base}/d/{OWN}?week={WEEK}")
        assert page.url.endswith("/login")
        page.fill("input[name=name]", "devries")
        page.fill("input[name=token]", "devries-token")
        page.click("button")
        page.goto(f"{base}/d/{OWN}?week={WEEK}")
        # In the dealer's language (reports.language: nl), titled with its name and the days.
        assert page.inner_text("#title") == "Autohuis De Vries · week 47, 16–22 november"
        assert page.get_attribute("html", "lang") == "nl"
        # The action first: the sentence and the to-do list above the figures, the low ratings
        # listed one per line (issue 20).
        assert page.locator("#digest").is_visible()
        assert page.inner_text("#digest-sentence").startswith("Deze week")
        above = "el => el.compareDocumentPosition(document.querySelector('#headline')) & 4"
        assert page.locator("#digest").evaluate(above)
        if low:
            assert page.locator("#todo-csat_low li").count() == min(low, 20) + (low > 20)
        mec = page.inner_text("#headline tr[data-figure=mec] .value")
        assert int(mec) == own[0]
        assert f"waarvan {own[1]} kwalificerend" in page.inner_text("#volume")
        chart = page.evaluate("document.querySelector('img.chart').naturalWidth")
        assert chart > 0
        assert page.locator("#headline abbr[title]").count() > 0  # MEC, CSAT, CES explained
        assert_contrast(page)
        screenshot(page, "dashboard.png", docs=True)
        page.click(".lang-switch a[lang=en]")
        assert page.inner_text("#title") == "Autohuis De Vries · week 47, 16–22 November"
        assert "At a glance" in page.content() and page.inner_text("button.logout") == "Log out"
        page.locator("img.chart").evaluate("img => img.decode()")  # drawn before the screenshot
        assert_contrast(page)
        screenshot(page, "dashboard-en.png", docs=True)
        page.goto(f"{base}/d/{OWN}?week={WEEK}")
        assert "At a glance" in page.content()  # the choice is remembered
        page.click(".lang-switch a[lang=nl]")
        assert page.inner_text("button.logout") == "Uitloggen"

        # On a phone the page does not scroll sideways: wide tables scroll inside themselves.
        page.set_viewport_size({"width": 390, "height": 800})
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
        page.set_viewport_size({"width": 1100, "height": 1400})

        # Drill-down: CSAT -> every rated conversation (the list explains the share, the 3s
        # included) -> one transcript.
        page.click("#headline tr[data-figure=csat] a")
        assert int(page.inner_text("#count")) == rated >= low
        assert "<script>" in page.inner_text("#conversations")  # shown as text, not run
        assert page.locator("#conversations script").count() == 0
        page.click(f"a[href='/conversations/{dashboard['transcript']}']")
        transcript = page.inner_text("#transcript")
        assert "wanneer zijn jullie open" in transcript and "Graag gedaan!" in transcript
        assert "1 ster" in transcript and "/inform" not in transcript  # what the customer saw
        assert page.locator("#transcript img").count() == 0  # customer HTML stays text
        assert page.inner_text("#contact").startswith("contact-")
        assert dashboard["sender"] not in page.content()
        assert "1" in page.inner_text("#answers")
        screenshot(page, "dashboard-transcript.png")

        # The CSV of the list (the page's CSP allows no fetch: ask with the session's cookie).
        download = context.request.get(
            f"{base}/d/{OWN}/conversations.csv?week={WEEK}&list=csat_low"
        )
        assert download.headers["content-type"].startswith("text/csv")
        csv_text = download.text()
        assert csv_text.splitlines()[0].startswith("Gesprek,Begonnen,")  # read by people
        assert len(csv_text.strip().splitlines()) == low + 1

        # Another dealer's location, list and conversation are refused.
        for path in (f"/d/{OTHER}?week={WEEK}", f"/d/{OTHER}/conversations?week={WEEK}",
                     f"/d/{OTHER}/chart.png", f"/conversations/{dashboard['other'][0]}"):  # fmt: skip
            response = page.goto(base + path)
            assert response.status in (403, 404), path
            headers = response.headers
            assert headers["x-frame-options"] == "DENY" and "nosniff" in headers[
                "x-content-type-options"]  # fmt: skip
            assert "frame-ancestors 'none'" in headers["content-security-policy"]

        # MEC potential through the form: the summary shows it right away.
        page.goto(f"{base}/d/{OWN}?week={WEEK}")
        page.fill("input[name=service_appointments]", "30")
        page.fill("input[name=sales_leads]", "10")
        page.click("form[action*=potential] button")
        assert page.locator("#notice").count() == 1, page.content()[:300]
        assert "MEC-potentieel opgeslagen" in page.inner_text("#notice")
        assert page.inner_text("#title").startswith("Autohuis De Vries · week 47,")
        assert page.inner_text("#headline tr[data-figure=mec_potential] .value") == "40"
        context.close()


def test_no_login_no_dashboard(dashboard):
    base = dashboard["url"]
    request = urllib.request.Request(f"{base}/d/{OWN}?week={WEEK}")
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(request, timeout=10)
    assert answer.value.code == 302 and answer.value.headers["Location"] == "/login"
    body = urllib.parse.urlencode({"name": "devries", "token": "wrong"}).encode()
    with pytest.raises(urllib.error.HTTPError) as wrong:
        opener.open(urllib.request.Request(f"{base}/login", body), timeout=10)
    assert wrong.value.code == 403
    forged = urllib.request.Request(
        f"{base}/d/{OWN}", headers={"Cookie": "dealerbot_dashboard=c2Vzc2lvbg.x"}
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(forged, timeout=10)
    assert answer.value.code == 302


CONTRAST_JS = """() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => { for (; el; el = el.parentElement) {
    const c = rgb(getComputedStyle(el).backgroundColor);
    if (c.length === 3 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
  const worst = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) worst.push(el.tagName + "." + el.className + ": " + ratio.toFixed(2));
  }
  return worst;
}"""


def assert_contrast(page) -> None:
    """Every visible text on the page, the "Log out" button included, passes WCAG AA (4.5:1)
    against the background it is drawn on (computed styles: what the browser shows)."""
    assert page.locator("button.logout").count() == 1
    assert page.evaluate(CONTRAST_JS) == []


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None
