"""Deciding on a requested appointment time: accept it, or explain why not and offer others."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from dealer.config import Dealer
from dealer.hours import (
    SlotProblem,
    check_moment,
    hours_on,
    nearest_free,
    snap_to_grid,
)
from dealer.parsing import InvalidDate, parse_when

UNCLEAR = "unclear"
INVALID_DATE = "invalid_date"
NEED_TIME = "need_time"

_PART_HOURS = {"morning": (0, 12), "afternoon": (12, 17), "evening": (17, 24)}
PER_DAY = 2  # free times offered per day of a window
MAX_CHOICES = 6  # free times offered at most


@dataclass(frozen=True)
class TimeDecision:
    start: dt.datetime | None = None  # accepted start, in the dealer's time zone
    problem: str | None = None  # a SlotProblem code, UNCLEAR, INVALID_DATE or NEED_TIME
    requested: dt.datetime | None = None  # what the customer asked for, if it was a moment
    day: dt.date | None = None
    alternatives: list[dt.datetime] = field(default_factory=list)
    # The words the decision read the moment from (the earlier window joined with the answer):
    # kept by the form, so "10 uur" after "donderdag" still means Thursday.
    context: str | None = None


def decide_time(
    text: str,
    dealer: Dealer,
    *,
    department: str,
    duration_min: int,
    lead_minutes: int,
    now: dt.datetime,
    is_free: Callable[[dt.datetime], bool] = lambda _start: True,
    context: str | None = None,
) -> TimeDecision:
    """Turn what the customer typed into a bookable start time, or a reason and alternatives.

    ``context`` is what the customer said about the moment before ("donderdag", "next week"):
    an answer without a day ("10 uur", "in de middag") is read within it. A day or window
    without a time gives NEED_TIME with the free times in it (per day the first
    ``PER_DAY`` of the asked part of the day, at most ``MAX_CHOICES``).
    """

    def nearest(around: dt.datetime) -> list[dt.datetime]:
        return nearest_free(dealer, department, around, duration_min, now, lead_minutes, is_free)

    try:
        when = parse_when(text, now)
        read = text
        if context and when.date is None and not when.empty:
            earlier = parse_when(context, now)
            if earlier.date is not None:
                part = when.part_of_day if when.time is None else None
                when = replace(earlier, time=when.time, part_of_day=part or earlier.part_of_day)
                read = f"{context} {text}"
    except InvalidDate:
        return TimeDecision(problem=INVALID_DATE)
    if when.empty:
        return TimeDecision(problem=UNCLEAR)
    if when.date is None and when.time is None:  # "in de ochtend": that part of the coming week
        today = now.date()
        when = replace(when, date=today, until=today + dt.timedelta(days=6))
    tz = dealer.timezone
    if when.date is not None and when.time is None:
        open_days = [d for d in when.days if hours_on(dealer, department, d).is_open]
        if not open_days:
            around = dt.datetime.combine(when.date, dt.time(12), tz)
            return TimeDecision(problem=SlotProblem.CLOSED_DAY, day=when.date, context=read,
                                alternatives=nearest(around))  # fmt: skip
        low, high = _PART_HOURS.get(when.part_of_day or "", (0, 24))  # no part: the whole day
        per_day = 3 if len(when.days) == 1 else PER_DAY
        free: list[dt.datetime] = []
        for day in open_days:
            span = hours_on(dealer, department, day).span
            assert span is not None  # open_days holds only the days the department is open
            start = dt.datetime.combine(day, dt.time(0), tz).replace(hour=low)
            around = max(dt.datetime.combine(day, span[0], tz), start)
            same_day = sorted(
                s
                for s in nearest_free(
                    dealer, department, around, duration_min, now, lead_minutes, is_free, count=24
                )  # fmt: skip
                if s.date() == day and low <= s.hour < high
            )
            free += same_day[:per_day]
            if len(free) >= MAX_CHOICES:
                break
        if free:
            single = len(when.days) == 1
            return TimeDecision(problem=NEED_TIME, day=when.date if single else None,
                                alternatives=free[:MAX_CHOICES], context=read)  # fmt: skip
        around = dt.datetime.combine(open_days[0], dt.time(low or 9), tz)
        return TimeDecision(problem=SlotProblem.FULL, day=when.date, context=read,
                            alternatives=nearest(around))  # fmt: skip
    if when.until is not None and when.time is not None:  # "next week at 10": first free day
        for day in when.days:
            moment = snap_to_grid(dealer, dt.datetime.combine(day, when.time, tz))
            fits = check_moment(dealer, department, moment, duration_min, now, lead_minutes)
            if fits is None and is_free(moment):
                return TimeDecision(start=moment, requested=moment, day=day, context=read)
    assert when.time is not None  # a day or window without a time returned above
    if when.date is not None:
        day = when.date
    else:  # a time without a day: today if still possible, else the next day
        day = now.date()
        if dt.datetime.combine(day, when.time, tz) < now + dt.timedelta(minutes=lead_minutes):
            day += dt.timedelta(days=1)
    requested = snap_to_grid(dealer, dt.datetime.combine(day, when.time, tz))
    problem = check_moment(dealer, department, requested, duration_min, now, lead_minutes)
    if problem is None and not is_free(requested):
        problem = SlotProblem.FULL
    if problem is None:
        return TimeDecision(start=requested, requested=requested, day=day)
    horizon_end = now + dt.timedelta(days=dealer.booking_horizon_days)
    around = min(max(requested, now), horizon_end)
    return TimeDecision(problem=problem, requested=requested, day=day,
                        alternatives=nearest(around))  # fmt: skip
