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
