"""Deciding on a requested appointment time: accept it, or explain why not and offer others."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class TimeDecision:
    start: dt.datetime | None = None  # accepted start, in the dealer's time zone
    problem: str | None = None  # a SlotProblem code, UNCLEAR, INVALID_DATE or NEED_TIME
    requested: dt.datetime | None = None  # what the customer asked for, if it was a moment
    day: dt.date | None = None
    alternatives: list[dt.datetime] = field(default_factory=list)


def decide_time(
    text: str,
    dealer: Dealer,
    *,
    department: str,
    duration_min: int,
    lead_minutes: int,
    now: dt.datetime,
    is_free: Callable[[dt.datetime], bool] = lambda _start: True,
) -> TimeDecision:
    """Turn what the customer typed into a bookable start time, or a reason and alternatives."""

    def nearest(around: dt.datetime) -> list[dt.datetime]:
        return nearest_free(dealer, department, around, duration_min, now, lead_minutes, is_free)

    try:
        when = parse_when(text, now)
    except InvalidDate:
        return TimeDecision(problem=INVALID_DATE)
    if when.empty:
        return TimeDecision(problem=UNCLEAR)
    tz = dealer.timezone
    if when.date is not None and when.time is None:
        hours = hours_on(dealer, department, when.date)
        day_start = dt.datetime.combine(when.date, dt.time(0), tz)
        if not hours.is_open:
            around = dt.datetime.combine(when.date, dt.time(12), tz)
            return TimeDecision(problem=SlotProblem.CLOSED_DAY, day=when.date,
                                alternatives=nearest(around))  # fmt: skip
        low, high = _PART_HOURS.get(when.part_of_day, (0, 24))
        around = max(dt.datetime.combine(when.date, hours.opens, tz), day_start.replace(hour=low))
        same_day = [
            s
            for s in nearest_free(
                dealer, department, around, duration_min, now, lead_minutes, is_free, count=24
            )  # fmt: skip
            if s.date() == when.date and low <= s.hour < high
        ]
        if same_day:
            return TimeDecision(problem=NEED_TIME, day=when.date, alternatives=sorted(same_day)[:3])
        return TimeDecision(problem=SlotProblem.FULL, day=when.date,
                            alternatives=nearest(around))  # fmt: skip
    day = when.date
    if day is None:  # a time without a day: today if still possible, else the next day
        day = now.date()
        if dt.datetime.combine(day, when.time, tz) < now + dt.timedelta(minutes=lead_minutes):
            day += dt.timedelta(days=1)
    if when.time is None:  # only a part of the day ("in de ochtend")
        return TimeDecision(problem=UNCLEAR)
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
