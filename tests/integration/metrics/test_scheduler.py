"""The scheduler with a controllable clock, on the real job store (SQLite and PostgreSQL).

APScheduler reads the time in two places (scheduler and executor); both are pointed at the test
clock, and jobs run in the test's thread (DebugExecutor) when the test says ``tick()``.
"""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import apscheduler.executors.base as executor_base
import apscheduler.schedulers.base as scheduler_base
import pytest
from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import text

from dealer.config import all_dealers
from metrics.scheduler import (
    HOURLY_ROLLUP,
    NOTIFICATIONS,
    REMINDERS,
    RETENTION_PURGE,
    create_scheduler,
    job_store,
    start,
)
from tests.integration.metrics.smtp_server import RECIPIENTS, dealers_dir, smtp  # noqa: F401
from tests.integration.metrics.summary_seed import DEALER, seed_week

AMS = ZoneInfo("Europe/Amsterdam")
WEEKLY = f"weekly_summary:{DEALER}"
ALL_JOBS = {HOURLY_ROLLUP, RETENTION_PURGE, NOTIFICATIONS, REMINDERS, WEEKLY}


class SteppedScheduler(BaseScheduler):
    """Runs due jobs only on ``tick()``, at the test clock's time."""

    def shutdown(self, wait=True):
        super().shutdown(wait)

    def wakeup(self):
        pass

    def tick(self):
        self._process_jobs()


@pytest.fixture
def clock(monkeypatch):
    """``clock(moment)`` sets the time for APScheduler and for the jobs (DEALERBOT_FIXED_NOW)."""
    state = {}

    class TestDatetime(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return state["now"].astimezone(tz) if tz else state["now"].replace(tzinfo=None)

    monkeypatch.setattr(scheduler_base, "datetime", TestDatetime)
    monkeypatch.setattr(executor_base, "datetime", TestDatetime)

    def set_time(moment: dt.datetime) -> None:
        state["now"] = moment
        monkeypatch.setenv("DEALERBOT_FIXED_NOW", moment.isoformat())

    return set_time


@pytest.fixture
def store_url(store, monkeypatch, dealers_dir):  # noqa: F811
    """The test store as a URL (PostgreSQL: with the test's schema), used by jobs and job store."""
    engine = store.kw["bind"]
    url = engine.url
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.execute(text("select current_schema()")).scalar()
        url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    monkeypatch.setenv("DEALERBOT_DATABASE_URL", rendered)
    seed_week(store)
    yield rendered
    from core.store.session import _factory_for

    _factory_for(rendered).kw["bind"].dispose()


def scheduler():
    return create_scheduler(SteppedScheduler, jobstore=job_store(), executor=DebugExecutor())


def started(clock_time, clock):
    clock(clock_time)
    return start(scheduler(), all_dealers().values())


def subjects(smtp):  # noqa: F811
    # strip(): a long subject is folded onto the next line, and Python's parser keeps that space
    return sorted((rcpt[0], m["Subject"].strip()) for rcpt, m in smtp.received)


def test_the_monday_job_fires_at_seven_in_the_dealer_time_zone(store_url, clock, smtp):  # noqa: F811
    sched = started(dt.datetime(2026, 11, 22, 12, 0, tzinfo=AMS), clock)  # Sunday noon
    jobs = {job.id: job for job in sched.get_jobs()}
    assert set(jobs) == ALL_JOBS
    assert jobs[WEEKLY].next_run_time == dt.datetime(2026, 11, 23, 7, 0, tzinfo=AMS)
    assert jobs[WEEKLY].coalesce and jobs[WEEKLY].misfire_grace_time == 6 * 24 * 3600
    sched.tick()
    assert smtp.received == []

    clock(dt.datetime(2026, 11, 23, 6, 59, 59, tzinfo=AMS))
    sched.tick()  # the rollup and the purge run; no summary yet
    assert smtp.received == []

    clock(dt.datetime(2026, 11, 23, 7, 0, 1, tzinfo=AMS))
    sched.tick()
    week47 = "Weekoverzicht chat: Autohuis De Vries · week 47, 16–22 november"
    assert subjects(smtp) == sorted((r, week47) for r in RECIPIENTS)
    assert sched.get_job(WEEKLY).next_run_time == dt.datetime(2026, 11, 30, 7, 0, tzinfo=AMS)

    clock(dt.datetime(2026, 11, 23, 8, 30, tzinfo=AMS))
    sched.tick()
    assert len(smtp.received) == 2
    sched.shutdown()


def test_a_missed_monday_is_caught_up_once(store_url, clock, smtp):  # noqa: F811
    first = started(dt.datetime(2026, 11, 22, 12, 0, tzinfo=AMS), clock)
    first.shutdown()  # the machine is down over three Mondays: 23 Nov, 30 Nov, 7 Dec

    back = started(dt.datetime(2026, 12, 9, 10, 0, tzinfo=AMS), clock)  # Wednesday
    assert back.get_job(WEEKLY).next_run_time == dt.datetime(2026, 11, 23, 7, 0, tzinfo=AMS)
    back.tick()
    week49 = "Weekoverzicht chat: Autohuis De Vries · week 49, 30 november – 6 december"
    assert subjects(smtp) == sorted((r, week49) for r in RECIPIENTS)  # once, the last week
    assert back.get_job(WEEKLY).next_run_time == dt.datetime(2026, 12, 14, 7, 0, tzinfo=AMS)
    back.tick()
    assert len(smtp.received) == 2
    back.shutdown()


def test_a_run_missed_by_more_than_the_grace_time_is_skipped(store_url, clock, smtp):  # noqa: F811
    first = started(dt.datetime(2026, 11, 22, 12, 0, tzinfo=AMS), clock)
    first.shutdown()
    back = started(dt.datetime(2026, 11, 29, 23, 0, tzinfo=AMS), clock)  # Sunday, 6 d 16 h late
    back.tick()
    assert smtp.received == []
    assert back.get_job(WEEKLY).next_run_time == dt.datetime(2026, 11, 30, 7, 0, tzinfo=AMS)
    back.shutdown()


def test_two_scheduler_processes_do_not_double_send(store_url, clock, smtp):  # noqa: F811
    sunday = dt.datetime(2026, 11, 22, 12, 0, tzinfo=AMS)
    one, two = started(sunday, clock), started(sunday, clock)
    clock(dt.datetime(2026, 11, 23, 7, 0, 5, tzinfo=AMS))
    barrier, errors = threading.Barrier(2), []

    def tick(sched):
        barrier.wait()
        try:
            sched.tick()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=tick, args=(s,)) for s in (one, two)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(rcpt[0] for rcpt, _ in smtp.received) == sorted(RECIPIENTS)
    one.tick()
    two.tick()
    assert len(smtp.received) == 2
    one.shutdown()
    two.shutdown()


def test_restart_replaces_jobs_and_drops_removed_dealers(store_url, clock, smtp):  # noqa: F811
    sched = started(dt.datetime(2026, 11, 22, 12, 0, tzinfo=AMS), clock)
    sched.add_job("metrics.jobs:weekly_summary_job", "cron", id="weekly_summary:gone",
                  kwargs={"dealer_id": "gone"}, day_of_week="mon", hour=7)  # fmt: skip
    sched.shutdown()
    again = started(dt.datetime(2026, 11, 22, 13, 0, tzinfo=AMS), clock)
    assert {job.id for job in again.get_jobs()} == ALL_JOBS
    again.shutdown()


def test_a_new_location_gets_its_weekly_job_without_a_restart(store_url, clock, dealers_dir):  # noqa: F811
    import shutil

    from metrics.scheduler import _locations, refresh_dealer_jobs

    sched = started(dt.datetime(2026, 11, 22, 12, 0, tzinfo=AMS), clock)
    installed = _locations(all_dealers().values())
    assert refresh_dealer_jobs(sched, installed) == installed  # nothing changed
    new = dealers_dir / "autohuis-zwolle"
    shutil.copytree(dealers_dir / DEALER, new)
    yml = new / "dealer.yml"
    yml.write_text(yml.read_text().replace(f"id: {DEALER}", "id: autohuis-zwolle"))
    installed = refresh_dealer_jobs(sched, installed)
    assert {d for d, _ in installed} == {DEALER, "autohuis-zwolle"}
    job = sched.get_job("weekly_summary:autohuis-zwolle")
    assert job.next_run_time == dt.datetime(2026, 11, 23, 7, 0, tzinfo=AMS)
    shutil.rmtree(new)  # a location closes: its job goes
    refresh_dealer_jobs(sched, installed)
    assert sched.get_job("weekly_summary:autohuis-zwolle") is None
    assert sched.get_job(WEEKLY) is not None
    sched.shutdown()
