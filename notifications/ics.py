"""Calendar invites (``.ics``) for workshop appointments, with the ``icalendar`` package.

The UID is the appointment's id, so a calendar applies a move (higher SEQUENCE) or a
cancellation (METHOD:CANCEL, STATUS:CANCELLED) to the entry the booking made. Times carry the
dealer's TZID with its VTIMEZONE, so the start is right on either side of a DST change.
"""

from __future__ import annotations

import datetime as dt

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//dealerbot//workshop appointments//EN"


def appointment_uid(appointment_id: str) -> str:
    """The stable calendar UID of one appointment."""
    return f"appointment-{appointment_id}@dealerbot"


def appointment_invite(
    *,
    appointment_id: str,
    sequence: int,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    summary: str,
    location: str,
    organizer_email: str | None,
    organizer_name: str,
    attendee_email: str | None,
    cancelled: bool,
    stamp: dt.datetime,
) -> bytes:
    """One VEVENT in the time zone of ``starts_at`` (aware, in the dealer's zone)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", appointment_uid(appointment_id))
    event.add("sequence", sequence)
    event.add("dtstamp", stamp.astimezone(dt.timezone.utc))
    event.add("dtstart", starts_at)
    event.add("dtend", ends_at)
    event.add("summary", summary)
    event.add("location", location)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if organizer_email:
        organizer = vCalAddress(f"mailto:{organizer_email}")
        organizer.params["cn"] = vText(organizer_name)
        event.add("organizer", organizer)
    if attendee_email:
        attendee = vCalAddress(f"mailto:{attendee_email}")
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        event.add("attendee", attendee)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()
