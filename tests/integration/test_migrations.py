"""The migrations are the schema: they build it on both backends and match the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.persistence.database import (
    SCHEMA_HEAD,
    alembic_config,
    head_revision,
    make_engine,
    schema_state,
    upgrade,
)
from ledger.persistence.schema import Base
from ledger.services.ledger import Ledger


def test_the_migrated_database_matches_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        differences = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert differences == []


def test_a_migrated_database_is_at_the_head_revision(db_url: str) -> None:
    state = schema_state(make_engine(db_url))
    assert state.current == head_revision()
    assert state.up_to_date


def test_the_database_itself_refuses_to_edit_or_delete_journal_entries(db_url: str) -> None:
    engine = make_engine(db_url)
    Ledger(engine, actor="tester").add_party("cj-enm", "CJ E&M")
    for statement in ("UPDATE journal SET actor = 'mallory'", "DELETE FROM journal"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT actor FROM journal")).scalar_one() == "tester"


def test_an_sqlite_ledger_is_created_and_migrated_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "first.db"
    engine = make_engine(f"sqlite:///{path}")
    Ledger(engine, actor="tester")
    assert path.exists()
    assert schema_state(engine).up_to_date


def test_migrations_downgrade_to_nothing_and_back(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert schema_state(engine).current is None
    upgrade(engine)
    assert schema_state(engine).up_to_date


def test_the_schema_head_every_command_checks_is_the_newest_migration() -> None:
    assert head_revision() == SCHEMA_HEAD
