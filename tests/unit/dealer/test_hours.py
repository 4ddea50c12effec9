import datetime as dt

from dealer.hours import (
    SlotProblem,
    check_moment,
    hours_on,
    is_open_at,
    nearest_free,
    next_opening,
    slot_starts,
)


def at(dealer, *args):
    return dt.datetime(*args, tzinfo=dealer.timezone)


def test_hours_per_department_and_closed_days(dealer):
    saturday = dt.date(2026, 11, 28)
    assert hours_on(dealer, "showroom", saturday).opens == dt.time(10)
    assert not hours_on(dealer, "workshop", saturday).is_open
    christmas = hours_on(dealer, "showroom", dt.date(2026, 12, 25))
    assert not christmas.is_open and christmas.holiday["nl"] == "Eerste Kerstdag"


def test_open_and_next_opening(dealer):
    assert is_open_at(dealer, "showroom", at(dealer, 2026, 11, 23, 9, 0))
    assert not is_open_at(dealer, "showroom", at(dealer, 2026, 11, 23, 18, 0))
    assert next_opening(dealer, "showroom", at(dealer, 2026, 11, 28, 18, 0)) == at(
        dealer, 2026, 11, 30, 9, 0
    )
    # Christmas Eve to Boxing Day closed, Sunday closed: next opening is Monday 28 December
    assert next_opening(dealer, "workshop", at(dealer, 2026, 12, 23, 18, 0)) == at(
        dealer, 2026, 12, 28, 7, 30
    )


def test_check_moment(dealer, now):
    check = lambda start, minutes=60: check_moment(dealer, "workshop", start, minutes, now, 120)  # noqa: E731
    assert check(at(dealer, 2026, 11, 24, 10, 0)) is None
    assert check(at(dealer, 2026, 11, 20, 10, 0)) == SlotProblem.PAST
    assert check(at(dealer, 2026, 11, 23, 10, 0)) == SlotProblem.TOO_SOON
    assert check(at(dealer, 2026, 11, 29, 10, 0)) == SlotProblem.CLOSED_DAY  # Sunday
    assert check(at(dealer, 2026, 12, 25, 10, 0)) == SlotProblem.CLOSED_DAY
    assert check(at(dealer, 2026, 11, 24, 6, 0)) == SlotProblem.OUTSIDE_HOURS
    assert check(at(dealer, 2026, 11, 24, 16, 30), 60) == SlotProblem.OUTSIDE_HOURS  # runs late
    assert check(at(dealer, 2027, 6, 1, 10, 0)) == SlotProblem.TOO_FAR


def test_nearest_free_skips_full_and_closed(dealer, now):
    friday_9 = at(dealer, 2026, 11, 27, 9, 0)
    taken = {friday_9, at(dealer, 2026, 11, 27, 9, 30)}
    free = nearest_free(dealer, "workshop", friday_9, 60, now, 120, lambda s: s not in taken)
    assert len(free) == 3 and friday_9 not in free
    assert all(s.weekday() < 5 for s in free)


def test_long_services_take_several_slots(dealer):
    start = at(dealer, 2026, 11, 24, 9, 0)
    assert slot_starts(dealer, start, 120) == [
        start + dt.timedelta(minutes=30 * i) for i in range(4)
    ]
    assert dealer.capacity(dt.date(2026, 11, 27)) == 1  # Friday override
