"""What both WhatsApp routes share: settings, the store, the per-sender rate limit, and handling
each message once."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sqlalchemy.orm import sessionmaker

from bot.channels import inbox
from bot.channels.common import (
    MAX_PENDING,
    TEXT_ONLY,
    TOO_FAST,
    DeliveryError,
    SenderLimiter,
    guess_language,
    is_survey,
    load_previous_turn,
    match_choice,
    window_open,
)
from core.engagement import contact_key
from core.settings import get_settings, utc_now
from core.store.recorder import DATABASE_DOWN
from core.store.session import default_session_factory
from core.whatsapp import ChannelSettings, channel_settings

log = logging.getLogger(__name__)


class CustomerMessage(Protocol):
    """The parts of a parsed webhook message that handling needs (both providers have them)."""

    message_id: str
    customer: str  # digits
    kind: str  # message | unsupported
    text: str
    is_payload: bool


class WhatsAppInput(InputChannel, ABC):
    """A WhatsApp webhook channel. Subclasses parse and verify their provider's calls."""

    provider: str  # the provider part of the dedup key

    def __init__(
        self,
        credentials: dict[str, Any] | None = None,
        session_factory: sessionmaker | None = None,
        limiter: SenderLimiter | None = None,
    ) -> None:
        self.credentials = dict(credentials or {})
        self._session_factory = session_factory
        if limiter is None:  # not `limiter or ...`: an empty limiter has len() 0
            pending = int(self.credentials.get("max_pending") or MAX_PENDING)
            limiter = SenderLimiter(max_pending=pending)
        self.limiter = limiter

    @property
    def settings(self) -> ChannelSettings:
        return channel_settings(self.credentials)  # read on use: env changes need no restart

    @property
    def session_factory(self) -> sessionmaker:
        if self._session_factory is None:
            self._session_factory = default_session_factory()
        return self._session_factory

    async def handle_once(
        self,
        incoming: CustomerMessage,
        *,
        sender: str,
        business_number: str,
        sent_at: dt.datetime,
        app: Any,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        output: Callable[[str], OutputChannel],
        metadata: dict[str, Any],
    ) -> None:
        """Pass one customer message to Rasa, unless it was handled before (providers retry) or
        its sender is over the rate limit.

        ``output(language)`` builds the reply channel. A message the bot cannot read (media)
        gets the text-only note in the customer's language. If handling fails the claim is
        released, so the provider's retry is handled.
        """
        settings = get_settings()
        wait = self.limiter.acquire(sender, settings.sender_rate_per_s, settings.sender_burst)
        if wait:
            await self._drop(incoming, sender, app, output)
            return
        try:
            ids = {"provider": self.provider, "message_id": incoming.message_id}
            if not await self._claim(incoming.message_id, sender, business_number, sent_at):
                log.info("%s message delivered again: ignored", self.name())
                return
            try:
                turn = await load_previous_turn(app, sender)
                language = guess_language(incoming.customer, turn.language)
                out = output(language)
                if incoming.kind == "unsupported":
                    await out.send_text_message(sender, TEXT_ONLY[language])
                else:
                    text = incoming.text
                    if not incoming.is_payload:
                        text = match_choice(text, list(turn.buttons)) or text
                    await on_new_message(
                        UserMessage(
                            text,
                            out,
                            sender,
                            input_channel=self.name(),
                            message_id=incoming.message_id,
                            metadata=metadata,
                        )
                    )
            except BaseException:
                await self._store_call(inbox.release, **ids)
                raise
            await self._store_call(inbox.finish, **ids)
        finally:
            self.limiter.release(sender)

    async def _drop(
        self,
        incoming: CustomerMessage,
        sender: str,
        app: Any,
        output: Callable[[str], OutputChannel],
    ) -> None:
        """A message over its sender's rate limit: not passed to Rasa, not claimed, not recorded.

        The webhook still answers 200 (an error makes the provider deliver it again, so a flood
        grows); the customer gets one notice per limited spell, in their language. Only the count
        is logged: neither the text nor the number.
        """
        count = self.limiter.count_refusal(sender)
        if count > 1:
            log.info("%s: dropped message %d of a sender over its rate limit", self.name(), count)
            return
        log.warning(
            "%s: a sender is over its rate limit: its messages are dropped until it slows down",
            self.name(),
        )
        try:
            turn = await load_previous_turn(app, sender)
            language = guess_language(incoming.customer, turn.language)
            await output(language).send_text_message(sender, TOO_FAST[language])
        except Exception as exc:  # noqa: BLE001 - the notice is a courtesy; still answer 200
            log.error("%s: rate-limit notice not sent: %s", self.name(), exc)

    async def _claim(
        self, message_id: str, sender: str, business_number: str, sent_at: dt.datetime
    ) -> bool:
        try:
            return await asyncio.to_thread(
                inbox.claim,
                self.session_factory,
                provider=self.provider,
                message_id=message_id,
                contact_key=contact_key(get_settings().contact_key_secret, "whatsapp", sender),
                business_number=business_number,
                sent_at=sent_at,
                now=utc_now(),
            )
        except DATABASE_DOWN as exc:
            # Better a possible duplicate reply than a lost message.
            log.warning("WhatsApp dedup unavailable (%s): handling anyway", type(exc).__name__)
            return True

    async def _store_call(self, func: Callable[..., Any], **kwargs: Any) -> None:
        try:
            await asyncio.to_thread(func, self.session_factory, **kwargs)
        except DATABASE_DOWN as exc:
            log.warning("WhatsApp dedup not updated (%s)", type(exc).__name__)


class WhatsAppOutput(OutputChannel, ABC):
    """A WhatsApp reply channel that sends nothing outside the 24-hour customer-service window.

    Subclasses set ``last_customer_message``, ``_session_factory`` and ``skipped`` (messages held
    back) and say which business number a conversation uses.
    """

    last_customer_message: dt.datetime | None
    _session_factory: sessionmaker | None
    skipped: list[dict[str, Any]]

    @abstractmethod
    def business_number(self, recipient_id: str) -> str:
        """The dealer's number as the dedup store keys it."""

    async def window_is_open(self, recipient_id: str) -> bool:
        now = utc_now()
        if window_open(self.last_customer_message, now):
            return True
        # Sent without a fresh customer message (e.g. triggered later): ask the store.
        try:
            last = await asyncio.to_thread(
                inbox.last_customer_message,
                self._session_factory or default_session_factory(),
                contact_key=contact_key(
                    get_settings().contact_key_secret, "whatsapp", recipient_id
                ),
                business_number=self.business_number(recipient_id),
            )
        except (DATABASE_DOWN, DeliveryError):
            return False  # unknown: never risk a message outside the window
        return window_open(last, now)

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        if not await self.window_is_open(recipient_id):
            what = "survey question" if is_survey(message) else "message"
            log.warning("WhatsApp %s not sent: outside the 24-hour window", what)
            self.skipped.append(dict(message))
            return
        await super().send_response(recipient_id, message)
