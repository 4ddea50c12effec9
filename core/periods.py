"""Reporting periods: days, ISO weeks and calendar months in the dealer's time zone.

A period is a half-open range of local days ``[start, end)``. Its key is what the store keeps on
every conversation (``day_key``, ``week_key``, ``month_key``) so the aggregation can GROUP BY it:
``2026-11-23`` (day), ``2026-W48`` (ISO week), ``2026-11`` (month). Keys of one kind sort in time
order as plain strings, so a range of periods is ``key >= first AND key <= last``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dealer.config import DealerConfigError, all_dealers

DEFAULT_TIMEZONE = "Europe/Amsterdam"
KINDS = ("day", "week", "month")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


class PeriodError(ValueError):
    """A period text that is not ``YYYY-Www``, ``YYYY-MM`` or ``YYYY-MM-DD``, or not a real one."""


@dataclass(frozen=True, order=True)
class Period:
    """One day, ISO week or month: local days ``[start, end)``."""

    kind: str
    start: dt.date
    end: dt.date  # exclusive

    @property
    def key(self) -> str:
        return period_key(self.kind, self.start)

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    def utc_bounds(self, tz: ZoneInfo | str = DEFAULT_TIMEZONE) -> tuple[dt.datetime, dt.datetime]:
        """The period as naive UTC ``[start, end)``, as stored; a DST week is 167 or 169 hours."""
        zone = ZoneInfo(tz) if isinstance(tz, str) else tz
        return _utc_midnight(self.start, zone), _utc_midnight(self.end, zone)

    def previous(self) -> Period:
        return period_of(self.kind, self.start - dt.timedelta(days=1))

    def next(self) -> Period:
        return period_of(self.kind, self.end)

    def __str__(self) -> str:
        return self.key


def _utc_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    local = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def day_key(day: dt.date) -> str:
    return day.isoformat()


def week_key(day: dt.date) -> str:
    """ISO week key, e.g. ``2026-W53`` for 31 December 2026 (ISO year, not calendar year)."""
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def month_key(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def period_key(kind: str, day: dt.date) -> str:
    """The key of the ``kind`` period that contains the local ``day``."""
    if kind == "day":
        return day_key(day)
    if kind == "week":
        return week_key(day)
    if kind == "month":
        return month_key(day)
    raise PeriodError(f"unknown period kind {kind!r}; use one of {', '.join(KINDS)}")


def period_of(kind: str, day: dt.date) -> Period:
    """The ``kind`` period containing the local ``day``."""
    if kind == "day":
        return Period("day", day, day + dt.timedelta(days=1))
    if kind == "week":
        monday = day - dt.timedelta(days=day.weekday())
        return Period("week", monday, monday + dt.timedelta(days=7))
    if kind == "month":
        first = day.replace(day=1)
        following = (first + dt.timedelta(days=32)).replace(day=1)
        return Period("month", first, following)
    raise PeriodError(f"unknown period kind {kind!r}; use one of {', '.join(KINDS)}")


def parse_period(text: str) -> Period:
    """``2026-W47`` (ISO week), ``2026-11`` (month) or ``2026-11-23`` (day)."""
    value = (text or "").strip()
    try:
        if match := _WEEK.match(value):
            year, week = int(match[1]), int(match[2])
            return period_of("week", dt.date.fromisocalendar(year, week, 1))
        if match := _MONTH.match(value):
            return period_of("month", dt.date(int(match[1]), int(match[2]), 1))
        if match := _DAY.match(value):
            return period_of("day", dt.date(int(match[1]), int(match[2]), int(match[3])))
    except ValueError as exc:  # e.g. 2025-W53 (2025 has 52 ISO weeks) or 2026-13
        raise PeriodError(f"{value!r} is not a real period: {exc}") from None
    raise PeriodError(
        f"{value!r} is not a period: use an ISO week like 2026-W47, a month like 2026-11 "
        "or a day like 2026-11-23"
    )


def iso_week(week: Period | str) -> Period:
    """``week`` as the week ``Period`` the summary, the export and the jobs pass along: a
    ``Period`` as it is, a text (the CLI's ``--week``, a URL's ``?week=``) parsed here once.
    Anything else than an ISO week raises ``PeriodError``."""
    period = parse_period(week) if isinstance(week, str) else week
    if period.kind != "week":
        raise PeriodError(f"{period.key!r} is not an ISO week such as 2026-W47")
    return period


def periods_between(kind: str, first: dt.date, last: dt.date) -> list[Period]:
    """Every ``kind`` period that touches the local days ``first`` .. ``last`` (inclusive)."""
    if last < first:
        raise PeriodError(f"the range ends ({last}) before it starts ({first})")
    periods, period = [], period_of(kind, first)
    while period.start <= last:
        periods.append(period)
        period = period.next()
    return periods


def last_weeks(week: Period | str, count: int = 12) -> list[Period]:
    """``count`` ISO weeks ending with ``week``, oldest first."""
    period = parse_period(week) if isinstance(week, str) else week
    if period.kind != "week":
        raise PeriodError(f"{period.key} is not an ISO week")
    weeks = [period]
    while len(weeks) < count:
        weeks.append(weeks[-1].previous())
    return weeks[::-1]


def local_day(moment_utc: dt.datetime, tz: ZoneInfo | str = DEFAULT_TIMEZONE) -> dt.date:
    """The local date of a stored (naive UTC) or aware moment."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    aware = moment_utc if moment_utc.tzinfo else moment_utc.replace(tzinfo=dt.timezone.utc)
    return aware.astimezone(zone).date()


def period_keys(
    moment_utc: dt.datetime, tz: ZoneInfo | str = DEFAULT_TIMEZONE
) -> tuple[str, str, str]:
    """``(day_key, week_key, month_key)`` of a moment, in the time zone ``tz``."""
    day = local_day(moment_utc, tz)
    return day_key(day), week_key(day), month_key(day)


def dealer_timezone(dealer_id: str | None) -> ZoneInfo:
    """The dealer's time zone from its dealer file; Europe/Amsterdam when there is none."""
    try:
        dealer = all_dealers().get(dealer_id or "")
    except (DealerConfigError, OSError):  # no dealer files here (tools, benchmarks)
        dealer = None
    return dealer.timezone if dealer is not None else ZoneInfo(DEFAULT_TIMEZONE)


def dealer_timezones() -> list[ZoneInfo]:
    """The time zones a dealer's days can be in: each dealer file's, and Europe/Amsterdam (that
    of a dealer id without a file, ``dealer_timezone``)."""
    try:
        zones = {str(dealer.timezone) for dealer in all_dealers().values()}
    except (DealerConfigError, OSError):
        zones = set()
    return [ZoneInfo(name) for name in sorted(zones | {DEFAULT_TIMEZONE})]


def local_days(moment_utc: dt.datetime) -> tuple[dt.date, dt.date]:
    """The earliest and the latest local date of a moment in the dealers' time zones: a job for
    every dealer (the rollup) covers the days from the first to the second."""
    days = [local_day(moment_utc, zone) for zone in dealer_timezones()]
    return min(days), max(days)


def last_closed_week(now: dt.datetime, tz: ZoneInfo | str) -> Period:
    """The ISO week before the one ``now`` (aware) falls in, in the dealer's time zone ``tz``:
    the week of the Monday summary (the dashboard opens on the current week)."""
    return period_of("week", local_day(now, tz)).previous()


def conversation_keys(dealer_id: str, started_at: dt.datetime) -> dict[str, str]:
    """The period-key columns of a conversation that started at ``started_at`` (naive UTC)."""
    day, week, month = period_keys(started_at, dealer_timezone(dealer_id))
    return {"day_key": day, "week_key": week, "month_key": month}
