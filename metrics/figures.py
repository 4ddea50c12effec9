"""The figures of the weekly summary: one registry of name, labels per language, formula and
format. The summary (``metrics.summary``), the renderers (``metrics.report.render``) and the
dashboard (``metrics.web.app``) take the list, the order, the labels and the units from here; a
new figure is one entry below (and its formula in ``metrics.formulas``).

A formula takes one week's counts (a summary row of ``metric_summaries``: ``metrics.summary``'s
``_Counts``, zeros when the week has no row) and returns ``(value, n)``: the value (None: "n/a")
and its sample size. The unit decides the format and the change from last week (see
``metrics.formulas.change``): ``count`` (change relative), ``share`` (0-1, change in percentage
points), ``mean``, ``score``, ``ms`` and ``min`` (change as a difference). The human part's
formulas take the week's ``metrics.human.HumanFigures`` instead (``source="human"``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from metrics import formulas as f

UNITS = ("count", "share", "mean", "score", "ms", "min")


@dataclass(frozen=True)
class FigureDef:
    name: str
    labels: dict[str, str]  # language -> label
    unit: str  # one of UNITS: the format and the kind of change
    formula: Callable[[Any], tuple[float | None, int]]  # week's counts -> (value, n)
    headline: bool = False  # in the headline table (else in the details)
    drill: str | None = None  # the dashboard's drill-down list (metrics.web.data.DRILLS)
    only_if_observed: bool = False  # left out of the details when n is 0 (NPS: not asked)
    # what the formula reads: "counts", the week's summary row; "human", the staff inbox's
    # figures of the week (metrics.human.HumanFigures)
    source: str = "counts"


def _count(name: str) -> Callable[[Any], tuple[float | None, int]]:
    def formula(counts: Any) -> tuple[float | None, int]:
        value = getattr(counts, name)
        return float(value), value

    return formula


def _potential(c: Any) -> tuple[float | None, int]:
    return (None if c.potential is None else float(c.potential)), c.potential or 0


def _value(result: f.Value) -> tuple[float | None, int]:
    return result.value, result.n


def _csat(c: Any) -> f.Csat:
    return f.csat(c.csat_n, c.csat_sum, c.csat_top2, c.surveys_offered)


def _ces(c: Any) -> f.Ces:
    return f.ces(c.ces_n, c.ces_sum, c.ces_top3)


def _speed(c: Any) -> f.FirstResponse:
    """Exact when the week's times were read (``_Counts.first_responses``); the histogram of the
    summary row only for a week whose conversations were purged."""
    exact = getattr(c, "first_responses", None)
    if exact:
        return f.first_response_exact(exact)
    return f.first_response(c.histogram, c.first_response_30s)


# In report order: the headline table's, then the details'.
FIGURES: tuple[FigureDef, ...] = (
    FigureDef("mec", {"nl": "MEC (klanten in gesprek)", "en": "MEC (engaged contacts)"},
              "count", _count("mec"), headline=True, drill="qualifying"),
    FigureDef("mec_potential", {"nl": "MEC-potentieel", "en": "MEC potential"},
              "count", _potential, headline=True),
    FigureDef("mec_share",
              {"nl": "MEC-aandeel (MEC / potentieel)", "en": "MEC share (MEC / potential)"},
              "share", lambda c: _value(f.mec_share(c.mec, c.potential, c.potential_estimated)),
              headline=True),
    FigureDef("csat", {"nl": "Tevredenheid (CSAT, % 4-5)", "en": "Satisfaction (CSAT, % 4-5)"},
              "share", lambda c: (_csat(c).share_4_5, _csat(c).n), headline=True,
              drill="csat"),
    FigureDef("ces_mean", {"nl": "Gemak (CES, gemiddeld 1-7)", "en": "Ease (CES, mean 1-7)"},
              "mean", lambda c: (_ces(c).mean, _ces(c).n), headline=True),
    FigureDef("appointments_booked", {"nl": "Afspraken via chat", "en": "Appointments by chat"},
              "count", _count("appointments_booked"), headline=True, drill="booked"),
    FigureDef("leads_sales", {"nl": "Verkoopleads via chat", "en": "Sales leads by chat"},
              "count", _count("leads_sales"), headline=True),
    FigureDef("leads_trade_in",
              {"nl": "Inruilaanvragen via chat", "en": "Trade-in leads by chat"},
              "count", _count("leads_trade_in"), headline=True),
    FigureDef("automation_rate",
              {"nl": "Automatisering (opgelost door de bot)",
               "en": "Automation rate (resolved by the bot)"},
              "share", lambda c: _value(f.automation_rate(c.qualifying, c.handoffs, c.abandoned)),
              headline=True, drill="resolved"),
    FigureDef("csat_mean", {"nl": "CSAT gemiddeld (1-5)", "en": "CSAT mean (1-5)"},
              "mean", lambda c: (_csat(c).mean, _csat(c).n), drill="csat"),
    FigureDef("csat_response_rate",
              {"nl": "Respons op de enquête", "en": "Survey response rate"},
              "share", lambda c: (_csat(c).response_rate, _csat(c).offered)),
    FigureDef("ces_share_5_7", {"nl": "CES 5-7", "en": "CES 5-7"},
              "share", lambda c: (_ces(c).share_5_7, _ces(c).n)),
    FigureDef("nps", {"nl": "NPS", "en": "NPS"},
              "score", lambda c: _value(f.nps(c.nps_n, c.nps_promoters, c.nps_detractors)),
              only_if_observed=True),
    FigureDef("appointments_changed", {"nl": "Afspraken verzet", "en": "Appointments changed"},
              "count", _count("appointments_changed")),
    FigureDef("appointments_cancelled",
              {"nl": "Afspraken geannuleerd", "en": "Appointments cancelled"},
              "count", _count("appointments_cancelled")),
    FigureDef("test_drives", {"nl": "Proefritten", "en": "Test drives"},
              "count", _count("test_drives")),
    FigureDef("handoffs", {"nl": "Doorverbonden met medewerker", "en": "Handed off to staff"},
              "count", _count("handoffs"), drill="handoffs"),
    FigureDef("handoff_rate", {"nl": "Doorverbonden", "en": "Handoff rate"},
              "share", lambda c: _value(f.handoff_rate(c.qualifying, c.handoffs)),
              drill="handoffs"),
    FigureDef("abandonment_rate", {"nl": "Afgebroken", "en": "Abandonment rate"},
              "share", lambda c: _value(f.abandonment_rate(c.qualifying, c.abandoned)),
              drill="abandoned"),
    FigureDef("resolved_by_bot",
              {"nl": "Gesprekken opgelost door de bot", "en": "Conversations resolved by the bot"},
              "count", lambda c: _value(f.resolved_by_bot(c.qualifying, c.handoffs, c.abandoned)),
              drill="resolved"),
    FigureDef("fallback_rate",
              {"nl": "Gesprekken met een niet-begrepen bericht",
               "en": "Conversations with a message not understood (fallback rate)"},
              "share",
              lambda c: _value(f.fallback_rate(c.conversations, c.fallback_conversations)),
              drill="fallback"),
    FigureDef("first_response_p50",
              {"nl": "Eerste antwoord bot (mediaan)", "en": "Bot's first response (median)"},
              "ms", lambda c: (_speed(c).p50_ms, _speed(c).n)),
    FigureDef("first_response_p90",
              {"nl": "Eerste antwoord bot (p90)", "en": "Bot's first response (p90)"},
              "ms", lambda c: (_speed(c).p90_ms, _speed(c).n)),
    FigureDef("answered_within_30s",
              {"nl": "Bot binnen 30 s", "en": "Bot answered within 30 s"},
              "share", lambda c: (_speed(c).within_30s, _speed(c).n)),
    FigureDef("returning_contacts", {"nl": "Terugkerende contacten", "en": "Returning contacts"},
              "count", lambda c: (float(c.returning_contacts), c.mec)),
    # The human part: the staff's answers to handoffs (metrics.human)
    FigureDef("human_handled",
              {"nl": "Door een medewerker beantwoord", "en": "Answered by staff"},
              "count", lambda h: (float(h.human_handled), h.handoffs), source="human"),
    FigureDef("human_first_response_p50",
              {"nl": "Eerste antwoord medewerker (mediaan)", "en": "First staff response (median)"},
              "min", lambda h: (h.first_response_p50_min, h.human_handled), source="human"),
    FigureDef("human_first_response_p90",
              {"nl": "Eerste antwoord medewerker (p90)", "en": "First staff response (p90)"},
              "min", lambda h: (h.first_response_p90_min, h.human_handled), source="human"),
    FigureDef("human_within_promised",
              {"nl": "Medewerker binnen de beloofde tijd", "en": "Staff within the promised time"},
              "share", lambda h: (h.within_promised, h.human_handled), source="human"),
    FigureDef("handoffs_unanswered",
              {"nl": "Doorverbonden zonder antwoord", "en": "Handoffs nobody answered"},
              "count", lambda h: (float(h.unanswered), h.handoffs), source="human"),
)  # fmt: skip
BY_NAME: dict[str, FigureDef] = {figure.name: figure for figure in FIGURES}
HEADLINE = tuple(figure.name for figure in FIGURES if figure.headline)
DETAILS = tuple(figure.name for figure in FIGURES if not figure.headline)
FIGURE_DRILLS = {figure.name: figure.drill for figure in FIGURES if figure.drill}
