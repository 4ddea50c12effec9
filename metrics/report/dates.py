"""Dates, times and week titles in the dealer's language, in the local style (Babel).

One place for the dashboard (``metrics.web``) and the weekly e-mail (``metrics.report.render``):
``week_title`` names a week ("Autohuis De Vries · week 47, 16–22 november"), ``local_date`` and
``local_datetime`` show a day or a moment in the dealer's time zone.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

from core.periods import Period, iso_week
from dealer.i18n import BABEL_LOCALES, lang_or_default

# Babel patterns per style: a day ("16 november"), a moment in a table ("ma 16 nov. 09:00"),
# a moment with its year ("16 nov. 2026 09:00"), a time of day ("09:00:05").
DATE_PATTERNS = {
    "day": "d MMMM",
    "day_year": "d MMMM y",
    "weekday": "EEEE d MMMM",
    "short": "EEE d MMM HH:mm",
    "full": "d MMM y HH:mm",
    "full_seconds": "d MMM y HH:mm:ss",
    "time": "HH:mm:ss",
    "clock": "HH:mm",
    "day_time": "d MMM HH:mm",
}


def _locale(lang: str | None) -> str:
    return BABEL_LOCALES[lang_or_default(lang)]


def _aware(moment: dt.datetime) -> dt.datetime:
    """A stored naive-UTC time as aware UTC (an aware time stays as it is)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def local_date(day: dt.date, lang: str | None, style: str = "day") -> str:
    """A day in the local style: ``16 november`` / ``16 November`` (``style`` in
    ``DATE_PATTERNS``: day, day_year, weekday)."""
    return format_date(day, DATE_PATTERNS[style], locale=_locale(lang))


def local_datetime(moment: dt.datetime, tz: ZoneInfo, lang: str | None,
                   style: str = "full") -> str:  # fmt: skip
    """A stored (naive UTC or aware) moment in the dealer's time zone ``tz``, in the local
    style: ``16 nov. 2026 09:00`` / ``16 Nov 2026 09:00`` (``style``: full, short, time)."""
    return format_datetime(_aware(moment), DATE_PATTERNS[style], tzinfo=tz, locale=_locale(lang))


def week_span(start: dt.date, last: dt.date, lang: str | None) -> str:
    """The days of a week, end inclusive: ``16–22 november``, across months ``30 november –
    6 december``, across years with both years."""
    if start.year != last.year:
        return f"{local_date(start, lang, 'day_year')} – {local_date(last, lang, 'day_year')}"
    if start.month != last.month:
        return f"{local_date(start, lang)} – {local_date(last, lang)}"
    return f"{start.day}–{local_date(last, lang)}"


def week_title(dealer_name: str, week: Period | str, lang: str | None) -> str:
    """``Autohuis De Vries · week 47, 16–22 november`` (Dutch), ``… · week 47, 16–22 November``:
    the title of the week page and the weekly e-mail, never the folder id and ``2026-W47``."""
    period = iso_week(week)
    number = period.key.split("-W")[1].lstrip("0")
    return f"{dealer_name} · week {number}, {week_span(period.start, period.last_day, lang)}"
