"""The metric formulas: pure functions over the counts kept in the summary tables.

Every function states its definition in its docstring (``docs/metrics.md`` repeats them). A
figure comes with its sample size ``n``; when the denominator is 0 the value is ``None``, which a
report shows as "n/a", never as 0%.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.engagement import FIRST_RESPONSE_BUCKETS_MS, bucket_index

WITHIN_MS = 30_000  # customers expect an answer within 30 seconds
CSAT_SCALE, CES_SCALE, NPS_SCALE = (1, 5), (1, 7), (0, 10)


@dataclass(frozen=True)
class Value:
    """A figure and its sample size: ``value`` is None when ``n`` (the denominator) is 0."""

    value: float | None
    n: int


@dataclass(frozen=True)
class Csat:
    share_4_5: float | None  # 0..1
    mean: float | None  # 1..5
    n: int  # CSAT answers
    offered: int  # surveys offered
    response_rate: float | None  # 0..1


@dataclass(frozen=True)
class Ces:
    mean: float | None  # 1..7
    share_5_7: float | None  # 0..1
    n: int


@dataclass(frozen=True)
class FirstResponse:
    p50_ms: float | None
    p90_ms: float | None
    within_30s: float | None  # share 0..1
    n: int


def _ratio(numerator: float, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def mec(distinct_contacts: int) -> Value:
    """MEC: the number of distinct contacts with at least one qualifying conversation.

    The distinct count is taken in the database per dealer and period (it cannot be summed over
    days). ``n`` is the same number.
    """
    return Value(float(distinct_contacts), distinct_contacts)


def mec_share(mec_count: int, potential: int | None, estimated: bool = False) -> Value:
    """MEC share = MEC / MEC potential (service appointments + sales leads, imported from the
    dealer system).

    None when the potential is 0 or unknown, and when it is only the estimate from the bot's own
    appointments and leads (``estimated``): that is a floor of the potential, not the potential,
    and a share of it could read 400%. It can exceed 1 when more contacts chatted than the dealer
    system recorded appointments and leads. ``n`` is the potential (0 when estimated).
    """
    if estimated:
        return Value(None, 0)
    return Value(_ratio(mec_count, potential or 0), potential or 0)


def csat(n: int, score_sum: int, top2: int, offered: int) -> Csat:
    """CSAT (1-5): the share of 4 and 5 answers among all CSAT answers.

    Also the mean score, ``n`` (CSAT answers) and the response rate = CSAT answers / surveys
    offered. ``top2`` is the number of 4 and 5 answers, ``score_sum`` the sum of all scores.
    """
    return Csat(
        share_4_5=_ratio(top2, n),
        mean=_ratio(score_sum, n),
        n=n,
        offered=offered,
        response_rate=_ratio(n, offered),
    )


def ces(n: int, score_sum: int, top3: int) -> Ces:
    """CES (1-7, "the dealer made it easy for me"): the mean, and the share answering 5, 6 or 7.

    ``top3`` is the number of 5-7 answers, ``score_sum`` the sum of all scores.
    """
    return Ces(mean=_ratio(score_sum, n), share_5_7=_ratio(top3, n), n=n)


def nps(n: int, promoters: int, detractors: int) -> Value:
    """NPS (0-10): % answering 9-10 minus % answering 0-6, from -100 to 100.

    Only where the survey asked for it: None when there are no NPS answers.
    """
    if not n:
        return Value(None, 0)
    return Value(100.0 * (promoters - detractors) / n, n)


def automation_rate(qualifying: int, handoffs: int, abandoned: int) -> Value:
    """Automation rate = resolved by the bot / qualifying conversations.

    Resolved by the bot: a qualifying conversation that reached a task outcome other than a
    handoff (booked, changed, cancelled, test drive, lead) or a self-served answer
    (``self_served``). Handed off (``handed_off``) and abandoned (``abandoned``) conversations
    are not automated. Resolved + handed off + abandoned = qualifying (an ``out_of_scope``
    conversation never qualifies), so the three shares add up to 100%.
    """
    return Value(_ratio(qualifying - handoffs - abandoned, qualifying), qualifying)


def resolved_by_bot(qualifying: int, handoffs: int, abandoned: int) -> Value:
    """Resolved by the bot: the count of qualifying conversations neither handed off nor
    abandoned (see :func:`automation_rate`, its share); ``n`` is the qualifying conversations."""
    return Value(float(qualifying - handoffs - abandoned), qualifying)


def fallback_rate(conversations: int, fallback_conversations: int) -> Value:
    """Fallback rate = conversations with at least one customer message the bot did not
    understand (NLU's ``nlu_fallback``) / conversations.

    Over all non-test conversations, qualifying or not: a conversation of fallbacks only never
    qualifies, and it is the one the rate must see. ``n`` is the conversations.
    """
    return Value(_ratio(fallback_conversations, conversations), conversations)


def handoff_rate(qualifying: int, handoffs: int) -> Value:
    """Handoff rate = qualifying conversations handed off to a person / qualifying ones."""
    return Value(_ratio(handoffs, qualifying), qualifying)


def abandonment_rate(qualifying: int, abandoned: int) -> Value:
    """Abandonment rate = qualifying conversations with outcome ``abandoned`` / qualifying ones.

    Abandoned: a task (booking, test drive, lead ...) was started and not finished and no
    question was answered (``core.engagement.outcome_of``: an answered question is served).
    """
    return Value(_ratio(abandoned, qualifying), qualifying)


@dataclass(frozen=True)
class Spread:
    """A potential spread from imported figures of other periods: the value and how it was made
    (one part per import: its period key, its total, its days here and its length in days)."""

    value: float
    parts: tuple[tuple[str, int, int, int], ...]

    @property
    def text(self) -> str:
        """E.g. ``2026-11: 120 × 7/30`` (several parts joined with ``+``)."""
        return " + ".join(
            f"{key}: {total}" if here == length else f"{key}: {total} × {here}/{length}"
            for key, total, here, length in self.parts
        )


def spread_potential(
    first: dt.date, last: dt.date, imports: Iterable[tuple[str, dt.date, dt.date, int]]
) -> Spread | None:
    """MEC potential of the days ``first`` .. ``last`` (inclusive) from imported potentials of
    other periods, spread by days: each import ``(key, first day, last day, total)`` adds
    ``total × (its days within first..last) / (its days)``.

    An imported month is spread over its weeks (a week of 7 days in a 30-day month of 120 gets
    28), and imported weeks add up into a month (a week across two months adds its days in each).
    None unless the imports cover every day of ``first`` .. ``last``: a part of a period is no
    potential.
    """
    covered: set[dt.date] = set()
    parts = []
    value = 0.0
    for key, start, end, total in sorted(imports, key=lambda item: item[1]):
        low, high = max(start, first), min(end, last)
        if low > high:
            continue
        here, length = (high - low).days + 1, (end - start).days + 1
        covered.update(low + dt.timedelta(days=i) for i in range(here))
        value += total * here / length
        parts.append((key, total, here, length))
    if len(covered) != (last - first).days + 1:
        return None
    return Spread(value, tuple(parts))


def returning_contacts(mec_count: int, returning: int) -> Value:
    """Returning contacts: engaged contacts this period who had a qualifying conversation before.

    ``value`` is the count; ``share_of`` gives the share among MEC.
    """
    return Value(float(returning), mec_count)


def share(part: int, whole: int) -> Value:
    """``part / whole`` with ``n = whole``; None when ``whole`` is 0."""
    return Value(_ratio(part, whole), whole)


def histogram(values_ms: Iterable[int]) -> tuple[int, ...]:
    """Counts per first-response bucket (see ``FIRST_RESPONSE_BUCKETS_MS``; last one open)."""
    counts = [0] * (len(FIRST_RESPONSE_BUCKETS_MS) + 1)
    for value in values_ms:
        counts[bucket_index(value)] += 1
    return tuple(counts)


def histogram_percentile(counts: Sequence[int], q: float) -> float | None:
    """The ``q`` quantile (0..1) from bucket counts, interpolated linearly inside its bucket.

    The open last bucket (> 60 s) reports its lower bound, 60 s. None without values.
    """
    total = sum(counts)
    if not total:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(counts):
        if count and seen + count >= rank:
            low = FIRST_RESPONSE_BUCKETS_MS[i - 1] if i else 0
            if i == len(FIRST_RESPONSE_BUCKETS_MS):
                return float(low)
            high = FIRST_RESPONSE_BUCKETS_MS[i]
            return low + (high - low) * (rank - seen) / count
        seen += count
    return float(FIRST_RESPONSE_BUCKETS_MS[-1])


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The ``q`` percentile (0 < q <= 1) by the nearest-rank method: the smallest value with at
    least ``q`` of the values at or below it (the ceil(q * n)-th smallest); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def first_response_exact(values_ms: Sequence[int]) -> FirstResponse:
    """Bot first-response time from the exact stored times: p50 and p90 (ms) by nearest rank
    (the value itself, no error), and the share answered within 30 seconds (inclusive).

    Measured from the customer's first message to the bot's first reply (never a person's
    message: that is the human part, ``metrics.human``), over qualifying conversations with a
    reply. The weekly summary reads these times from the week's conversations; the histogram
    (:func:`first_response`) is left for weeks whose conversations the retention purge removed.
    """
    n = len(values_ms)
    return FirstResponse(
        p50_ms=nearest_rank(values_ms, 0.5),
        p90_ms=nearest_rank(values_ms, 0.9),
        within_30s=_ratio(sum(v <= WITHIN_MS for v in values_ms), n),
        n=n,
    )


def first_response(counts: Sequence[int], within_30s: int | None = None) -> FirstResponse:
    """Bot first-response time: p50 and p90 (ms) and the share answered within 30 seconds.

    Measured from the customer's first message to the bot's first reply, over qualifying
    conversations with a reply. The percentiles come from the stored histogram (linear inside
    a bucket, so exact to the bucket width); the 30 s share is exact (30 s is a bucket bound).
    """
    n = sum(counts)
    if within_30s is None:
        within_30s = sum(counts[: FIRST_RESPONSE_BUCKETS_MS.index(WITHIN_MS) + 1])
    return FirstResponse(
        p50_ms=histogram_percentile(counts, 0.5),
        p90_ms=histogram_percentile(counts, 0.9),
        within_30s=_ratio(within_30s, n),
        n=n,
    )


def change(current: float | None, previous: float | None, *, relative: bool) -> float | None:
    """Week-over-week change of a headline figure.

    ``relative=True`` (counts such as MEC): (current - previous) / previous, e.g. 0.25 = +25%;
    None when the previous value is 0 or unknown. ``relative=False`` (shares, means, scores,
    times): current - previous, e.g. +0.05 = 5 percentage points. None when either is unknown.
    """
    if current is None or previous is None:
        return None
    if relative:
        return (current - previous) / previous if previous else None
    return current - previous


def display(value: float | None, unit: str = "count") -> str:
    """A figure as text: "n/a" for None; shares as percentages; times in seconds (unit ms) or
    minutes (unit min)."""
    if value is None:
        return "n/a"
    if unit == "share":
        return f"{value * 100:.0f}%"
    if unit == "ms":
        return f"{value / 1000:.1f} s"
    if unit == "min":
        return f"{value:.1f} min"
    if unit == "count":
        return f"{value:.0f}"
    return f"{value:.1f}"
