"""Week titles and dates in the local style, one function each for the dashboard and e-mail."""

import datetime as dt
from zoneinfo import ZoneInfo

from metrics.report.dates import local_date, local_datetime, week_span, week_title

AMS = ZoneInfo("Europe/Amsterdam")


def test_the_week_title_names_the_dealer_and_the_days():
    assert week_title("Autohuis De Vries", "2026-W47", "nl") == (
        "Autohuis De Vries · week 47, 16–22 november"
    )
    assert week_title("Autohuis De Vries", "2026-W47", "en") == (
        "Autohuis De Vries · week 47, 16–22 November"
    )


def test_a_week_across_months_and_years():
    assert week_span(dt.date(2026, 11, 30), dt.date(2026, 12, 6), "nl") == (
        "30 november – 6 december"
    )
    assert week_title("X", "2026-W53", "en") == "X · week 53, 28 December 2026 – 3 January 2027"
    assert week_title("X", "2027-W01", "nl") == "X · week 1, 4–10 januari"


def test_dates_and_times_in_the_dealers_zone_and_language():
    stored = dt.datetime(2026, 11, 18, 11, 5)  # naive UTC, as stored: 12:05 in Amsterdam
    assert local_datetime(stored, AMS, "en") == "18 Nov 2026 12:05"
    assert local_datetime(stored, AMS, "nl", "short") == "wo 18 nov 12:05"
    assert local_datetime(stored, AMS, "en", "short") == "Wed 18 Nov 12:05"
    assert local_datetime(stored, AMS, "nl", "time") == "12:05:00"
    assert local_datetime(stored, AMS, "nl", "day_time") == "18 nov 12:05"  # the inbox's
    assert local_date(dt.date(2026, 11, 18), "nl", "weekday") == "woensdag 18 november"
    assert local_date(dt.date(2026, 11, 18), "xx") == "18 november"  # unknown: the default
