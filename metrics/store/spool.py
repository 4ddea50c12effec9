"""A durable local spool: writes that could not reach the database wait here, in order.

One JSON object per line, appended with flush + fsync, so a record survives a crash or restart
of the action server. Replay applies the lines in order and keeps whatever did not go through.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_suffix(".lock")

    @contextmanager
    def _locked(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, op: dict[str, Any]) -> None:
        line = json.dumps(op, default=str, ensure_ascii=False) + "\n"
        with self._locked(), open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def __len__(self) -> int:
        if not self.path.exists():
            return 0
        with open(self.path, encoding="utf-8") as handle:
            return sum(1 for line in handle if line.strip())

    def replay(self, apply: Callable[[dict[str, Any]], None]) -> int:
        """Apply every spooled op in order; stop at the first failure. Returns ops applied."""
        with self._locked():
            if not self.path.exists():
                return 0
            lines = [ln for ln in self.path.read_text(encoding="utf-8").splitlines() if ln.strip()]
            done = 0
            try:
                for line in lines:
                    try:
                        op = json.loads(line)
                    except json.JSONDecodeError:  # a line cut off by a crash: keep it aside
                        with open(self.path.with_suffix(".bad"), "a", encoding="utf-8") as bad:
                            bad.write(line + "\n")
                        done += 1
                        continue
                    apply(op)
                    done += 1
            finally:
                rest = lines[done:]
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text("".join(f"{ln}\n" for ln in rest), encoding="utf-8")
                with open(tmp, "rb+") as handle:
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            return done
