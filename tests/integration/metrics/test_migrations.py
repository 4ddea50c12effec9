"""The Alembic migrations build exactly the schema the models describe, and go down again."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from metrics.store.migrate import downgrade, upgrade
from metrics.store.models import Base


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
