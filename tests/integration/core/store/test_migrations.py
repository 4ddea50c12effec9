"""The Alembic migrations build exactly the schema the models describe, and go down again."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from core.store.migrate import downgrade, upgrade
from core.store.models import Base


def test_migrations_match_the_models(store):
    engine = store.kw["bind"]
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_downgrade_and_upgrade_again(store):
    engine = store.kw["bind"]
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert {"appointments", "leads", "conversations", "survey_answers"} <= set(
        inspect(engine).get_table_names()
    )


def test_0009_clears_the_sender_hashes_that_have_no_use_left(store):
    """Old tombstones hold an unsalted SHA-256 of the sender id. Where Rasa's events are purged
    already it is cleared; a pending one stays for the purge, which matches both forms."""
    from sqlalchemy import text

    engine = store.kw["bind"]
    downgrade(engine, "0008")
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into erasures (contact_key, sender_id_hash, requested_at, tracker_purged_at)"
                " values ('k1', 'sha-purged', '2026-01-01', '2026-01-02'),"
                " ('k2', 'sha-pending', '2026-01-01', NULL)"
            )
        )
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("select contact_key, sender_id_hash from erasures order by 1"))
        assert rows.all() == [("k1", None), ("k2", "sha-pending")]
    downgrade(engine, "0008")  # the old NOT NULL column holds again
    with engine.connect() as conn:
        assert conn.execute(
            text("select sender_id_hash from erasures order by 1")
        ).scalars().all() == [
            "",
            "sha-pending",
        ]
