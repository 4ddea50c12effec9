"""The outbox worker: turns notifications into e-mails and webhook calls, exactly once each.

``run_once`` is called every few seconds by the scheduler (``notifications.jobs``; the
scheduler also runs under ``dealerbot run``). Each pass:

1. fans out new notifications into outbox messages (staff e-mail per address the dealer file
   names for the kind, the customer's e-mail for an appointment with an address, one webhook
   call per configured URL);
2. sends what is due. A message is claimed in the store first (pending -> sending, one worker
   wins), sent, and finished in one transaction: sent, or pending again after a backoff.

E-mail goes through SMTP (``DEALERBOT_SMTP_*``), or, without an SMTP host, into
``<outbox>/notifications/<dealer>/`` as ``.eml`` files. The Message-ID is derived from the
outbox row, so a message sent again after a crash between sending and marking (the claim goes
stale after ``STALE_CLAIM``) is recognisable as the same message.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import smtplib
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from core.mail import MailDeliveryError, smtp_connect
from core.settings import Settings, get_settings
from core.store import outbox
from core.store.models import (
    CUSTOMER_ONLY_KINDS,
    Appointment,
    Lead,
    Notification,
    OutboxMessage,
    utcnow,
)
from core.store.session import default_session_factory
from core.whatsapp import channel_settings, customer_number, sender_namespace
from dealer.config import (
    NOTIFICATION_GROUPS,
    Dealer,
    DealerConfigError,
    get_dealer,
    template_route,
)
from dealer.i18n import lang_or_default
from notifications import content, webhook, whatsapp
from notifications.transcript import parse_lines, tracker_lines

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    fanned_out: int = 0  # outbox messages created
    sent: list[int] = field(default_factory=list)  # outbox message ids sent in this pass
    failed: list[int] = field(default_factory=list)  # tried and rescheduled (or given up)


def staff_addresses(dealer: Dealer, kind: str) -> tuple[str, ...]:
    """Where staff hear of ``kind``: the kind's own key in ``notifications:``, else its group's
    (workshop, sales, handoff), else the dealer's general e-mail address."""
    if kind in dealer.notifications:
        return dealer.notifications[kind]
    for group, kinds in NOTIFICATION_GROUPS.items():
        if kind in kinds and group in dealer.notifications:
            return dealer.notifications[group]
    return (dealer.email,) if dealer.email else ()


def deliveries_for(
    notification: Notification, row: Appointment | Lead | None, dealer: Dealer
) -> list[outbox.Delivery]:
    """The outbox messages one notification needs."""
    if row is None:  # erased meanwhile: nothing to tell
        return []
    result = []
    if notification.kind not in CUSTOMER_ONLY_KINDS:
        result += [
            outbox.Delivery("staff_email", address)
            for address in staff_addresses(dealer, notification.kind)
        ]
        result += [outbox.Delivery("webhook", h.url, h.secret_env) for h in dealer.webhooks]
    if isinstance(row, Appointment) and row.email and notification.kind in content.CUSTOMER_KINDS:
        result.append(outbox.Delivery("customer_email", row.email))
    if notification.kind == "reminder" and reminds_on_whatsapp(row, dealer):
        result.append(outbox.Delivery("customer_whatsapp", customer_number(row.sender_id)))
    if notification.kind == "handoff_template" and template_reaches(row, dealer):
        result.append(outbox.Delivery("customer_whatsapp", customer_number(row.sender_id)))
    return result


def template_reaches(row: Appointment | Lead, dealer: Dealer) -> bool:
    """The inbox's template (``handoff.whatsapp``) has a route to this WhatsApp customer."""
    return (
        sender_namespace(row.sender_id) == "whatsapp"
        and template_route(dealer, dealer.handoff_whatsapp, lang_or_default(row.language))
        is not None
    )


def reminds_on_whatsapp(row: Appointment | Lead, dealer: Dealer) -> bool:
    """A WhatsApp customer gets the reminder there too when the dealer's template has a route
    for the customer's language (``notifications.whatsapp.route``)."""
    return (
        isinstance(row, Appointment)
        and sender_namespace(row.sender_id) == "whatsapp"
        and whatsapp.route(dealer, lang_or_default(row.language)) is not None
    )


def _load(session_factory: sessionmaker, notification_id: int, message_id: int | None = None):
    with session_factory() as session:
        notification = session.get(Notification, notification_id)
        row = None
        if notification.appointment_id:
            row = session.get(Appointment, notification.appointment_id)
        elif notification.lead_id:
            row = session.get(Lead, notification.lead_id)
        message = session.get(OutboxMessage, message_id) if message_id else None
        return notification, row, message


def _dealer(dealer_id: str) -> Dealer:
    dealer = get_dealer(dealer_id)
    if dealer.id != dealer_id:
        raise DealerConfigError(f"no dealer folder '{dealer_id}'")
    return dealer


def _transcript(row: Appointment | Lead, settings: Settings) -> list[tuple[str, str]]:
    if isinstance(row, Lead) and row.transcript:
        return parse_lines(row.transcript)
    try:
        return tracker_lines(settings.tracker_db_url, row.sender_id)
    except Exception as exc:  # the tracker store is down: the e-mail goes without transcript
        log.warning("transcript unavailable (%s)", type(exc).__name__)
        return []


def message_id_for(notification: Notification, message: OutboxMessage, sender: str) -> str:
    """The e-mail's Message-ID, derived from the outbox row (the same on every attempt)."""
    domain = sender.rpartition("@")[2] or "dealerbot"
    return f"<notification-{notification.event_id}.{message.id}@{domain}>"


def build_email(
    email: content.Email,
    *,
    sender: str,
    sender_name: str,
    recipient: str,
    message_id: str,
    reply_to: str | None,
    conversation_id: str | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = email.subject
    message["From"] = formataddr((sender_name, sender))
    message["To"] = recipient
    if reply_to:
        message["Reply-To"] = reply_to
    message["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    message["Message-ID"] = message_id
    if conversation_id:  # erasure finds the outbox files of a conversation by it
        message["X-Dealerbot-Conversation"] = conversation_id
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    for filename, mimetype, data in email.attachments:
        maintype, _, rest = mimetype.partition("/")
        subtype, _, params = rest.partition(";")
        extra = dict(p.strip().split("=", 1) for p in params.split(";") if "=" in p)
        message.add_attachment(data, maintype=maintype, subtype=subtype.strip(),
                               filename=filename, params=extra)  # fmt: skip
    return message


def write_eml(folder: Path, dealer_id: str, message: OutboxMessage, email: EmailMessage) -> Path:
    """Without SMTP: the e-mail as a file; its name is the row's, so writing again replaces it."""
    target = Path(folder) / "notifications" / dealer_id
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{message.id:08d}-{message.channel}.eml"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(bytes(email))
    os.replace(tmp, path)  # a reader never sees half a file
    return path


class _Smtp:
    """One SMTP connection per pass, opened on first use; down for the rest of the pass once
    it failed (the messages not yet claimed stay pending, untouched)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.connection: smtplib.SMTP | None = None
        self.down = False

    def send(self, message: EmailMessage) -> None:
        if self.connection is None:
            self.connection = smtp_connect(self.settings)
        try:
            self.connection.send_message(message)
        except smtplib.SMTPRecipientsRefused:
            raise
        except (OSError, smtplib.SMTPException):
            self.close()
            self.down = True
            raise

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (OSError, smtplib.SMTPException):
                self.connection.close()
            self.connection = None


def fan_out_new(session_factory: sessionmaker, now: dt.datetime) -> int:
    created = 0
    for notification in outbox.pending_fan_out(session_factory):
        _, row, _ = _load(session_factory, notification.id)
        try:
            deliveries = deliveries_for(notification, row, _dealer(notification.dealer_id))
        except DealerConfigError as exc:
            log.error("notification %s: dealer file unusable (%s)", notification.id, exc)
            continue  # stays unfanned: fixed dealer files get it out later
        created += outbox.fan_out(session_factory, notification.id, deliveries, now)
    return created


def send_message(
    session_factory: sessionmaker,
    message: OutboxMessage,
    settings: Settings,
    smtp: _Smtp,
    now: dt.datetime,
    clock=time.time,
) -> str:
    """Send one claimed message and finish it; returns the new status."""
    notification, row, _ = _load(session_factory, message.notification_id)
    try:
        dealer = _dealer(message.dealer_id)
        if row is None:
            return outbox.finish(session_factory, message.id, now, sent_as="erased")
        if message.channel == "webhook":
            secret = os.environ.get(message.secret_env or "")
            if not secret:
                error = f"webhook secret ${message.secret_env} is not set"
                attempt = {"status_code": None, "error": error, "duration_ms": 0}
                return outbox.finish(session_factory, message.id, now, error=error, attempt=attempt)
            lines = _transcript(row, settings)
            event = content.webhook_event(notification, row, dealer, lines, settings.dashboard_url)
            result = webhook.post(message.recipient, event, secret, clock=clock)
            attempt = {
                "status_code": result.status_code,
                "error": result.error,
                "duration_ms": result.duration_ms,
            }
            if result.ok:
                return outbox.finish(
                    session_factory, message.id, now, attempt=attempt, sent_as=event["id"]
                )
            error = result.error or f"HTTP {result.status_code}"
            return outbox.finish(session_factory, message.id, now, attempt=attempt, error=error)
        stale = notification.kind == "reminder" and (
            row.status != "booked" or row.starts_at != notification.starts_at
        )
        if stale:  # moved or cancelled since: the reminder of that time is void
            return outbox.finish(session_factory, message.id, now, sent_as="obsolete")
        if message.channel == "customer_whatsapp":
            lang = lang_or_default(row.language)
            if notification.kind == "handoff_template":
                template = dealer.handoff_whatsapp
                parameters = content.handoff_template_parameters(row, dealer, lang)
            else:
                template = dealer.reminder_whatsapp
                parameters = content.reminder_parameters(row, dealer, lang)
            sent_as = whatsapp.send_template(
                channel_settings(), dealer, template, message.recipient, lang, parameters
            )
            return outbox.finish(session_factory, message.id, now, sent_as=sent_as or "sent")
        if message.channel == "customer_email":
            stamp = now.replace(tzinfo=dt.timezone.utc)
            email = content.customer_email(notification, row, dealer, stamp)
            reply_to = dealer.email or None
        else:
            lines = _transcript(row, settings)
            email = content.staff_email(notification, row, dealer, lines, settings.dashboard_url)
            reply_to = row.email
        mid = message_id_for(notification, message, settings.smtp_from)
        built = build_email(
            email,
            sender=settings.smtp_from,
            sender_name=dealer.name,
            recipient=message.recipient,
            message_id=mid,
            reply_to=reply_to,
            conversation_id=notification.conversation_id,
        )
        if settings.smtp_host:
            smtp.send(built)
        else:
            write_eml(settings.outbox_dir, dealer.id, message, built)
        return outbox.finish(session_factory, message.id, now, sent_as=mid)
    except (
        MailDeliveryError,
        OSError,
        smtplib.SMTPException,
        DealerConfigError,
        whatsapp.WhatsAppError,
    ) as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.warning(
            "outbox message %s (%s) failed: %s", message.id, message.channel, type(exc).__name__
        )
        if isinstance(exc, MailDeliveryError):
            smtp.down = True
        return outbox.finish(session_factory, message.id, now, error=error)


def run_once(
    session_factory: sessionmaker | None = None,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
    clock=time.time,
) -> RunResult:
    """One pass of the worker. ``now`` (naive UTC) and ``clock`` (unix seconds, for webhook
    signatures) are injectable, so tests step through backoffs without waiting."""
    session_factory = session_factory or default_session_factory()
    settings = settings or get_settings()
    now = now or utcnow()
    result = RunResult(fanned_out=fan_out_new(session_factory, now))
    smtp = _Smtp(settings)
    try:
        for message_row_id in outbox.due_messages(session_factory, now):
            with session_factory() as session:
                message = session.get(OutboxMessage, message_row_id)
            is_email = message.channel.endswith("_email")
            if is_email and smtp.down and settings.smtp_host:
                continue  # the server failed in this pass: try again next pass
            if not outbox.claim(session_factory, message_row_id, now):
                continue  # another worker has it
            with session_factory() as session:
                message = session.get(OutboxMessage, message_row_id)
            status = send_message(session_factory, message, settings, smtp, now, clock)
            (result.sent if status == "sent" else result.failed).append(message_row_id)
    finally:
        smtp.close()
    return result
