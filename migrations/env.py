"""Alembic environment: run from `ledger.persistence.database`, never from a .ini file.

The caller hands over an open connection in `config.attributes["connection"]`, so the
same code upgrades SQLite and PostgreSQL, from a source tree or an installed wheel.
"""

from __future__ import annotations

from alembic import context

from ledger.persistence.schema import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the tool itself runs these migrations
    raise RuntimeError("run migrations through `rights-ledger db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
