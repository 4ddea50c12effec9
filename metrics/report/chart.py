"""The 12-week chart of the weekly summary as a PNG (matplotlib, Agg backend, no display)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

LABELS = {
    "nl": {
        "mec": "MEC",
        "potential": "Potentieel",
        "potential_estimated": "Potentieel (minstens, uit de chat)",
        "title_top": "MEC tegenover potentieel",
        "title_bottom": "Klanttevredenheid en klantinspanning",
        "csat": "CSAT (% 4-5)",
        "ces": "CES (gemiddeld, 1-7)",
        "week": "week",
        "csat_axis": "CSAT (% 4-5)",
        "ces_axis": "CES (1-7)",
        "count_axis": "aantal",
        "no_data": "Nog geen gegevens in deze 12 weken",
    },
    "en": {
        "mec": "MEC",
        "potential": "Potential",
        "potential_estimated": "Potential (at least, from chat)",
        "title_top": "MEC against potential",
        "title_bottom": "Satisfaction and effort",
        "csat": "CSAT (% 4-5)",
        "ces": "CES (mean, 1-7)",
        "week": "week",
        "csat_axis": "CSAT (% 4-5)",
        "ces_axis": "CES (1-7)",
        "count_axis": "count",
        "no_data": "No data in these 12 weeks yet",
    },
}
MEC_COLOUR, POTENTIAL_COLOUR, CSAT_COLOUR, CES_COLOUR = "#1f5fa8", "#b8c7d9", "#2e8b57", "#d2691e"


def render_chart(
    trend: Sequence[Any], language: str = "nl", *, potential_estimated: bool = False
) -> bytes:
    """PNG bytes of ``chart_figure``."""
    buffer = io.BytesIO()
    chart_figure(trend, language, potential_estimated=potential_estimated).savefig(
        buffer, format="png"
    )
    return buffer.getvalue()


def chart_figure(
    trend: Sequence[Any], language: str = "nl", *, potential_estimated: bool = False
) -> Figure:
    """The chart: bars of MEC against potential per week, and the CSAT and CES trend lines.

    ``trend`` holds points with ``week`` ("2026-W47"), ``mec``, ``potential``, ``csat`` (a share
    0-1 or None) and ``ces`` (a mean 1-7 or None). Missing values leave a gap, never a zero;
    the weeks before the first week with data are left out. Both value axes are labelled, and
    the count axis starts at 0 even when every count is 0 (no axis from -0.04 to 0.04).
    """
    text = LABELS.get(language, LABELS["en"])
    trend = with_data(trend)
    weeks = [str(p.week).split("-W")[-1] for p in trend]
    xs = list(range(len(trend)))
    figure = Figure(figsize=(8, 5.2), dpi=100)
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})

    width = 0.38
    potential_label = text["potential_estimated" if potential_estimated else "potential"]
    top.bar(
        [x - width / 2 for x in xs],
        [_num(p.potential) for p in trend],
        width,
        label=potential_label,
        color=POTENTIAL_COLOUR,
        hatch="//" if potential_estimated else None,
    )
    top.bar(
        [x + width / 2 for x in xs],
        [_num(p.mec) for p in trend],
        width,
        label=text["mec"],
        color=MEC_COLOUR,
    )
    top.set_ylim(0, max([1.0] + [_num(p.potential) for p in trend] + [_num(p.mec) for p in trend])
                 * 1.1)  # fmt: skip
    top.yaxis.set_major_locator(MaxNLocator(integer=True))
    top.set_ylabel(text["count_axis"], fontsize=8)
    if not trend:
        top.text(0.5, 0.5, text["no_data"], transform=top.transAxes, ha="center",
                 va="center", fontsize=10, color="#444")  # fmt: skip
    top.set_title(text["title_top"], fontsize=10, loc="left")
    top.legend(fontsize=8, loc="upper left", frameon=False)
    top.grid(axis="y", alpha=0.3)
    top.set_axisbelow(True)

    csat = [None if p.csat is None else 100 * p.csat for p in trend]
    ces = [p.ces for p in trend]
    bottom.plot(xs, _gaps(csat), marker="o", color=CSAT_COLOUR, label=text["csat"])
    bottom.set_ylim(0, 105)
    bottom.set_ylabel(text["csat_axis"], fontsize=8)
    right = bottom.twinx()
    right.plot(xs, _gaps(ces), marker="s", color=CES_COLOUR, label=text["ces"])
    right.set_ylim(1, 7.3)
    right.set_ylabel(text["ces_axis"], fontsize=8)
    handles = bottom.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    bottom.legend(handles, [text["csat"], text["ces"]], fontsize=8, loc="lower left", frameon=False)
    bottom.set_title(text["title_bottom"], fontsize=10, loc="left")
    bottom.grid(axis="y", alpha=0.3)
    bottom.set_xticks(xs)
    bottom.set_xticklabels(weeks, fontsize=8)
    bottom.set_xlabel(text["week"], fontsize=8)
    figure.tight_layout()
    return figure


def _has_data(point: Any) -> bool:
    return any(getattr(point, name, None) not in (None, 0)
               for name in ("mec", "potential", "csat", "ces"))  # fmt: skip


def with_data(trend: Sequence[Any]) -> list[Any]:
    """The trend from its first week with any data on (empty weeks before it left out)."""
    points = list(trend)
    first = next((i for i, p in enumerate(points) if _has_data(p)), len(points))
    return points[first:]


def _num(value: Any) -> float:
    # A bar for a missing count is drawn as no bar (0 height) - bars cannot show gaps.
    return float(value) if value is not None else 0.0


def _gaps(values: Sequence[float | None]) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]
