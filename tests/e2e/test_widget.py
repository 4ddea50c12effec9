"""The chat widget as a customer meets it, in Debian's Chromium (issue 17, issue 15 item 7).

Each test drives the real stack (Rasa with the socketio channel, the action server, the demo
page). The connection is dropped with a TCP proxy between the browser and the chat server.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
from tests.e2e.faults import wait_for
from tests.e2e.proxy import FlakyProxy

pytestmark = pytest.mark.e2e
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
KEY = "dealerbot:autohuis-demo:"
PHONE = {"width": 390, "height": 760}


@pytest.fixture
def flaky(web_stack):
    """The demo page on a second origin, its widget talking to Rasa through a FlakyProxy."""
    host, port = web_stack.rasa_url.rsplit(":", 1)
    proxy = FlakyProxy(("127.0.0.1", int(port)))
    page_url = web_stack.proxied_page(f"http://127.0.0.1:{proxy.port}")
    yield proxy, page_url
    web_stack.stop_proxied_page()
    proxy.close()


def open_chat(page, url: str) -> None:
    page.goto(url)
    page.click(".dbw-launcher")
    page.wait_for_selector(".dbw-ready", timeout=REPLY_TIMEOUT)


def axe_violations(page) -> list[dict]:
    """axe-core (vendored, bot/web/package.json) on the open widget: serious and critical."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document.querySelector('.dbw'),
                                    {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']});
            return r.violations.map(v => ({id: v.id, impact: v.impact,
                                           nodes: v.nodes.map(n => n.target.join(' '))}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def fully_visible(page, selector: str) -> bool:
    """Whether every element matching ``selector`` lies inside the message log's visible box."""
    return page.evaluate(
        """(selector) => {
            const log = document.querySelector('.dbw-messages').getBoundingClientRect();
            return [...document.querySelectorAll(selector)].every(e => {
                const r = e.getBoundingClientRect();
                return r.top >= log.top - 0.5 && r.bottom <= log.bottom + 0.5;
            });
        }""",
        selector,
    )


def watch_page(page) -> None:
    """Count what screen readers hear (text put in a live region) and where the typing dots are
    drawn each time they appear."""
    page.evaluate(
        """() => {
            window.__said = [];
            window.__typing = [];
            const live = [...document.querySelectorAll('.dbw [aria-live]')]
                .filter(e => e.getAttribute('aria-live') !== 'off');
            live.forEach(region => new MutationObserver(records => records.forEach(r => {
                r.addedNodes.forEach(n => { if (n.textContent) window.__said.push(n.textContent); });
                if (r.type === 'characterData') window.__said.push(r.target.textContent);
            })).observe(region, {childList: true, characterData: true, subtree: true}));
            const typing = document.querySelector('.dbw-typing');
            new MutationObserver(() => {
                if (typing.hidden) return;
                const log = document.querySelector('.dbw-messages').getBoundingClientRect();
                const r = typing.getBoundingClientRect();
                window.__typing.push(r.top >= log.top && r.bottom <= log.bottom + 0.5);
            }).observe(typing, {attributes: true});
        }"""
    )


# -- 1. Messages are never lost -----------------------------------------------------------------


def test_a_message_typed_while_the_connection_is_down_is_sent_when_it_is_back(flaky):
    proxy, url = flaky
    with chromium() as browser:
        context = browser.new_context(viewport=PHONE, locale="nl-NL")
        page = context.new_page()
        open_chat(page, url)
        exchange(page, click(page, "Afspraak werkplaats"), "APK")
        exchange(page, click(page, "APK-keuring"), "kenteken")

        proxy.down()  # the chat server is gone, in the middle of the form
        page.wait_for_selector(".dbw-reconnecting", timeout=REPLY_TIMEOUT)
        status = page.locator(".dbw-status")
        assert status.is_visible() and "Verbinding herstellen" in status.inner_text()
        page.fill(".dbw-input", "12-abc-3")
        page.press(".dbw-input", "Enter")
        assert page.locator(".dbw-user", has_text="12-abc-3").count() == 1
        assert page.locator(".dbw-typing").is_hidden()  # nothing is on its way yet
        outbox = page.evaluate(f"JSON.parse(localStorage.getItem('{KEY}outbox'))")
        assert [m["text"] for m in outbox] == ["12-abc-3"] and outbox[0]["id"]

        before = len(bot_bubbles(page))
        proxy.up()
        page.wait_for_function(
            "n => [...document.querySelectorAll('.dbw-bot')].slice(n)"
            ".some(b => b.innerText.includes('kilometerstand'))",
            arg=before,
            timeout=REPLY_TIMEOUT,
        )
        page.wait_for_selector(".dbw-typing", state="hidden", timeout=REPLY_TIMEOUT)
        assert status.is_hidden()
        assert page.locator(".dbw-user", has_text="12-abc-3").count() == 1
        assert "niet beschikbaar" not in page.inner_text(".dbw-messages")
        assert page.locator(".dbw-notice").count() == 0
        assert page.evaluate(f"JSON.parse(localStorage.getItem('{KEY}outbox'))") == []
        # The form goes on in the same conversation, with one answer to the plate.
        assert sum("kilometerstand" in b for b in bot_bubbles(page)) == 1
        exchange(page, type_(page, "ongeveer 85.000 km"), "Wanneer")
        context.close()


def user_events(web_stack, text: str) -> int:
    """How many times the bot received ``text`` (Rasa's SQL tracker store)."""
    import sqlite3

    with sqlite3.connect(web_stack.var_dir / "tracker.sqlite3") as db:
        rows = db.execute("select data from events where type_name = 'user'").fetchall()
    return sum(json.loads(data).get("text") == text for (data,) in rows)


def test_replies_lost_with_the_connection_come_back_once(flaky, web_stack):
    """The server handles a message but its replies and acknowledgement never arrive: after the
    reconnect the widget re-sends it, the server does not handle it again and returns the
    replies, and the customer sees them once."""
    proxy, url = flaky
    with chromium() as browser:
        context = browser.new_context(viewport=PHONE, locale="nl-NL")
        page = context.new_page()
        open_chat(page, url)
        exchange(page, click(page, "Afspraak werkplaats"), "APK")
        exchange(page, click(page, "APK-keuring"), "kenteken")
        plate = "34-xyz-5"
        proxy.mute()
        page.fill(".dbw-input", plate)
        page.press(".dbw-input", "Enter")
        wait_for(lambda: user_events(web_stack, plate) == 1, "the bot to handle the plate")
        assert not any("kilometerstand" in b for b in bot_bubbles(page)), bot_bubbles(page)
        proxy.down()
        page.wait_for_selector(".dbw-reconnecting", timeout=REPLY_TIMEOUT)
        proxy.up()
        page.wait_for_function(
            "() => [...document.querySelectorAll('.dbw-bot')]"
            ".some(b => b.innerText.includes('kilometerstand'))",
            timeout=REPLY_TIMEOUT,
        )
        page.wait_for_selector(".dbw-ready", timeout=REPLY_TIMEOUT)
        assert sum("kilometerstand" in b for b in bot_bubbles(page)) == 1
        assert user_events(web_stack, plate) == 1  # handled once
        assert page.evaluate(f"JSON.parse(localStorage.getItem('{KEY}outbox'))") == []
        exchange(page, type_(page, "ongeveer 85.000 km"), "Wanneer")
        context.close()


# -- 2. The customer's language -----------------------------------------------------------------


def test_an_english_browser_gets_english_chrome_and_both_languages(web_stack):
    with chromium() as browser:
        context = browser.new_context(viewport=PHONE, locale="en-GB", bypass_csp=True)  # axe
        page = context.new_page()
        open_chat(page, web_stack.web_url)
        assert page.get_attribute(".dbw-input", "placeholder") == "Type your message…"
        assert page.inner_text(".dbw-send") == "Send"
        assert page.get_attribute(".dbw-close", "aria-label") == "Close chat"
        greeting = bot_bubbles(page)[0]
        assert "Welcome to Autohuis De Vries" in greeting
        assert "automated assistant" in greeting
        privacy = page.locator(".dbw-bot .dbw-privacy")
        assert privacy.get_attribute("href") == "https://autohuisdevries.example/privacy"
        titles = page.locator(".dbw-reply").all_inner_texts()
        assert "Book a service" in titles and "Nederlands" in titles
        assert axe_violations(page) == []  # English, with buttons

        # Choosing Dutch: the greeting and the widget's own texts switch.
        page.locator(".dbw-reply", has_text="Nederlands").click()
        assert "Welkom bij" in bot_bubbles(page)[0] and len(bot_bubbles(page)) == 1
        assert page.get_attribute(".dbw-input", "placeholder") == "Typ uw bericht…"
        assert "English" in page.locator(".dbw-reply").all_inner_texts()
        context.close()


def test_the_chrome_follows_the_conversations_language(web_stack):
    with chromium() as browser:
        context = browser.new_context(viewport=PHONE, locale="nl-NL")
        page = context.new_page()
        open_chat(page, web_stack.web_url)
        assert page.get_attribute(".dbw-input", "placeholder") == "Typ uw bericht…"
        assert "English" not in page.locator(".dbw-reply").all_inner_texts()  # a Dutch browser
        greeting = bot_bubbles(page)[0]
        assert "automatische assistent" in greeting and "Privacyverklaring" in greeting
        exchange(page, type_(page, "Hello, what are your opening hours?"), "")
        page.wait_for_function(
            "() => document.querySelector('.dbw-input').placeholder === 'Type your message…'",
            timeout=REPLY_TIMEOUT,
        )
        assert page.inner_text(".dbw-send") == "Send"
        context.close()


# -- 3. Nothing hidden, accessible --------------------------------------------------------------


def test_nothing_hidden_and_accessible_through_a_booking_and_the_survey(web_stack):
    with chromium() as browser:
        context = browser.new_context(viewport=PHONE, locale="nl-NL", bypass_csp=True)  # axe
        page = context.new_page()
        open_chat(page, web_stack.web_url)
        watch_page(page)
        assert axe_violations(page) == []  # Dutch, greeting with buttons

        # Escape closes; focus goes back to the launcher, and to the input when reopened.
        page.keyboard.press("Escape")
        assert page.locator(".dbw-panel").is_hidden()
        assert page.evaluate("document.activeElement.className") == "dbw-launcher"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.className") == "dbw-input"

        # Touch targets of at least 44 x 44 px.
        for box in [b.bounding_box() for b in page.locator(".dbw button:visible").all()]:
            assert box["width"] >= 44 and box["height"] >= 44, box

        said = page.evaluate("window.__said.length")
        exchange(page, click(page, "Afspraak werkplaats"), "APK")
        assert page.evaluate("document.activeElement.className") == "dbw-input"
        # After a mouse click the chip that lands under the pointer shows no hover fill.
        chip = page.locator(".dbw-reply", has_text="APK-keuring").bounding_box()
        page.mouse.click(chip["x"] + chip["width"] / 2, chip["y"] + chip["height"] / 2)
        page.wait_for_function(
            "[...document.querySelectorAll('.dbw-bot')].some(b => b.innerText.includes('kenteken'))",
            timeout=REPLY_TIMEOUT,
        )
        under = page.evaluate(
            """([x, y]) => {
                const e = document.elementFromPoint(x, y);
                return e && e.classList.contains('dbw-reply') ? getComputedStyle(e).backgroundColor : null;
            }""",
            [chip["x"] + chip["width"] / 2, chip["y"] + chip["height"] / 2],
        )
        assert under in (None, "rgb(255, 255, 255)")
        # Another car than test_browser's booking in this stack: the same plate and number
        # would get the question whether to move that appointment instead of the summary.
        exchange(page, type_(page, "34-abc-5"), "kilometerstand")
        exchange(page, type_(page, "ongeveer 85.000 km"), "Wanneer")
        exchange(page, type_(page, "morgen om 10 uur"), "naam")
        exchange(page, type_(page, "Jan de Vries"), "")
        exchange(page, type_(page, "06 12345678"), "Klopt dat?")
        # The whole summary and its buttons are in view.
        assert fully_visible(page, ".dbw-msg:last-of-type") and fully_visible(page, ".dbw-reply")
        exchange(page, click(page, "Ja, inplannen"), "Hoe tevreden")
        page.wait_for_selector(".dbw-reply >> text=5")
        assert fully_visible(page, ".dbw-thread > .dbw-bot:last-child")
        assert fully_visible(page, ".dbw-reply")
        assert "5 = zeer tevreden" in bot_bubbles(page)[-1]
        assert axe_violations(page) == []  # the survey
        screenshot(page, "widget-survey.png")

        # Each bot message was announced once; the typing dots were drawn in view.
        messages = len(bot_bubbles(page)) - 1  # less the greeting
        user = page.locator(".dbw-user").count()
        assert page.evaluate("window.__said.length") - said == messages
        assert page.evaluate("window.__typing").count(False) == 0
        assert len(page.evaluate("window.__typing")) >= user
        context.close()


def test_an_error_state_in_english_has_no_serious_violations(flaky):
    proxy, url = flaky
    with chromium() as browser:
        context = browser.new_context(viewport=PHONE, locale="en-US", bypass_csp=True)  # axe
        page = context.new_page()
        open_chat(page, url)
        proxy.down()
        page.wait_for_selector(".dbw-reconnecting", timeout=REPLY_TIMEOUT)
        assert "Reconnecting" in page.inner_text(".dbw-status")
        page.fill(".dbw-input", "hello")
        page.press(".dbw-input", "Enter")
        assert axe_violations(page) == []
        screenshot(page, "widget-reconnecting.png")
        proxy.up()
        page.wait_for_selector(".dbw-ready", timeout=REPLY_TIMEOUT)
        context.close()


# -- 4. Security and the copy on the device -----------------------------------------------------


def test_new_conversation_expiry_and_erasure_clear_the_device(web_stack):
    with chromium() as browser:
        context = browser.new_context(viewport=PHONE, locale="nl-NL")
        page = context.new_page()
        open_chat(page, web_stack.web_url)
        exchange(page, type_(page, "wanneer zijn jullie open?"), "")
        first = session_of(page)
        assert first not in page.content()

        # "New conversation": a fresh session, nothing of the old one kept.
        page.click(".dbw-restart")
        page.wait_for_function(
            f"(old) => (JSON.parse(localStorage.getItem('{KEY}token')) || '').split('.')[0] !== old"
            " && document.querySelector('.dbw-ready')",
            arg=first,
            timeout=REPLY_TIMEOUT,
        )
        assert "wanneer zijn jullie open" not in json.dumps(
            page.evaluate("Object.assign({}, localStorage)")
        )
        assert len(bot_bubbles(page)) == 1  # the greeting only

        # Expiry: a conversation left alone for longer than a day is gone after a reload.
        # A phone number alone is passed to a colleague, who needs a name: wait for that last
        # reply, or it would mark the conversation as seen after the clock is set back.
        exchange(page, type_(page, "mijn nummer is 06 12345678"), "naam")
        page.evaluate(
            f"localStorage.setItem('{KEY}seen', JSON.stringify(Date.now() - 25 * 3600e3))"
        )
        page.reload()
        page.wait_for_selector(".dbw-launcher")
        assert "12345678" not in json.dumps(page.evaluate("Object.assign({}, localStorage)"))

        # Erasure from the chat erases the copy on the device too.
        open_chat(page, web_stack.web_url)
        exchange(page, type_(page, "mijn nummer is 06 12345678"), "naam")
        exchange(page, type_(page, "verwijder mijn gegevens"), "wissen")
        # The erasure clears the thread and keeps only the bot's confirmation, so the reply is
        # not a bubble after the old ones: wait for the device notice, then read the thread.
        click(page, "Ja, wis mijn gegevens")()
        page.wait_for_selector(".dbw-notice >> text=van dit apparaat gewist", timeout=REPLY_TIMEOUT)
        assert "gewist" in bot_bubbles(page)[0]
        stored = json.dumps(page.evaluate("Object.assign({}, localStorage)"))
        assert "12345678" not in stored and f"{KEY}history" not in stored
        assert "12345678" not in page.inner_text(".dbw-messages")
        context.close()


# -- 5. Light and cacheable ---------------------------------------------------------------------


def bytes_loaded(events: list[dict], since: int = 0) -> dict[str, int]:
    """Compressed bytes on the wire per URL (the page's own files left out), from CDP."""
    sizes: dict[str, int] = {}
    for event in events[since:]:
        url = event["url"]
        sizes[url] = sizes.get(url, 0) + event["bytes"]
    return sizes


def test_the_widget_is_light_before_it_opens_and_cached_for_a_returning_visitor(web_stack):
    with chromium() as browser:
        context = browser.new_context(viewport=PHONE, locale="nl-NL")
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        urls: dict[str, str] = {}
        status: dict[str, int] = {}
        events: list[dict] = []
        cdp.on("Network.responseReceived", lambda e: (
            urls.__setitem__(e["requestId"], e["response"]["url"]),
            status.__setitem__(e["response"]["url"], e["response"]["status"])))  # fmt: skip
        cdp.on("Network.loadingFinished", lambda e: events.append(
            {"url": urls.get(e["requestId"], "?"), "bytes": e["encodedDataLength"]}))  # fmt: skip
        cdp.on("Network.webSocketFrameReceived", lambda e: events.append(
            {"url": "websocket", "bytes": len(e["response"]["payloadData"])}))  # fmt: skip
        cdp.on("Network.webSocketFrameSent", lambda e: events.append(
            {"url": "websocket", "bytes": len(e["response"]["payloadData"])}))  # fmt: skip

        page.goto(web_stack.web_url)
        page.wait_for_selector(".dbw-launcher")
        page.wait_for_load_state("networkidle")
        own = (
            f"{web_stack.web_url}/",
            f"{web_stack.web_url}/demo.css",
            f"{web_stack.web_url}/favicon.ico",
        )  # the dealer's page, not the widget
        before = {u: b for u, b in bytes_loaded(events).items() if u not in own}
        assert not any("socket.io" in u for u in before), before  # loaded on first open only
        assert sum(before.values()) <= 15 * 1024, before
        mark = len(events)
        page.click(".dbw-launcher")
        page.wait_for_selector(".dbw-ready", timeout=REPLY_TIMEOUT)
        exchange(page, click(page, "Openingstijden"), "")
        to_reply = bytes_loaded(events, mark)
        figures = {"before_open": sum(before.values()), "to_first_reply": sum(to_reply.values())}
        print(f"\nwidget bytes: {figures} before={before} to_reply={to_reply}")
        (Path(__file__).resolve().parent.parent / "artifacts").mkdir(exist_ok=True)
        (Path(__file__).resolve().parent.parent / "artifacts" / "widget-bytes.json").write_text(
            json.dumps({**figures, "before": before, "to_reply": to_reply}, indent=1)
        )

        # A returning visitor: the widget's files are revalidated (304), nothing loads again.
        status.clear()
        page.goto(web_stack.web_url)
        page.wait_for_selector(".dbw-ready", timeout=REPLY_TIMEOUT)  # it reopens as it was
        page.wait_for_load_state("networkidle")
        static = {u: s for u, s in status.items() if "/static/" in u}
        assert static and set(static.values()) == {304}, static
        context.close()


# -- 6. README screenshots ----------------------------------------------------------------------


@pytest.mark.parametrize("locale, name, steps", [
    ("nl-NL", "widget-phone.png", [("Afspraak werkplaats", "APK"), ("APK-keuring", "kenteken")]),
    ("en-GB", "widget-phone-en.png", [("Book a service", "MOT"), ("MOT", "licence plate")]),
])  # fmt: skip
def test_readme_screenshots_in_dutch_and_english(web_stack, locale, name, steps):
    with chromium() as browser:
        context = browser.new_context(viewport=PHONE, locale=locale, device_scale_factor=1)
        page = context.new_page()
        open_chat(page, web_stack.web_url)
        for title, expect in steps:
            exchange(page, click(page, title), expect)
        screenshot(page, name, docs=True)
        context.close()
