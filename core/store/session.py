"""Engines and session factories, built on first use from settings (never at import)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from core.settings import get_settings


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for ``url``. SQLite files get a pool, WAL mode and a busy timeout.

    Errors never show the bound parameters (``hide_parameters``): they hold names, phone
    numbers and message texts, and errors go to the logs.
    """
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            future=True,
            poolclass=QueuePool,
            pool_size=5,
            max_overflow=10,
            connect_args={"check_same_thread": False, "timeout": 30},
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    if url.startswith("postgresql") and "connect_timeout" not in url:
        # A database host that does not answer must not hold a write (and the action server's
        # event loop) for the TCP timeout: give up after a few seconds and spool the record.
        kwargs["connect_args"] = {"connect_timeout": 5, **kwargs.get("connect_args", {})}
    return create_engine(url, future=True, pool_pre_ping=True, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, future=True, expire_on_commit=False)


@lru_cache(maxsize=4)
def _factory_for(url: str) -> sessionmaker:
    return make_session_factory(make_engine(url))


def default_session_factory() -> sessionmaker:
    """The session factory for the configured ``DEALERBOT_DATABASE_URL``."""
    return _factory_for(get_settings().database_url)
