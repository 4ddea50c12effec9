"""Our database engines never put bound parameters (names, numbers, message texts) into an
error, which is what ends up in the logs: the store's, the scheduler's job store's and the
Rasa tracker store's."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.runtime import tracker_store_kwargs
from bot.tracker_store import CachedSQLTrackerStore
from metrics.scheduler import job_store

SECRET_VALUE = "Jansen 0612345678 verwijder mijn gegevens"


def fail_with_a_parameter(connection) -> str:
    with pytest.raises(DBAPIError) as failed:
        connection.execute(text("insert into no_such_table (x) values (:x)"), {"x": SECRET_VALUE})
    return str(failed.value)


def test_the_store_hides_parameters_in_errors(store, caplog):
    with caplog.at_level(logging.DEBUG), store() as session:
        message = fail_with_a_parameter(session)
    assert "SQL parameters hidden" in message
    assert SECRET_VALUE not in message and SECRET_VALUE not in caplog.text


def test_the_scheduler_job_store_hides_parameters(tmp_path):
    engine = job_store(f"sqlite:///{tmp_path / 'jobs.sqlite3'}").engine
    with engine.connect() as connection:
        message = fail_with_a_parameter(connection)
    assert SECRET_VALUE not in message


def test_the_tracker_store_hides_parameters(tmp_path):
    tracker_store = CachedSQLTrackerStore(
        **tracker_store_kwargs(f"sqlite:///{tmp_path / 'tracker.sqlite3'}")
    )
    with tracker_store.engine.connect() as connection:
        message = fail_with_a_parameter(connection)
    assert SECRET_VALUE not in message
