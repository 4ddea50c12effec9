"""The dashboard's week page and top-lists CSV over a seeded store, on SQLite and PostgreSQL.

The app runs in aiohttp's test server (no browser; tests/e2e/test_browser.py drives one).
"""

import asyncio
import csv
import datetime as dt
import html
import io
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from metrics.aggregate import rebuild
from metrics.report.export import TOP_COLUMNS
from metrics.summary import build_weekly_summary
from metrics.web.app import make_app
from tests.integration.metrics.summary_seed import (
    FORMULA,
    OTHER_DEALER,
    seed_formula_fallbacks,
    seed_inbox,
)
from tests.integration.metrics.test_aggregate import DEALER, late_answer, seed

WEEK = "2026-W47"
INTENT_ROW = re.compile(r'<tr data-intent="([^"]+)"><td>[^<]*</td><td class="num">(\d+)</td>')
FALLBACK_ROW = re.compile(
    r'<tr><td class="text">(.*?)</td><td class="num">(\d+)</td>'
    r'<td><a href="/conversations/([^"]+)">'
)


@pytest.fixture
def seeded(store):
    seed(store)
    seed_inbox(store)
    seed_formula_fallbacks(store)
    late_answer(store)
    rebuild(store, "week", dt.date(2026, 9, 1), dt.date(2026, 11, 29))
    return store


@pytest.fixture
def users(tmp_path):
    path = tmp_path / "users.yml"
    path.write_text(f"users:\n  - {{name: devries, token: t1, locations: [{DEALER}]}}\n")
    return path


def get(factory, users_path, *paths: str) -> list[tuple[int, str, str]]:
    """(status, content type, body) of each path, logged in as the dealer of ``DEALER``."""

    async def run() -> list[tuple[int, str, str]]:
        app = make_app(factory, users_path=users_path)
        async with TestClient(TestServer(app)) as client:
            login = await client.post(
                "/login", data={"name": "devries", "token": "t1"}, allow_redirects=False
            )
            assert login.status == 303
            answers = []
            for path in paths:
                response = await client.get(path, allow_redirects=False)
                answers.append((response.status, response.content_type, await response.text()))
            return answers

    return asyncio.run(run())


def test_the_week_page_shows_the_top_intents_and_fallback_messages(seeded, users):
    ((status, _type, page),) = get(seeded, users, f"/d/{DEALER}?week={WEEK}")
    assert status == 200
    assert "<h2>What customers asked most</h2>" in page
    assert "<h2>Messages the bot did not understand</h2>" in page
    summary = build_weekly_summary(seeded, DEALER, WEEK)
    intents = [(name, int(n)) for name, n in INTENT_ROW.findall(page)]
    assert intents[:2] == [("ask_price", 2), ("book_service", 2)]
    assert intents == summary.top_intents  # the summary's list, in its order
    assert '<tr data-intent="ask_price"><td>price</td>' in page  # the e-mail's label
    fallbacks = [(html.unescape(text), int(n), cid) for text, n, cid in FALLBACK_ROW.findall(page)]
    assert fallbacks == [
        ("heb je ook winterbanden ?!", 3, "c7"),
        (FORMULA, 2, "c2"),
        ("do you sell tyres", 2, "c2"),
        ("Bel me op <phone>", 1, "c1"),
        ("Kan ik mijn auto hier wassen?", 1, "c11"),
    ]
    assert [(m.text, m.count, m.conversation_id) for m in summary.top_fallbacks] == fallbacks
    # Customer text is escaped, never markup: no script element, no raw "<phone>".
    assert "<script>" not in page and "<phone>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert f'href="/d/{DEALER}/top.csv?week={WEEK}"' in page


def test_a_week_without_messages_says_so(seeded, users):
    ((status, _type, page),) = get(seeded, users, f"/d/{DEALER}?week=2026-W40")
    assert status == 200
    assert '<p class="muted" id="top-intents">No questions recognised this week.</p>' in page
    assert (
        '<p class="muted" id="top-fallbacks">No messages the bot did not understand this week.</p>'
        in page
    )


def test_the_top_csv_is_the_dealers_own_and_inert(seeded, users):
    own, other, bad = get(
        seeded, users, f"/d/{DEALER}/top.csv?week={WEEK}",
        f"/d/{OTHER_DEALER}/top.csv?week={WEEK}", f"/d/{DEALER}/top.csv?week=2026-11",
    )  # fmt: skip
    status, content_type, text = own
    assert (status, content_type) == (200, "text/csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == TOP_COLUMNS
    fallbacks = [r for r in rows[1:] if r[0] == "fallback"]
    assert fallbacks[1] == ["fallback", "2", "'" + FORMULA, "2", "en", "c2"]
    assert other[0] == 404  # another dealer's location does not exist for this user
    assert bad[0] == 400 and "2026-W47" in bad[2]


def test_a_page_view_rolls_up_the_weeks_dirty_days_first(store, users):
    """The current week is current (issue 20): conversations recorded since the last rollup, and
    an erasure, show on the next page view without waiting for the hourly job."""
    from sqlalchemy import delete as sql_delete

    from core.store.models import SurveyAnswer, delete_conversations
    from tests.integration.metrics.test_aggregate import summaries

    seed(store)  # recorded, never rolled up: the week's days are marked dirty
    assert (DEALER, WEEK, "all", "") not in summaries(store)
    ((status, _type, _page),) = get(store, users, f"/d/{DEALER}?week={WEEK}")
    assert status == 200
    assert summaries(store)[(DEALER, WEEK, "all", "")]["mec"] == 6
    with store.begin() as session:  # the erasure of contact G (c9)
        session.execute(sql_delete(SurveyAnswer).where(SurveyAnswer.conversation_id == "c9"))
        delete_conversations(session.connection(), ["c9"])
    get(store, users, f"/d/{DEALER}?week={WEEK}")
    assert summaries(store)[(DEALER, WEEK, "all", "")]["mec"] == 5
    assert build_weekly_summary(store, DEALER, WEEK).mec.value == 5.0
