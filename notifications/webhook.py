"""Signed outbound webhooks: one JSON event per notification, POSTed to the dealer's URLs.

The signature works as Stripe's: ``X-Dealerbot-Signature: t=<unix time>,v1=<hex>`` where
``hex`` is the HMAC-SHA256, keyed with the dealer's secret, of ``"<t>." + raw body``. The
receiver recomputes it over the bytes it received and refuses an old ``t`` (replays).
``X-Dealerbot-Event-Id`` is the same on every retry: the receiver's idempotency key.
Delivery is at least once; docs/webhooks.md has the schema and a verification snippet.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

SIGNATURE_HEADER = "X-Dealerbot-Signature"
EVENT_ID_HEADER = "X-Dealerbot-Event-Id"
EVENT_TYPE_HEADER = "X-Dealerbot-Event"
TIMEOUT_S = 10
USER_AGENT = "dealerbot-webhooks/1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: float, tolerance_s: int = 300) -> bool:
    """Check a signature header over the raw body; False if wrong or older than the tolerance."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).rpartition("v1=")[2]
    return hmac.compare_digest(expected, fields.get("v1", ""))


def encode(event: dict) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(url: str, event: dict, secret: str, *, clock=time.time) -> Attempt:
    """POST one signed event; never raises for a network or HTTP error (see ``Attempt``)."""
    body = encode(event)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: sign(secret, int(clock()), body),
        EVENT_ID_HEADER: event["id"],
        EVENT_TYPE_HEADER: event["type"],
    }
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.monotonic()
    status, error = None, None
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status, error = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        error = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"[:500]
    duration = int((time.monotonic() - started) * 1000)
    return Attempt(status, error, duration)
