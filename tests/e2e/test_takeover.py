"""The human loop against the real stack (Rasa with its HTTP API and token, the action server,
the demo page with the widget, the dashboard): a customer asks for a person, a staff member sees
it live in the inbox, takes over, replies, and hands back; the same for a WhatsApp customer,
whose staff message reaches the fake Graph API.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.request

import pytest
from sqlalchemy import select

from bot.runtime import free_port, start_stack
from core.store.migrate import upgrade
from core.store.models import Conversation, InboxEvent, Lead
from core.store.session import make_engine, make_session_factory
from tests.conftest import FIXED_NOW
from tests.e2e.browser import chromium, screenshot, session_of
from tests.e2e.fakes import FakeGraph, cloud_text, cloud_webhook, meta_signature

pytestmark = pytest.mark.e2e
DEALER = "autohuis-demo"
REPLY_TIMEOUT = 90_000  # ms: a loaded machine can be slow to answer
LIVE_MS = 2_000  # the inbox shows a new handoff within 2 s
APP_SECRET, ACCESS_TOKEN = "app-secret-e2e", "graph-token-e2e"
PNID, BUSINESS_NUMBER = "100000000000001", "31301234567"
NOW_TS = int(dt.datetime.fromisoformat(FIXED_NOW).timestamp())


@pytest.fixture(scope="module")
def loop(model, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("takeover")
    url = f"sqlite:///{tmp / 'store.sqlite3'}"
    upgrade(make_engine(url))
    users = tmp / "users.yml"
    users.write_text(f"users:\n  - {{name: anna, token: anna-token, locations: [{DEALER}]}}\n")
    graph = FakeGraph()
    web_port, dashboard_port = free_port(), free_port()
    tracker = f"sqlite:///{tmp / 'tracker.sqlite3'}"
    running = start_stack(
        model,
        env={
            "DEALERBOT_DATABASE_URL": url,
            "DEALERBOT_TRACKER_DB_URL": tracker,
            "DEALERBOT_FIXED_NOW": FIXED_NOW,
            "DEALERBOT_VAR_DIR": str(tmp),
            "DEALERBOT_TEST_SENDERS": "__readiness__",
            "DEALERBOT_DASHBOARD_USERS": str(users),
            "DEALERBOT_WHATSAPP_GRAPH_URL": f"{graph.url}/v20.0",
            "DEALERBOT_WHATSAPP_ACCESS_TOKEN": ACCESS_TOKEN,
            "DEALERBOT_WHATSAPP_APP_SECRET": APP_SECRET,
            "DEALERBOT_WHATSAPP_VERIFY_TOKEN": "verify-e2e",
        },
        tracker_db_url=tracker,
        log_dir=tmp,
        web_port=web_port,
        dashboard_port=dashboard_port,
    )
    running.store = make_session_factory(make_engine(url))
    running.web_url = f"http://127.0.0.1:{web_port}"
    running.dashboard_url = f"http://127.0.0.1:{dashboard_port}"
    running.graph = graph
    deadline = dt.datetime.now() + dt.timedelta(seconds=60)
    for page in (running.web_url, f"{running.dashboard_url}/login"):
        while True:
            try:
                urllib.request.urlopen(page, timeout=2).close()
                break
            except OSError:
                if dt.datetime.now() > deadline:
                    running.stop()
                    pytest.fail(f"{page} did not come up; logs in {tmp}")
    yield running
    running.stop()
    graph.stop()


def bubbles(page, kind: str = "bot") -> list[str]:
    return page.locator(f".dbw-{kind}").all_inner_texts()


def wait_for_bubble(page, before: int, expect: str) -> str:
    page.wait_for_function(
        """([before, expect]) => [...document.querySelectorAll('.dbw-bot')].slice(before)
            .some(b => b.innerText.includes(expect))""",
        arg=[before, expect],
        timeout=REPLY_TIMEOUT,
    )
    return "\n".join(bubbles(page)[before:])


def say(page, text: str) -> None:
    page.fill(".dbw-input", text)
    page.press(".dbw-input", "Enter")


def web_record(loop, ready) -> Conversation:
    """The widget conversation's record once ``ready(row)`` holds (written after the reply)."""
    deadline = time.monotonic() + REPLY_TIMEOUT / 1000
    while True:
        with loop.store() as session:
            row = session.scalars(select(Conversation).where(Conversation.channel == "web")).first()
            if row is not None and ready(row):
                return row
        assert time.monotonic() < deadline, "the conversation record was not written"
        time.sleep(0.2)


def log_in(browser, base: str):
    context = browser.new_context(viewport={"width": 1100, "height": 1000}, locale="nl-NL")
    staff = context.new_page()
    staff.goto(f"{base}/login")
    staff.fill("input[name=name]", "anna")
    staff.fill("input[name=token]", "anna-token")
    staff.click("button")
    return context, staff


def test_a_person_takes_over_the_widget_chat_and_hands_back(loop):
    with chromium() as browser:
        staff_context, staff = log_in(browser, loop.dashboard_url)
        staff.goto(f"{loop.dashboard_url}/d/{DEALER}/inbox")
        staff.wait_for_selector("#inbox-lists[data-updated]", timeout=REPLY_TIMEOUT)

        customer_context = browser.new_context(viewport={"width": 390, "height": 760},
                                               locale="nl-NL")  # fmt: skip
        customer = customer_context.new_page()
        customer.goto(loop.web_url)
        customer.click(".dbw-launcher")
        customer.wait_for_selector(".dbw-ready", timeout=REPLY_TIMEOUT)
        sender = session_of(customer)
        before = len(bubbles(customer))
        say(customer, "ik wil een medewerker spreken")
        wait_for_bubble(customer, before, "collega")
        with loop.store() as session:
            handoff = session.scalars(select(Lead).where(Lead.sender_id == sender)).one()

        # Within 2 s the inbox lists it, without a reload.
        row = f"#handoffs tr[data-id='{handoff.id}']"
        staff.wait_for_selector(row, timeout=LIVE_MS)
        screenshot(staff, "inbox.png", docs=True)
        staff.click(f"{row} a")
        staff.click("#takeover")
        assert staff.get_attribute("#takeover-state", "data-held") == "anna"
        staff.fill("textarea[name=text]", "Goedemiddag, u spreekt met Anna. Waarmee kan ik helpen?")
        before = len(bubbles(customer))
        staff.click("#send")
        reply = wait_for_bubble(customer, before, "u spreekt met Anna")
        assert "Waarmee kan ik helpen" in reply

        # While Anna holds the chat the bot is silent, and her inbox shows what the customer wrote.
        before = len(bubbles(customer))
        say(customer, "wanneer zijn jullie open?")
        staff.wait_for_function(
            "() => document.querySelector('#live-transcript').innerText"
            ".includes('wanneer zijn jullie open?')",
            timeout=REPLY_TIMEOUT,
        )
        transcript = staff.inner_text("#live-transcript")
        assert transcript.rstrip().endswith("wanneer zijn jullie open?")  # nothing after it
        assert "anna ·" in transcript  # the staff message, named
        screenshot(staff, "inbox-takeover.png", docs=True)
        assert len(bubbles(customer)) == before

        # Hand back: the customer is told, and the bot answers again.
        before = len(bubbles(customer))
        staff.click("#handback")
        wait_for_bubble(customer, before, "digitale assistent")
        assert staff.locator("#takeover").count() == 1
        # The hand-back writes the conversation record with what the customer wrote to Anna
        # (no action runs while the bot is paused), so it counts for MEC like any other.
        record = web_record(loop, lambda row: row.customer_messages == 2)
        assert record.qualifies and record.outcome == "handed_off"
        # The conversation's page in the dashboard names who wrote the staff message.
        staff.goto(f"{loop.dashboard_url}/conversations/{record.id}")
        assert staff.locator("#transcript .msg.staff").first.inner_text().startswith("anna ·")
        before = len(bubbles(customer))
        say(customer, "wanneer zijn jullie open?")
        wait_for_bubble(customer, before, "")
        customer_context.close()
        staff_context.close()

    with loop.store() as session:
        actions = session.execute(
            select(InboxEvent.action, InboxEvent.staff).where(
                InboxEvent.item_id.in_((sender, handoff.id))).order_by(InboxEvent.id)
        ).all()  # fmt: skip
    assert actions == [("taken_over", "anna"), ("claimed", "anna"), ("replied", "anna"),
                       ("handed_back", "anna")]  # fmt: skip


def post_whatsapp(loop, wa_id: str, text: str, n: int) -> None:
    hook = cloud_webhook(PNID, BUSINESS_NUMBER,
                         messages=[cloud_text(wa_id, f"wamid.takeover.{n}", NOW_TS, text)])  # fmt: skip
    body = json.dumps(hook).encode()
    request = urllib.request.Request(
        f"{loop.rasa_url}/webhooks/whatsapp_cloud/webhook", body,
        {"Content-Type": "application/json",
         "X-Hub-Signature-256": meta_signature(APP_SECRET, body)}, method="POST")  # fmt: skip
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 200


def test_the_staff_message_reaches_a_whatsapp_customer(loop):
    wa_id = "31612349876"
    post_whatsapp(loop, wa_id, "ik wil een medewerker spreken", 1)
    assert "collega" in json.dumps(loop.graph.sent_to(wa_id))
    with loop.store() as session:
        handoff = session.scalars(
            select(Lead).where(Lead.sender_id.contains(wa_id), Lead.kind == "handoff")
        ).one()  # fmt: skip
    seen = len(loop.graph.sent_to(wa_id))
    with chromium() as browser:
        context, staff = log_in(browser, loop.dashboard_url)
        staff.goto(f"{loop.dashboard_url}/d/{DEALER}/inbox/lead/{handoff.id}")
        assert staff.locator("#window-closed").count() == 0  # the customer wrote just now
        staff.click("#takeover")
        staff.fill("textarea[name=text]", "Hallo, met Anna van de werkplaats.")
        staff.click("#send")
        staff.wait_for_selector("#live-transcript .msg.staff", timeout=REPLY_TIMEOUT)
        assert staff.locator("#notice").count() == 0, staff.inner_text("main")
        staff.click("#handback")
        staff.wait_for_selector("#takeover", timeout=REPLY_TIMEOUT)
        context.close()
    sent = loop.graph.sent_to(wa_id)[seen:]
    texts = [b["text"]["body"] for b in sent if b["type"] == "text"]
    assert len(texts) == 2, loop.graph.sent_to(wa_id)
    assert texts[0] == "Hallo, met Anna van de werkplaats."
    assert "digitale assistent" in texts[1]
