"""A durable local spool: writes that could not reach the database wait here, in order.

One JSON object per line, appended with flush + fsync, so a record survives a crash or restart
of the action server. Replay applies the lines in order and keeps whatever did not go through.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.settings import get_settings

log = logging.getLogger(__name__)


def default_spool_path() -> Path:
    """The configured spool: ``var/spool/records.jsonl`` (``.bad`` beside it)."""
    return get_settings().var_dir / "spool" / "records.jsonl"


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_suffix(".lock")
        self.bad_path = self.path.with_suffix(".bad")

    @contextmanager
    def _locked(self, lock_path: Path | None = None):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path or self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, op: dict[str, Any]) -> None:
        with self._locked():
            _append_line(self.path, json.dumps(op, default=str, ensure_ascii=False))

    def is_empty(self) -> bool:
        return not self.path.exists() or self.path.stat().st_size == 0

    def __len__(self) -> int:
        if not self.path.exists():
            return 0
        with open(self.path, encoding="utf-8") as handle:
            return sum(1 for line in handle if line.strip())

    def replay(
        self,
        apply: Callable[[dict[str, Any]], None],
        stop_on: tuple[type[BaseException], ...] | None = None,
        limit: int | None = None,
    ) -> int:
        """Apply the spooled ops in order (at most ``limit``). Returns ops done (applied or set
        aside); the rest stays in the spool.

        Without ``stop_on``, any failure stops the replay and the rest waits. With it, only those
        failures (the database is down) stop it; an op that fails otherwise can never succeed,
        and would block every later record behind it, so it is set aside in ``.bad``.
        """
        with self._locked():
            if not self.path.exists():
                return 0
            with open(self.path, encoding="utf-8") as handle:
                # Read lazily: while the database is down every write tries the first record
                # only, and the spool is not copied (it may hold hours of records by then).
                pending = (ln.rstrip("\n") for ln in handle if ln.strip())
                done, current = 0, None
                try:
                    for current in pending:
                        self._apply_or_set_aside(current, apply, stop_on)
                        done += 1
                        if done == limit:
                            break
                    current = None
                finally:
                    if done:
                        self._rewrite([*([current] if current is not None else []), *pending])
            return done

    def _apply_or_set_aside(
        self,
        line: str,
        apply: Callable[[dict[str, Any]], None],
        stop_on: tuple[type[BaseException], ...] | None,
    ) -> None:
        try:
            op = json.loads(line)
        except json.JSONDecodeError:  # a line cut off by a crash: keep it aside
            self.set_aside(line)
            return
        try:
            apply(op)
        except Exception as exc:
            if stop_on is None or isinstance(exc, stop_on):
                raise
            log.error("spooled record set aside in %s: %r", self.path.with_suffix(".bad"), exc)
            self.set_aside(line)

    def _rewrite(self, lines: list[str], path: Path | None = None) -> None:
        path = path or self.path
        tmp = path.with_name(f"{path.name}.tmp")  # the spool and .bad have separate locks
        tmp.write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8")
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def set_aside(self, line: str) -> None:
        """Keep a line that can never be stored in ``.bad``, for a person to look at."""
        with self._locked(self._bad_lock):
            _append_line(self.bad_path, line)

    @property
    def _bad_lock(self) -> Path:
        # Its own lock: set_aside runs inside a replay, which holds the spool's lock.
        return self.path.with_suffix(".bad.lock")

    def filter(self, keep: Callable[[str], bool], bad: Callable[[str], bool] | None = None) -> int:
        """Remove the lines of the spool, and of ``.bad`` (``bad``, default ``keep``), that
        ``keep`` rejects (erasure, retention); returns how many went."""
        removed = 0
        for path, lock, wanted in ((self.path, self._lock_path, keep),
                                   (self.bad_path, self._bad_lock, bad or keep)):  # fmt: skip
            with self._locked(lock):
                if not path.exists():
                    continue
                with open(path, encoding="utf-8") as handle:
                    lines = [ln.rstrip("\n") for ln in handle if ln.strip()]
                kept = [ln for ln in lines if wanted(ln)]
                if len(kept) != len(lines):
                    self._rewrite(kept, path)
                    removed += len(lines) - len(kept)
        return removed


def _append_line(path: Path, line: str) -> None:
    """Append one line and fsync it: it survives a crash of this process or the machine."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())
