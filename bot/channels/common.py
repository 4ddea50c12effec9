"""What both WhatsApp routes share: dealer routing by number, choices rendered as numbered text
and mapped back, the customer's language, and HTTP with retries. The settings, numbers and
sender ids are in ``core.whatsapp`` (the notifications use them too)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from core.settings import get_settings
from core.whatsapp import ChannelSettings, digits, json_object, provider_error_code
from dealer.config import Dealer, all_dealers, get_dealer
from dealer.i18n import LANGUAGES

log = logging.getLogger(__name__)

WINDOW = dt.timedelta(hours=24)  # WhatsApp's customer-service window after a customer message
# Meta retries a webhook call for up to 7 days; a signed message older than that is a replay.
MAX_WEBHOOK_AGE = dt.timedelta(days=7)
# Responses of the post-chat survey (bot/domain/survey.yml): never sent outside the window.
SURVEY_RESPONSES = (
    "utter_ask_csat",
    "utter_ask_ces",
    "utter_ask_nps",
    "utter_ask_survey_comment",
    "utter_survey_unclear",
    "utter_survey_thanks",
)
TEXT_ONLY = {
    "nl": "Sorry, ik kan alleen tekstberichten lezen. Wilt u uw vraag in een bericht typen?",
    "en": "Sorry, I can only read text messages. Could you type your question in a message?",
}
# Sent once per limited spell when a sender's WhatsApp messages are dropped (docs/limits.md).
TOO_FAST = {
    "nl": "U stuurt veel berichten kort na elkaar, daarom heb ik een paar berichten niet gelezen. "
    "Wacht even en stuur uw vraag dan nog een keer.",
    "en": "You are sending many messages in a short time, so I did not read some of them. "
    "Please wait a moment and send your question again.",
}
CHOOSE = {"nl": "Kies", "en": "Choose"}


def route(
    *,
    number: str | None = None,
    phone_number_id: str | None = None,
    dealers: Iterable[Dealer] | None = None,
) -> Dealer:
    """The dealer location for a receiving number (Twilio ``To``, Meta display number) or a Meta
    phone number id. A number no dealer lists goes to the default dealer, with a warning."""
    candidates = list(dealers if dealers is not None else all_dealers().values())
    if phone_number_id:
        for dealer in candidates:
            if str(phone_number_id) in dealer.whatsapp_phone_number_ids:
                return dealer
    wanted = digits(number)
    if wanted:
        for dealer in candidates:
            if wanted in {digits(n) for n in dealer.whatsapp_numbers}:
                return dealer
    fallback = get_dealer(None)
    log.warning(
        "WhatsApp number %s (id %s) is in no dealer.yml: routed to the default dealer %s",
        number,
        phone_number_id,
        fallback.id,
    )
    return fallback


def webhook_max_age(retention_days: int | None = None) -> dt.timedelta:
    """How old a signed webhook message may be and still be handled: Meta's retry period, and
    never longer than the handled message ids are kept (they go with the retention purge), so a
    replayed message is always either a known id or too old."""
    days = get_settings().retention_days if retention_days is None else retention_days
    return min(MAX_WEBHOOK_AGE, dt.timedelta(days=max(days, 1)))


def guess_language(customer_digits: str, known: str | None = None) -> str:
    """The conversation's language if known; else Dutch for Dutch and Belgian numbers."""
    if known in LANGUAGES:
        return known
    return "nl" if customer_digits.startswith(("31", "32")) else "en"


# --- choices ------------------------------------------------------------------------------------


def _numeric(buttons: Sequence[dict[str, Any]]) -> bool:
    return bool(buttons) and all(str(b.get("title", "")).strip().isdigit() for b in buttons)


def numbered_text(text: str, buttons: Sequence[dict[str, Any]]) -> str:
    """Buttons as text the customer can answer: '1. Book a service' lines, or for a scale whose
    titles are numbers already (the survey), the numbers themselves."""
    if not buttons:
        return text
    if _numeric(buttons):
        return f"{text}\n\n" + " · ".join(str(b["title"]).strip() for b in buttons)
    lines = [f"{i}. {b.get('title', '')}" for i, b in enumerate(buttons, start=1)]
    return f"{text}\n\n" + "\n".join(lines)


def _norm(value: str) -> str:
    return " ".join(value.casefold().replace("’", "'").split()).strip(" .!")


def match_choice(reply: str, buttons: Sequence[dict[str, Any]]) -> str | None:
    """The payload of the button a typed reply means: its title ('Openingstijden'), else its
    number in the list ('2', '2.'). A title wins, so '2' on a 0-10 scale is the score 2."""
    said = _norm(reply or "")
    if not said or not buttons:
        return None
    for button in buttons:
        if said == _norm(str(button.get("title", ""))):
            return button.get("payload")
    number = said.rstrip(".)")
    if number.isdigit() and not _numeric(buttons) and 1 <= int(number) <= len(buttons):
        return buttons[int(number) - 1].get("payload")
    return None


@dataclass(frozen=True)
class PreviousTurn:
    """What the customer saw last: the buttons of the bot's last message, and the language."""

    buttons: tuple[dict[str, Any], ...] = ()
    language: str | None = None


def previous_turn(events: Iterable[Any], slots: dict[str, Any] | None = None) -> PreviousTurn:
    """From a tracker's events (Rasa event objects or dicts): the buttons of the bot messages
    after the customer's last message (the last message that had any)."""
    buttons: tuple[dict[str, Any], ...] = ()
    for event in events:
        kind, data = _event_kind_and_data(event)
        if kind == "user":
            buttons = ()
        elif kind == "bot" and (data or {}).get("buttons"):
            buttons = tuple(data["buttons"])
    language = (slots or {}).get("language")
    return PreviousTurn(buttons, language if language in LANGUAGES else None)


def _event_kind_and_data(event: Any) -> tuple[str | None, dict | None]:
    if isinstance(event, dict):
        return event.get("event"), event.get("data")
    return getattr(event, "type_name", None), getattr(event, "data", None)


async def load_previous_turn(app: Any, sender: str) -> PreviousTurn:
    """Read the conversation's tracker through the running Rasa agent (None-safe)."""
    agent = getattr(getattr(app, "ctx", None), "agent", None)
    store = getattr(agent, "tracker_store", None)
    if store is None:
        return PreviousTurn()
    try:
        tracker = await store.retrieve(sender)
    except Exception as exc:  # noqa: BLE001 - a missing tracker only costs the number mapping
        log.warning("tracker of a WhatsApp sender unreadable: %s", exc.__class__.__name__)
        return PreviousTurn()
    if tracker is None:
        return PreviousTurn()
    return previous_turn(tracker.events, tracker.current_slot_values())


def is_survey(message: dict[str, Any]) -> bool:
    return str(message.get("utter_action") or "").startswith(SURVEY_RESPONSES)


def window_open(last_customer_message: dt.datetime | None, now: dt.datetime) -> bool:
    """WhatsApp's customer-service window: free-form messages (the survey among them) may be
    sent until 24 hours after the customer's last message."""
    return last_customer_message is not None and now - last_customer_message < WINDOW


# --- HTTP -----------------------------------------------------------------------------------------


class DeliveryError(RuntimeError):
    """An outgoing message could not be delivered (after the retries, or refused with a 4xx)."""


RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


async def post_with_retry(
    url: str,
    *,
    settings: ChannelSettings,
    json: dict[str, Any] | None = None,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    auth: aiohttp.BasicAuth | None = None,
) -> dict[str, Any]:
    """POST with a timeout per attempt; retry time-outs, connection errors, 429 and 5xx with
    exponential backoff (``Retry-After`` when given). A 4xx other than 408/429 is not retried."""
    timeout = aiohttp.ClientTimeout(total=settings.timeout_s)
    problem = ""
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for attempt in range(settings.attempts):
            wait = settings.backoff_s * 2**attempt
            try:
                async with session.post(
                    url, json=json, data=data, headers=headers, auth=auth
                ) as resp:
                    body = await resp.text()
                    if resp.status < 300:
                        return json_object(body)
                    problem = f"HTTP {resp.status}{provider_error_code(body)}"
                    if resp.status not in RETRY_STATUSES:
                        raise DeliveryError(problem)
                    wait = max(wait, _retry_after(resp.headers.get("Retry-After")))
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                problem = f"{exc.__class__.__name__}: {exc}"
            if attempt + 1 < settings.attempts:
                log.info("POST %s failed (%s); retry in %.2f s", url, problem, wait)
                await asyncio.sleep(min(wait, 30.0))
    raise DeliveryError(f"gave up after {settings.attempts} attempts: {problem}")


def _retry_after(value: str | None) -> float:
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0


# --- per-sender rate limit (REST, web widget, WhatsApp; docs/limits.md) ------------------------


MAX_PENDING = 4  # messages of one sender in flight; a person waits for the answer


class SenderLimiter:
    """A token bucket per sender id, in this process's memory, plus a cap on a sender's messages
    in flight (waiting on the conversation's lock): one sender cannot queue up work for all.

    Each sender may send ``burst`` messages at once and ``rate_per_s`` per second after that.
    With several Sanic workers or replicas every process keeps its own buckets, so a sender gets
    that many times the limit. Buckets that have filled up again are dropped, so senders that
    are seen once do not pile up.

    A channel that cannot answer a refusal with an error (a webhook must answer 200) counts its
    dropped messages with :meth:`count_refusal`, to tell the customer once per limited spell.
    """

    def __init__(
        self, max_pending: int = MAX_PENDING, clock: Callable[[], float] | None = None
    ) -> None:
        self.max_pending = max_pending
        self._clock = clock or time.monotonic
        self._buckets: dict[str, list[float]] = {}  # sender -> [tokens, time of last update]
        self._pending: dict[str, int] = {}
        self._refused: dict[str, int] = {}  # sender -> messages refused in its limited spell
        self._pruned_at = self._clock()

    def acquire(self, sender: str, rate_per_s: float, burst: int) -> float:
        """0.0 when the message may go ahead (then call :meth:`release` when it is done), else
        the seconds to wait before the sender can send again."""
        now = self._clock()
        if now - self._pruned_at > 60:
            self._prune(now, rate_per_s, burst)
        if self._pending.get(sender, 0) >= self.max_pending:
            return 1.0  # its earlier messages are still being answered
        tokens, last = self._buckets.get(sender, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate_per_s)
        if tokens < 1.0:
            self._buckets[sender] = [tokens, now]
            return (1.0 - tokens) / rate_per_s if rate_per_s > 0 else 60.0
        if tokens >= burst:  # the sender slowed down until its bucket filled up again
            self._refused.pop(sender, None)
        self._buckets[sender] = [tokens - 1.0, now]
        self._pending[sender] = self._pending.get(sender, 0) + 1
        return 0.0

    def count_refusal(self, sender: str) -> int:
        """Count a message of ``sender`` that :meth:`acquire` refused; returns its number in the
        sender's limited spell (1: the first). A spell lasts until the sender's bucket has filled
        up again, so a sender that keeps sending a little too fast stays in one spell."""
        count = self._refused.get(sender, 0) + 1
        self._refused[sender] = count
        return count

    def release(self, sender: str) -> None:
        left = self._pending.get(sender, 0) - 1
        if left > 0:
            self._pending[sender] = left
        else:
            self._pending.pop(sender, None)

    def _prune(self, now: float, rate_per_s: float, burst: int) -> None:
        full = [
            sender
            for sender, (tokens, last) in self._buckets.items()
            if sender not in self._pending and tokens + (now - last) * rate_per_s >= burst
        ]
        for sender in full:
            del self._buckets[sender]
        for sender in [s for s in self._refused if s not in self._buckets]:
            del self._refused[sender]  # a full bucket ends the spell
        self._pruned_at = now

    def __len__(self) -> int:
        return len(self._buckets)
