"""APScheduler wiring: which job runs when. The jobs themselves live in ``metrics.jobs``.

Jobs are kept in the store (SQLAlchemy job store, table ``scheduler_jobs``) with explicit ids and
``replace_existing``. ``coalesce`` + ``misfire_grace_time`` make a run missed during downtime
happen once when the scheduler is back, not once per missed slot. A job whose trigger did not
change keeps its stored next run time on restart, so a Monday missed while the scheduler was down
is still caught up (a plain ``replace_existing`` would silently move it to next Monday).
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import create_engine

from core.settings import get_settings
from dealer.config import DealerConfigError, all_dealers
from metrics.jobs import resume_interrupted_job

log = logging.getLogger(__name__)

JOB_TABLE = "scheduler_jobs"
HOURLY_ROLLUP = "hourly_rollup"
RETENTION_PURGE = "retention_purge"
WEEKLY_SUMMARY = "weekly_summary:"  # + dealer id
DEFAULT_TIMEZONE = ZoneInfo("Europe/Amsterdam")
HOUR = 3600
# How often the running scheduler looks for added, removed or changed dealer locations.
DEALER_CHECK_S = 60


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: str  # "module:function", so the job store keeps a reference, not code
    trigger: CronTrigger
    misfire_grace_time: int  # seconds a late run is still worth doing
    kwargs: dict = field(default_factory=dict)


def job_specs(dealers: Iterable) -> list[JobSpec]:
    """The jobs: hourly rollup, nightly purge, and each dealer's Monday 07:00 summary."""
    dealers = list(dealers)
    tz = dealers[0].timezone if dealers else DEFAULT_TIMEZONE
    specs = [
        JobSpec(HOURLY_ROLLUP, "metrics.jobs:hourly_rollup_job",
                CronTrigger(minute=5, timezone=tz), misfire_grace_time=HOUR - 60),
        JobSpec(RETENTION_PURGE, "metrics.jobs:retention_purge_job",
                CronTrigger(hour=3, minute=30, timezone=tz), misfire_grace_time=20 * HOUR),
    ]  # fmt: skip
    for dealer in dealers:
        specs.append(
            JobSpec(
                f"{WEEKLY_SUMMARY}{dealer.id}",
                "metrics.jobs:weekly_summary_job",
                CronTrigger(day_of_week="mon", hour=7, minute=0, timezone=dealer.timezone),
                # caught up until Sunday; a week later the next Monday run takes over
                misfire_grace_time=6 * 24 * HOUR,
                kwargs={"dealer_id": dealer.id},
            )
        )
    return specs


def job_store(url: str | None = None, **engine_options) -> SQLAlchemyJobStore:
    """The job store on the store database (``DEALERBOT_DATABASE_URL`` by default)."""
    url = url or get_settings().database_url
    if url.startswith("sqlite"):
        engine_options.setdefault("connect_args", {}).setdefault("timeout", 30)
    # APScheduler 3.9 calls engine.execute(): it needs a classic (not future=True) engine.
    # hide_parameters: an error in the logs never shows bound values (as core.store.session)
    engine_options.setdefault("hide_parameters", True)
    engine = create_engine(url, pool_pre_ping=True, **engine_options)
    return SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)


def create_scheduler(
    scheduler_class: type[BaseScheduler] = BackgroundScheduler,
    *,
    jobstore: SQLAlchemyJobStore | None = None,
    executor=None,  # noqa: ANN001 - any APScheduler executor; threads by default
) -> BaseScheduler:
    return scheduler_class(
        jobstores={"default": jobstore or job_store()},
        executors={"default": executor or ThreadPoolExecutor(max_workers=2)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=dt.timezone.utc,
    )


def install_jobs(scheduler: BaseScheduler, dealers: Iterable) -> list[str]:
    """Add or replace every job; drop weekly jobs of dealers that are gone. Returns the ids.

    Call it on a started (possibly paused) scheduler, so the stored jobs can be looked up.
    """
    specs = job_specs(dealers)
    for spec in specs:
        existing = scheduler.get_job(spec.id)
        keep = (
            existing is not None
            and existing.next_run_time is not None
            and existing.func_ref == spec.func
            and repr(existing.trigger) == repr(spec.trigger)
        )
        scheduler.add_job(
            spec.func,
            spec.trigger,
            id=spec.id,
            name=spec.id,
            kwargs=spec.kwargs,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=spec.misfire_grace_time,
            **({"next_run_time": existing.next_run_time} if keep else {}),
        )
    wanted = {spec.id for spec in specs}
    for job in scheduler.get_jobs():
        if job.id.startswith(WEEKLY_SUMMARY) and job.id not in wanted:
            scheduler.remove_job(job.id)
    return [spec.id for spec in specs]


def start(scheduler: BaseScheduler, dealers: Iterable) -> BaseScheduler:
    """Start paused, install the jobs, then run: missed runs are caught up once, right away."""
    scheduler.start(paused=True)
    install_jobs(scheduler, dealers)
    scheduler.resume()
    return scheduler


def _locations(dealers: Iterable) -> tuple:
    return tuple((dealer.id, str(dealer.timezone)) for dealer in dealers)


def refresh_dealer_jobs(scheduler: BaseScheduler, installed: tuple) -> tuple:
    """Install the jobs again when the dealer locations differ from ``installed`` (a folder
    added or removed, a time zone changed): a new location gets its weekly summary without a
    restart. Returns the locations now installed. Dealer files that cannot be read leave the
    jobs as they are (the broken folder is logged by dealer.config)."""
    try:
        dealers = list(all_dealers().values())
    except (DealerConfigError, OSError) as exc:
        log.error("dealer files unreadable; the scheduled jobs stay as they are: %s", exc)
        return installed
    now = _locations(dealers)
    if now != installed:
        install_jobs(scheduler, dealers)
        log.info("dealer locations changed: jobs installed for %s", ", ".join(d for d, _ in now))
    return now


def run_forever(stop: threading.Event | None = None) -> int:
    """``dealerbot scheduler``: run in the foreground until SIGINT/SIGTERM (or ``stop``)."""
    stop = stop or threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    dealers = list(all_dealers().values())
    scheduler = start(create_scheduler(), dealers)
    installed = _locations(dealers)
    try:
        for job in scheduler.get_jobs():
            when = job.next_run_time.astimezone(job.trigger.timezone)
            print(f"  {job.id:<40} next run {when:%Y-%m-%d %H:%M %Z}", flush=True)
        # A weekly summary killed half way (its job already moved on to next Monday) is
        # finished now. In this thread, not as a stored one-off job: a second scheduler on the
        # same job store would race to remove that job. A SIGTERM meanwhile waits for it.
        try:
            resume_interrupted_job()
        except Exception:  # e.g. the database is down: the hourly rollup tries again
            log.exception("resuming interrupted weekly summaries failed")
        print("scheduler running; Ctrl-C to stop", flush=True)
        # the timeout keeps the main thread responsive to signals
        while not stop.wait(timeout=DEALER_CHECK_S):
            installed = refresh_dealer_jobs(scheduler, installed)
    finally:
        print("scheduler stopping: waiting for running jobs to finish", flush=True)
        scheduler.shutdown(wait=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        print("scheduler stopped", flush=True)
    return 0
