"""The dashboard shows a location's webhook delivery log, and only to that location's staff."""

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.runtime import free_port
from core.settings import get_settings
from core.store.models import utcnow
from metrics.web.app import make_app
from notifications.worker import run_once
from tests.integration.notifications.seed import SECRET, SECRET_ENV, add_webhook, lead


@pytest.fixture
def users(tmp_path):
    path = tmp_path / "users.yml"
    path.write_text("users:\n  - {name: devries, token: t1, locations: [autohuis-demo]}\n")
    return path


def get(factory, users_path, *paths):
    async def run():
        async with TestClient(TestServer(make_app(factory, users_path=users_path))) as client:
            login = await client.post("/login", data={"name": "devries", "token": "t1"},
                                      allow_redirects=False)  # fmt: skip
            assert login.status == 303
            return [
                (r.status, await r.text())
                for r in [await client.get(p, allow_redirects=False) for p in paths]
            ]

    return asyncio.run(run())


def test_every_attempt_is_listed_for_the_location(store, dealer, notify_dealers, users,
                                                  monkeypatch, tmp_path):  # fmt: skip
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.delenv("DEALERBOT_SMTP_HOST", raising=False)
    monkeypatch.setenv("DEALERBOT_OUTBOX_DIR", str(tmp_path / "outbox"))
    url = f"http://127.0.0.1:{free_port()}/nobody-listens?<x>"
    add_webhook(notify_dealers, url)
    lead(store, dealer, "financing")
    run_once(store, get_settings(), utcnow())
    (status, page), (other_status, _), (_, location) = get(
        store, users, "/d/autohuis-demo/webhooks", "/d/autohuis-amersfoort/webhooks",
        "/d/autohuis-demo",
    )  # fmt: skip
    assert status == 200 and other_status == 404  # another location's log is not there
    assert 'href="/d/autohuis-demo/webhooks"' in location
    assert '<table id="webhook-attempts">' in page
    assert "nobody-listens?&lt;x&gt;" in page and "<x>" not in page  # escaped
    assert "ConnectionRefusedError" in page or "URLError" in page
