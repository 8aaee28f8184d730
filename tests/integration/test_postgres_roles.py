"""A shared ledger's set-up: database roles, read-only connections and the schema's state.

The roles are made with the SQL that docs/team-ledger.md gives, in each test's own
database, and dropped afterwards (roles belong to the whole server).
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from cli.main import cli
from ledger.persistence.database import make_engine, upgrade
from ledger.persistence.schema import JournalEntry
from tests.conftest import PG_ENV, PostgresDatabases, grant_add, seed_real

Run = Callable[..., Result]
SKIP_REASON = (
    f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1/postgres)"
)

# The statements of docs/team-ledger.md, with the role and database names filled in.
READER_SQL = """
CREATE ROLE {reader} LOGIN;
GRANT CONNECT ON DATABASE "{database}" TO {reader};
GRANT USAGE ON SCHEMA public TO {reader};
GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader};
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public
    GRANT SELECT ON TABLES TO {reader};
"""
WRITER_SQL = """
CREATE ROLE {writer} LOGIN;
GRANT CONNECT ON DATABASE "{database}" TO {writer};
GRANT USAGE ON SCHEMA public TO {writer};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {writer};
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {writer};
REVOKE UPDATE, DELETE, TRUNCATE ON journal FROM {writer};
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {writer};
"""
READ_ONLY = (
    "rights-ledger: this database connection may only read: nothing was written "
    "(ask for a database role that may write)"
)


def invoke(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", url, "--actor", "staff", *args])


def journal_length(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(JournalEntry.__table__)).scalar_one()
    engine.dispose()
    return int(count)


def one_line_refusal(result: Result) -> str:
    """The single stderr line of a refused command (and proof that it did not crash)."""
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def pg_url(postgres: PostgresDatabases | None) -> str:
    if postgres is None:
        pytest.skip(SKIP_REASON)
    return postgres.new()


class Roles:
    """Creates login roles in one database with the documented grants; drops them after."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.database = make_url(url).database or ""
        self.admin: Engine = create_engine(url, isolation_level="AUTOCOMMIT")
        self.names: list[str] = []

    def _create(self, sql: str, kind: str) -> str:
        name = f"rl_{kind}_{uuid.uuid4().hex[:8]}"
        self.names.append(name)
        with self.admin.connect() as conn:
            # The tables' owner here is the test server's admin, who ran the migrations.
            owner = conn.execute(text("SELECT current_user")).scalar_one()
            conn.exec_driver_sql(
                sql.format(**{kind: name, "database": self.database, "owner": owner})
            )
        return (
            make_url(self.url)
            .set(username=name, password=None)
            .render_as_string(hide_password=False)
        )

    def reader(self) -> str:
        """The URL of a new role that may only read."""
        return self._create(READER_SQL, "reader")

    def writer(self) -> str:
        """The URL of a new role that may record (but not run migrations)."""
        return self._create(WRITER_SQL, "writer")

    def drop(self) -> None:
        gc.collect()  # let engines the CLI left behind close their connections
        with self.admin.connect() as conn:
            for name in self.names:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :n"
                    ),
                    {"n": name},
                )
                conn.exec_driver_sql(f"DROP OWNED BY {name}")
                conn.exec_driver_sql(f"DROP ROLE {name}")
        self.admin.dispose()


@pytest.fixture
def roles(pg_url: str) -> Iterator[Roles]:
    made = Roles(pg_url)
    yield made
    made.drop()


@pytest.fixture
def run_pg(pg_url: str) -> Run:
    def run(*args: str, expect: int = 0) -> Result:
        result = invoke(pg_url, *args)
        assert result.exit_code == expect, result.stderr
        return result

    return run


# -- a read-only role ----------------------------------------------------------------------


@pytest.mark.postgres
def test_a_read_only_role_can_ask_every_question(run_pg: Run, roles: Roles) -> None:
    seed_real(run_pg, status="signed")
    reader = roles.reader()

    holders = invoke(
        reader, "holders", "--territory", "CN", "--on", "2020-06-01", "--format", "json"
    )
    assert holders.exit_code == 0, holders.stderr
    assert "alibaba-pictures" in holders.stdout
    listed = invoke(reader, "grant", "list", "--format", "json")
    assert listed.exit_code == 0, listed.stderr
    assert '"G1"' in listed.stdout
    for question in (
        ["verify"],
        ["history", "G1"],
        ["db", "current"],
        ["export", "--format", "journal"],
    ):
        result = invoke(reader, *question)
        assert result.exit_code == 0, (question, result.stderr)

    # A table that a later migration adds is readable too (the default privileges).
    with roles.admin.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE added_later (x integer)")
    engine = create_engine(reader)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM added_later")).scalar_one() == 0
    engine.dispose()


@pytest.mark.postgres
def test_a_read_only_role_is_refused_every_write_in_one_line_and_nothing_is_written(
    run_pg: Run, pg_url: str, roles: Roles
) -> None:
    seed_real(run_pg, status="signed")
    reader = roles.reader()
    before = journal_length(pg_url)

    writes = [
        ["party", "add", "youku", "--name", "Youku", "--country", "CN"],
        ["title", "add", "veteran", "--name", "Veteran", "--owner", "real-producer:WW"],
        ["agreement", "add", "IQ-1", "--parties", "real-producer,iqiyi"],
        grant_add(
            "ALI-REAL-2016",
            "real-producer",
            "alibaba-pictures",
            "svod",
            "KR",
            "2020-01-01",
            "2020-12-31",
            "non-exclusive",
        ),
        ["grant", "terminate", "G1", "--on", "2020-01-01", "--reason", "test"],
        ["db", "upgrade"],
    ]
    for write in writes[:-1]:
        assert one_line_refusal(invoke(reader, *write)) == READ_ONLY, write
    # `db upgrade` on a current schema has nothing to do, even for a reader.
    assert invoke(reader, "db", "upgrade").exit_code == 0
    assert journal_length(pg_url) == before


@pytest.mark.postgres
def test_a_read_only_role_cannot_migrate_and_is_told_so(
    postgres: PostgresDatabases | None,
) -> None:
    if postgres is None:
        pytest.skip(SKIP_REASON)
    empty = postgres.new(migrated=False)
    roles = Roles(empty)
    try:
        reader = roles.reader()
        assert one_line_refusal(invoke(reader, "db", "upgrade")) == READ_ONLY
    finally:
        roles.drop()


@pytest.mark.postgres
def test_a_writer_role_records_grants_but_cannot_touch_the_journal(
    run_pg: Run, pg_url: str, roles: Roles
) -> None:
    seed_real(run_pg, status="signed")
    writer = roles.writer()

    added = invoke(
        writer,
        *grant_add(
            "ALI-REAL-2016",
            "real-producer",
            "alibaba-pictures",
            "svod",
            "KR",
            "2020-01-01",
            "2020-12-31",
            "non-exclusive",
        ),
    )
    assert added.exit_code == 0, added.stderr
    assert added.stdout.strip() == "G2"
    amended = invoke(
        writer, "grant", "terminate", "G2", "--on", "2020-06-30", "--reason", "ended early"
    )
    assert amended.exit_code == 0, amended.stderr
    assert invoke(writer, "verify").exit_code == 0

    engine = create_engine(writer)
    with engine.connect() as conn:
        denied = conn.execute(
            text(
                "SELECT has_table_privilege('journal', 'UPDATE'), "
                "has_table_privilege('journal', 'DELETE'), "
                "has_table_privilege('alembic_version', 'UPDATE')"
            )
        ).one()
    engine.dispose()
    assert tuple(denied) == (False, False, False)


# -- a read-only SQLite file ---------------------------------------------------------------


def test_an_sqlite_ledger_opened_read_only_answers_questions_and_refuses_writes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.db"
    writable = f"sqlite:///{path}"
    upgrade(make_engine(writable))
    runner = CliRunner()

    def run(*args: str, expect: int = 0) -> Result:
        result = runner.invoke(cli, ["--db", writable, "--actor", "tester", *args])
        assert result.exit_code == expect, result.stderr
        return result

    seed_real(run, status="signed")
    before = journal_length(writable)
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"

    listed = invoke(read_only, "grant", "list", "--format", "json")
    assert listed.exit_code == 0, listed.stderr
    assert '"G1"' in listed.stdout
    party = invoke(read_only, "party", "add", "youku", "--name", "Youku")
    assert one_line_refusal(party) == READ_ONLY
    refused = invoke(
        read_only,
        *grant_add(
            "ALI-REAL-2016",
            "real-producer",
            "iqiyi",
            "svod",
            "KR",
            "2020-01-01",
            "2020-12-31",
            "non-exclusive",
        ),
    )
    assert one_line_refusal(refused) == READ_ONLY
    assert journal_length(writable) == before
    # The URI is not taken for a path: no directory named after it appears.
    assert not any(p.name.startswith("file:") for p in Path.cwd().iterdir())


# -- an out-of-date schema -----------------------------------------------------------------


@pytest.mark.postgres
def test_a_command_against_an_unmigrated_postgresql_database_says_to_run_db_upgrade(
    postgres: PostgresDatabases | None,
) -> None:
    if postgres is None:
        pytest.skip(SKIP_REASON)
    url = postgres.new(migrated=False)

    for command in (["grant", "list"], ["party", "add", "youku", "--name", "Youku"]):
        line = one_line_refusal(invoke(url, *command))
        assert "run `rights-ledger db upgrade`" in line, line
        assert "at nothing" in line, line

    upgraded = invoke(url, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.stderr
    assert invoke(url, "grant", "list").exit_code == 0


@pytest.mark.postgres
def test_a_postgresql_database_one_migration_behind_names_both_revisions(
    postgres: PostgresDatabases | None,
) -> None:
    if postgres is None:
        pytest.skip(SKIP_REASON)
    url = postgres.new(migrated=False)
    engine = make_engine(url)
    upgrade(engine, "0001")
    engine.dispose()

    line = one_line_refusal(invoke(url, "holders", "--territory", "CN"))
    assert "at 0001" in line and "run `rights-ledger db upgrade`" in line, line
