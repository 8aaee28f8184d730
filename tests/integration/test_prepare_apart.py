"""A large CSV import whose rows are made ready in a second process (`ledger.services.prepare`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from cli.main import cli
from ledger.persistence.database import make_engine
from ledger.persistence.journal import entries
from ledger.services import prepare, transfer
from ledger.services.ledger import Ledger
from tests.conftest import PostgresDatabases, as_json

pytestmark = pytest.mark.skipif(
    not prepare.can_prepare_apart(), reason="a second process needs fork and a second core"
)

Run = Callable[..., Result]
GENERATE = Path(__file__).parents[2] / "benchmarks" / "generate.py"
HEADER = "agreement,title,grantor,grantee,rights,territory,start,end,exclusivity,status\n"


@pytest.fixture
def other_db_url(backend: str, tmp_path: Path, postgres: PostgresDatabases | None) -> str:
    """A second migrated, empty ledger on the backend of `db_url`."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'other.db'}"
    assert postgres is not None  # `db_url` skipped the test otherwise
    return postgres.new()


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[prepare.Plan]:
    """Every import has its rows made ready apart; the plans of the processes started."""
    monkeypatch.setattr(transfer, "PREPARE_APART_FROM", 0)
    plans: list[prepare.Plan] = []
    start = prepare.Preparing.__init__

    def recording(self: prepare.Preparing, plan: prepare.Plan, *args: Any) -> None:
        plans.append(plan)
        start(self, plan, *args)

    monkeypatch.setattr(prepare.Preparing, "__init__", recording)
    return plans


def _runner(url: str) -> Run:
    def invoke(*args: str, expect: int = 0) -> Result:
        result = CliRunner().invoke(cli, ["--db", url, "--actor", "tester", *args])
        assert result.exit_code == expect, (result.stdout, result.stderr, result.exception)
        return result

    return invoke


def _journal(url: str) -> list[tuple[str, str, str | None, str]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [(e.kind, e.subject, e.reason, e.payload) for e in entries(conn)]
    finally:
        engine.dispose()


def _catalogue(tmp_path: Path, *more: str) -> Path:
    """The benchmark's generator's catalogue (chains of sublicences, every exclusivity,
    territories from a country to `WW -X`), shuffled, then the lines `more`."""
    path = tmp_path / "catalogue.csv"
    subprocess.run(
        [sys.executable, str(GENERATE), "--grants", "1200", "--titles", "6", "--shuffle",
         "--output", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    with path.open("a", encoding="utf-8") as stream:
        stream.writelines(line + "\n" for line in more)
    return path


def test_rows_made_ready_apart_record_the_very_journal_of_rows_made_ready_here(
    db_url: str, other_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two new titles with rows that collide, inside the file and with each other's chain:
    # the conflicts are recorded with the grants they meet, named as the journal names them.
    catalogue = _catalogue(
        tmp_path,
        "X-1,real,northstar-studios,iqiyi,svod,CN,2018-01-01,2020-12-31,exclusive,,signed",
        "X-2,real,northstar-studios,youku,svod,CN,2019-01-01,2019-12-31,exclusive,,signed",
        "X-3,real,iqiyi,tencent,svod,CN,2019-01-01,2019-12-31,exclusive,,signed",
        "X-4,oldboy,tencent,youku,avod,KR,2019-01-01,2019-12-31,sole,,mou",
    )
    options = ("--owner", "northstar-studios", "--allow-conflicts", "--reason", "settled")
    recorded: dict[str, list[tuple[str, str, str | None, str]]] = {}
    for url, apart in ((db_url, True), (other_db_url, False)):
        monkeypatch.setattr(transfer, "PREPARE_APART_FROM", 0 if apart else sys.maxsize)
        run = _runner(url)
        summary = run("import", str(catalogue), *options)
        assert "recorded despite conflicts" in summary.stdout
        assert "intact" in run("verify").stdout
        recorded["apart" if apart else "here"] = _journal(url)
    assert len(recorded["apart"]) > 1200
    assert recorded["apart"] == recorded["here"]
    allowed = [payload for _kind, _subject, reason, payload in recorded["apart"] if reason]
    assert len(allowed) == 3 and all('"conflicts_allowed":true' in p for p in allowed)


def test_a_title_the_ledger_has_is_checked_here_against_its_grants(
    db_url: str, tmp_path: Path, started: list[prepare.Plan]
) -> None:
    run = _runner(db_url)
    deal = tmp_path / "first.csv"
    deal.write_text(
        HEADER + "NS-1,real,northstar,iqiyi,svod,CN,2018-01-01,2020-12-31,exclusive,signed\n",
        encoding="utf-8",
    )
    run("import", str(deal), "--owner", "northstar")
    assert started[-1].recorded_titles == frozenset()
    clash = "NS-2,real,northstar,youku,svod,CN,2019-01-01,2019-12-31,exclusive,signed"
    fine = "NS-3,oldboy,northstar,youku,svod,CN,2019-01-01,2019-12-31,exclusive,signed"
    deal.write_text(HEADER + fine + "\n" + clash + "\n", encoding="utf-8")
    refused = run("import", str(deal), "--owner", "northstar", expect=1)
    assert started[-1].recorded_titles == frozenset({"real"})
    assert "row 3: block: exclusive-overlap" in refused.stderr and "G1" in refused.stderr
    assert [g["grant"] for g in as_json(run("grant", "list", "--format", "json"))] == ["G1"]


@pytest.mark.parametrize(
    "header", ["agreement,title,grantor,rights,territory,start,end,exclusivity", ""]
)
def test_a_file_the_second_process_cannot_read_is_one_line_and_exit_2(
    db_url: str, tmp_path: Path, started: list[prepare.Plan], header: str
) -> None:
    path = tmp_path / "deal.csv"
    path.write_text(header + "\nA,real,x,svod,CN,2018-01-01,,exclusive\n", encoding="utf-8")
    failed = _runner(db_url)("import", str(path), "--owner", "northstar", expect=2)
    assert started, "the rows were read apart"
    assert len(failed.stderr.strip().splitlines()) == 1 and "Traceback" not in failed.stderr


def _deal(tmp_path: Path) -> Path:
    path = tmp_path / "deal.csv"
    path.write_text(
        HEADER + "NS-1,real,northstar,iqiyi,svod,CN,2018-01-01,2020-12-31,exclusive,signed\n",
        encoding="utf-8",
    )
    return path


def _killed(*_args: Any) -> Iterator[prepare.Chunk]:
    os.kill(os.getpid(), signal.SIGKILL)
    yield from ()


def test_an_import_whose_second_process_is_killed_says_so_and_writes_nothing(
    db_url: str, tmp_path: Path, started: list[prepare.Plan], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepare, "_ready", _killed)
    path = _deal(tmp_path)
    run = _runner(db_url)
    failed = run("import", str(path), "--owner", "northstar", expect=1)
    assert "the process reading the file stopped unexpectedly; nothing was imported" in (
        failed.stderr
    )
    assert as_json(run("grant", "list", "--format", "json")) == []
    assert as_json(run("title", "list", "--format", "json")) == []


def _broken(*_args: Any) -> Iterator[prepare.Chunk]:
    raise ValueError("a bug in the second process")
    yield  # a generator, as `_ready` is


def test_a_failure_of_the_second_process_reaches_the_import_with_its_traceback(
    ledger: Ledger, tmp_path: Path, started: list[prepare.Plan], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepare, "_ready", _broken)
    path = _deal(tmp_path)
    rows = transfer.read_rows(path, "csv")
    with pytest.raises(RuntimeError, match="ValueError: a bug in the second process"):
        transfer.import_rows(ledger, rows, path.name, owner="northstar")
    with ledger.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM rights_grant")).scalar_one() == 0


def test_a_process_allowed_one_core_makes_its_rows_ready_itself(
    db_url: str, tmp_path: Path, started: list[prepare.Plan], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0}, raising=False)
    run = _runner(db_url)
    run("import", str(_deal(tmp_path)), "--owner", "northstar")
    assert started == []
    assert [g["grant"] for g in as_json(run("grant", "list", "--format", "json"))] == ["G1"]
