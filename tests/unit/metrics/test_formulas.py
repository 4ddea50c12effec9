"""Each metric formula at its edges: no answers, one answer, all top scores, division by zero."""

import pytest

from metrics import formulas as f


def test_mec_share_none_without_potential():
    assert f.mec_share(6, 30) == f.Value(0.2, 30)
    assert f.mec_share(6, 0) == f.Value(None, 0)
    assert f.mec_share(0, None) == f.Value(None, 0)
    assert f.mec_share(6, 3).value == 2.0  # more contacts than the dealer system counted
    # a floor from the bot's own bookings is not the potential: no share of it (issue 20)
    assert f.mec_share(6, 2, estimated=True) == f.Value(None, 0)
    assert f.mec(7) == f.Value(7.0, 7)


def test_csat_edges():
    none = f.csat(n=0, score_sum=0, top2=0, offered=0)
    assert (none.share_4_5, none.mean, none.n, none.response_rate) == (None, None, 0, None)
    offered_unanswered = f.csat(n=0, score_sum=0, top2=0, offered=4)
    assert offered_unanswered.response_rate == 0.0 and offered_unanswered.share_4_5 is None
    one = f.csat(n=1, score_sum=3, top2=0, offered=1)
    assert (one.share_4_5, one.mean, one.response_rate) == (0.0, 3.0, 1.0)
    all_fives = f.csat(n=4, score_sum=20, top2=4, offered=8)
    assert (all_fives.share_4_5, all_fives.mean, all_fives.response_rate) == (1.0, 5.0, 0.5)
    mixed = f.csat(n=4, score_sum=12, top2=2, offered=4)  # 5, 4, 2, 1
    assert (mixed.share_4_5, mixed.mean) == (0.5, 3.0)


def test_ces_edges():
    assert f.ces(0, 0, 0) == f.Ces(None, None, 0)
    assert f.ces(1, 4, 0) == f.Ces(4.0, 0.0, 1)
    assert f.ces(3, 21, 3) == f.Ces(7.0, 1.0, 3)
    assert f.ces(3, 14, 2).mean == pytest.approx(14 / 3)


def test_nps_only_when_asked():
    assert f.nps(0, 0, 0) == f.Value(None, 0)
    assert f.nps(1, 1, 0) == f.Value(100.0, 1)
    assert f.nps(1, 0, 1) == f.Value(-100.0, 1)
    assert f.nps(4, 2, 1).value == 25.0  # 50% promoters - 25% detractors; 7-8 are passives
    assert f.nps(2, 0, 0).value == 0.0


def test_rates_with_and_without_conversations():
    assert f.automation_rate(0, 0, 0) == f.Value(None, 0)
    assert f.handoff_rate(0, 0) == f.Value(None, 0)
    assert f.abandonment_rate(0, 0) == f.Value(None, 0)
    assert f.automation_rate(7, 1, 0) == f.Value(6 / 7, 7)
    assert f.handoff_rate(7, 1) == f.Value(1 / 7, 7)
    assert f.abandonment_rate(7, 1) == f.Value(1 / 7, 7)
    assert f.automation_rate(1, 0, 0).value == 1.0 and f.automation_rate(1, 1, 0).value == 0.0


def test_resolved_handed_off_and_abandoned_add_up_to_the_qualifying_conversations():
    # 10 qualifying: 2 handed off, 1 abandoned -> 7 resolved by the bot; abandoned is not automated
    assert f.automation_rate(10, 2, 1) == f.Value(0.7, 10)
    assert f.resolved_by_bot(10, 2, 1) == f.Value(7.0, 10)
    shares = (f.automation_rate(10, 2, 1), f.handoff_rate(10, 2), f.abandonment_rate(10, 1))
    assert sum(v.value for v in shares) == pytest.approx(1.0)
    assert f.automation_rate(4, 0, 4).value == 0.0  # all abandoned: nothing automated


def test_fallback_rate_is_over_all_conversations():
    assert f.fallback_rate(0, 0) == f.Value(None, 0)
    assert f.fallback_rate(20, 5) == f.Value(0.25, 20)
    assert f.share(0, 0) == f.Value(None, 0) and f.share(1, 4) == f.Value(0.25, 4)
    assert f.returning_contacts(6, 1) == f.Value(1.0, 6)


def test_histogram_buckets_have_inclusive_upper_bounds():
    counts = f.histogram([0, 250, 251, 500, 30_000, 30_001, 60_000, 60_001, 900_000])
    assert counts == (2, 2, 0, 0, 0, 0, 0, 0, 1, 2, 2)
    assert len(counts) == len(f.FIRST_RESPONSE_BUCKETS_MS) + 1


def test_first_response_percentiles_and_30_seconds():
    empty = f.first_response(f.histogram([]))
    assert (empty.p50_ms, empty.p90_ms, empty.within_30s, empty.n) == (None, None, None, 0)
    one = f.first_response(f.histogram([800]))  # a single value in the (500, 1000] bucket
    assert (one.p50_ms, one.p90_ms, one.within_30s, one.n) == (750.0, 950.0, 1.0, 1)
    seven = f.first_response(f.histogram([800, 1500, 45_000, 2500, 500, 20_000, 3000]))
    assert (seven.p50_ms, seven.p90_ms) == pytest.approx((2250.0, 39_000.0))
    assert seven.within_30s == 6 / 7 and seven.n == 7
    slow = f.first_response(f.histogram([90_000, 120_000]))
    assert (slow.p50_ms, slow.within_30s) == (60_000.0, 0.0)  # open bucket: its lower bound
    assert f.first_response(f.histogram([1000, 1000]), within_30s=1).within_30s == 0.5


def test_percentile_is_exact_to_the_bucket():
    values = list(range(100, 10_001, 100))  # 100 ms .. 10 s
    p50 = f.histogram_percentile(f.histogram(values), 0.5)
    p90 = f.histogram_percentile(f.histogram(values), 0.9)
    assert 3000 < p50 <= 5000 and 5000 < p90 <= 10_000  # true values 5000 and 9000


def test_week_over_week_change():
    assert f.change(6, 2, relative=True) == 2.0  # +200%
    assert f.change(2, 4, relative=True) == -0.5
    assert f.change(5, 0, relative=True) is None  # nothing last week: no percentage
    assert f.change(None, 3, relative=True) is None and f.change(3, None, relative=True) is None
    assert f.change(0.5, 0.25, relative=False) == 0.25  # points
    assert f.change(0.5, 0.0, relative=False) == 0.5
    assert f.change(None, 0.2, relative=False) is None


def test_display_shows_na_never_zero_percent():
    assert f.display(None, "share") == "n/a"
    assert f.display(f.mec_share(3, 0).value, "share") == "n/a"
    assert f.display(0.0, "share") == "0%"
    assert f.display(0.5, "share") == "50%"
    assert f.display(2250.0, "ms") == "2.2 s"
    assert f.display(6.0) == "6"
    assert f.display(4.6667, "mean") == "4.7"


def test_every_formula_states_its_definition():
    for name in ("mec", "mec_share", "csat", "ces", "nps", "automation_rate", "handoff_rate",
                 "abandonment_rate", "first_response", "change", "returning_contacts",
                 "resolved_by_bot", "fallback_rate"):  # fmt: skip
        assert len(getattr(f, name).__doc__.strip()) > 40, name


def test_an_imported_period_is_spread_by_days():
    import datetime as dt

    november = ("2026-11", dt.date(2026, 11, 1), dt.date(2026, 11, 30), 120)
    december = ("2026-12", dt.date(2026, 12, 1), dt.date(2026, 12, 31), 62)
    week = f.spread_potential(dt.date(2026, 11, 16), dt.date(2026, 11, 22), [november])
    assert week.value == pytest.approx(28.0) and week.text == "2026-11: 120 × 7/30"
    across = f.spread_potential(dt.date(2026, 11, 30), dt.date(2026, 12, 6), [december, november])
    assert across.value == pytest.approx(4.0 + 12.0)
    assert across.text == "2026-11: 120 × 1/30 + 2026-12: 62 × 6/31"
    assert f.spread_potential(dt.date(2026, 11, 30), dt.date(2026, 12, 6), [november]) is None
    # the weeks of a month add up to the month
    weeks = [f.spread_potential(dt.date(2026, 11, d), dt.date(2026, 11, d + 6), [november]).value
             for d in (2, 9, 16, 23)]  # fmt: skip
    ends = f.spread_potential(dt.date(2026, 11, 30), dt.date(2026, 11, 30), [november]).value
    start = f.spread_potential(dt.date(2026, 11, 1), dt.date(2026, 11, 1), [november]).value
    assert sum(weeks) + ends + start == pytest.approx(120)


def test_the_bot_first_response_is_exact():
    times = [400, 900, 1200, 2500, 3100, 9000, 12_000, 31_000, 45_000, 70_000]
    exact = f.first_response_exact(times)
    assert (exact.p50_ms, exact.p90_ms, exact.within_30s, exact.n) == (3100, 45_000, 0.7, 10)
    # the histogram's p90 of the same times is off by more than 10 %; the exact one is the value
    assert abs(f.first_response(f.histogram(times)).p90_ms - 45_000) / 45_000 > 0.1
    assert f.first_response_exact([]) == f.FirstResponse(None, None, None, 0)
    assert f.nearest_rank([4, 1, 3, 2], 0.5) == 2
