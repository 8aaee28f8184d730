"""Shared fixtures: a ledger database on each backend, built by running the migrations.

SQLite always runs. PostgreSQL runs when RIGHTS_LEDGER_TEST_PG names a server URL (CI
sets it); each test run creates its own databases there and drops them afterwards.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cli.main import cli
from ledger.persistence.database import make_engine, upgrade
from ledger.services import transfer
from ledger.services.ledger import Ledger
from ledger.services.prepare import can_prepare_apart

PG_ENV = "RIGHTS_LEDGER_TEST_PG"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _pg_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        return None
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class PostgresDatabases:
    """Creates one migrated template per test run, and a fresh copy of it per test."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.run_id = uuid.uuid4().hex[:8]
        self.template = f"rl_test_{self.run_id}_template"
        self.created: list[str] = []
        self._counter = itertools.count()
        self._template_ready = False

    def url_for(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def _ensure_template(self) -> None:
        if self._template_ready:
            return
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.template}"'))
        engine = make_engine(self.url_for(self.template))
        upgrade(engine)
        engine.dispose()
        self._template_ready = True

    def new(self, migrated: bool = True) -> str:
        name = f"rl_test_{self.run_id}_{next(self._counter)}"
        with self.admin.connect() as conn:
            if migrated:
                self._ensure_template()
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
            else:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.url_for(name)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in [*self.created, self.template]:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases | None]:
    admin_url = _pg_admin_url()
    if admin_url is None:
        yield None
        return
    databases = PostgresDatabases(admin_url)
    yield databases
    databases.drop_all()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, postgres: PostgresDatabases | None) -> str:
    """A migrated, empty ledger database on the parametrised backend."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
        upgrade(make_engine(url))
        return url
    if postgres is None:
        pytest.skip(
            f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1/postgres)"
        )
    return postgres.new()


class TickingClock:
    """A clock that moves one second per reading, so journal times are distinct and known."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        self.moment += timedelta(seconds=1)
        return self.moment


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
def ledger(db_url: str, clock: TickingClock) -> Iterator[Ledger]:
    engine = make_engine(db_url)
    yield Ledger(engine, actor="tester", now=clock)
    engine.dispose()


@pytest.fixture
def run(db_url: str) -> Callable[..., Result]:
    """Invoke the CLI against the test database: run("grant", "list", expect=0)."""
    runner = CliRunner()

    def invoke(*args: str, expect: int | None = 0, input: str | None = None) -> Result:
        result = runner.invoke(cli, ["--db", db_url, "--actor", "tester", *args], input=input)
        if expect is not None:
            assert result.exit_code == expect, (
                f"exit {result.exit_code} != {expect}\nstdout: {result.stdout}\n"
                f"stderr: {result.stderr}\n{result.exception!r}"
            )
        return result

    return invoke


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def grant_add(
    agreement: str,
    grantor: str,
    grantee: str,
    rights: str,
    territory: str,
    start: str,
    end: str | None,
    exclusivity: str,
    *extra: str,
    title: str = "real",
    term: str | None = None,
) -> list[str]:
    """The arguments of `grant add` for one licence on `title`, for any way of invoking
    the CLI: it ends on `end`, runs for `term` (`5y`) when one is given, else is open.
    `extra` follows them (`--holdback ...`, `--allow-conflicts`, `--reason ...`)."""
    window = ["--term", term] if term else ["--end", end] if end else ["--open"]
    return [
        "grant",
        "add",
        "--agreement",
        agreement,
        "--title",
        title,
        "--grantor",
        grantor,
        "--grantee",
        grantee,
        "--rights",
        rights,
        "--territory",
        territory,
        "--start",
        start,
        *window,
        "--exclusivity",
        exclusivity,
        *extra,
    ]


def seed_real(run: Callable[..., Result], status: str = "mou") -> None:
    """The seed deal through the CLI: the producer owns Real worldwide; Alibaba holds sole
    distribution in CN from 2017-01-01 through 2026-12-31 under ALI-REAL-2016."""
    run("party", "add", "real-producer", "--name", "Real's producer", "--country", "KR")
    run("party", "add", "alibaba-pictures", "--name", "Alibaba Pictures", "--country", "CN")
    run("party", "add", "iqiyi", "--name", "iQIYI", "--country", "CN")
    run("title", "add", "real", "--name", "Real", "--year", "2017", "--owner", "real-producer:WW")
    run(
        "agreement",
        "add",
        "ALI-REAL-2016",
        "--parties",
        "real-producer,alibaba-pictures",
        "--status",
        status,
    )
    run(
        *grant_add(
            "ALI-REAL-2016",
            "real-producer",
            "alibaba-pictures",
            "distribution",
            "CN",
            "2017-01-01",
            "2026-12-31",
            "sole",
        )
    )


@pytest.fixture(params=["rows read here", "rows read apart"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each CSV import of the test has its rows made ready in the import's own process,
    or, however small the file, in a second process (`ledger.services.prepare`)."""
    apart = request.param == "rows read apart"
    if apart and not can_prepare_apart():
        pytest.skip("a second process needs fork and a second core")
    monkeypatch.setattr(transfer, "PREPARE_APART_FROM", 0 if apart else sys.maxsize)
    return str(request.param)


READERS = pytest.mark.usefixtures("reader")
"""Run a test of CSV imports with either reader (`reader`)."""
