"""Headless Debian Chromium driven by Playwright: no browser download, no background traffic."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
DOCS_IMG = Path(__file__).resolve().parent.parent.parent / "docs" / "img"
REPLY_TIMEOUT = 90_000  # ms; a reply takes well under a second, a loaded machine much longer
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@contextlib.contextmanager
def chromium() -> Iterator:
    """A Playwright browser on /usr/bin/chromium (set-up installs it); skip when missing."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: run scripts/setup.sh (it installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page, name: str, *, docs: bool = False) -> Path:
    """Save to tests/artifacts/ (gitignored); ``docs`` also copies it to docs/img/ for the
    README."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=False)
    if docs:
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS_IMG / name)
    return path


# -- the chat widget -------------------------------------------------------------------------


def session_of(page) -> str:
    """The session id, from the resume token the server signed (``<id>.<mac>``)."""
    token = page.evaluate("JSON.parse(localStorage.getItem('dealerbot:autohuis-demo:token'))")
    return token.split(".")[0]


def bot_bubbles(page) -> list[str]:
    return page.locator(".dbw-bot").all_inner_texts()


def exchange(page, act, expect: str) -> str:
    """Do ``act`` (type or click), then wait until a new bot message contains ``expect``."""
    before = len(bot_bubbles(page))
    act()
    page.wait_for_function(
        """([before, expect]) => {
            const bubbles = [...document.querySelectorAll('.dbw-bot')].slice(before);
            return bubbles.some(b => b.innerText.includes(expect));
        }""",
        arg=[before, expect],
        timeout=REPLY_TIMEOUT,
    )
    return "\n".join(bot_bubbles(page)[before:])


def type_(page, text: str):
    def act():
        page.fill(".dbw-input", text)
        page.press(".dbw-input", "Enter")

    return act


def click(page, title: str):
    return lambda: page.locator(".dbw-reply", has_text=title).first.click()
