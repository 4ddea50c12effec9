import datetime as dt

from dealer.booking import INVALID_DATE, NEED_TIME, UNCLEAR, decide_time
from dealer.hours import SlotProblem


def decide(dealer, now, text, is_free=lambda _s: True):
    return decide_time(text, dealer, department="workshop", duration_min=60, lead_minutes=120,
                       now=now, is_free=is_free)  # fmt: skip


def test_a_free_moment_is_accepted(dealer, now):
    decision = decide(dealer, now, "morgen om 10 uur")
    assert decision.start == dt.datetime(2026, 11, 24, 10, 0, tzinfo=dealer.timezone)


def test_times_snap_to_the_slot_grid(dealer, now):
    assert decide(dealer, now, "morgen om 10:10").start.minute == 0


def test_a_full_moment_offers_three_nearest(dealer, now):
    wanted = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dealer.timezone)
    decision = decide(dealer, now, "morgen om 10 uur", is_free=lambda s: s != wanted)
    assert decision.problem == SlotProblem.FULL
    assert len(decision.alternatives) == 3 and wanted not in decision.alternatives
    assert decision.alternatives == sorted(decision.alternatives)


def test_problems(dealer, now):
    assert decide(dealer, now, "30 februari").problem == INVALID_DATE
    assert decide(dealer, now, "asdf").problem == UNCLEAR
    assert decide(dealer, now, "").problem == UNCLEAR
    too_far = decide(dealer, now, "1/11 om 10 uur")  # 1 Nov has passed: 2027, beyond the horizon
    assert too_far.problem == SlotProblem.TOO_FAR and too_far.alternatives
    past = decide(dealer, now, "vandaag om 8 uur")
    assert past.problem == SlotProblem.PAST and past.alternatives
    closed = decide(dealer, now, "zondag om 10 uur")
    assert closed.problem == SlotProblem.CLOSED_DAY and closed.alternatives
    christmas = decide(dealer, now, "25/12 om 10:00")
    assert christmas.problem == SlotProblem.CLOSED_DAY


def test_a_day_without_time_offers_times_that_day(dealer, now):
    decision = decide(dealer, now, "woensdag")
    assert decision.problem == NEED_TIME
    assert {s.date() for s in decision.alternatives} == {dt.date(2026, 11, 25)}
    afternoon = decide(dealer, now, "woensdagmiddag")
    assert all(s.hour >= 12 for s in afternoon.alternatives)
