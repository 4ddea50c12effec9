"""MEC potential import: a good file, bad lines (nothing imported), re-import replaces."""

import pytest
from sqlalchemy import select

from cli.main import main
from core.store.models import MecPotential, MetricSummary
from metrics.potential import (
    PotentialImportError,
    import_potential,
    read_potential_csv,
    validate_rows,
)

GOOD = """dealer,period,service_appointments,sales_leads
autohuis-demo,2026-W47,20,10
autohuis-demo,2026-11,85,40

autohuis-demo,2026-W53,3,0
"""


def stored(factory):
    with factory() as session:
        return {
            (p.dealer_id, p.period_kind, p.period_key): (
                p.service_appointments,
                p.sales_leads,
                p.source,
            )
            for p in session.scalars(select(MecPotential))
        }


def test_good_file_is_imported_and_summaries_rebuilt(store, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(GOOD, encoding="utf-8")
    rows = read_potential_csv(path, known_dealers={"autohuis-demo"})
    assert [(r.period.kind, r.period.key) for r in rows] == [
        ("week", "2026-W47"), ("month", "2026-11"), ("week", "2026-W53"),
    ]  # fmt: skip
    import_potential(store, rows, source="export.csv")
    assert stored(store) == {
        ("autohuis-demo", "week", "2026-W47"): (20, 10, "export.csv"),
        ("autohuis-demo", "month", "2026-11"): (85, 40, "export.csv"),
        ("autohuis-demo", "week", "2026-W53"): (3, 0, "export.csv"),
    }
    with store() as session:
        potentials = {(r.period_key, r.potential, r.potential_estimated)
                      for r in session.scalars(select(MetricSummary))}  # fmt: skip
    # November's 125 is spread by days over its whole weeks without their own import (7/30 each)
    assert potentials == {("2026-W47", 30, False), ("2026-11", 125, False), ("2026-W53", 3, False),
                          ("2026-W45", 29, False), ("2026-W46", 29, False), ("2026-W48", 29, False)}  # fmt: skip


def test_re_import_replaces_the_earlier_numbers(store):
    first = [{"dealer": "d1", "period": "2026-W47", "service_appointments": 20, "sales_leads": 10},
             {"dealer": "d2", "period": "2026-W47", "service_appointments": 5, "sales_leads": 5}]  # fmt: skip
    import_potential(store, first, rebuild=False)
    import_potential(store, [{"dealer": "d1", "period": "2026-W47", "service_appointments": "22",
                              "sales_leads": "11"}], source="fix", rebuild=False)  # fmt: skip
    assert stored(store) == {
        ("d1", "week", "2026-W47"): (22, 11, "fix"),
        ("d2", "week", "2026-W47"): (5, 5, "api"),
    }


def test_bad_lines_are_all_reported_and_nothing_is_imported(store, tmp_path):
    import_potential(store, [{"dealer": "autohuis-demo", "period": "2026-W46",
                              "service_appointments": 1, "sales_leads": 1}], rebuild=False)  # fmt: skip
    path = tmp_path / "bad.csv"
    path.write_text(
        "dealer;period;service_appointments;sales_leads\n"
        "autohuis-demo;2026-W47;20;10\n"
        "autohuis-demo;2026-W54;1;1\n"
        "unknown;2026-11;1;1\n"
        "autohuis-demo;2026-11-23;1;1\n"
        "autohuis-demo;2026-10;-4;twelve\n"
        "autohuis-demo;2026-W47;3;3\n"
        "autohuis-demo;;3;3\n"
        "autohuis-demo;2026-09;1;1;9\n",
        encoding="utf-8",
    )
    with pytest.raises(PotentialImportError) as caught:
        import_potential(store, read_potential_csv(path, known_dealers={"autohuis-demo"}))
    errors = caught.value.errors
    assert [e.split(":")[0] for e in errors] == [
        "line 3", "line 4", "line 5", "line 6", "line 6", "line 7", "line 8", "line 9",
    ]  # fmt: skip
    text = str(caught.value)
    assert "2026-W54" in text and "unknown dealer 'unknown'" in text
    assert "must be a week (2026-W47) or a month" in text
    assert "service_appointments must be between 0" in text and "'twelve'" in text
    assert "appears twice (also line 2)" in text and "missing period" in text
    assert "more fields" in text
    assert stored(store) == {("autohuis-demo", "week", "2026-W46"): (1, 1, "api")}


def test_header_and_empty_file_errors(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("dealer,week,appointments,leads\nd,2026-W47,1,1\n", encoding="utf-8")
    with pytest.raises(PotentialImportError, match="line 1: the header must be"):
        read_potential_csv(path)
    path.write_text("", encoding="utf-8")
    with pytest.raises(PotentialImportError, match="line 1: empty file"):
        read_potential_csv(path)
    path.write_text("\ufeffDealer,Period,Service_Appointments,Sales_Leads\nd,2026-W47,1,2\n",
                    encoding="utf-8")  # fmt: skip
    (row,) = read_potential_csv(path)  # a BOM and capitals from a spreadsheet are fine
    assert (row.dealer_id, row.service_appointments, row.sales_leads) == ("d", 1, 2)


def test_api_rows_are_numbered(store):
    with pytest.raises(PotentialImportError, match="row 2: sales_leads must be a whole number"):
        validate_rows([{"dealer": "d", "period": "2026-W47", "service_appointments": 1,
                        "sales_leads": 1},
                       {"dealer": "d", "period": "2026-W48", "service_appointments": 1,
                        "sales_leads": 1.5}])  # fmt: skip
    assert import_potential(store, []) == []


def test_cli_import_and_backfill(tmp_path, capsys):
    from core.store.session import default_session_factory

    path = tmp_path / "export.csv"
    path.write_text(GOOD, encoding="utf-8")
    assert main(["metrics", "potential", "import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "imported the MEC potential of 3 dealer periods (2026-11, 2026-W47, 2026-W53)" in out
    assert stored(default_session_factory())[("autohuis-demo", "month", "2026-11")] == (
        85, 40, "export.csv",
    )  # fmt: skip
    path.write_text("dealer,period,service_appointments,sales_leads\nnobody,2026-W47,1,1\n")
    assert main(["metrics", "potential", "import", str(path)]) == 1
    assert "line 2: unknown dealer 'nobody'" in capsys.readouterr().err
    assert main(["metrics", "backfill", "--from", "2026-11-01", "--to", "2026-11-22"]) == 0
    captured = capsys.readouterr()
    assert "rebuilt" in captured.out
    assert "100%" not in captured.err  # not a terminal: no bar (test_aggregate gives it a stream)
    assert main(["metrics", "backfill", "--from", "2026-11-22", "--to", "2026-11-01"]) == 2
    assert "before" in capsys.readouterr().err
    assert main(["metrics", "backfill", "--from", "22-11-2026", "--to", "2026-11-30"]) == 2


def summary_rows(factory, kind):
    with factory() as session:
        return {r.period_key: (r.potential, r.potential_estimated, r.potential_spread)
                for r in session.scalars(select(MetricSummary).where(
                    MetricSummary.period_kind == kind, MetricSummary.dimension == "all"))}  # fmt: skip


def test_an_imported_month_is_spread_over_its_weeks_by_days_and_the_spread_is_visible(store):
    from metrics.summary import build_weekly_summary

    months = [{"dealer": "autohuis-demo", "period": p, "service_appointments": a, "sales_leads": b}
              for p, a, b in (("2026-11", 90, 30), ("2026-12", 62, 0))]  # fmt: skip
    import_potential(store, months)
    weeks = summary_rows(store, "week")
    assert weeks["2026-W47"] == (28, False, "2026-11: 120 × 7/30")
    # W49: Monday 30 November - Sunday 6 December, 1 day of November and 6 of December
    assert weeks["2026-W49"] == (16, False, "2026-11: 120 × 1/30 + 2026-12: 62 × 6/31")
    assert "2026-W44" not in weeks  # 25-31 October has no import: no spread, no row
    week = build_weekly_summary(store, "autohuis-demo", "2026-W49")
    assert (week.mec_potential.value, week.potential_estimated) == (16.0, False)
    assert week.potential_spread == "2026-11: 120 × 1/30 + 2026-12: 62 × 6/31"


def test_imported_weeks_add_up_into_the_month(store):
    weeks = [{"dealer": "autohuis-demo", "period": f"2027-W{n:02d}", "service_appointments": 7,
              "sales_leads": 7} for n in range(5, 10)]  # 1 February - 7 March 2027  # fmt: skip
    import_potential(store, weeks)
    months = summary_rows(store, "month")
    assert months["2027-02"] == (56, False, " + ".join(f"2027-W{n:02d}: 14" for n in range(5, 9)))
    assert "2027-03" not in months  # March is only partly covered
