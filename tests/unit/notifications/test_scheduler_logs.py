"""The 5-second notifications job does not fill the scheduler's log with its routine lines."""

import logging

from metrics.scheduler import QuietFrequentJobs


def record(level, message):
    return logging.LogRecord("apscheduler.executors.default", level, __file__, 1, message, (), None)


def test_routine_lines_of_the_notifications_job_are_dropped_others_kept():
    quiet = QuietFrequentJobs()
    assert not quiet.filter(record(logging.INFO, 'Running job "notifications (trigger: interval'))
    assert quiet.filter(record(logging.ERROR, 'Job "notifications (trigger: interval" raised'))
    assert quiet.filter(record(logging.INFO, 'Running job "hourly_rollup (trigger: cron'))
