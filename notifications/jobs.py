"""Scheduler jobs of the notifications (wired in ``metrics.scheduler``)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from sqlalchemy.orm import sessionmaker

from core.settings import now as clock_now
from core.store import outbox
from core.store.models import utc_naive
from core.store.session import default_session_factory
from dealer.config import Dealer, all_dealers
from notifications.worker import run_once

log = logging.getLogger(__name__)

REMINDER_FROM = dt.time(9, 0)  # reminders for tomorrow go out from 09:00 the day before


def send_notifications_job() -> None:
    """Every few seconds: fan out and send what is due (retries included)."""
    result = run_once()
    if result.sent or result.failed:
        log.info("notifications: %d sent, %d failed", len(result.sent), len(result.failed))


def enqueue_reminders(
    session_factory: sessionmaker, dealers: Iterable[Dealer], now: dt.datetime | None = None
) -> int:
    """Enqueue the reminders of tomorrow's appointments (dealer's local day), once each.

    From ``REMINDER_FROM`` on; an appointment booked later that day is reminded on the next run.
    Returns how many were new.
    """
    added = 0
    for dealer in dealers:
        local = (now or clock_now(dealer.timezone)).astimezone(dealer.timezone)
        if local.time() < REMINDER_FROM:
            continue
        tomorrow = local.date() + dt.timedelta(days=1)
        start = dt.datetime.combine(tomorrow, dt.time(0), dealer.timezone)
        end = dt.datetime.combine(tomorrow + dt.timedelta(days=1), dt.time(0), dealer.timezone)
        for appointment in outbox.appointments_to_remind(
            session_factory,
            dealer.id,
            utc_naive(start),
            utc_naive(end),
            whatsapp=dealer.reminder_whatsapp is not None,
        ):
            added += outbox.enqueue_reminder(session_factory, appointment)
    return added


def reminders_job() -> None:
    added = enqueue_reminders(default_session_factory(), all_dealers().values())
    if added:
        log.info("reminders: %d enqueued", added)
