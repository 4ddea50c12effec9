import json
import urllib.request

import pytest

from bot.runtime import start_stack
from core.settings import rest_client_headers
from core.store.migrate import upgrade
from core.store.session import make_engine, make_session_factory
from tests.conftest import FIXED_NOW


@pytest.fixture(scope="session")
def stack(model, tmp_path_factory):
    """The real Rasa server and action server on free loopback ports, with their own store.

    REST counts as a customer channel here, so conversations over it can qualify.
    """
    tmp = tmp_path_factory.mktemp("stack")
    url = f"sqlite:///{tmp / 'store.sqlite3'}"
    upgrade(make_engine(url))
    running = start_stack(
        model,
        env={
            "DEALERBOT_DATABASE_URL": url,
            "DEALERBOT_FIXED_NOW": FIXED_NOW,
            "DEALERBOT_VAR_DIR": str(tmp),
            "DEALERBOT_CUSTOMER_CHANNELS": "web,whatsapp,rest",
            "DEALERBOT_TEST_SENDERS": "test-,__readiness__",
        },
        log_dir=tmp,
    )
    running.store = make_session_factory(make_engine(url))
    running.var_dir = tmp
    yield running
    running.stop()


def say(stack, sender: str, text: str) -> list[dict]:
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(stack.rest_webhook, body, rest_client_headers())
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


WEB_TOKEN_KEY = "e2e-widget-token-key-0123456789abcdef"


@pytest.fixture(scope="session")
def web_stack(model, tmp_path_factory):
    """Rasa with the socketio channel, the action server and the demo page on free ports.

    ``proxied_page(proxy_url)`` serves the demo page on a second allowed origin whose widget
    talks to the chat server through ``proxy_url`` (a :class:`tests.e2e.proxy.FlakyProxy`).
    """
    import datetime as dt

    from bot.runtime import free_port
    from bot.web.serve import serve_in_thread

    tmp = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{tmp / 'store.sqlite3'}"
    upgrade(make_engine(url))
    web_port, proxied_port = free_port(), free_port()
    running = start_stack(
        model,
        env={
            "DEALERBOT_DATABASE_URL": url,
            "DEALERBOT_FIXED_NOW": FIXED_NOW,
            "DEALERBOT_VAR_DIR": str(tmp),
            "DEALERBOT_TEST_SENDERS": "test-,__readiness__",
            "DEALERBOT_WEB_TOKEN_KEY": WEB_TOKEN_KEY,
            "DEALERBOT_WEB_ORIGINS": f"autohuis-demo=http://127.0.0.1:{proxied_port}",
        },
        tracker_db_url=f"sqlite:///{tmp / 'tracker.sqlite3'}",
        log_dir=tmp,
        web_port=web_port,
    )
    running.store = make_session_factory(make_engine(url))
    running.web_url = f"http://127.0.0.1:{web_port}"
    running.var_dir = tmp
    servers = []

    def proxied_page(proxy_url: str) -> str:
        server, _ = serve_in_thread(proxy_url, "autohuis-demo", port=proxied_port,
                                    token_key=WEB_TOKEN_KEY)  # fmt: skip
        servers.append(server)
        return f"http://127.0.0.1:{proxied_port}"

    def stop_proxied_page() -> None:
        while servers:
            server = servers.pop()
            server.shutdown()
            server.server_close()

    running.proxied_page = proxied_page
    running.stop_proxied_page = stop_proxied_page
    deadline = dt.datetime.now() + dt.timedelta(seconds=60)
    while True:  # the demo page server is the last process started
        try:
            urllib.request.urlopen(running.web_url, timeout=2).close()
            break
        except OSError:
            if dt.datetime.now() > deadline:
                running.stop()
                pytest.fail(f"the demo page did not come up; logs in {tmp}")
    yield running
    stop_proxied_page()
    running.stop()
