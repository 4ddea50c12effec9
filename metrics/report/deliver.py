"""Delivery of the weekly summary: SMTP e-mail, outbox files, and the delivery log.

Every e-mail is claimed in the delivery log (unique dealer + week + recipient + channel) before it
is sent, so a second run, or a second scheduler process, does not send it again. A failed send is
recorded and retried by the next run; nothing is marked sent before the SMTP server accepted it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import smtplib
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from core.mail import MailDeliveryError, smtp_connect
from core.settings import Settings
from core.store.models import ReportDelivery, utcnow
from metrics.report.render import RenderedSummary

log = logging.getLogger(__name__)

OWNER = f"{socket.gethostname()}:{os.getpid()}"[:64]
# A claim older than this whose sender never reported back (crash) may be taken over.
STALE_AFTER = dt.timedelta(hours=1)
MAX_ATTEMPTS = 5


@dataclass
class DeliveryResult:
    sent: list[str] = field(default_factory=list)  # recipients e-mailed in this run
    skipped: list[str] = field(default_factory=list)  # already sent, or claimed by another run
    failed: dict[str, str] = field(default_factory=dict)  # recipient -> error
    files: list[Path] = field(default_factory=list)  # outbox files written

    def as_text(self) -> str:
        parts = [f"sent {len(self.sent)}", f"skipped {len(self.skipped)}"]
        if self.failed:
            parts.append("failed " + ", ".join(f"{r} ({e})" for r, e in self.failed.items()))
        if self.files:
            parts.append(f"outbox {self.files[0].parent}")
        return "; ".join(parts)


# -- delivery log ---------------------------------------------------------------------------------


def claim_delivery(
    session_factory: sessionmaker,
    *,
    dealer_id: str,
    week: str,
    recipient: str,
    channel: str,
    now: dt.datetime | None = None,
) -> bool:
    """Claim one delivery; True means this caller must send it, False that it is taken or done.

    A new row wins through the unique key. An existing row is taken over only when it failed
    (fewer than ``MAX_ATTEMPTS`` times) or its claim went stale, with a compare-and-set update so
    exactly one contender wins on SQLite and on PostgreSQL.
    """
    now = now or utcnow()
    try:
        with session_factory.begin() as session:
            session.add(
                ReportDelivery(
                    dealer_id=dealer_id,
                    week=week,
                    recipient=recipient,
                    channel=channel,
                    status="sending",
                    attempts=1,
                    owner=OWNER,
                    claimed_at=now,
                )
            )
        return True
    except IntegrityError:
        pass
    key = (
        ReportDelivery.dealer_id == dealer_id,
        ReportDelivery.week == week,
        ReportDelivery.recipient == recipient,
        ReportDelivery.channel == channel,
    )
    with session_factory.begin() as session:
        row = session.execute(
            select(
                ReportDelivery.id,
                ReportDelivery.status,
                ReportDelivery.attempts,
                ReportDelivery.claimed_at,
            ).where(*key)
        ).one_or_none()
        if row is None:
            return False
        retry = (row.status == "failed" and row.attempts < MAX_ATTEMPTS) or (
            row.status == "sending" and row.claimed_at < now - STALE_AFTER
        )
        if not retry:
            return False
        taken = session.execute(
            update(ReportDelivery)
            .where(
                ReportDelivery.id == row.id,
                ReportDelivery.status == row.status,
                ReportDelivery.claimed_at == row.claimed_at,
            )
            .values(
                status="sending",
                attempts=row.attempts + 1,
                owner=OWNER,
                claimed_at=now,
                error=None,
            ),
            execution_options={"synchronize_session": False},
        )
        return taken.rowcount == 1


def finish_delivery(
    session_factory: sessionmaker,
    *,
    dealer_id: str,
    week: str,
    recipient: str,
    channel: str,
    message_id: str | None = None,
    error: str | None = None,
) -> None:
    """Record the outcome of a claimed delivery: sent, or failed with the error."""
    values = (
        {"status": "failed", "error": error[:2000]}
        if error
        else {"status": "sent", "sent_at": utcnow(), "message_id": message_id, "error": None}
    )
    with session_factory.begin() as session:
        session.execute(
            update(ReportDelivery)
            .where(
                ReportDelivery.dealer_id == dealer_id,
                ReportDelivery.week == week,
                ReportDelivery.recipient == recipient,
                ReportDelivery.channel == channel,
            )
            .values(**values),
            execution_options={"synchronize_session": False},
        )


def deliveries(
    session_factory: sessionmaker, dealer_id: str | None = None, week: str | None = None
) -> list[ReportDelivery]:
    """The delivery log, optionally for one dealer and week (oldest first)."""
    query = select(ReportDelivery).order_by(ReportDelivery.id)
    if dealer_id:
        query = query.where(ReportDelivery.dealer_id == dealer_id)
    if week:
        query = query.where(ReportDelivery.week == week)
    with session_factory() as session:
        return list(session.scalars(query))


def failed_deliveries(session_factory: sessionmaker) -> list[tuple[str, str]]:
    """(dealer, week) pairs with a failed e-mail that may still be retried."""
    query = (
        select(ReportDelivery.dealer_id, ReportDelivery.week)
        .where(ReportDelivery.status == "failed", ReportDelivery.attempts < MAX_ATTEMPTS)
        .distinct()
        .order_by(ReportDelivery.dealer_id, ReportDelivery.week)
    )
    with session_factory() as session:
        return [(d, w) for d, w in session.execute(query)]


# -- e-mail ---------------------------------------------------------------------------------------


def build_message(
    rendered: RenderedSummary, *, sender: str, recipient: str, sender_name: str | None = None
) -> EmailMessage:
    """multipart/alternative: plain text, and HTML with the chart inline (multipart/related)."""
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = formataddr((sender_name, sender)) if sender_name else sender
    message["To"] = recipient
    message["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "dealerbot")
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    if rendered.chart_png:
        html_part = list(message.iter_parts())[1]  # the parts: plain text, HTML
        html_part.add_related(
            rendered.chart_png,
            maintype="image",
            subtype="png",
            cid=f"<{rendered.chart_cid}>",
            filename="chart.png",
            disposition="inline",
        )
    return message


def send_email(
    session_factory: sessionmaker,
    rendered: RenderedSummary,
    *,
    dealer_id: str,
    week: str,
    recipients: Sequence[str],
    settings: Settings,
    sender_name: str | None = None,
    result: DeliveryResult | None = None,
) -> DeliveryResult:
    """E-mail the summary to every recipient not yet served, one message each, one connection."""
    result = result or DeliveryResult()
    todo = []
    for recipient in dict.fromkeys(r.strip() for r in recipients if r.strip()):
        key = {"dealer_id": dealer_id, "week": week, "recipient": recipient, "channel": "email"}
        if claim_delivery(
            session_factory, dealer_id=dealer_id, week=week, recipient=recipient, channel="email"
        ):
            todo.append(key)
        else:
            result.skipped.append(recipient)
    if not todo:
        return result
    try:
        smtp = smtp_connect(settings)
    except MailDeliveryError as exc:
        for key in todo:
            finish_delivery(session_factory, **key, error=str(exc))
            result.failed[key["recipient"]] = str(exc)
        return result
    try:
        for key in todo:
            message = build_message(
                rendered,
                sender=settings.smtp_from,
                recipient=key["recipient"],
                sender_name=sender_name,
            )
            try:
                smtp.send_message(message)
            except (OSError, smtplib.SMTPException) as exc:
                finish_delivery(session_factory, **key, error=f"{type(exc).__name__}: {exc}")
                result.failed[key["recipient"]] = str(exc)
                continue
            finish_delivery(session_factory, **key, message_id=message["Message-ID"])
            result.sent.append(key["recipient"])
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return result


# -- outbox ---------------------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    # A reader never sees half a file: write next to it, then rename over it.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_outbox(
    rendered: RenderedSummary,
    folder: Path,
    *,
    dealer_id: str,
    week: str,
    csv_text: str | None = None,
    top_csv_text: str | None = None,
) -> list[Path]:
    """Write ``<outbox>/<dealer>/<week>.html``, ``.md``, ``-chart.png``, ``.csv`` and
    ``-top.csv`` (the week's top intents and fallback messages)."""
    target = Path(folder) / dealer_id
    target.mkdir(parents=True, exist_ok=True)
    files: list[tuple[Path, bytes]] = [
        (target / f"{week}.html", rendered.outbox_html.encode("utf-8")),
        (target / f"{week}.md", rendered.markdown.encode("utf-8")),
    ]
    if rendered.chart_png:
        files.append((target / rendered.chart_file, rendered.chart_png))
    if csv_text is not None:
        # utf-8-sig so spreadsheet programs read the accents in comments correctly
        files.append((target / f"{week}.csv", csv_text.encode("utf-8-sig")))
    if top_csv_text is not None:
        files.append((target / f"{week}-top.csv", top_csv_text.encode("utf-8-sig")))
    for path, data in files:
        _write_atomic(path, data)
    return [path for path, _ in files]


def deliver_summary(
    session_factory: sessionmaker,
    rendered: RenderedSummary,
    *,
    dealer_id: str,
    week: str,
    recipients: Iterable[str],
    settings: Settings,
    csv_text: str | None = None,
    top_csv_text: str | None = None,
    email: bool = True,
    sender_name: str | None = None,
) -> DeliveryResult:
    """Outbox files first (always, they are idempotent), then e-mail to whoever is still due."""
    result = DeliveryResult()
    result.files = write_outbox(rendered, settings.outbox_dir, dealer_id=dealer_id, week=week,
                                csv_text=csv_text, top_csv_text=top_csv_text)  # fmt: skip
    recipients = list(recipients)
    if email and recipients and settings.smtp_host:
        send_email(
            session_factory,
            rendered,
            dealer_id=dealer_id,
            week=week,
            recipients=recipients,
            settings=settings,
            sender_name=sender_name,
            result=result,
        )
    elif email and recipients:
        log.warning(
            "no DEALERBOT_SMTP_HOST: summary for %s %s written to the outbox only", dealer_id, week
        )
    return result
