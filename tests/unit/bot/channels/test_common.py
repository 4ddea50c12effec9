"""Shared WhatsApp channel logic: routing, choices, the previous turn, the window, retries."""

import asyncio
import dataclasses
import datetime as dt

import pytest
from rasa.shared.core.events import BotUttered, UserUttered

from bot.channels.common import (
    DeliveryError,
    SenderLimiter,
    guess_language,
    is_survey,
    match_choice,
    numbered_text,
    post_with_retry,
    previous_turn,
    route,
    window_open,
)
from core.settings import utc_now
from core.whatsapp import channel_settings
from tests.e2e.fakes import FakeGraph

MENU = [
    {"title": "Afspraak werkplaats", "payload": "/book_service"},
    {"title": "Auto's op voorraad", "payload": "/ask_car_availability"},
    {"title": "Openingstijden", "payload": "/ask_opening_hours"},
]
NPS = [{"title": str(n), "payload": f'/inform{{"nps": "{n}"}}'} for n in range(0, 11)]


def test_route_by_number_or_phone_number_id(dealer, caplog):
    north = dataclasses.replace(dealer, id="noord", whatsapp_numbers=("+31 50 765 4321",),
                                whatsapp_phone_number_ids=("200",))  # fmt: skip
    south = dataclasses.replace(dealer, id="zuid", whatsapp_numbers=("+31 40 111 2222",),
                                whatsapp_phone_number_ids=("300",))  # fmt: skip
    both = [north, south]
    assert route(number="whatsapp:+31507654321", dealers=both).id == "noord"
    assert route(number="+31 40 1112222", dealers=both).id == "zuid"
    assert route(phone_number_id="300", number="31507654321", dealers=both).id == "zuid"
    # A number nobody lists goes to the default dealer, with a warning in the log.
    assert route(number="+31 99 999 9999", dealers=both).id == "autohuis-demo"
    assert "is in no dealer.yml" in caplog.text


def test_demo_dealer_lists_its_whatsapp_number(dealer):
    assert route(number="whatsapp:+31301234567").id == dealer.id
    assert route(phone_number_id=dealer.whatsapp_phone_number_ids[0]).id == dealer.id


def test_numbered_text_and_replies_map_back():
    text = numbered_text("Waarmee kan ik helpen?", MENU)
    assert text.endswith("1. Afspraak werkplaats\n2. Auto's op voorraad\n3. Openingstijden")
    assert match_choice("2", MENU) == "/ask_car_availability"
    assert match_choice(" 3. ", MENU) == "/ask_opening_hours"
    assert match_choice("openingstijden!", MENU) == "/ask_opening_hours"
    assert match_choice("4", MENU) is None  # no such option: the text goes to the bot as is
    assert match_choice("ik wil een apk", MENU) is None
    assert match_choice("2", []) is None


def test_a_scale_shows_its_numbers_and_a_number_is_the_score():
    assert numbered_text("Hoe waarschijnlijk?", NPS).endswith(
        "0 · 1 · 2 · 3 · 4 · 5 · 6 · 7 · 8 · 9 · 10"
    )
    assert match_choice("2", NPS) == '/inform{"nps": "2"}'  # the title "2", not the 2nd button
    assert match_choice("0", NPS) == '/inform{"nps": "0"}'


def test_previous_turn_reads_the_buttons_after_the_last_customer_message():
    events = [
        UserUttered("hoi"),
        BotUttered("Welkom", data={"buttons": MENU}),
        BotUttered("Nog iets?"),
    ]
    turn = previous_turn(events, {"language": "nl"})
    assert turn.buttons == tuple(MENU) and turn.language == "nl"
    assert previous_turn([*events, UserUttered("2")]).buttons == ()
    as_dicts = [e.as_dict() for e in events]
    assert previous_turn(as_dicts, {"language": "xx"}).buttons == tuple(MENU)
    assert previous_turn(as_dicts, {"language": "xx"}).language is None


def test_language_for_a_customer_the_bot_does_not_know_yet():
    assert guess_language("31612345678") == "nl"
    assert guess_language("32470123456") == "nl"
    assert guess_language("447700900123") == "en"
    assert guess_language("31612345678", known="en") == "en"


def test_the_24_hour_window(now):
    assert window_open(now - dt.timedelta(hours=23, minutes=59), now)
    assert not window_open(now - dt.timedelta(hours=24), now)
    assert not window_open(None, now)
    assert utc_now() == now  # the frozen clock
    assert is_survey({"utter_action": "utter_ask_csat"})
    assert not is_survey({"utter_action": "utter_greet"})


@pytest.fixture
def graph():
    server = FakeGraph()
    yield server
    server.stop()


def fast(monkeypatch, attempts=3):
    monkeypatch.setenv("DEALERBOT_WHATSAPP_BACKOFF_S", "0.01")
    monkeypatch.setenv("DEALERBOT_WHATSAPP_ATTEMPTS", str(attempts))
    return channel_settings()


def test_retries_server_errors_then_delivers_once(graph, monkeypatch):
    graph.fail_next[:] = [500, 503]
    result = asyncio.run(post_with_retry(f"{graph.url}/v/1/messages", settings=fast(monkeypatch),
                                         json={"to": "31612345678"}))  # fmt: skip
    assert result["messages"] == [{"id": "wamid.out.3"}]
    assert [r.status for r in graph.requests] == [500, 503, 200]
    assert len(graph.delivered()) == 1


def test_gives_up_after_the_attempts(graph, monkeypatch):
    graph.fail_next[:] = [500, 500, 500]
    with pytest.raises(DeliveryError, match="after 3 attempts: HTTP 500"):
        asyncio.run(post_with_retry(f"{graph.url}/x", settings=fast(monkeypatch), json={}))
    assert len(graph.requests) == 3


def test_a_client_error_is_not_retried(graph, monkeypatch):
    graph.fail_next[:] = [400]
    with pytest.raises(DeliveryError, match="HTTP 400") as failed:
        asyncio.run(post_with_retry(f"{graph.url}/x", settings=fast(monkeypatch), json={}))
    assert len(graph.requests) == 1
    assert "fake failure" not in str(failed.value)  # goes to the logs: no provider message


def test_an_unreachable_server_is_retried_then_reported(monkeypatch):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DeliveryError, match="ClientConnectorError"):
        asyncio.run(post_with_retry(f"http://127.0.0.1:{port}/x", settings=fast(monkeypatch, 2),
                                    json={}))  # fmt: skip


# ---- limited spells of the per-sender limiter --------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def admit(limiter: SenderLimiter, sender: str, rate: float = 1.0, burst: int = 2) -> bool:
    """One message through the limiter (released at once); whether it was let through."""
    if limiter.acquire(sender, rate, burst):
        return False
    limiter.release(sender)
    return True


def test_a_limited_spell_lasts_until_the_senders_bucket_is_full_again():
    clock = Clock()
    limiter = SenderLimiter(clock=clock)
    assert [admit(limiter, "a") for _ in range(3)] == [True, True, False]
    assert [limiter.count_refusal("a") for _ in range(3)] == [1, 2, 3]
    assert limiter.count_refusal("b") == 1  # spells are per sender
    clock.now += 1.0  # one token back: let through, but still too fast, so the same spell
    assert [admit(limiter, "a") for _ in range(2)] == [True, False]
    assert limiter.count_refusal("a") == 4
    clock.now += 2.0  # quiet until the bucket is full: the spell is over
    assert [admit(limiter, "a") for _ in range(3)] == [True, True, False]
    assert limiter.count_refusal("a") == 1


def test_spells_are_dropped_with_the_full_buckets():
    clock = Clock()
    limiter = SenderLimiter(clock=clock)
    while admit(limiter, "a"):
        pass
    assert limiter.count_refusal("a") == 1
    clock.now += 61
    admit(limiter, "other")  # prunes the buckets that filled up again, and their spells
    assert len(limiter) == 1
    assert limiter.count_refusal("a") == 1
