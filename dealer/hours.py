"""Opening hours, closed days and workshop slot arithmetic (pure; capacity comes from the store)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from dealer.config import Dealer


@dataclass(frozen=True)
class DayHours:
    """A department's hours on one date: open/close, or why it is closed."""

    date: dt.date
    opens: dt.time | None
    closes: dt.time | None
    holiday: dict[str, str] | None = None  # name of the public holiday or closed day

    @property
    def is_open(self) -> bool:
        return self.opens is not None

    @property
    def span(self) -> tuple[dt.time, dt.time] | None:
        """Opening and closing time, or None on a closed day (``hours_on`` sets both or none)."""
        if self.opens is None or self.closes is None:
            return None
        return self.opens, self.closes


def hours_on(dealer: Dealer, department: str, day: dt.date) -> DayHours:
    closed = dealer.closed_on(day)
    if closed:
        return DayHours(day, None, None, closed.name)
    span = dealer.departments[department].hours.get(day.weekday())
    return DayHours(day, *span) if span else DayHours(day, None, None)


def is_open_at(dealer: Dealer, department: str, moment: dt.datetime) -> bool:
    local = moment.astimezone(dealer.timezone)
    span = hours_on(dealer, department, local.date()).span
    return span is not None and span[0] <= local.time() < span[1]


def next_opening(dealer: Dealer, department: str, after: dt.datetime) -> dt.datetime | None:
    """The next moment the department opens, strictly after ``after`` (within 31 days)."""
    local = after.astimezone(dealer.timezone)
    for offset in range(32):
        day = local.date() + dt.timedelta(days=offset)
        span = hours_on(dealer, department, day).span
        if span is None:
            continue
        opens = dt.datetime.combine(day, span[0], dealer.timezone)
        if opens > local:
            return opens
    return None


def service_slots_needed(dealer: Dealer, duration_min: int) -> int:
    return max(1, -(-duration_min // dealer.slot_minutes))


def slot_starts(dealer: Dealer, start: dt.datetime, duration_min: int) -> list[dt.datetime]:
    """The workshop slots an appointment of this length occupies, from its start."""
    step = dt.timedelta(minutes=dealer.slot_minutes)
    return [start + i * step for i in range(service_slots_needed(dealer, duration_min))]


class SlotProblem:
    """Why a requested moment cannot be booked (codes map to responses in the domain)."""

    PAST = "past"
    TOO_SOON = "too_soon"
    TOO_FAR = "too_far"
    CLOSED_DAY = "closed_day"
    OUTSIDE_HOURS = "outside_hours"
    NOT_ON_GRID = "not_on_grid"
    FULL = "full"


def check_moment(
    dealer: Dealer,
    department: str,
    start: dt.datetime,
    duration_min: int,
    now: dt.datetime,
    lead_minutes: int,
) -> str | None:
    """Return a :class:`SlotProblem` code, or None if the moment fits the dealer's hours."""
    local = start.astimezone(dealer.timezone)
    if local <= now:
        return SlotProblem.PAST
    if local < now + dt.timedelta(minutes=lead_minutes):
        return SlotProblem.TOO_SOON
    if local.date() > now.date() + dt.timedelta(days=dealer.booking_horizon_days):
        return SlotProblem.TOO_FAR
    span = hours_on(dealer, department, local.date()).span
    if span is None:
        return SlotProblem.CLOSED_DAY
    end = local + dt.timedelta(minutes=duration_min)
    opens = dt.datetime.combine(local.date(), span[0], dealer.timezone)
    closes = dt.datetime.combine(local.date(), span[1], dealer.timezone)
    if local < opens or end > closes:
        return SlotProblem.OUTSIDE_HOURS
    return None


def candidate_starts(
    dealer: Dealer,
    department: str,
    around: dt.datetime,
    duration_min: int,
    now: dt.datetime,
    lead_minutes: int,
) -> Iterator[dt.datetime]:
    """Bookable start times ordered by distance from ``around`` (nearest first)."""
    step = dt.timedelta(minutes=dealer.slot_minutes)
    first_day = max(around.date() - dt.timedelta(days=14), now.date())
    last_day = now.date() + dt.timedelta(days=dealer.booking_horizon_days)
    starts = []
    day = first_day
    while day <= last_day and day <= around.date() + dt.timedelta(days=21):
        span = hours_on(dealer, department, day).span
        if span is not None:
            moment = dt.datetime.combine(day, span[0], dealer.timezone)
            closes = dt.datetime.combine(day, span[1], dealer.timezone)
            while moment + dt.timedelta(minutes=duration_min) <= closes:
                if (
                    check_moment(dealer, department, moment, duration_min, now, lead_minutes)
                    is None
                ):
                    starts.append(moment)
                moment += step
        day += dt.timedelta(days=1)
    yield from sorted(starts, key=lambda s: (abs((s - around).total_seconds()), s))


def nearest_free(
    dealer: Dealer,
    department: str,
    around: dt.datetime,
    duration_min: int,
    now: dt.datetime,
    lead_minutes: int,
    is_free: Callable[[dt.datetime], bool],
    count: int = 3,
) -> list[dt.datetime]:
    """The ``count`` free start times nearest to ``around``, in time order."""
    found = []
    for start in candidate_starts(dealer, department, around, duration_min, now, lead_minutes):
        if is_free(start):
            found.append(start)
            if len(found) == count:
                break
    return sorted(found)


def snap_to_grid(dealer: Dealer, moment: dt.datetime) -> dt.datetime:
    """Round a requested time down to the workshop's slot grid (09:10 -> 09:00)."""
    minutes = moment.hour * 60 + moment.minute
    snapped = minutes - minutes % dealer.slot_minutes
    return moment.replace(hour=snapped // 60, minute=snapped % 60, second=0, microsecond=0)
