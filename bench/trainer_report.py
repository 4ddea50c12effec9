"""Time ``dealerbot trainer report --quick`` and ``dealerbot trainer report`` (issue 21: at most
2 and 10 minutes on the 2-core machine) and print the figures.

Each report runs as the command a trainer types, in a child process, with the newest model in
``models/`` (train first) and its output in a temporary folder. The load average before each run
is printed too: on a machine busy with other work the figures are higher.

    .venv/bin/python bench/trainer_report.py            # --quick, then the full report
    .venv/bin/python bench/trainer_report.py --quick    # only --quick
    .venv/bin/python bench/trainer_report.py --json out.json
    .venv/bin/python bench/trainer_report.py --folds 2   # also a 2-fold cross-validation (slow)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEALERBOT = REPO / ".venv" / "bin" / "dealerbot"
LIMITS = {"report --quick": 120, "report": 600}  # seconds, from issue 21


def time_report(extra: list[str]) -> tuple[float, int]:
    """Seconds of one ``dealerbot trainer report`` run and its exit code."""
    with tempfile.TemporaryDirectory(prefix="dealerbot-report-") as out:
        started = time.monotonic()
        result = subprocess.run(
            [str(DEALERBOT), "trainer", "report", "--out", out, *extra],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        seconds = time.monotonic() - started
    if result.returncode != 0:
        print(result.stderr[-2000:], file=sys.stderr)
    return seconds, result.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="time only `report --quick`")
    parser.add_argument("--folds", type=int, help="also time a cross-validation with N folds")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    runs = {"report --quick": ["--quick"]}
    if not args.quick:
        runs["report"] = []
    if args.folds:
        runs[f"report --folds {args.folds}"] = ["--folds", str(args.folds), "--no-simulation",
                                                "--no-stories"]  # fmt: skip
    print(f"{os.cpu_count()} cores")
    figures = {}
    failed = False
    for name, extra in runs.items():
        load = os.getloadavg()[0]
        seconds, code = time_report(extra)
        failed |= code != 0
        figures[name] = {"seconds": round(seconds, 1), "exit": code, "load_before": load}
        limit = LIMITS.get(name)
        verdict = "no limit" if limit is None else (
            f"{'within' if seconds <= limit else 'OVER'} {limit} s")  # fmt: skip
        print(f"{name:18} {seconds:7.1f} s  ({verdict}; exit {code}; "
              f"load average before {load:.1f})", flush=True)  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
