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
from metrics.web.auth import csrf_token
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
    ((status, _type, page),) = get(seeded, users, f"/d/{DEALER}?week={WEEK}&lang=en")
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
    assert '<p class="muted" id="top-intents">Geen vragen herkend deze week.</p>' in page
    assert '<p class="muted" id="top-fallbacks">Geen onbegrepen berichten deze week.</p>' in page


def test_the_pages_speak_the_dealers_language_until_the_user_switches(seeded, users):
    dutch, english, still, lists, back = get(
        seeded, users, f"/d/{DEALER}?week={WEEK}", f"/d/{DEALER}?week={WEEK}&lang=en",
        f"/d/{DEALER}?week={WEEK}", f"/d/{DEALER}/conversations?week={WEEK}&list=all",
        f"/d/{DEALER}/webhooks?lang=nl",
    )  # fmt: skip
    page = dutch[2]
    assert '<html lang="nl">' in page  # the demo dealer's reports.language
    assert '<h1 id="title">Autohuis De Vries · week 47, 16–22 november</h1>' in page
    assert "In één oogopslag" in page and ">Uitloggen</button>" in page
    assert "t.o.v. vorige week" in page and "Log out" not in page
    assert '<abbr title="Klanten in gesprek' in page  # abbreviations explained
    assert f'<a href="/d/{DEALER}?week={WEEK}&amp;lang=en" lang="en"' in page  # the switch
    page = english[2]
    assert '<html lang="en">' in page and ">Log out</button>" in page
    assert "Autohuis De Vries · week 47, 16–22 November" in page and "At a glance" in page
    assert '<abbr title="Engaged contacts' in page
    assert '<html lang="en">' in still[2]  # the choice is remembered
    assert "Outcome</th>" in lists[2] and "All conversations" in lists[2]
    assert '<html lang="nl">' in back[2] and "Webhook-afleveringen" in back[2]


def test_the_week_page_opens_on_the_current_week(seeded, users):
    # tests/conftest.py: the clock is Monday 23 November 2026, week 48.
    ((status, _type, page),) = get(seeded, users, f"/d/{DEALER}")
    assert status == 200
    assert "week 48, 23–29 november</h1>" in page
    assert f'id="prev-week" href="/d/{DEALER}?week=2026-W47"' in page
    assert 'id="this-week"' not in page


def test_a_change_on_a_small_n_shows_the_counts(seeded, users):
    ((_status, _type, page),) = get(seeded, users, f"/d/{DEALER}?week={WEEK}")
    changes = re.findall(r'<td class="num change">([^<]*)</td>', page)
    assert changes and not [c for c in changes if "%" in c and "→" not in c and c != "–"
                            and int(re.sub(r"\D", "", c) or 0) > 100]  # fmt: skip
    assert any("→" in c for c in changes)  # the seed's weeks are small: counts, not %


def test_a_dead_session_gets_the_log_in_page_with_the_reason(seeded, users):
    async def run() -> tuple:
        app = make_app(seeded, users_path=users)
        async with TestClient(TestServer(app)) as client:
            client.session.cookie_jar.update_cookies({"dealerbot_dashboard": "c2Vzc2lvbg.x"})
            response = await client.get(f"/d/{DEALER}")
            return response.status, str(response.url), await response.text()

    status, url, page = asyncio.run(run())
    assert status == 200 and url.endswith("/login?expired=1")
    assert 'id="login-error"' in page and "Log opnieuw in" in page
    assert '<input name="name"' in page  # a real log-in page, not a bare error text


def test_saving_potential_returns_to_the_week_edited(seeded, users):
    async def run() -> tuple:
        app = make_app(seeded, users_path=users)
        async with TestClient(TestServer(app)) as client:
            await client.post("/login", data={"name": "devries", "token": "t1"})
            cookie = next(c.value for c in client.session.cookie_jar
                          if c.key == "dealerbot_dashboard")  # fmt: skip
            response = await client.post(
                f"/d/{DEALER}/potential?week=2026-W48",
                data={"csrf": csrf_token(cookie), "period": "2026-W45",
                      "service_appointments": "30", "sales_leads": "10"},
                allow_redirects=False,
            )  # fmt: skip
            expired = await client.post(f"/d/{DEALER}/potential", data={"csrf": "old"})
            return (
                response.status,
                response.headers["Location"],
                expired.status,
                await expired.text(),
            )

    status, location, expired_status, expired_page = asyncio.run(run())
    assert status == 303 and location.startswith(f"/d/{DEALER}?week=2026-W45&saved=")
    assert expired_status == 403 and 'id="error"' in expired_page
    assert "Het formulier is verlopen" in expired_page


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


def test_the_week_page_opens_with_the_sentence_and_the_todo_list(seeded, users):
    ((status, _type, page),) = get(seeded, users, f"/d/{DEALER}?week={WEEK}")
    assert status == 200
    main = page[page.index("<main>") + len("<main>") :]
    # the action first, right under the title, in the dealer's language (reports.language: nl)
    after_title = main[main.index("</h1>") + len("</h1>") :].lstrip()
    assert after_title.startswith('<section id="digest"><p id="digest-sentence"><strong>Deze week '
                                  "6 klanten gesproken via chat, 4 meer dan vorige week;")  # fmt: skip
    assert main.index('<h2 id="todo">Te doen</h2>') < main.index('id="headline"')
    todo = main[: main.index("</section>")]
    low = todo[todo.index('id="todo-csat_low"') :]
    assert low.index('href="/conversations/c4"') < low.index('href="/conversations/c3"')
    assert f'href="/d/{DEALER}/inbox/lead/' in todo[todo.index('id="todo-open_item"') :]
    assert "&lt;script&gt;" in todo and "<script>" not in todo  # a fallback message, escaped


def test_a_conversation_page_shows_the_outcome_and_the_survey_in_words(seeded, users, tmp_path,
                                                                       monkeypatch):  # fmt: skip
    monkeypatch.setenv("DEALERBOT_TRACKER_DB_URL", f"sqlite:///{tmp_path / 'no-tracker.db'}")
    (dutch, english) = get(seeded, users, "/conversations/c1", "/conversations/c1?lang=en")
    assert dutch[0] == 200, dutch[2][:300]
    assert '<td id="outcome">afspraak gemaakt</td>' in dutch[2]  # not appointment_booked
    assert "Tevredenheid (<abbr" in dutch[2] and "<td>5</td>" in dutch[2]
    assert "Autohuis De Vries · week 47, 16–22 november" in dutch[2]  # the way back
    assert '<td id="outcome">appointment booked</td>' in english[2]


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
