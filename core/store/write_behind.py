"""Engagement records written after the reply: one queue per process, drained by one thread.

A customer message records its conversation (``action_validate_slot_mappings``), and a booking or
a survey answer records it again. Waiting for the store there costs every reply a few round
trips to the database, so the actions hand their ops to :class:`WriteBehind` and answer at once.

Nothing is lost on the way:
- the ops are written in the order given, by one thread, so a newer snapshot of a conversation
  never lands before an older one from this process (the store keeps the newest anyway); the ops
  of one conversation that queued up together are written as one (``recorder.coalesce``);
- each op is first appended to this process's journal. The kernel keeps that file when the
  process is killed. The thread takes all queued ops at once together with their journal segment
  (a new one starts), and deletes the segment once they are stored. When a process starts, the
  segments of processes that are gone are moved into the spool, whose replay stores them (the
  ops are idempotent upserts, so an op that was stored already changes nothing);
- at exit (SIGTERM included) the queue is drained before the process ends;
- when the database is down the ops go to the spool, as before (:class:`Recorder`).
"""

from __future__ import annotations

import atexit
import fcntl
import json
import logging
import os
import queue
import sys
import threading
import time
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any, TextIO

from core.settings import get_settings
from core.store.recorder import Recorder, coalesce, default_recorder, spool_path

log = logging.getLogger(__name__)
MAX_BATCH = 100  # ops per unit of work when they pile up under load
# The thread waits this long after an op for more: a conversation's ops of a few messages are
# then written once (recorder.coalesce), and the writes no longer take turns with the action
# calls of every message for the action server's GIL.
LINGER_S = 0.2
SWITCH_INTERVAL_S = 0.0005
_STOP = object()


class WriteBehind:
    """``write(op)`` returns at once; a background thread stores the op (see the module)."""

    def __init__(
        self,
        recorder: Recorder,
        journal_dir: Path,
        max_batch: int = MAX_BATCH,
        linger_s: float = LINGER_S,
    ) -> None:
        self.recorder = recorder
        self.max_batch = max_batch
        self.linger_s = linger_s
        self.journal_dir = Path(journal_dir)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0  # ops given and not yet stored (or spooled)
        self._journal: TextIO | None = None  # the current segment, from the first write on
        self._thread: threading.Thread | None = None
        self._closed = False

    def write(self, op: dict[str, Any]) -> None:
        line = json.dumps(op, default=str, ensure_ascii=False) + "\n"
        with self._lock:  # the journal segment and the queue hold the same ops
            if self._closed:
                raise RuntimeError("write after close")
            if self._thread is None:
                self._start()
            assert self._journal is not None  # _start opened the first segment
            self._journal.write(line)
            self._journal.flush()  # into the kernel: survives this process being killed
            self._pending += 1
            self._queue.put(op)

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every op given so far is stored or spooled; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout_s)

    def close(self) -> None:
        """Store what is queued, then stop the thread (registered with atexit)."""
        with self._lock:
            if self._closed or self._thread is None:
                self._closed = True
                return
            self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        assert self._journal is not None  # opened by _start, with the thread
        self._journal.close()
        Path(self._journal.name).unlink(missing_ok=True)

    def _start(self) -> None:
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        recover_journals(self.journal_dir, self.recorder)
        self._journal = self._new_segment()
        # The thread's ORM work holds the GIL for up to the switch interval (5 ms by default) while
        # the event loop waits for it with the next action call; hand it over sooner.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        self._thread = threading.Thread(target=self._run, name="write-behind", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _new_segment(self) -> TextIO:
        path = self.journal_dir / f"pending-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        segment = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed once stored
        fcntl.flock(segment, fcntl.LOCK_EX)  # held while this process lives
        return segment

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is not _STOP and self.linger_s:
                time.sleep(self.linger_s)
            with self._lock:  # take every queued op: exactly those of the current segment
                batch = [first]
                while True:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                sealed, self._journal = self._journal, self._new_segment()
            assert sealed is not None  # the thread runs only after _start opened a segment
            ops = [op for op in batch if op is not _STOP]
            stored = all([self._store(ops[i : i + self.max_batch])
                          for i in range(0, len(ops), self.max_batch)])  # fmt: skip
            if stored:  # else a restart moves the segment into the spool
                Path(sealed.name).unlink(missing_ok=True)
            sealed.close()
            with self._lock:
                self._pending -= len(ops)
                if self._pending == 0:
                    self._idle.notify_all()
            if len(ops) < len(batch):
                return

    def _store(self, ops: list[dict[str, Any]]) -> bool:
        """Write ``ops``; False if some of them are neither stored, spooled nor set aside."""
        try:
            self.recorder.write_many(coalesce(ops))
            return True
        except Exception:  # a bug, not bad data (write_many sets those aside): keep the thread
            log.exception("%d engagement records set aside", len(ops))
            try:
                for op in ops:
                    self.recorder.spool.set_aside(json.dumps(op, default=str, ensure_ascii=False))
                return True
            except OSError:
                log.exception("%d engagement records left in the journal", len(ops))
                return False


def recover_journals(journal_dir: Path, recorder: Recorder) -> int:
    """Move the journals of processes that are gone into the spool; returns the ops moved."""
    moved = 0
    for path in sorted(Path(journal_dir).glob("pending-*.jsonl")):
        with open(path, "r+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its process is alive
            for line in handle:
                try:
                    recorder.spool.append(json.loads(line))
                    moved += 1
                except json.JSONDecodeError:  # cut off by the kill
                    recorder.spool.set_aside(line.rstrip("\n"))
            path.unlink()
    if moved:
        log.warning("%d engagement records of a stopped process moved to the spool", moved)
    return moved


@lru_cache(maxsize=4)
def _write_behind_for(url: str, path: Path) -> WriteBehind:
    return WriteBehind(default_recorder(), path.parent)


def default_write_behind() -> WriteBehind:
    """The process's write-behind queue for the store and spool of the settings."""
    return _write_behind_for(get_settings().database_url, spool_path())
