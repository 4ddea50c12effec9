import pytest

from tests.e2e.fakes import FakeGraph


@pytest.fixture
def graph(monkeypatch):
    """A fake Graph API the WhatsApp Cloud channel sends to."""
    server = FakeGraph()
    monkeypatch.setenv("DEALERBOT_WHATSAPP_GRAPH_URL", f"{server.url}/v20.0")
    monkeypatch.setenv("DEALERBOT_WHATSAPP_ACCESS_TOKEN", "token-1")
    monkeypatch.setenv("DEALERBOT_WHATSAPP_BACKOFF_S", "0.01")
    yield server
    server.stop()
