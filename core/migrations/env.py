"""Alembic environment: runs against the engine handed over by core.db.upgrade()."""

from alembic import context

from core.config import database_url
from core.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from core.db import get_engine

        engine = get_engine(database_url())
    from core.db import writing

    # On SQLite the migration holds the write lock from its first statement: the app's writers wait for it.
    with writing(engine).connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
