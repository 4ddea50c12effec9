"""Shared fixtures: a frozen clock, the demo dealer, stores on SQLite and PostgreSQL, trackers."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from core.store.migrate import upgrade
from core.store.session import make_engine, make_session_factory

REPO = Path(__file__).resolve().parent.parent
# Monday 23 November 2026, 09:00 in Amsterdam: every date in the tests is relative to this.
FIXED_NOW = "2026-11-23T09:00:00+01:00"
PG_URL = os.environ.get(
    "DEALERBOT_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("DEALERBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379")


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """One migrated SQLite file; each test gets a copy as its default store."""
    path = tmp_path_factory.mktemp("template") / "store.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch, tmp_path, migrated_sqlite):
    """Every test: a frozen clock, its own var/ folder and its own migrated default store."""
    shutil.copy(migrated_sqlite, tmp_path / "default.sqlite3")
    monkeypatch.setenv("DEALERBOT_FIXED_NOW", FIXED_NOW)
    monkeypatch.setenv("DEALERBOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DEALERBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'default.sqlite3'}")
    monkeypatch.setenv("DEALERBOT_CUSTOMER_CHANNELS", "web,whatsapp")
    monkeypatch.setenv("DEALERBOT_TRACKER_DB_URL", f"sqlite:///{tmp_path / 'tracker.sqlite3'}")


@pytest.fixture
def now() -> dt.datetime:
    return dt.datetime.fromisoformat(FIXED_NOW)


@pytest.fixture
def dealer():
    from dealer.config import get_dealer

    return get_dealer("autohuis-demo")


@pytest.fixture
def sqlite_factory(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def postgres_available() -> str | None:
    """None if PostgreSQL answers, else the reason it cannot be used."""
    from bench.common import postgres_unreachable

    return postgres_unreachable(PG_URL)


@contextlib.contextmanager
def pg_schema(pg_url: str, port: int | None = None) -> Iterator[tuple[str, sessionmaker]]:
    """A fresh schema migrated with Alembic: (URL that selects it, session factory over it);
    dropped afterwards. ``port`` builds the URL through another port (a FlakyProxy in front of
    PostgreSQL); the factory always connects directly."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f'create schema "{schema}"'))
    direct = f"{pg_url}?options=-csearch_path%3D{schema}"
    engine = make_engine(direct)
    try:
        upgrade(engine)
        url = direct.replace(":5432/", f":{port}/") if port else direct
        yield url, make_session_factory(engine)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'drop schema "{schema}" cascade'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url():
    reason = postgres_available()
    if reason:
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    return PG_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis (without a database number); the test is skipped when it is unreachable."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=3).ping()
    except redis.RedisError as exc:
        reason = f"Redis at {REDIS_URL} is unreachable: {exc}"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    return REDIS_URL


@pytest.fixture
def pg_factory(pg_url):
    """A fresh schema per test, migrated with Alembic, dropped afterwards."""
    with pg_schema(pg_url) as (_url, factory):
        yield factory


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request):
    """Each store test runs on SQLite and on PostgreSQL."""
    name = "sqlite_factory" if request.param == "sqlite" else "pg_factory"
    return request.getfixturevalue(name)


@pytest.fixture(scope="session")
def model():
    """The trained model for the current data (trained here once if the data changed).

    DEALERBOT_TEST_MODEL=path runs the tests against a given model instead.
    """
    from bot.runtime import train_if_needed

    given = os.environ.get("DEALERBOT_TEST_MODEL")
    return Path(given).resolve() if given else train_if_needed()
