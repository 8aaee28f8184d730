"""Signers racing each other: real processes, released at one moment, on both backends.

The racers are separate operating-system processes with their own database connections;
nothing is shared but the database. So that many rounds stay fast, each racer imports
the tool once and then serves one command line per round: it waits for the round's
start file, runs the command as the console script would (a fresh engine each time,
disposed afterwards), and reports its exit code, stdout and stderr.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Connection as SAConnection
from sqlalchemy.exc import OperationalError, ProgrammingError

from cli.main import cli
from ledger.persistence.database import make_engine
from ledger.persistence.journal import JournalWriter
from ledger.persistence.schema import JournalEntry, RightsGrant
from ledger.services import unit_of_work
from ledger.services.ledger import Ledger, OwnerShare
from ledger.services.unit_of_work import TITLE_LOCK, title_lock_key
from tests.conftest import grant_add

ROOT = Path(__file__).resolve().parents[2]
RACERS = 8
ROUNDS = 3
RACER = """\
import io, json, os, sys, time, traceback
import cli.context as context
from cli.main import cli as group

engines = []
make_engine = context.make_engine
def tracked(url=None):
    engines.append(make_engine(url))
    return engines[-1]
context.make_engine = tracked

scratch, me = sys.argv[1], sys.argv[2]
open(os.path.join(scratch, f"ready-{me}"), "w").close()
n = 0
while True:
    n += 1
    while not os.path.exists(os.path.join(scratch, f"go-{n}")):
        time.sleep(0.002)
    with open(os.path.join(scratch, f"cmd-{n}-{me}")) as f:
        argv = json.load(f)
    if argv is None:
        break
    out, err = io.StringIO(), io.StringIO()
    sys.stdout, sys.stderr = out, err
    try:
        group.main(args=argv, prog_name="rights-ledger")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        traceback.print_exc()
        code = 99
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    for engine in engines:
        engine.dispose()
    engines.clear()
    tmp = os.path.join(scratch, f"out-{n}-{me}.tmp")
    with open(tmp, "w") as f:
        json.dump({"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}, f)
    os.replace(tmp, os.path.join(scratch, f"out-{n}-{me}"))
"""
# The plain console script, for single commands.
CONSOLE = "from cli.main import main; main()"


@dataclass(frozen=True)
class Outcome:
    racer: int
    code: int
    stdout: str
    stderr: str


class Racers:
    """RACERS warm processes that each run one command line per round, all released at once."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.round = 0
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-c", RACER, str(scratch), str(i)],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(1, RACERS + 1)
        ]
        self._wait_for([scratch / f"ready-{i}" for i in range(1, RACERS + 1)], 120)

    def _wait_for(self, files: Sequence[Path], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not all(f.exists() for f in files):
            for proc in self.procs:
                if proc.poll() is not None:
                    raise AssertionError(f"a racer died: {proc.communicate()[1]}")
            assert time.monotonic() < deadline, "the racers did not answer in time"
            time.sleep(0.005)

    def _release(self, commands: Sequence[Sequence[str] | None]) -> None:
        self.round += 1
        for i, command in enumerate(commands, start=1):
            (self.scratch / f"cmd-{self.round}-{i}").write_text(json.dumps(command))
        (self.scratch / f"go-{self.round}").touch()

    def race(self, db_url: str, commands: Sequence[Sequence[str]]) -> list[Outcome]:
        """Run command i in racer i, all starting together; each signs as signer-i."""
        assert len(commands) == RACERS
        self._release(
            [
                ["--db", db_url, "--actor", f"signer-{i}", *command]
                for i, command in enumerate(commands, start=1)
            ]
        )
        outs = [self.scratch / f"out-{self.round}-{i}" for i in range(1, RACERS + 1)]
        self._wait_for(outs, 120)
        outcomes = []
        for i, out in enumerate(outs, start=1):
            report = json.loads(out.read_text())
            outcomes.append(Outcome(i, report["code"], report["stdout"], report["stderr"]))
        return outcomes

    def stop(self) -> None:
        self._release([None] * RACERS)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def racers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Racers]:
    pool = Racers(tmp_path_factory.mktemp("racers"))
    yield pool
    pool.stop()


# -- set-up --------------------------------------------------------------------------------


def owner_and_licensees(ledger: Ledger, titles: Sequence[str]) -> None:
    """An owner of every title worldwide, and RACERS licensees, each with its own signed
    agreement with the owner."""
    ledger.add_party("owner", "The producer", "KR")
    for i in range(1, RACERS + 1):
        ledger.add_party(f"licensee-{i}", f"Licensee {i}", "CN")
        ledger.add_agreement(f"DEAL-{i}", ["owner", f"licensee-{i}"], status="signed")
    for title in titles:
        ledger.add_title(title, title.title(), owners=[OwnerShare("owner")])


def exclusive_svod_in_cn(racer: int, title: str) -> list[str]:
    """Racer i's deal: exclusive SVOD in CN on `title`; every window overlaps every other."""
    return grant_add(
        f"DEAL-{racer}",
        "owner",
        f"licensee-{racer}",
        "svod",
        "CN",
        f"2021-{racer:02d}-01",
        "2025-12-31",
        "exclusive",
        title=title,
    )


# -- running processes ---------------------------------------------------------------------


def console(db_url: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CONSOLE, "--db", db_url, "--actor", "tester", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def grants_in(db_url: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(cli, ["--db", db_url, "grant", "list", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    grants: list[dict[str, Any]] = json.loads(result.stdout)
    return grants


def verify(db_url: str) -> Result:
    return CliRunner().invoke(cli, ["--db", db_url, "verify"])


def no_tracebacks(outcomes: Sequence[Outcome]) -> None:
    for outcome in outcomes:
        assert "Traceback" not in outcome.stderr, outcome.stderr


@pytest.fixture
def racing_ledger(ledger: Ledger) -> Iterator[Ledger]:
    owner_and_licensees(ledger, [f"round-{n}" for n in range(1, ROUNDS + 1)])
    # Racers open their own connections; the fixture's must not hold the SQLite file.
    ledger.engine.dispose()
    yield ledger


# -- exactly one of N colliding exclusive deals lands --------------------------------------


def test_of_eight_colliding_exclusive_deals_signed_at_once_exactly_one_lands(
    racing_ledger: Ledger, db_url: str, racers: Racers
) -> None:
    tally: list[tuple[int, int]] = []
    for n in range(1, ROUNDS + 1):
        title = f"round-{n}"
        outcomes = racers.race(
            db_url, [exclusive_svod_in_cn(i, title) for i in range(1, RACERS + 1)]
        )
        no_tracebacks(outcomes)
        landed = [o for o in outcomes if o.code == 0]
        refused = [o for o in outcomes if o.code != 0]
        tally.append((len(landed), len(refused)))
        assert len(landed) == 1, [(o.racer, o.code, o.stderr) for o in outcomes]
        winner = landed[0].stdout.strip()
        assert re.fullmatch(r"G\d+", winner), landed[0].stdout
        for loser in refused:
            assert loser.code == 1, loser.stderr
            # Every refusal names the conflict and the grant that won the race.
            assert "exclusive-overlap" in loser.stderr, loser.stderr
            assert winner in loser.stderr, loser.stderr
            assert "nothing was recorded" in loser.stderr, loser.stderr
            assert loser.stdout == ""
        on_title = [g for g in grants_in(db_url) if g["title"] == title]
        assert [g["grant"] for g in on_title] == [winner]
        assert on_title[0]["grantee"] == f"licensee-{landed[0].racer}"

    assert tally == [(1, RACERS - 1)] * ROUNDS
    assert len(grants_in(db_url)) == ROUNDS
    checked = verify(db_url)
    assert checked.exit_code == 0, checked.stderr


def test_an_import_racing_grant_adds_for_the_same_rights_lets_exactly_one_deal_land(
    racing_ledger: Ledger, db_url: str, racers: Racers, tmp_path: Path
) -> None:
    """`import` is checked and written under one lock too, against `grant add` as well
    as against other imports."""
    title = "round-1"
    commands: list[list[str]] = []
    for i in range(1, RACERS + 1):
        if i % 2:
            commands.append(exclusive_svod_in_cn(i, title))
            continue
        deal = tmp_path / f"deal-{i}.csv"
        deal.write_text(
            "agreement,title,grantor,grantee,rights,territory,start,end,exclusivity,language,status\n"
            f"DEAL-{i},{title},owner,licensee-{i},svod,CN,2021-{i:02d}-01,2025-12-31,exclusive,,signed\n",
            encoding="utf-8",
        )
        commands.append(["import", str(deal), "--format", "csv"])
    outcomes = racers.race(db_url, commands)
    no_tracebacks(outcomes)
    assert sorted(o.code for o in outcomes) == [0] + [1] * (RACERS - 1), outcomes
    for loser in (o for o in outcomes if o.code != 0):
        assert "exclusive-overlap" in loser.stderr, loser.stderr
    assert len([g for g in grants_in(db_url) if g["title"] == title]) == 1
    assert verify(db_url).exit_code == 0


def test_eight_deals_on_eight_different_titles_signed_at_once_all_land(
    ledger: Ledger, db_url: str, racers: Racers
) -> None:
    titles = [f"film-{i}" for i in range(1, RACERS + 1)]
    owner_and_licensees(ledger, titles)
    ledger.engine.dispose()
    outcomes = racers.race(
        db_url, [exclusive_svod_in_cn(i, titles[i - 1]) for i in range(1, RACERS + 1)]
    )
    no_tracebacks(outcomes)
    assert [o.code for o in outcomes] == [0] * RACERS, [o.stderr for o in outcomes]
    labels = sorted(o.stdout.strip() for o in outcomes)
    assert labels == sorted(f"G{i}" for i in range(1, RACERS + 1))
    assert sorted(g["title"] for g in grants_in(db_url)) == sorted(titles)
    assert verify(db_url).exit_code == 0


def test_eight_processes_opening_a_new_sqlite_ledger_at_once_all_find_it_migrated(
    racers: Racers, tmp_path: Path
) -> None:
    """The first use of an SQLite file migrates it; racers take turns at that too."""
    url = f"sqlite:///{tmp_path / 'new' / 'ledger.db'}"
    outcomes = racers.race(
        url, [["party", "add", f"party-{i}", "--name", f"Party {i}"] for i in range(1, RACERS + 1)]
    )
    no_tracebacks(outcomes)
    assert [(o.code, o.stderr) for o in outcomes] == [(0, "")] * RACERS
    assert verify(url).exit_code == 0


# -- who waits for whom --------------------------------------------------------------------


@pytest.mark.postgres
def test_on_postgresql_a_grant_on_another_title_does_not_wait_for_a_held_title_lock(
    ledger: Ledger, db_url: str, backend: str
) -> None:
    """SQLite has one writer lock for the whole file, so there every writer waits for the
    one before it; PostgreSQL locks per title."""
    if backend != "postgresql":
        pytest.skip("SQLite serialises all writers on the database lock (by design)")
    owner_and_licensees(ledger, ["title-a", "title-b"])
    holder = create_engine(db_url)
    with holder.connect() as conn, conn.begin():
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:a, :b)"),
            {"a": TITLE_LOCK, "b": title_lock_key("title-a")},
        )

        other = console(db_url, *exclusive_svod_in_cn(1, "title-b"), timeout=30)
        assert other.returncode == 0, other.stderr

        waiting = subprocess.Popen(
            [sys.executable, "-c", CONSOLE, "--db", db_url, *exclusive_svod_in_cn(2, "title-a")],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(2.5)
        assert waiting.poll() is None, "a grant on the locked title did not wait"
        assert [g["title"] for g in grants_in(db_url)] == ["title-b"]
    # The holder's transaction ended: the waiting grant now goes through.
    _, stderr = waiting.communicate(timeout=30)
    holder.dispose()
    assert waiting.returncode == 0, stderr
    assert sorted(g["title"] for g in grants_in(db_url)) == ["title-a", "title-b"]


def _hold_write_lock(conn: SAConnection, backend: str) -> None:
    if backend == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.execute(text("BEGIN"))
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:a, :b)"),
            {"a": TITLE_LOCK, "b": title_lock_key("title-a")},
        )


def test_a_writer_kept_waiting_past_the_lock_timeout_is_refused_with_nothing_written(
    ledger: Ledger, db_url: str, backend: str
) -> None:
    owner_and_licensees(ledger, ["title-a"])
    ledger.engine.dispose()
    # Autocommit, so that the transaction below is driven by hand as another writer's.
    holder = create_engine(db_url, isolation_level="AUTOCOMMIT")
    env = {"RIGHTS_LEDGER_LOCK_TIMEOUT": "1"}
    with holder.connect() as conn:
        _hold_write_lock(conn, backend)
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-c", CONSOLE, "--db", db_url, *exclusive_svod_in_cn(1, "title-a")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, **env},
        )
        waited = time.monotonic() - started
        conn.exec_driver_sql("ROLLBACK")
    holder.dispose()
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        "rights-ledger: the ledger stayed locked by another writer (waited up to 1 s); "
        "nothing was written, try again"
    ]
    assert waited < 30
    assert grants_in(db_url) == []


# -- transient failures --------------------------------------------------------------------


class _DriverFault(Exception):
    """Stands in for a psycopg error carrying a SQLSTATE."""

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _serialization_failure() -> OperationalError:
    return OperationalError(
        "INSERT INTO journal ...",
        {},
        _DriverFault("could not serialize access due to concurrent update", "40001"),
    )


def _lost_connection() -> OperationalError:
    return OperationalError(
        "INSERT INTO journal ...",
        {},
        _DriverFault("server closed the connection unexpectedly", None),
        connection_invalidated=True,
    )


def _journal_and_grants(db_url: str) -> tuple[int, int]:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        count = select(func.count())
        entries = conn.execute(count.select_from(JournalEntry.__table__)).scalar_one()
        grants = conn.execute(count.select_from(RightsGrant.__table__)).scalar_one()
    engine.dispose()
    return int(entries), int(grants)


@pytest.fixture
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unit_of_work, "_pause", lambda attempt: None)


def _fail_journal_flush(monkeypatch: pytest.MonkeyPatch, fault: Any, times: int) -> list[int]:
    """Make the journal's flush raise `fault()` the first `times` times; count the calls."""
    calls: list[int] = []
    real_flush = JournalWriter.flush

    def flaky_flush(self: JournalWriter) -> None:
        calls.append(1)
        if len(calls) <= times:
            raise fault()
        real_flush(self)

    monkeypatch.setattr(JournalWriter, "flush", flaky_flush)
    return calls


def _invoke(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", db_url, "--actor", "tester", *args])


@pytest.mark.parametrize(
    "fault",
    [_serialization_failure, _lost_connection],
    ids=["serialization-failure", "lost-connection"],
)
def test_a_grant_interrupted_by_a_transient_fault_before_commit_lands_exactly_once(
    ledger: Ledger, db_url: str, monkeypatch: pytest.MonkeyPatch, no_pause: None, fault: Any
) -> None:
    owner_and_licensees(ledger, ["title-a"])
    before_entries, _ = _journal_and_grants(db_url)
    calls = _fail_journal_flush(monkeypatch, fault, times=2)

    result = _invoke(db_url, *exclusive_svod_in_cn(1, "title-a"))

    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "G1"
    assert len(calls) == 3
    assert _journal_and_grants(db_url) == (before_entries + 1, 1)
    assert verify(db_url).exit_code == 0


def test_a_fault_that_outlasts_every_retry_is_reported_and_leaves_nothing_half_written(
    ledger: Ledger, db_url: str, monkeypatch: pytest.MonkeyPatch, no_pause: None
) -> None:
    owner_and_licensees(ledger, ["title-a"])
    before = _journal_and_grants(db_url)
    calls = _fail_journal_flush(monkeypatch, _serialization_failure, times=10**6)

    result = _invoke(db_url, *exclusive_svod_in_cn(1, "title-a"))

    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.strip().splitlines() == [
        f"rights-ledger: the database kept failing (40001) after {unit_of_work.ATTEMPTS} "
        "attempts; nothing was written, try again"
    ]
    assert len(calls) == unit_of_work.ATTEMPTS
    monkeypatch.undo()
    assert _journal_and_grants(db_url) == before
    assert verify(db_url).exit_code == 0


def test_a_database_error_that_is_not_transient_is_one_line_and_writes_nothing(
    ledger: Ledger, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner_and_licensees(ledger, ["title-a"])
    before = _journal_and_grants(db_url)

    def broken() -> ProgrammingError:
        fault = _DriverFault('relation "x" does not exist', "42P01")
        return ProgrammingError("INSERT ...", {}, fault)

    calls = _fail_journal_flush(monkeypatch, broken, times=10**6)
    result = _invoke(db_url, *exclusive_svod_in_cn(1, "title-a"))

    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        'rights-ledger: database error: relation "x" does not exist'
    ]
    assert len(calls) == 1
    monkeypatch.undo()
    assert _journal_and_grants(db_url) == before


@pytest.mark.parametrize("committed", [True, False], ids=["commit-landed", "commit-lost"])
def test_a_connection_lost_while_committing_is_resolved_from_the_journal_not_retried_blind(
    ledger: Ledger,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    no_pause: None,
    committed: bool,
) -> None:
    """If the commit went through before the connection dropped, the grant is not written
    twice; if it did not, the write runs again and lands once."""
    owner_and_licensees(ledger, ["title-a"])
    before_entries, _ = _journal_and_grants(db_url)
    real_commit = SAConnection._commit_impl
    calls: list[int] = []

    def flaky_commit(self: SAConnection) -> None:
        calls.append(1)
        if len(calls) == 1:
            if committed:
                real_commit(self)
            else:
                self._rollback_impl()
            raise _lost_connection()
        real_commit(self)

    monkeypatch.setattr(SAConnection, "_commit_impl", flaky_commit)
    result = _invoke(
        db_url,
        *grant_add(
            "DEAL-1",
            "owner",
            "licensee-1",
            "svod",
            "CN",
            "2021-01-01",
            "2021-12-31",
            "non-exclusive",
            title="title-a",
        ),
    )
    monkeypatch.undo()

    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "G1"
    assert _journal_and_grants(db_url) == (before_entries + 1, 1)
    assert len(calls) == (1 if committed else 2)


def test_whether_a_write_landed_is_told_by_the_entry_at_its_place_in_the_journal(
    ledger: Ledger, db_url: str
) -> None:
    owner_and_licensees(ledger, ["title-a"])
    engine = make_engine(db_url)
    with engine.connect() as conn:
        seq, entry_hash = conn.execute(
            select(JournalEntry.seq, JournalEntry.hash).order_by(JournalEntry.seq.desc()).limit(1)
        ).one()
    assert unit_of_work._landed(engine, seq, entry_hash) is True
    # Another writer's entry took that place, or nothing is there: it did not land.
    assert unit_of_work._landed(engine, seq, "0" * 64) is False
    assert unit_of_work._landed(engine, seq + 1, entry_hash) is False


def test_a_connection_lost_while_committing_with_the_server_gone_says_the_outcome_is_unknown(
    ledger: Ledger, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner_and_licensees(ledger, ["title-a"])
    real_commit = SAConnection._commit_impl

    def lost_commit(self: SAConnection) -> None:
        real_commit(self)
        monkeypatch.setattr(unit_of_work, "_landed", lambda engine, seq, entry_hash: None)
        raise _lost_connection()

    monkeypatch.setattr(SAConnection, "_commit_impl", lost_commit)
    result = _invoke(db_url, *exclusive_svod_in_cn(1, "title-a"))
    monkeypatch.undo()

    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "lost while committing" in lines[0]
    assert "rights-ledger history" in lines[0]
