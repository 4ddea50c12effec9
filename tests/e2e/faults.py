"""Helpers for the fault tests: fresh PostgreSQL schemas, lock waits, process control."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from bench.common import eventually
from core.settings import REPO_ROOT

DEADLINE_S = 120  # generous waits, never asserted as speed


def wait_for(condition: Callable[[], Any], what: str, timeout: float = DEADLINE_S) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    value = eventually(condition, timeout)
    if not value:
        raise AssertionError(f"gave up waiting for {what} after {timeout:.0f} s")
    return value


def blocked_by(admin: Connection, holder_pid: int) -> list[int]:
    """Backends waiting for a lock that ``holder_pid`` holds (a new transaction each call:
    PostgreSQL keeps one snapshot of pg_stat_activity per transaction)."""
    admin.rollback()
    rows = admin.execute(
        text(
            "select pid from pg_stat_activity where wait_event_type = 'Lock'"
            " and :holder = any(pg_blocking_pids(pid))"
        ),
        {"holder": holder_pid},
    )
    return [pid for (pid,) in rows.all()]


def spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A process of the product (``python -m cli.main ...`` etc.), output to ``log``."""
    handle = open(log, "ab")  # noqa: SIM115 - lives with the process
    return subprocess.Popen(
        args, cwd=REPO_ROOT, env={**os.environ, **(env or {})}, stdout=handle, stderr=handle
    )


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = DEADLINE_S) -> int:
    """Send ``sig`` and wait for the exit code (killed after ``timeout``: the test then fails)."""
    if process.poll() is None:
        process.send_signal(sig)
    return exit_code(process, timeout)


def exit_code(process: subprocess.Popen, timeout: float = DEADLINE_S) -> int:
    """Wait for the exit code of a process that was told to stop (killed after ``timeout``)."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"{process.args[:3]} did not exit within {timeout:.0f} s") from None
