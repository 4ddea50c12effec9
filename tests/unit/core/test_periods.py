"""Days, ISO weeks and months in the dealer's time zone, as half-open UTC intervals."""

import datetime as dt
import shutil

import pytest

from core.periods import (
    Period,
    PeriodError,
    conversation_keys,
    dealer_timezone,
    last_weeks,
    parse_period,
    period_keys,
    periods_between,
)
from tests.conftest import REPO


def hours(period: Period) -> float:
    start, end = period.utc_bounds("Europe/Amsterdam")
    return (end - start).total_seconds() / 3600


def test_parse_week_month_and_day():
    week = parse_period("2026-W47")
    assert (week.kind, week.start, week.end, week.key) == (
        "week", dt.date(2026, 11, 16), dt.date(2026, 11, 23), "2026-W47",
    )  # fmt: skip
    month = parse_period(" 2026-11 ")
    assert (month.start, month.end, month.key) == (
        dt.date(2026, 11, 1),
        dt.date(2026, 12, 1),
        "2026-11",
    )
    assert parse_period("2026-02").end == dt.date(2026, 3, 1)
    assert parse_period("2026-12").end == dt.date(2027, 1, 1)
    assert parse_period("2026-11-23").last_day == dt.date(2026, 11, 23)


@pytest.mark.parametrize("text", ["2026-W54", "2025-W53", "2026-W00", "2026-13", "2026-02-30"])
def test_impossible_periods_are_refused_clearly(text):
    with pytest.raises(PeriodError, match="not a real period"):
        parse_period(text)


@pytest.mark.parametrize("text", ["", "week 47", "2026W47", "26-11", "2026/11"])
def test_malformed_periods_are_refused_with_the_accepted_forms(text):
    with pytest.raises(PeriodError, match="2026-W47"):
        parse_period(text)


def test_iso_week_53_spans_the_new_year():
    week = parse_period("2026-W53")  # 2026 starts on a Thursday: it has 53 ISO weeks
    assert (week.start, week.last_day) == (dt.date(2026, 12, 28), dt.date(2027, 1, 3))
    assert week.next().key == "2027-W01" and week.previous().key == "2026-W52"
    assert parse_period("2027-W01").previous().key == "2026-W53"
    # New Year's Day 2027 belongs to the ISO year 2026, but to the calendar month 2027-01.
    assert period_keys(dt.datetime(2027, 1, 1, 12)) == ("2027-01-01", "2026-W53", "2027-01")
    assert hours(week) == 7 * 24


def test_dst_weeks_are_167_and_169_hours():
    spring = parse_period("2026-W13")  # clocks go forward on Sunday 29 March
    assert spring.last_day == dt.date(2026, 3, 29) and hours(spring) == 167
    assert spring.utc_bounds() == (dt.datetime(2026, 3, 22, 23), dt.datetime(2026, 3, 29, 22))
    autumn = parse_period("2026-W43")  # clocks go back on Sunday 25 October
    assert autumn.last_day == dt.date(2026, 10, 25) and hours(autumn) == 169
    after = parse_period("2026-W44")  # the first whole week of winter time
    assert after.utc_bounds() == (dt.datetime(2026, 10, 25, 23), dt.datetime(2026, 11, 1, 23))
    assert hours(after) == 168
    assert hours(parse_period("2026-03-29")) == 23 and hours(parse_period("2026-10-25")) == 25
    assert hours(parse_period("2026-03")) == 31 * 24 - 1


def test_keys_follow_the_local_date_around_midnight_and_dst():
    # 22:30 UTC on the Sunday of the spring change is 00:30 Monday in Amsterdam (UTC+2).
    assert period_keys(dt.datetime(2026, 3, 29, 22, 30)) == ("2026-03-30", "2026-W14", "2026-03")
    assert period_keys(dt.datetime(2026, 3, 29, 21, 59)) == ("2026-03-29", "2026-W13", "2026-03")
    # After the autumn change Amsterdam is UTC+1 again.
    assert period_keys(dt.datetime(2026, 10, 25, 22, 59)) == ("2026-10-25", "2026-W43", "2026-10")
    assert period_keys(dt.datetime(2026, 10, 25, 23, 0)) == ("2026-10-26", "2026-W44", "2026-10")
    assert period_keys(dt.datetime(2026, 10, 31, 23, 0)) == ("2026-11-01", "2026-W44", "2026-11")
    aware = dt.datetime(2026, 11, 23, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert period_keys(aware) == ("2026-11-23", "2026-W48", "2026-11")
    assert period_keys(dt.datetime(2026, 11, 22, 23, 30), "UTC")[0] == "2026-11-22"


def test_keys_sort_in_time_order():
    keys = [p.key for p in periods_between("week", dt.date(2025, 12, 1), dt.date(2027, 1, 31))]
    assert keys == sorted(keys) and "2026-W53" in keys and len(keys) == len(set(keys))
    months = [p.key for p in periods_between("month", dt.date(2025, 11, 3), dt.date(2026, 2, 1))]
    assert months == ["2025-11", "2025-12", "2026-01", "2026-02"]


def test_last_twelve_weeks_oldest_first():
    weeks = last_weeks("2026-W02", 12)
    assert [w.key for w in weeks][:2] == ["2025-W43", "2025-W44"]
    assert weeks[-1].key == "2026-W02" and len(weeks) == 12
    assert [w.key for w in last_weeks("2027-W02", 3)] == ["2026-W53", "2027-W01", "2027-W02"]
    with pytest.raises(PeriodError, match="not an ISO week"):
        last_weeks("2026-11")


def test_ranges_reject_reversed_dates_and_unknown_kinds():
    with pytest.raises(PeriodError, match="before it starts"):
        periods_between("week", dt.date(2026, 2, 1), dt.date(2026, 1, 1))
    with pytest.raises(PeriodError, match="unknown period kind"):
        periods_between("quarter", dt.date(2026, 1, 1), dt.date(2026, 2, 1))


def test_dealer_time_zone_from_the_dealer_file_or_the_default(tmp_path, monkeypatch):
    assert str(dealer_timezone("autohuis-demo")) == "Europe/Amsterdam"
    assert str(dealer_timezone("no-such-dealer")) == "Europe/Amsterdam"
    folder = tmp_path / "dealers" / "london"
    shutil.copytree(REPO / "data" / "dealers" / "autohuis-demo", folder)
    text = (folder / "dealer.yml").read_text()
    text = text.replace("id: autohuis-demo", "id: london")
    (folder / "dealer.yml").write_text(text.replace("Europe/Amsterdam", "Europe/London"))
    monkeypatch.setenv("DEALERBOT_DEALERS_DIR", str(tmp_path / "dealers"))
    assert str(dealer_timezone("london")) == "Europe/London"
    # 23:30 UTC on Sunday is still Sunday in London, but Monday in Amsterdam.
    assert conversation_keys("london", dt.datetime(2026, 11, 22, 23, 30))["week_key"] == "2026-W47"
    assert (
        conversation_keys("autohuis-demo", dt.datetime(2026, 11, 22, 23, 30))["week_key"]
        == "2026-W48"
    )
    monkeypatch.setenv("DEALERBOT_DEALERS_DIR", str(tmp_path / "none"))
    assert str(dealer_timezone("london")) == "Europe/Amsterdam"
