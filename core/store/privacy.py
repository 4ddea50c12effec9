"""Erasure on request and the retention purge. Only anonymous aggregate counts stay behind.

Where personal data lives and what removes it from each place: docs/privacy.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import sessionmaker

from core.engagement import contact_key
from core.settings import get_settings
from core.store.models import (
    Appointment,
    Conversation,
    Erasure,
    Lead,
    NluInboxItem,
    SlotReservation,
    SurveyAnswer,
    WhatsAppMessage,
    delete_conversations,
    utcnow,
)
from core.store.spool import Spool, default_spool_path
from core.store.tracker_events import (
    all_senders,
    delete_idle_senders,
    delete_senders,
    tracker_connection,
)
from dealer.config import all_dealers

log = logging.getLogger(__name__)

KNOWN_CHANNELS = ("web", "whatsapp", "rest", "cmdline")
_NO_SYNC = {"synchronize_session": False}


def sender_hash(secret: str, sender_id: str) -> str:
    """The tombstone's sender key: the contact-key HMAC (``DEALERBOT_CONTACT_KEY_SECRET``) over the
    pseudo-channel ``sender``. It finds the sender's Rasa events until they are purged; without
    the secret it cannot be reversed by trying phone numbers."""
    return contact_key(secret, "sender", sender_id)


def legacy_sender_hash(sender_id: str) -> str:
    """Unsalted SHA-256: the tombstones written before migration 0009. Still matched while their
    tracker events wait for the purge (they cannot be converted: the sender id is not stored)."""
    return hashlib.sha256(sender_id.encode()).hexdigest()


def senders_for_phone(phone: str) -> set[str]:
    """The sender ids a WhatsApp customer with this number can have (Twilio and Cloud API)."""
    e164 = phone if phone.startswith("+") else f"+{phone}"
    # bot/channels keeps one WhatsApp conversation per customer and dealer location.
    per_dealer = {f"whatsapp:{e164}/{dealer_id}" for dealer_id in all_dealers()}
    return {e164, e164[1:], f"whatsapp:{e164}"} | per_dealer


@dataclass(frozen=True)
class Erased:
    conversations: int
    survey_answers: int
    appointments: int
    leads: int
    tracker_events: int
    inbox_items: int = 0
    whatsapp_messages: int = 0
    spool_lines: int = 0
    outbox_files: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Contact:
    """Everything that names one person: their sender ids, contact keys and conversation ids."""

    senders: frozenset[str]
    keys: frozenset[str]
    conversation_ids: frozenset[str]
    phones: frozenset[str] = frozenset()  # given, and those of the appointments and leads found
    emails: frozenset[str] = frozenset()


def _whose(model, senders: set[str], phones: set[str], emails: set[str]) -> list:  # noqa: ANN001
    """Rows of an appointment or lead model that belong to these senders, phones or e-mails.
    Phones are stored as E.164 (``dealer.parsing``); e-mail addresses compare case-insensitively."""
    whose = [model.sender_id.in_(senders)] if senders else []
    if phones:
        whose.append(model.phone.in_(phones | {p.lstrip("+") for p in phones}))
    if emails:
        whose.append(func.lower(model.email).in_(emails))
    return whose


def find_contact(
    session, *, secret: str, senders: set[str], phones: set[str], emails: set[str],
    channels: Iterable[str],
) -> Contact:  # fmt: skip
    """Collect every sender and conversation of a person: the given senders (and the WhatsApp
    sender ids of the phones), and the sender and conversation of every appointment or lead that
    matches a sender, phone or e-mail, whatever its channel. The phones and e-mails of the rows
    found count too (a customer who booked on the web with phone and e-mail, and left an
    e-mail-only lead over REST, is found by the phone), until nothing new turns up.

    Appointments and leads are matched by contact data only when phones or e-mails are given
    (the operator's command): a chat user proves only their own sender id, not a phone number
    or e-mail address they typed, so the chat erasure reaches that sender's rows alone."""
    senders, phones, emails = set(senders), set(phones), set(emails)
    expand = bool(phones or emails)
    pairs: set[tuple[str, str]] = set()
    conversation_ids: set[str] = set()
    while True:
        for phone in phones:
            senders |= senders_for_phone(phone)
        before = (len(senders), len(phones), len(emails))
        for model in (Appointment, Lead):
            whose = _whose(model, senders, phones, emails)
            if not whose:
                continue
            columns = (model.channel, model.sender_id, model.conversation_id, model.phone,
                       model.email)  # fmt: skip
            for channel, sender, conversation_id, phone, email in session.execute(
                select(*columns).where(or_(*whose))
            ):
                senders.add(sender)
                pairs.add((channel, sender))
                if conversation_id:
                    conversation_ids.add(conversation_id)
                if expand and phone:
                    phones.add(phone)
                if expand and email:
                    emails.add(email.strip().lower())
        if (len(senders), len(phones), len(emails)) == before:
            break
    pairs |= {(channel, sender) for sender in senders for channel in channels}
    keys = {contact_key(secret, channel, sender) for channel, sender in pairs}
    # The contact of a conversation that made one of the appointments or leads is this person.
    if conversation_ids:
        keys |= set(
            session.scalars(
                select(Conversation.contact_key).where(Conversation.id.in_(conversation_ids))
            )
        )
    if keys:
        conversation_ids |= set(
            session.scalars(select(Conversation.id).where(Conversation.contact_key.in_(keys)))
        )
    return Contact(frozenset(senders), frozenset(keys), frozenset(conversation_ids),
                   frozenset(phones), frozenset(emails))  # fmt: skip


def erase_contact(
    session_factory: sessionmaker,
    *,
    secret: str,
    senders: Iterable[str] = (),
    phones: Iterable[str] = (),
    emails: Iterable[str] = (),
    channels: Iterable[str] = KNOWN_CHANNELS,
    tracker_db_url: str | None = None,
    spool_file: Path | None = None,
    outbox_dir: Path | None = None,
) -> Erased:
    """Erase everything about a contact (``find_contact``): conversation rows, survey answers,
    NLU inbox items, appointments, leads, WhatsApp message ids, the spooled records and the
    outbox files that name them, and Rasa's tracker events.

    The days the erased conversations were counted in (and their contacts' later days) are marked
    for recount by the dirty-day rule every write uses (``models.dirty_days``), so the next
    rollup no longer counts them.

    Rasa's tracker events are deleted now when ``tracker_db_url`` is given; otherwise the
    tombstone left here lets the nightly purge delete them once the conversation is idle (the
    chat erasure: Rasa still writes this conversation's last events after the action).
    ``spool_file`` and ``outbox_dir`` default to the configured ones.
    """
    channels = tuple(channels)
    emails = {e.strip().lower() for e in emails if e.strip()}
    with session_factory.begin() as session:
        contact = find_contact(session, secret=secret, senders=set(senders), phones=set(phones),
                               emails=emails, channels=channels)  # fmt: skip
        ids, keys = sorted(contact.conversation_ids), sorted(contact.keys)
        answers = inbox = 0
        if ids:
            answers = session.execute(
                delete(SurveyAnswer).where(SurveyAnswer.conversation_id.in_(ids)),
                execution_options=_NO_SYNC,
            ).rowcount
            inbox = session.execute(
                delete(NluInboxItem).where(NluInboxItem.conversation_id.in_(ids)),
                execution_options=_NO_SYNC,
            ).rowcount
        # Through the ORM: the mapper events mark the days of their conversations for the
        # rollup. Appointments and leads first, while their conversation's day can still be read.
        whose = (set(contact.senders), set(contact.phones), set(contact.emails))
        created = [
            row
            for model in (Appointment, Lead)
            for row in session.scalars(
                select(model).where(or_(*_whose(model, *whose), model.conversation_id.in_(ids)))
            )
        ]
        for row in created:
            session.delete(row)
        session.flush()
        appointments = sum(isinstance(row, Appointment) for row in created)
        # One delete, marked by the same dirty-day rule (models.dirty_days) as every write.
        conversations = delete_conversations(session.connection(), ids)
        # The WhatsApp message ids carry the contact key too (dedup and the 24-hour window).
        whatsapp = session.execute(
            delete(WhatsAppMessage).where(WhatsAppMessage.contact_key.in_(keys)),
            execution_options=_NO_SYNC,
        ).rowcount
        now = utcnow()
        hashed: dict[str, str | None] = {
            key: None for key in keys
        }  # a key seen only on a conversation: no sender
        for sender in contact.senders:
            for channel in channels:
                hashed[contact_key(secret, channel, sender)] = sender_hash(secret, sender)
        session.add_all(
            Erasure(contact_key=key, sender_id_hash=hashed[key], requested_at=now)
            for key in sorted(hashed)
        )
    events = 0
    if tracker_db_url:
        events = delete_tracker_events(tracker_db_url, contact.senders)
        with session_factory.begin() as session:
            _tracker_purged(session, {sender_hash(secret, s) for s in contact.senders})
    settings = get_settings()
    spool_lines = drop_spooled(
        Spool(spool_file or default_spool_path()), contact.keys, contact.conversation_ids
    )
    files = drop_outbox_files(outbox_dir or settings.outbox_dir, contact.conversation_ids)
    return Erased(conversations, answers, appointments, len(created) - appointments, events,
                  inbox, whatsapp, spool_lines, files)  # fmt: skip


def _tracker_purged(session, hashes: set[str]) -> None:  # noqa: ANN001
    """Tombstones whose sender's events are gone: the sender hash has no use left, drop it."""
    if hashes:
        session.execute(
            Erasure.__table__.update()
            .where(Erasure.sender_id_hash.in_(sorted(hashes)))
            .values(tracker_purged_at=utcnow(), sender_id_hash=None)
        )


def _names(op: dict, keys: frozenset[str], ids: frozenset[str]) -> bool:
    """Whether a spooled op is about one of these contacts or conversations."""
    data = op.get("data") or {}
    return (
        data.get("contact_key") in keys or data.get("id") in ids or op.get("conversation_id") in ids
    )


def drop_spooled(spool: Spool, keys: frozenset[str], ids: frozenset[str]) -> int:
    """Remove the spooled records (and those set aside in ``.bad``) of these contacts."""

    def keep(line: str) -> bool:
        try:
            op = json.loads(line)
        except json.JSONDecodeError:
            return not any(i in line for i in (*keys, *ids))  # a line cut off by a crash
        return not (isinstance(op, dict) and _names(op, keys, ids))

    return spool.filter(keep) if keys or ids else 0


def drop_outbox_files(outbox: Path, conversation_ids: Iterable[str]) -> int:
    """Delete the weekly summary files in the outbox that name one of these conversations (the
    CSVs by id, the summary pages by the 12-character reference), and the notification e-mails
    about them (``.eml``, header ``X-Dealerbot-Conversation``). ``dealerbot metrics send``
    writes the summary files again from the store, without the erased contact."""
    refs = {cid[:12] for cid in conversation_ids}
    if not refs or not Path(outbox).is_dir():
        return 0
    deleted = 0
    for path in Path(outbox).rglob("*"):
        if path.suffix not in (".csv", ".md", ".html", ".eml") or not path.is_file():
            continue
        content = path.read_text(encoding="utf-8", errors="replace")
        if any(ref in content for ref in refs):
            path.unlink()
            deleted += 1
    return deleted


def delete_tracker_events(tracker_db_url: str, senders: Iterable[str]) -> int:
    """Delete Rasa's stored events (SQL tracker store table ``events``) of these senders."""
    senders = set(senders)
    if not senders:
        return 0
    with tracker_connection(tracker_db_url, write=True) as conn:
        return 0 if conn is None else delete_senders(conn, senders)


def purge_pending_erasures(
    session_factory: sessionmaker, tracker_db_url: str, idle_before: dt.datetime, *, secret: str
) -> int:
    """Delete tracker events for erasures asked in chat, once those conversations are idle.

    Tombstones written before migration 0009 hold an unsalted SHA-256 of the sender; both forms
    are matched until those have been purged."""
    with session_factory() as session:
        pending = set(
            session.scalars(
                select(Erasure.sender_id_hash).where(
                    Erasure.tracker_purged_at.is_(None),
                    Erasure.sender_id_hash.isnot(None),
                    Erasure.requested_at < idle_before,
                )
            )
        )
    if not pending:
        return 0
    senders: dict[str, set[str]] = {}  # sender -> the pending hashes it matched
    with tracker_connection(tracker_db_url) as conn:
        for sender in all_senders(conn) if conn is not None else ():
            found = {sender_hash(secret, sender), legacy_sender_hash(sender)} & pending
            if found:
                senders[sender] = found
    deleted = delete_tracker_events(tracker_db_url, senders) if senders else 0
    with session_factory.begin() as session:
        _tracker_purged(session, pending)
    return deleted


def purge_idle_tracker_events(tracker_db_url: str, cutoff: dt.datetime) -> int:
    """Retention: delete the Rasa events of every sender with no event since ``cutoff`` (aware or
    naive UTC). A conversation active within the retention period keeps all its events (Rasa
    replays them), so whole senders go, not single old events."""
    moment = cutoff if cutoff.tzinfo else cutoff.replace(tzinfo=dt.timezone.utc)
    with tracker_connection(tracker_db_url, write=True) as conn:
        return 0 if conn is None else delete_idle_senders(conn, moment.timestamp())


def _op_time(op: dict) -> dt.datetime | None:
    """When a spooled op happened: its conversation's last message, or its latest answer."""
    moments = [(op.get("data") or {}).get("last_message_at")]
    moments += [a.get("answered_at") for a in op.get("answers") or [] if isinstance(a, dict)]
    parsed = []
    for value in moments:
        if not isinstance(value, str):  # missing or not a time
            continue
        try:
            parsed.append(dt.datetime.fromisoformat(value).replace(tzinfo=None))
        except ValueError:
            continue
    return max(parsed) if parsed else None


def purge_old_files(
    cutoff: dt.datetime, *, spool_file: Path | None = None, outbox_dir: Path | None = None
) -> dict[str, int]:
    """Retention of the files in var/: spooled and set-aside records (``records.bad``) whose
    conversation is older than ``cutoff`` (naive UTC; a line with no time: the file's); journal
    segments of the write-behind queue, outbox files, the logs of earlier runs (``var/logs``) and
    NLU inbox exports (``var/trainer``) last written before it."""
    settings = get_settings()
    spool = Spool(spool_file or default_spool_path())
    outbox = Path(outbox_dir or settings.outbox_dir)
    stamp = cutoff.replace(tzinfo=dt.timezone.utc).timestamp()

    def keep(mtime: float) -> Callable[[str], bool]:
        def fresh(line: str) -> bool:
            try:
                moment = _op_time(json.loads(line))
            except (json.JSONDecodeError, AttributeError):
                moment = None
            return moment >= cutoff if moment is not None else mtime >= stamp

        return fresh

    lines = spool.filter(keep(_mtime(spool.path)), bad=keep(_mtime(spool.bad_path)))
    files = 0
    journals = list(spool.path.parent.glob("pending-*.jsonl")) if spool.path.parent.is_dir() else []
    outboxed = [
        path
        for folder in (outbox, settings.var_dir / "logs", settings.var_dir / "trainer")
        if folder.is_dir()
        for path in folder.rglob("*")
        if path.is_file()
    ]
    for path in journals + outboxed:
        if _mtime(path) < stamp:
            path.unlink(missing_ok=True)
            files += 1
    if outbox.is_dir():
        for folder in sorted((p for p in outbox.rglob("*") if p.is_dir()), reverse=True):
            if not any(folder.iterdir()):
                folder.rmdir()
    return {"spool_lines": lines, "files": files}


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except FileNotFoundError:
        return float("inf")


def purge_older_than(session_factory: sessionmaker, days: int, now: dt.datetime) -> dict:
    """Retention: delete personal data older than ``days`` (aggregates are kept elsewhere)."""
    cutoff = now.astimezone(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(days=days)
    with session_factory.begin() as session:
        old = select(Conversation.id).where(Conversation.last_message_at < cutoff)
        answers = session.execute(
            delete(SurveyAnswer).where(SurveyAnswer.conversation_id.in_(old)),
            execution_options=_NO_SYNC,
        ).rowcount
        conversations = session.execute(
            delete(Conversation).where(Conversation.last_message_at < cutoff),
            execution_options=_NO_SYNC,
        ).rowcount
        old_appointments = select(Appointment.id).where(Appointment.ends_at < cutoff)
        session.execute(
            delete(SlotReservation).where(SlotReservation.appointment_id.in_(old_appointments)),
            execution_options=_NO_SYNC,
        )
        appointments = session.execute(
            delete(Appointment).where(Appointment.ends_at < cutoff), execution_options=_NO_SYNC
        ).rowcount
        leads = session.execute(
            delete(Lead).where(Lead.created_at < cutoff), execution_options=_NO_SYNC
        ).rowcount
        whatsapp = session.execute(
            delete(WhatsAppMessage).where(WhatsAppMessage.received_at < cutoff),
            execution_options=_NO_SYNC,
        ).rowcount
        session.execute(
            delete(Erasure).where(Erasure.requested_at < cutoff), execution_options=_NO_SYNC
        )
    return {"conversations": conversations, "survey_answers": answers,
            "appointments": appointments, "leads": leads,
            "whatsapp_messages": whatsapp}  # fmt: skip
