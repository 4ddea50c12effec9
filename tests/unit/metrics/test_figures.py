"""The registry of summary figures (``metrics.figures``) is the one list the summary, the
renderers and the dashboard use."""

import dataclasses

from dealer.i18n import LANGUAGES
from metrics.figures import BY_NAME, DETAILS, FIGURE_DRILLS, FIGURES, HEADLINE, UNITS
from metrics.human import HumanFigures
from metrics.report.render import detail_rows, headline_rows
from metrics.summary import Figure, WeeklySummary, _Counts
from metrics.web.data import DRILLS
from tests.unit.metrics.report.test_render import make_summary


def test_every_figure_has_a_label_per_language_a_unit_and_a_known_drill_down():
    assert len(BY_NAME) == len(FIGURES) == 30
    for figure in FIGURES:
        assert set(figure.labels) == set(LANGUAGES) and all(figure.labels.values())
        assert figure.unit in UNITS
    assert set(FIGURE_DRILLS.values()) <= set(DRILLS)
    assert tuple(BY_NAME) == HEADLINE + DETAILS


def test_the_summary_has_one_field_per_figure_in_the_registry_order():
    fields = [f.name for f in dataclasses.fields(WeeklySummary) if f.type in ("Figure", Figure)]
    assert fields and sorted(fields) == sorted(BY_NAME)
    summary = make_summary()
    assert [figure.name for figure in summary.headline()] == list(BY_NAME)


def test_the_report_rows_follow_the_registry(dealer):
    summary = make_summary()
    assert [row.key for row in headline_rows(summary, "nl")] == list(HEADLINE)
    assert [row.label for row in headline_rows(summary, "en")][:2] == [
        BY_NAME["mec"].labels["en"], BY_NAME["mec_potential"].labels["en"]
    ]  # fmt: skip
    assert "nps" not in [row.key for row in detail_rows(summary, "en")]  # n = 0: not asked
    asked = make_summary(nps=Figure("nps", 20.0, 15, 10.0, 10.0, "score"))
    assert [row.key for row in detail_rows(asked, "en")] == list(DETAILS)


class Row:
    """A week's counts as a summary row has them."""

    def __init__(self, **counts):
        self.__dict__.update(counts)


def test_each_formula_reads_the_weeks_counts():
    row = Row(mec=8, potential=40, potential_estimated=False, csat_n=4, csat_sum=17, csat_top2=3,
              surveys_offered=8, ces_n=2, ces_sum=11, ces_top3=1, nps_n=0, nps_promoters=0,
              nps_detractors=0, qualifying=10, handoffs=2, abandoned=1, returning_contacts=3,
              first_response_histogram="", first_response_30s=0, leads_sales=5,
              conversations=16, fallback_conversations=4)  # fmt: skip
    counts = _Counts(row)
    values = {figure.name: figure.formula(counts) for figure in FIGURES
              if figure.source == "counts"}  # fmt: skip
    assert values["mec"] == (8.0, 8) and values["mec_potential"] == (40.0, 40)
    assert values["mec_share"] == (0.2, 40)
    assert values["csat"] == (0.75, 4) and values["csat_mean"] == (4.25, 4)
    assert values["csat_response_rate"] == (0.5, 8)
    assert values["ces_mean"] == (5.5, 2) and values["nps"] == (None, 0)
    assert values["automation_rate"] == (0.7, 10) and values["handoff_rate"] == (0.2, 10)
    assert values["abandonment_rate"] == (0.1, 10) and values["resolved_by_bot"] == (7.0, 10)
    assert values["fallback_rate"] == (0.25, 16)
    assert values["returning_contacts"] == (3.0, 8) and values["leads_sales"] == (5.0, 5)
    assert values["first_response_p50"] == (None, 0)
    # a week without a row reads like an equal week with one: potential 0, estimated
    assert BY_NAME["mec_potential"].formula(_Counts(None)) == (0.0, 0)
    assert BY_NAME["mec_share"].formula(_Counts(None)) == (None, 0)
    floor = _Counts(Row(**{**row.__dict__, "potential": 2, "potential_estimated": True}))
    assert BY_NAME["mec_share"].formula(floor) == (None, 0)


def test_the_human_part_reads_the_staff_inbox_figures():
    human = HumanFigures(handoffs=5, human_handled=4, unanswered=1, first_response_p50_min=3.0,
                         first_response_p90_min=9.5, within_promised=0.75, promised_min=15)  # fmt: skip
    values = {figure.name: figure.formula(human) for figure in FIGURES if figure.source == "human"}
    assert values == {
        "human_handled": (4.0, 5), "human_first_response_p50": (3.0, 4),
        "human_first_response_p90": (9.5, 4), "human_within_promised": (0.75, 4),
        "handoffs_unanswered": (1.0, 5),
    }  # fmt: skip


def test_a_spread_potential_says_how_it_was_spread():
    summary = make_summary(potential_spread="2026-11: 120 × 7/30")
    rows = {row.key: row.label for row in headline_rows(summary, "nl")}
    assert rows["mec_potential"] == "MEC-potentieel (verdeeld naar dagen: 2026-11: 120 × 7/30)"
    floor = make_summary(potential_estimated=True, potential_spread=None)
    assert "minstens" in {row.key: row.label for row in headline_rows(floor, "nl")}["mec_potential"]
