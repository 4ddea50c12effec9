"""The calendar invite: right start across a DST change, stable UID, SEQUENCE, CANCEL."""

import datetime as dt
from zoneinfo import ZoneInfo

import icalendar

from notifications.ics import appointment_invite

AMS = ZoneInfo("Europe/Amsterdam")


def invite(start, sequence=0, cancelled=False):
    data = appointment_invite(
        appointment_id="a" * 32, sequence=sequence, starts_at=start,
        ends_at=start + dt.timedelta(hours=1), summary="APK-keuring bij Autohuis De Vries",
        location="Autohuis De Vries, Industrieweg 12, 3542 AD Utrecht",
        organizer_email="info@autohuisdevries.example", organizer_name="Autohuis De Vries",
        attendee_email="jan@klant.example", cancelled=cancelled,
        stamp=dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.timezone.utc),
    )  # fmt: skip
    return data, icalendar.Calendar.from_ical(data)


def test_start_is_right_on_both_sides_of_the_dst_change():
    # booked in winter time (UTC+1) for the Tuesday after the clocks go forward (UTC+2)
    for start, offset in (
        (dt.datetime(2027, 3, 26, 9, 0, tzinfo=AMS), 1),
        (dt.datetime(2027, 3, 30, 9, 0, tzinfo=AMS), 2),
        (dt.datetime(2027, 11, 2, 9, 0, tzinfo=AMS), 1),  # after the clocks go back
    ):
        data, calendar = invite(start)
        event = calendar.walk("VEVENT")[0]
        begins = event.decoded("DTSTART")
        assert begins == start and begins.hour == 9
        assert begins.utcoffset() == dt.timedelta(hours=offset)
        assert b"DTSTART;TZID=Europe/Amsterdam:" in data
        assert calendar.walk("VTIMEZONE")  # calendars without the zone database still agree
        assert begins.astimezone(dt.timezone.utc).hour == 9 - offset


def test_a_move_updates_the_same_entry_and_a_cancel_cancels_it():
    start = dt.datetime(2026, 11, 24, 10, 0, tzinfo=AMS)
    _, booked = invite(start)
    _, moved = invite(start + dt.timedelta(days=1), sequence=1)
    _, cancelled = invite(start + dt.timedelta(days=1), sequence=2, cancelled=True)
    events = [c.walk("VEVENT")[0] for c in (booked, moved, cancelled)]
    assert len({str(e["UID"]) for e in events}) == 1
    assert [int(e["SEQUENCE"]) for e in events] == [0, 1, 2]
    assert [str(c["METHOD"]) for c in (booked, moved, cancelled)] == [
        "REQUEST",
        "REQUEST",
        "CANCEL",
    ]
    assert str(events[2]["STATUS"]) == "CANCELLED"
