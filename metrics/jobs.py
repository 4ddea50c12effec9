"""The scheduler's jobs: hourly rollup, Monday weekly summary, nightly retention purge.

Each job is a plain function (``metrics.scheduler`` only wires them to triggers), safe to run
twice and from two processes at once: the weekly summary holds a lock row in the database while
it works and claims every e-mail in the delivery log before sending it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from core.periods import Period, iso_week, last_closed_week, last_weeks
from core.settings import get_settings
from core.settings import now as clock
from core.store.models import JobLock, utcnow
from core.store.privacy import (
    purge_idle_tracker_events,
    purge_old_files,
    purge_older_than,
    purge_pending_erasures,
)
from core.store.session import default_session_factory
from dealer.config import DealerConfigError, all_dealers
from metrics.aggregate import has_dirty_days, rebuild, rollup
from metrics.digest import build_digest
from metrics.report.deliver import (
    DeliveryResult,
    deliver_summary,
    deliveries,
    failed_deliveries,
)
from metrics.report.export import export_csv, top_csv
from metrics.report.render import render_summary
from metrics.summary import WeeklySummary, build_weekly_summary

log = logging.getLogger(__name__)

# A lock whose holder died is free again after this; a weekly run takes seconds.
LOCK_TTL = dt.timedelta(minutes=30)
# Rebuilding the same summary rows from two processes at once can collide (PostgreSQL): one
# rollup at a time, whoever starts it.
ROLLUP_LOCK = "rollup"
WEEKLY_LOCK = "weekly_summary:"  # + dealer id + ":" + week


def _factory(session_factory: sessionmaker | None) -> sessionmaker:
    if session_factory is not None:
        return session_factory
    return default_session_factory()


# -- the lock -------------------------------------------------------------------------------------


def owner_tag() -> str:
    """This process as a lock owner: ``host:pid:random`` (the random part tells two holds of
    the same process apart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[-64:]


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` (see :func:`owner_tag`) is a process on this host that is gone.

    A scheduler killed mid-job (SIGKILL, OOM) leaves its lock row behind; without this check its
    week stays locked until the TTL ends and a rerun in between does nothing. Owners on other
    hosts are never presumed dead: their rows wait for the TTL.
    """
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    host, pid = parts[0], int(parts[1])
    # owner_tag() keeps the last 64 characters: a long host name may have lost its start
    if not host or not socket.gethostname().endswith(host):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. EPERM: the process exists under another user
        return False
    return False


def acquire_lock(
    session_factory: sessionmaker, name: str, *, owner: str, ttl: dt.timedelta = LOCK_TTL
) -> bool:
    """Take the named lock for ``owner``: insert the row, or take over one that expired or whose
    holder died (compare-and-set on the old owner, so one contender wins)."""
    now = utcnow()
    try:
        with session_factory.begin() as session:
            session.add(JobLock(name=name, owner=owner, acquired_at=now, expires_at=now + ttl))
        return True
    except IntegrityError:
        pass
    with session_factory.begin() as session:
        held = session.execute(
            select(JobLock.owner, JobLock.expires_at).where(JobLock.name == name)
        ).one_or_none()
        if held is None or not (held.expires_at < now or owner_is_dead(held.owner)):
            return False  # None: released meanwhile; the next run takes it
        if held.expires_at >= now:
            log.warning("lock %s: its holder %s is gone; taking it over", name, held.owner)
        taken = session.execute(
            update(JobLock)
            .where(JobLock.name == name, JobLock.owner == held.owner)
            .values(owner=owner, acquired_at=now, expires_at=now + ttl),
            execution_options={"synchronize_session": False},
        )
        return taken.rowcount == 1


def release_lock(session_factory: sessionmaker, name: str, *, owner: str) -> None:
    with session_factory.begin() as session:
        session.execute(
            delete(JobLock).where(JobLock.name == name, JobLock.owner == owner),
            execution_options={"synchronize_session": False},
        )


@contextmanager
def job_lock(
    session_factory: sessionmaker, name: str, *, ttl: dt.timedelta = LOCK_TTL
) -> Iterator[bool]:
    """``with job_lock(f, "x") as held:`` - held is False when another process has it."""
    owner = owner_tag()
    held = acquire_lock(session_factory, name, owner=owner, ttl=ttl)
    try:
        yield held
    finally:
        if held:
            release_lock(session_factory, name, owner=owner)


# -- weekly summary -------------------------------------------------------------------------------


@dataclass
class WeeklyRun:
    dealer_id: str
    week: str
    status: str  # delivered | already_delivered | locked
    delivery: DeliveryResult | None = None
    files: list = field(default_factory=list)

    def as_text(self) -> str:
        detail = f": {self.delivery.as_text()}" if self.delivery is not None else ""
        return f"weekly summary {self.dealer_id} {self.week} {self.status}{detail}"


def _dealer(dealer_id: str):  # noqa: ANN202
    dealers = all_dealers()
    if dealer_id not in dealers:
        raise DealerConfigError(
            f"unknown dealer {dealer_id!r}; known: {', '.join(sorted(dealers))}"
        )
    return dealers[dealer_id]


def _already_delivered(session_factory: sessionmaker, dealer, week: str, outbox) -> bool:  # noqa: ANN001
    sent = {d.recipient for d in deliveries(session_factory, dealer.id, week) if d.status == "sent"}
    return set(dealer.report_recipients) <= sent and (outbox / dealer.id / f"{week}.html").exists()


def weekly_summary_job(
    dealer_id: str,
    week: Period | str | None = None,
    *,
    session_factory: sessionmaker | None = None,
    email: bool = True,
    force_render: bool = False,
) -> WeeklyRun:
    """Build, render and deliver one dealer's weekly summary (default: the last closed week).

    Safe to repeat: recipients already served are skipped (delivery log), and only one process
    works on a dealer's week at a time (lock row). A failed e-mail stays in the log as failed and
    is retried by the hourly job.
    """
    settings = get_settings()
    factory = _factory(session_factory)
    dealer = _dealer(dealer_id)
    period = iso_week(week) if week else last_closed_week(clock(), dealer.timezone)
    week = period.key  # the lock's, the delivery log's and the outbox files' name
    with job_lock(factory, f"{WEEKLY_LOCK}{dealer.id}:{week}") as held:
        if not held:
            log.info("weekly summary %s %s: another process is on it", dealer.id, week)
            return WeeklyRun(dealer.id, week, "locked")
        if not force_render and _already_delivered(factory, dealer, week, settings.outbox_dir):
            return WeeklyRun(dealer.id, week, "already_delivered")
        rollup_summary_weeks(factory, period)
        summary = build_weekly_summary(factory, dealer.id, period)
        digest = build_digest(factory, dealer.id, period, summary=summary)  # the action first
        rendered = render_summary(summary, dealer, dashboard_url=settings.dashboard_url,
                                  digest=digest)  # fmt: skip
        result = deliver_summary(
            factory,
            rendered,
            dealer_id=dealer.id,
            week=week,
            recipients=dealer.report_recipients,
            settings=settings,
            csv_text=export_csv(factory, dealer.id, period, dealer.timezone),
            top_csv_text=top_csv(summary.top_intents, summary.top_fallbacks),
            email=email,
            sender_name=dealer.name,
        )
    run = WeeklyRun(dealer.id, week, "delivered", result, result.files)
    log.info(run.as_text())
    return run


def interrupted_summaries(session_factory: sessionmaker) -> list[tuple[str, str]]:
    """(dealer, week) of weekly summaries whose run died half way: their lock row outlived its
    holder (killed, or gone past the lock's TTL). APScheduler moved such a job on to next
    Monday when it started it, so nothing else would ever finish that week."""
    now = utcnow()
    with session_factory() as session:
        rows = session.execute(
            select(JobLock.name, JobLock.owner, JobLock.expires_at).where(
                JobLock.name.like(f"{WEEKLY_LOCK}%")
            )
        ).all()
    found = []
    for name, owner, expires_at in rows:
        if expires_at < now or owner_is_dead(owner):
            dealer_id, _, week = name[len(WEEKLY_LOCK) :].rpartition(":")
            found.append((dealer_id, week))
    return sorted(found)


def resume_interrupted_job(*, session_factory: sessionmaker | None = None) -> list[str]:
    """Finish the weekly summaries a killed run left behind (run when the scheduler starts and
    hourly). The rerun rebuilds the week and mails only recipients not yet served."""
    factory = _factory(session_factory)
    done = []
    for dealer_id, week in interrupted_summaries(factory):
        log.warning("weekly summary %s %s was interrupted: running it again", dealer_id, week)
        try:
            done.append(weekly_summary_job(dealer_id, week, session_factory=factory).as_text())
        except Exception:  # one dealer's broken file must not stop the others
            log.exception("resuming the weekly summary %s %s failed", dealer_id, week)
    return done


# -- rollup ---------------------------------------------------------------------------------------


def rollup_summary_weeks(
    session_factory: sessionmaker, week: Period | str, weeks: int = 12
) -> None:
    """Rebuild the weekly rows a summary reads: the week, the one before (the change) and the
    trend, so late survey answers and imports count. Cheap: GROUP BY on stored week keys."""
    trend = last_weeks(week, weeks)
    with job_lock(session_factory, ROLLUP_LOCK) as held:
        if held:  # else another process is rebuilding right now
            rebuild(session_factory, "week", trend[0].start, trend[-1].last_day)


def current_weekly_summary(
    session_factory: sessionmaker, dealer_id: str, week: Period | str, weeks: int = 12
) -> WeeklySummary:
    """The weekly summary as the store holds it now: the dashboard's page view and
    ``dealerbot metrics summary`` read it. When a day of the summary's weeks is marked dirty (a
    message since the last rollup, a late answer, an erasure), those weeks are rolled up first
    (``rollup_summary_weeks``, the hourly job's rebuild); with no mark the rows are current and
    the summary is read at once."""
    trend = last_weeks(week, weeks)
    if has_dirty_days(session_factory, dealer_id, trend[0].start, trend[-1].last_day):
        rollup_summary_weeks(session_factory, week, weeks)
    return build_weekly_summary(session_factory, dealer_id, week, weeks=weeks)


def hourly_rollup_job(*, session_factory: sessionmaker | None = None) -> dict:
    """Roll up the current and previous day, week and month (``metrics.aggregate.rollup``).

    Then retry weekly summaries whose e-mail failed, so nothing waits for next Monday.
    """
    factory = _factory(session_factory)
    with job_lock(factory, ROLLUP_LOCK) as held:
        if not held:
            log.info("hourly rollup: another process is on it")
            return {"rows": 0, "retried": [], "skipped": True}
        rows = rollup(factory)
    retried = []
    for dealer_id, week in failed_deliveries(factory):
        try:
            retried.append(weekly_summary_job(dealer_id, week, session_factory=factory).as_text())
        except Exception:  # one dealer's broken file must not stop the others
            log.exception("retrying the weekly summary %s %s failed", dealer_id, week)
    retried += resume_interrupted_job(session_factory=factory)
    log.info("hourly rollup: %d summary rows; retried %d summaries", rows, len(retried))
    return {"rows": rows, "retried": retried}


# -- retention ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeResult:
    retention_days: int
    purged: dict
    tracker_events: int
    skipped: bool = False  # another process was purging

    def as_text(self) -> str:
        if self.skipped:
            return "retention purge: another process is purging right now; nothing done"
        counts = ", ".join(f"{k} {v}" for k, v in self.purged.items())
        return (
            f"retention {self.retention_days} days: {counts}; "
            f"tracker events of erased contacts: {self.tracker_events}"
        )


def retention_purge_job(*, session_factory: sessionmaker | None = None) -> PurgeResult:
    """Delete personal data older than the retention period: store rows, Rasa's events of
    senders idle for that long, spooled and set-aside records, outbox files; and the tracker
    events of contacts who asked to be erased once their conversation has been idle for an hour."""
    settings = get_settings()
    factory = _factory(session_factory)
    now = clock()
    with job_lock(factory, "retention_purge") as held:
        if not held:
            return PurgeResult(settings.retention_days, {}, 0, skipped=True)
        purged = purge_older_than(factory, settings.retention_days, now)
        utc = now.astimezone(dt.timezone.utc).replace(tzinfo=None)
        cutoff = utc - dt.timedelta(days=settings.retention_days)
        purged["tracker_events"] = purge_idle_tracker_events(settings.tracker_db_url, cutoff)
        files = purge_old_files(cutoff)
        purged["spool_lines"], purged["files"] = files["spool_lines"], files["files"]
        idle = utc - dt.timedelta(hours=1)
        events = purge_pending_erasures(
            factory, settings.tracker_db_url, idle, secret=settings.contact_key_secret
        )
    result = PurgeResult(settings.retention_days, purged, events)
    log.info(result.as_text())
    return result
