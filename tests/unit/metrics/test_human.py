"""The human part's formulas (metrics/human.py): first staff response, percentiles, shares."""

import datetime as dt

from metrics.human import (
    first_response_minutes,
    nearest_rank,
    response_times,
    summarize_handoffs,
)

T0 = dt.datetime(2026, 11, 23, 10, 0)


def minutes(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


def test_the_first_staff_message_after_the_handoff_counts():
    assert first_response_minutes(T0, [minutes(-5), minutes(3), minutes(1.5)]) == 1.5
    assert first_response_minutes(T0, [minutes(0)]) == 0
    assert first_response_minutes(T0, [minutes(-5)]) is None  # only before: unanswered
    assert first_response_minutes(T0, []) is None


def test_a_reply_after_the_next_handoff_answers_that_one():
    assert first_response_minutes(T0, [minutes(30)], until=minutes(20)) is None
    assert first_response_minutes(T0, [minutes(10), minutes(30)], until=minutes(20)) == 10
    times = response_times(
        [("a", minutes(0)), ("a", minutes(20)), ("b", minutes(5))],
        [("a", minutes(0)), ("a", minutes(20)), ("b", minutes(5)), ("b", minutes(60))],
        {"a": [minutes(30)], "b": [minutes(70)]},
    )
    assert times == [None, 10, None]


def test_nearest_rank():
    assert nearest_rank([], 0.5) is None
    assert nearest_rank([5], 0.9) == 5
    assert nearest_rank([4, 1, 3, 2], 0.5) == 2
    assert nearest_rank(list(range(1, 11)), 0.9) == 9
    assert nearest_rank(list(range(1, 12)), 0.9) == 10


def test_figures_of_a_week():
    figures = summarize_handoffs([2, 20, None, 1, 15], promised_min=15)
    assert (figures.handoffs, figures.human_handled, figures.unanswered) == (5, 4, 1)
    assert figures.first_response_p50_min == 2
    assert figures.first_response_p90_min == 20
    assert figures.within_promised == 3 / 4  # 15 minutes is within 15 minutes
    assert figures.promised_min == 15


def test_no_handoffs_no_figures():
    figures = summarize_handoffs([], promised_min=15)
    assert (figures.handoffs, figures.first_response_p50_min, figures.within_promised) == (
        0, None, None)  # fmt: skip
    unanswered = summarize_handoffs([None, None], promised_min=15)
    assert (unanswered.unanswered, unanswered.within_promised) == (2, None)
