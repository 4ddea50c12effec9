"""MEC potential supplied by the dealer: a CSV export of their dealer system, or the same rows
through :func:`import_potential`.

CSV columns: ``dealer, period, service_appointments, sales_leads`` (comma or semicolon
separated, a header line first); ``period`` is an ISO week (``2026-W47``) or a month
(``2026-11``). The whole file is checked first: any bad line rejects the file with every
problem listed by line number, and nothing is imported. Importing the same dealer and period
again replaces the earlier numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, insert
from sqlalchemy.orm import sessionmaker

from core.periods import Period, PeriodError, parse_period
from core.store.models import MecPotential, utcnow
from core.store.session import default_session_factory
from metrics.aggregate import rebuild as rebuild_range
from metrics.aggregate import rebuild_period

COLUMNS = ("dealer", "period", "service_appointments", "sales_leads")
MAX_COUNT = 10_000_000


class PotentialImportError(ValueError):
    """The import was rejected; ``errors`` lists every problem with its line number."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("MEC potential not imported:\n  " + "\n  ".join(errors))


@dataclass(frozen=True)
class PotentialRow:
    dealer_id: str
    period: Period
    service_appointments: int
    sales_leads: int


def _count(value: object, column: str, where: str, errors: list[str]) -> int:
    text = str(value if value is not None else "").strip()
    try:
        number = int(text)
    except ValueError:
        errors.append(f"{where}: {column} must be a whole number, got {text!r}")
        return 0
    if not 0 <= number <= MAX_COUNT:
        errors.append(f"{where}: {column} must be between 0 and {MAX_COUNT}, got {number}")
    return number


def validate_rows(
    rows: Iterable[Mapping[str, object] | PotentialRow],
    *,
    known_dealers: Collection[str] | None = None,
) -> list[PotentialRow]:
    """Check every row; raise :class:`PotentialImportError` listing all problems, or return them.

    Rows are mappings with the CSV columns (or ready :class:`PotentialRow`); errors name the
    row number, counting from 1. ``known_dealers``, when given, rejects unknown dealer ids.
    """
    return _check(enumerate(rows, start=1), known_dealers, "row")


def _check(
    numbered: Iterable[tuple[int, Mapping[str, object] | PotentialRow]],
    known_dealers: Collection[str] | None,
    label: str,
) -> list[PotentialRow]:
    errors: list[str] = []
    result: list[PotentialRow] = []
    seen: dict[tuple[str, str], int] = {}
    for number, raw in numbered:
        where = f"{label} {number}"
        if isinstance(raw, PotentialRow):
            data = {"dealer": raw.dealer_id, "period": raw.period.key,
                    "service_appointments": raw.service_appointments,
                    "sales_leads": raw.sales_leads}  # fmt: skip
        else:
            if None in raw:  # csv.DictReader puts surplus fields under None
                errors.append(f"{where}: more fields than the {len(COLUMNS)} columns")
                continue
            data = {str(k).strip().lower(): v for k, v in raw.items()}
        missing = [c for c in COLUMNS if data.get(c) is None or str(data[c]).strip() == ""]
        if missing:
            errors.append(f"{where}: missing {', '.join(missing)}")
            continue
        dealer = str(data["dealer"]).strip()
        if known_dealers is not None and dealer not in known_dealers:
            errors.append(f"{where}: unknown dealer {dealer!r}")
        try:
            period = parse_period(str(data["period"]))
        except PeriodError as exc:
            errors.append(f"{where}: {exc}")
            continue
        if period.kind not in ("week", "month"):
            errors.append(f"{where}: period {period.key} must be a week (2026-W47) or a month")
            continue
        service = _count(data["service_appointments"], "service_appointments", where, errors)
        sales = _count(data["sales_leads"], "sales_leads", where, errors)
        key = (dealer, period.key)
        if key in seen:
            errors.append(
                f"{where}: {dealer} {period.key} appears twice (also {label} {seen[key]})"
            )
        seen.setdefault(key, number)
        result.append(PotentialRow(dealer, period, service, sales))
    if errors:
        raise PotentialImportError(errors)
    return result


def read_potential_csv(
    source: str | Path | io.TextIOBase, *, known_dealers: Collection[str] | None = None
) -> list[PotentialRow]:
    """Read and check a CSV export; errors name the line in the file (the header is line 1)."""
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    else:
        text = source.read()
    first = text.splitlines()[0] if text.strip() else ""
    if not first.strip():
        raise PotentialImportError(["line 1: empty file; expected the header " + ",".join(COLUMNS)])
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [(name or "").strip().lower() for name in reader.fieldnames or []]
    if sorted(header) != sorted(COLUMNS):
        raise PotentialImportError(
            [f"line 1: the header must be {','.join(COLUMNS)}, got {','.join(header)}"]
        )
    numbered = []
    for raw in reader:
        values = [v for k, v in raw.items() if k is not None]
        if any((v or "").strip() for v in values) or None in raw:
            numbered.append((reader.line_num, raw))  # blank lines are skipped
    return _check(numbered, known_dealers, "line")


def import_potential(
    session_factory: sessionmaker | None,
    rows: Iterable[Mapping[str, object] | PotentialRow],
    *,
    source: str = "api",
    known_dealers: Collection[str] | None = None,
    rebuild: bool = True,
) -> list[PotentialRow]:
    """Store the potential of each (dealer, period), replacing an earlier import; all or nothing.

    With ``rebuild`` the summary rows of the imported periods are recomputed afterwards, so
    reports show the imported potential instead of the estimate right away.
    """
    session_factory = session_factory or default_session_factory()
    checked = validate_rows(rows, known_dealers=known_dealers)
    if not checked:
        return []
    now = utcnow()
    keys = [(r.dealer_id, r.period.kind, r.period.key) for r in checked]
    with session_factory.begin() as session:
        for dealer_id, kind, key in keys:  # replace an earlier import of the same period
            session.execute(
                delete(MecPotential).where(
                    MecPotential.dealer_id == dealer_id,
                    MecPotential.period_kind == kind,
                    MecPotential.period_key == key,
                ),
                execution_options={"synchronize_session": False},
            )
        session.execute(
            insert(MecPotential),
            [
                {
                    "dealer_id": r.dealer_id,
                    "period_kind": r.period.kind,
                    "period_key": r.period.key,
                    "service_appointments": r.service_appointments,
                    "sales_leads": r.sales_leads,
                    "source": source[:200],
                    "imported_at": now,
                }
                for r in checked
            ],
        )
    if rebuild:
        for period in sorted({r.period for r in checked}):
            rebuild_period(session_factory, period)
            # an imported month is spread over its weeks, imported weeks add up into the month
            other = "month" if period.kind == "week" else "week"
            rebuild_range(session_factory, other, period.start, period.last_day)
    return checked
