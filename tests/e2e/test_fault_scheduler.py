"""Faults of the scheduler process (``dealerbot scheduler``) on PostgreSQL, with a real SMTP server.

The kill lands at a known point without hooks in the product: the test holds an ACCESS EXCLUSIVE
lock on ``metric_summaries``, so the weekly summary's rollup waits there (pg_stat_activity shows
it); then the scheduler gets SIGKILL (during aggregation) or SIGTERM (job in flight).
"""

from __future__ import annotations

import datetime as dt
import signal

import pytest
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import select, text

from core.store.models import JobLock, MetricSummary
from dealer.config import all_dealers
from metrics.jobs import interrupted_summaries, rollup_summary_weeks, weekly_summary_job
from metrics.report.deliver import deliveries
from metrics.scheduler import (
    HOURLY_ROLLUP,
    RETENTION_PURGE,
    WEEKLY_SUMMARY,
    create_scheduler,
    install_jobs,
    job_store,
)
from tests.conftest import pg_schema
from tests.e2e.faults import blocked_by, cli, spawn, stop, wait_for
from tests.integration.metrics.smtp_server import RECIPIENTS, dealers_dir, smtp  # noqa: F401
from tests.integration.metrics.summary_seed import DEALER, WEEK, seed_week

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


class Inert(BaseScheduler):
    """A scheduler that never runs jobs: only edits the job store (a BackgroundScheduler runs
    due jobs once more while it shuts down)."""

    def shutdown(self, wait=True):  # noqa: ANN001, ANN201
        super().shutdown(wait)

    def wakeup(self):  # noqa: ANN201
        pass


def summary_rows(factory) -> list[tuple]:
    """Every summary row, all columns, in key order."""
    columns = MetricSummary.__table__.columns
    with factory() as session:
        return [tuple(r) for r in session.execute(select(*columns).order_by(*columns))]


def sent_once(smtp) -> bool:  # noqa: F811
    return sorted(r for rcpt, _ in smtp.received for r in rcpt) == sorted(RECIPIENTS)


@pytest.fixture
def clean_rows(pg_url, dealers_dir):  # noqa: F811
    """The summary rows a clean weekly run leaves: the same seed, rolled up undisturbed."""
    with pg_schema(pg_url) as (_url, factory):
        seed_week(factory)
        rollup_summary_weeks(factory, WEEK)
        return summary_rows(factory)


@pytest.fixture
def due_store(pg_url, monkeypatch, dealers_dir, smtp):  # noqa: F811
    """A seeded schema whose stored weekly job is due (its Monday run was missed), so a starting
    scheduler runs it at once; the hourly and nightly jobs are moved out of the way."""
    with pg_schema(pg_url) as (url, factory):
        seed_week(factory)
        monkeypatch.setenv("DEALERBOT_DATABASE_URL", url)
        sched = create_scheduler(Inert, jobstore=job_store(url))
        sched.start(paused=True)
        install_jobs(sched, all_dealers().values())
        now = dt.datetime.now(dt.timezone.utc)
        sched.modify_job(f"{WEEKLY_SUMMARY}{DEALER}", next_run_time=now - dt.timedelta(minutes=1))
        for job_id in (HOURLY_ROLLUP, RETENTION_PURGE):
            sched.modify_job(job_id, next_run_time=now + dt.timedelta(days=1))
        sched.shutdown(wait=False)
        yield url, factory


def start_blocked(factory, log):
    """Lock the summary table, start the scheduler, wait until its rollup waits for the lock.
    Returns (process, the test's open connection holding the lock)."""
    engine = factory.kw["bind"]
    holder = engine.connect()
    holder.begin()
    holder.execute(text("lock table metric_summaries in access exclusive mode"))
    holder_pid = holder.execute(text("select pg_backend_pid()")).scalar()
    process = None
    try:
        process = spawn(cli("scheduler"), log)
        with engine.connect() as admin:
            wait_for(lambda: process.poll() is not None or blocked_by(admin, holder_pid),
                     "the weekly rollup to wait for the table lock")  # fmt: skip
        assert process.poll() is None, log.read_text()
    except BaseException:
        if process is not None:
            process.kill()
            process.wait()
        holder.close()
        raise
    return process, holder


def test_scheduler_killed_during_aggregation(due_store, clean_rows, smtp, tmp_path):  # noqa: F811
    url, factory = due_store
    log = tmp_path / "scheduler.log"
    process, holder = start_blocked(factory, log)
    try:
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
    finally:
        holder.rollback()
        holder.close()
    # The footprint of the kill: nothing sent, the week's lock row left by a dead process.
    assert smtp.received == []
    assert interrupted_summaries(factory) == [(DEALER, WEEK)]

    again = spawn(cli("scheduler"), log)  # the rerun: the scheduler comes back
    try:
        wait_for(lambda: again.poll() is not None or sent_once(smtp), "the resumed summary")
    finally:
        assert stop(again) == 0, log.read_text()
    assert sent_once(smtp), log.read_text()
    assert {d.recipient: d.status for d in deliveries(factory, DEALER, WEEK)} == {
        r: "sent" for r in RECIPIENTS
    }
    assert summary_rows(factory) == clean_rows
    with factory() as session:
        assert session.scalars(select(JobLock.name)).all() == []
    # one more run of the week changes nothing and sends nothing
    assert weekly_summary_job(DEALER, WEEK, session_factory=factory).status == "already_delivered"
    assert sent_once(smtp)


def test_sigterm_lets_the_running_job_finish(due_store, clean_rows, smtp, tmp_path):  # noqa: F811
    url, factory = due_store
    log = tmp_path / "scheduler.log"
    process, holder = start_blocked(factory, log)
    try:
        process.send_signal(signal.SIGTERM)
        # the job is still waiting for the lock while the scheduler begins to stop
        wait_for(lambda: "scheduler stopping" in log.read_text(), "the scheduler to stop")
        assert smtp.received == []
    finally:
        holder.rollback()
        holder.close()
    assert stop(process) == 0, log.read_text()
    assert "scheduler stopped" in log.read_text()
    assert sent_once(smtp), log.read_text()
    assert summary_rows(factory) == clean_rows
    assert interrupted_summaries(factory) == []
