"""Alembic environment: the engine comes from `ivrflow api migrate`, never from a config file."""

from __future__ import annotations

from alembic import context

from ivrflow.api.tables import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
