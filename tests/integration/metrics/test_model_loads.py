"""Which model a Rasa server runs since when (model_loads): the dashboard's "Live since"."""

import datetime as dt
from zoneinfo import ZoneInfo

from core.store.model_loads import live_since, record_model_load
from metrics.web.model_status import ServerModel
from metrics.web.pages import render

A, B = "http://127.0.0.1:5005", "http://127.0.0.1:5006"
UTC = dt.timezone.utc


def model_status_html(models, zone, lang="nl"):
    """The week page's "Assistant model" section alone, as the week page includes it."""
    return render("_model_status.html", lang, models=models, zone=zone)


def test_the_latest_load_of_a_server_gives_the_time(store):
    first = dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    second = dt.datetime(2026, 12, 5, 13, 30, tzinfo=UTC)
    record_model_load(store, A, "dealerbot-old.tar.gz", "id-old", first)
    record_model_load(store, B, "dealerbot-old.tar.gz", "id-old", first)
    record_model_load(store, A, "dealerbot-new.tar.gz", "id-new", second)
    assert live_since(store, A, "dealerbot-new.tar.gz", "id-new") == second
    assert live_since(store, B, "dealerbot-old.tar.gz", "id-old") == first
    # A runs the old model again without a record (a restart by hand): no time is claimed
    assert live_since(store, A, "dealerbot-old.tar.gz", "id-old") is None
    assert live_since(store, "http://127.0.0.1:5999", "dealerbot-new.tar.gz", "id-new") is None


def test_the_dashboard_section_shows_each_server_in_the_dealers_time_zone():
    html = str(model_status_html([
        ServerModel(A, "dealerbot-new.tar.gz", "id-new", dt.datetime(2026, 12, 5, 13, 30, tzinfo=UTC)),
        ServerModel(B, "dealerbot-<b>.tar.gz", "id-x", None),
        ServerModel("http://127.0.0.1:5007", None),
    ], ZoneInfo("Europe/Amsterdam")))  # fmt: skip
    assert '<td>http://127.0.0.1:5005</td><td class="model">dealerbot-new.tar.gz</td>' in html
    assert '<td class="since">5 dec 2026 14:30</td>' in html  # Dutch, the default
    assert "dealerbot-&lt;b&gt;.tar.gz" in html and "niet vastgelegd" in html
    assert "antwoordt niet" in html
    english = str(model_status_html([ServerModel("http://127.0.0.1:5007", None)],
                                    ZoneInfo("Europe/Amsterdam"), "en"))  # fmt: skip
    assert "<h2>Assistant model</h2>" in english and "not answering" in english


def test_the_week_page_shows_the_live_model_of_each_server_and_since_when(store, tmp_path):
    import asyncio

    from aiohttp.test_utils import TestClient, TestServer

    from bot.runtime import free_port
    from metrics.web.app import DASHBOARD, make_app
    from tests.unit.bot.test_model_api import TOKEN, FakeRasa

    rasa = FakeRasa("dealerbot-new.tar.gz")
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens
    users = tmp_path / "users.yml"
    users.write_text("users:\n  - {name: devries, token: t1, locations: [autohuis-demo]}\n")
    record_model_load(store, rasa.url, "dealerbot-new.tar.gz", "id-dealerbot-new.tar.gz",
                      dt.datetime(2026, 12, 5, 13, 30, tzinfo=UTC))  # fmt: skip

    async def week_page() -> str:
        app = make_app(store, users_path=users)
        app[DASHBOARD].rasa_urls, app[DASHBOARD].rasa_api_token = (rasa.url, dead), TOKEN
        async with TestClient(TestServer(app)) as client:
            await client.post("/login", data={"name": "devries", "token": "t1"})
            response = await client.get("/d/autohuis-demo?week=2026-W47")
            assert response.status == 200
            return await response.text()

    try:
        page = asyncio.run(week_page())
    finally:
        rasa.stop()
    assert "<h2>Assistentmodel</h2>" in page
    assert (f'<td>{rasa.url}</td><td class="model">dealerbot-new.tar.gz</td>'
            '<td class="since">5 dec 2026 14:30</td>') in page  # fmt: skip
    assert f'<td>{dead}</td><td class="error" colspan="2">antwoordt niet</td>' in page
