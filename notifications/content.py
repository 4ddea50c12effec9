"""What a notification says: the staff e-mail, the customer's e-mail and the webhook event.

E-mails come from Jinja2 templates (``templates/``; HTML autoescaped, so a customer's words can
never become markup), in the dealer's language for staff (``reports.language``) and in the
customer's language for the customer. Dates are formatted by Babel in the dealer's time zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache

from babel.dates import format_datetime
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from core.store.models import Appointment, Lead, Notification, from_utc_naive
from dealer.config import Dealer
from dealer.i18n import BABEL_LOCALES, format_km, lang_or_default
from notifications.ics import appointment_invite
from notifications.texts import TEXTS

LOCALES = BABEL_LOCALES
CUSTOMER_KINDS = ("booking", "change", "cancellation", "reminder")


@dataclass
class Email:
    subject: str
    text: str
    html: str
    # (file name, MIME type "text/calendar; method=REQUEST", data)
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("notifications", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _render(name: str, **context) -> str:
    return _environment().get_template(name).render(**context)


def format_moment(moment: dt.datetime, dealer: Dealer, lang: str) -> str:
    """``maandag 23 november 2026 09:00`` in the dealer's time zone (Babel, CLDR names)."""
    return format_datetime(
        moment,
        "EEEE d MMMM y HH:mm",
        tzinfo=dealer.timezone,
        locale=LOCALES[lang_or_default(lang)],
    )


def _service_name(dealer: Dealer, service_id: str | None, lang: str) -> str:
    service = dealer.service(service_id) if service_id else None
    return service.name[lang_or_default(lang)] if service else (service_id or "")


def summary_line(
    notification: Notification, row: Appointment | Lead, dealer: Dealer, lang: str
) -> str:
    """The one-line summary: what happened, to whom, and when (subject and first line)."""
    t = TEXTS[lang_or_default(lang)]
    parts = [t[f"kind.{notification.kind}"]]
    name = row.customer_name
    if isinstance(row, Appointment):
        start = from_utc_naive(notification.starts_at or row.starts_at)
        parts.append(
            f"{_service_name(dealer, row.service_id, lang)} {row.plate}, "
            f"{format_moment(start, dealer, lang)}"
        )
    elif notification.kind in ("handoff", "handoff_contact"):
        reason = t.get(f"reason.{row.note}")
        if reason:
            parts.append(reason)
    elif row.car or row.plate:
        parts.append(row.car or row.plate)
    if name:
        parts.append(name)
    parts.append(row.reference)
    return " - ".join(parts)


def _details(row: Appointment | Lead, dealer: Dealer, lang: str, *, staff: bool) -> list:
    t = TEXTS[lang_or_default(lang)]
    rows: list[tuple[str, str]] = []
    if staff:
        rows += [
            (t["name"], row.customer_name or t["unknown"]),
            (t["phone"], row.phone or "-"),
            (t["email"], row.email or "-"),
            (t["channel"], row.channel),
        ]
    rows.append((t["reference"], row.reference))
    if isinstance(row, Appointment):
        rows += [
            (t["service"], _service_name(dealer, row.service_id, lang)),
            (t["plate"], row.plate),
            (t["when"], format_moment(from_utc_naive(row.starts_at), dealer, lang)),
        ]
        if staff and row.mileage_km is not None:
            rows.append((t["mileage"], format_km(row.mileage_km, lang)))
    else:
        if row.car:
            rows.append((t["car"], row.car))
        if row.preferred_at:
            preferred = format_moment(from_utc_naive(row.preferred_at), dealer, lang)
            rows.append((t["preferred"], preferred))
        if row.plate:
            rows.append((t["plate"], row.plate))
        if row.mileage_km is not None:
            rows.append((t["mileage"], format_km(row.mileage_km, lang)))
        if row.note and row.kind != "handoff":
            rows.append((t["note"], row.note))
    return rows


def conversation_link(dashboard_url: str | None, conversation_id: str | None) -> str | None:
    if not dashboard_url or not conversation_id:
        return None
    return f"{dashboard_url.rstrip('/')}/conversations/{conversation_id}"


def staff_email(
    notification: Notification,
    row: Appointment | Lead,
    dealer: Dealer,
    transcript: list[tuple[str, str]],
    dashboard_url: str | None,
) -> Email:
    """The e-mail to the dealer's staff, in the dealer's language."""
    lang = lang_or_default(dealer.report_language)
    t = TEXTS[lang]
    summary = summary_line(notification, row, dealer, lang)
    context = {
        "lang": lang,
        "t": t,
        "summary": summary,
        "details": _details(row, dealer, lang, staff=True),
        "transcript": [(t.get(f"speaker.{who}", who), text) for who, text in transcript],
        "link": conversation_link(dashboard_url, notification.conversation_id),
        "footer": t["footer"].format(dealer=dealer.name),
    }
    return Email(
        subject=f"[{dealer.name}] {summary}",
        text=_render("staff.txt", **context),
        html=_render("staff.html", **context),
    )


def customer_email(
    notification: Notification, appointment: Appointment, dealer: Dealer, stamp: dt.datetime
) -> Email:
    """The customer's confirmation (booking, change, cancellation) or reminder, in the
    customer's language, with a calendar invite except for the reminder."""
    lang = lang_or_default(appointment.language)
    t = TEXTS[lang]
    kind = notification.kind
    start = from_utc_naive(notification.starts_at or appointment.starts_at)
    end = start + (appointment.ends_at - appointment.starts_at)
    when = format_moment(start, dealer, lang)
    service = _service_name(dealer, appointment.service_id, lang)
    details = _details(appointment, dealer, lang, staff=False)
    details = [(k, when if k == t["when"] else v) for k, v in details]
    details.append((t["customer.address"], dealer.address_line))
    email = Email(subject=t[f"customer.subject.{kind}"].format(dealer=dealer.name, when=when),
                  text="", html="")  # fmt: skip
    if kind != "reminder":
        cancelled = kind == "cancellation"
        invite = appointment_invite(
            appointment_id=appointment.id,
            sequence=notification.sequence,
            starts_at=start.astimezone(dealer.timezone),
            ends_at=end.astimezone(dealer.timezone),
            summary=t["ics.summary"].format(service=service, dealer=dealer.name),
            location=f"{dealer.name}, {dealer.address_line}",
            organizer_email=dealer.email or None,
            organizer_name=dealer.name,
            attendee_email=appointment.email,
            cancelled=cancelled,
            stamp=stamp,
        )
        method = "CANCEL" if cancelled else "REQUEST"
        email.attachments.append(("afspraak.ics" if lang == "nl" else "appointment.ics",
                                  f"text/calendar; method={method}", invite))  # fmt: skip
    name = appointment.customer_name
    context = {
        "lang": lang,
        "t": t,
        "hello": t["customer.hello"].format(name=name) if name else t["customer.hello_anonymous"],
        "body": t[f"customer.body.{kind}"],
        "details": details,
        "calendar": bool(email.attachments),
        "questions": t["customer.questions"].format(phone=dealer.phone),
        "dealer_name": dealer.name,
    }
    email.text = _render("customer.txt", **context)
    email.html = _render("customer.html", **context)
    return email


def reminder_parameters(appointment: Appointment, dealer: Dealer, lang: str) -> list[str]:
    """The WhatsApp reminder template's parameters {{1}}..{{4}} in the customer's language:
    name (or "klant"), date and time, service, the dealer and its address (docs/staff.md)."""
    t = TEXTS[lang_or_default(lang)]
    return [
        appointment.customer_name or t["customer.name_anonymous"],
        format_moment(from_utc_naive(appointment.starts_at), dealer, lang),
        _service_name(dealer, appointment.service_id, lang),
        f"{dealer.name}, {dealer.address_line}",
    ]


def handoff_template_parameters(lead: Lead, dealer: Dealer, lang: str) -> list[str]:
    """The inbox's WhatsApp template's parameters {{1}}..{{3}} in the customer's language: name
    (or "klant"), the dealer's name, the handoff's reference (docs/staff.md)."""
    t = TEXTS[lang_or_default(lang)]
    return [lead.customer_name or t["customer.name_anonymous"], dealer.name, lead.reference]


def _iso(moment: dt.datetime | None) -> str | None:
    return from_utc_naive(moment).isoformat() if moment else None


def webhook_event(
    notification: Notification,
    row: Appointment | Lead,
    dealer: Dealer,
    transcript: list[tuple[str, str]],
    dashboard_url: str | None,
) -> dict:
    """The JSON event of one notification (schema: docs/webhooks.md)."""
    customer = {"name": row.customer_name, "phone": row.phone, "email": row.email,
                "language": row.language, "channel": row.channel}  # fmt: skip
    event = {
        "id": notification.event_id,
        "type": notification.kind,
        "created_at": _iso(notification.created_at),
        "dealer_id": notification.dealer_id,
        "conversation_id": notification.conversation_id,
        "conversation_url": conversation_link(dashboard_url, notification.conversation_id),
        "summary": summary_line(notification, row, dealer, dealer.report_language),
        "customer": customer,
        "transcript": [{"from": who, "text": text} for who, text in transcript],
    }
    if isinstance(row, Appointment):
        start = notification.starts_at or row.starts_at
        event["appointment"] = {
            "id": row.id,
            "reference": row.reference,
            "service": row.service_id,
            "plate": row.plate,
            "starts_at": _iso(start),
            "ends_at": _iso(start + (row.ends_at - row.starts_at)),
            "mileage_km": row.mileage_km,
            "status": row.status,
            "sequence": notification.sequence,
        }
    else:
        event["lead"] = {
            "id": row.id,
            "reference": row.reference,
            "kind": row.kind,
            "car": row.car,
            "stock_id": row.stock_id,
            "preferred_at": _iso(row.preferred_at),
            "plate": row.plate,
            "mileage_km": row.mileage_km,
            "note": row.note,
            "status": row.status,
        }
    return event
