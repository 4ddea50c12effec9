"""Which model each Rasa server runs since when (``model_loads``; written by ``dealerbot run``
and ``dealerbot reload``, read by the dashboard)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from core.store.models import ModelLoad, from_utc_naive, utc_naive, utcnow


def record_model_load(
    session_factory: sessionmaker,
    server: str,
    model_file: str,
    model_id: str,
    at: dt.datetime | None = None,
) -> None:
    """Record that ``server`` runs ``model_file`` from ``at`` (default: now)."""
    with session_factory.begin() as session:
        session.add(ModelLoad(server=server, model_file=model_file, model_id=model_id,
                              loaded_at=utc_naive(at) if at else utcnow()))  # fmt: skip


def live_since(
    session_factory: sessionmaker, server: str, model_file: str, model_id: str
) -> dt.datetime | None:
    """Since when ``server`` runs this model (aware UTC), if its latest recorded load is this
    model; None when the server was started or reloaded without a record (say, by hand)."""
    with session_factory() as session:
        latest = session.scalars(
            select(ModelLoad).where(ModelLoad.server == server)
            .order_by(ModelLoad.loaded_at.desc(), ModelLoad.id.desc()).limit(1)
        ).first()  # fmt: skip
    if latest is None or (latest.model_file, latest.model_id) != (model_file, model_id):
        return None
    return from_utc_naive(latest.loaded_at)
