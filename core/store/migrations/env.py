"""Alembic environment: uses the engine handed in by core.store.migrate, or settings."""

from alembic import context

from core.settings import get_settings
from core.store.models import Base
from core.store.session import make_engine

config = context.config
engine = config.attributes.get("engine")
if engine is None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or get_settings().database_url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
