"""Message ids in the store (SQLite and PostgreSQL): one handler per message, and the window."""

import datetime as dt

from bot.channels import inbox

KEY = "k" * 64


def claim(store, message_id, now, sent_at=None, number="100"):
    return inbox.claim(store, provider="cloud", message_id=message_id, contact_key=KEY,
                       business_number=number, sent_at=sent_at or now, now=now)  # fmt: skip


def test_a_message_is_handled_once(store, now):
    assert claim(store, "wamid.1", now)
    assert not claim(store, "wamid.1", now)  # delivered again while being handled
    inbox.finish(store, provider="cloud", message_id="wamid.1")
    assert not claim(store, "wamid.1", now + dt.timedelta(hours=1))  # and after
    assert inbox.claim(store, provider="twilio", message_id="wamid.1", contact_key=KEY,
                       business_number="100", sent_at=now, now=now)  # fmt: skip


def test_a_failed_or_abandoned_message_is_handled_on_the_retry(store, now):
    assert claim(store, "wamid.2", now)
    inbox.release(store, provider="cloud", message_id="wamid.2")
    assert claim(store, "wamid.2", now)  # released after a failure: the retry handles it
    assert not claim(store, "wamid.2", now + dt.timedelta(minutes=1))
    later = now + inbox.STALE_CLAIM + dt.timedelta(seconds=1)
    assert claim(store, "wamid.2", later)  # its handler died: one retry takes it over
    assert not claim(store, "wamid.2", later)


def test_last_customer_message_per_business_number(store, now):
    assert inbox.last_customer_message(store, contact_key=KEY, business_number="100") is None
    claim(store, "a", now, sent_at=now - dt.timedelta(hours=30))
    claim(store, "b", now, sent_at=now - dt.timedelta(hours=2))
    claim(store, "c", now, sent_at=now - dt.timedelta(minutes=5), number="200")
    last = inbox.last_customer_message(store, contact_key=KEY, business_number="100")
    assert last == now - dt.timedelta(hours=2)
