"""Files in and out: the MovieLabs EMA Avails samples, CSV, and round trips."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from ledger.io import csv_format, ema, rows
from ledger.persistence import database, projection
from ledger.persistence.schema import Base
from ledger.services import transfer
from ledger.services.ledger import Ledger
from ledger.services.transfer import DEFERRED_INDEXES
from tests.conftest import READERS, SHARED, as_json, grant_add, seed_real

Run = Callable[..., Result]
SAMPLES = sorted((SHARED / "data" / "ema-avails").glob("*.xlsx"))
AVAILS_XML = SHARED / "data" / "ema-avails" / "Avails_noErrors_v2.4.xml"
GRANT_KEYS = (
    "agreement",
    "title",
    "grantor",
    "grantee",
    "rights",
    "territory",
    "start",
    "end",
    "exclusivity",
    "status",
    "languages",
)


def _grants(run: Run) -> list[dict[str, Any]]:
    return [
        {k: g[k] for k in GRANT_KEYS} for g in as_json(run("grant", "list", "--format", "json"))
    ]


def _fresh(tmp_path: Path, name: str) -> Run:
    url = f"sqlite:///{tmp_path / name}"

    def invoke(*args: str, expect: int | None = 0) -> Result:
        result = CliRunner().invoke(cli, ["--db", url, "--actor", "tester", *args])
        if expect is not None:
            assert result.exit_code == expect, (result.stdout, result.stderr)
        return result

    return invoke


@pytest.mark.skipif(not SAMPLES, reason=f"EMA samples not found under {SHARED}")
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_every_ema_sample_imports_and_round_trips_through_an_ema_export(
    sample: Path, tmp_path: Path
) -> None:
    first = _fresh(tmp_path, "first.db")
    summary = first("import", str(sample), "--licensee", "iqiyi").stdout
    assert summary.startswith("imported ")
    original = _grants(first)
    assert original, "the sample holds avails"
    exported = tmp_path / "export.xlsx"
    first("export", "--format", "ema", "--output", str(exported))
    second = _fresh(tmp_path, "second.db")
    second("import", str(exported))
    assert _grants(second) == original
    assert second("verify").stdout.startswith("intact")


@pytest.mark.skipif(not SAMPLES, reason=f"EMA samples not found under {SHARED}")
def test_avails_episodes_and_seasons_become_titles_of_their_kind_and_release_year(
    tmp_path: Path,
) -> None:
    run = _fresh(tmp_path, "tv.db")
    run("import", str(SHARED / "data" / "ema-avails" / "TV_v1.9.xlsx"))
    run("import", str(SHARED / "data" / "ema-avails" / "Movies_v1.9.xlsx"))
    titles = {t["id"]: t for t in as_json(run("title", "list", "--format", "json"))}
    assert (titles["the-detectives-s1"]["kind"], titles["the-detectives-s1"]["year"]) == (
        "season",
        2005,
    )
    assert (titles["the-detectives-s1-e1"]["kind"], titles["the-detectives-s1-e1"]["year"]) == (
        "episode",
        2005,
    )
    assert (titles["the-first-dance-2013"]["kind"], titles["the-first-dance-2013"]["year"]) == (
        "film",
        2013,
    )


def test_an_ema_export_too_long_for_one_sheet_goes_on_on_more_and_reads_back_whole(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ema, "SHEET_ROWS", 6)  # the three header rows and three avails
    lines = [
        "NS-1,real,northstar,iqiyi,svod,CN,2018-01-01,2020-12-31,exclusive,signed",
        "NS-2,real,northstar,canal,svod,FR,2018-01-01,2020-12-31,exclusive,signed",
        'NS-3,real,northstar,cj,svod,"JP, KR",2018-01-01,2020-12-31,exclusive,signed',
        'NS-4,real,northstar,netflix,svod,"CA, US",2018-01-01,2020-12-31,exclusive,signed',
    ]
    run("import", str(_catalogue(tmp_path, lines)), "--owner", "northstar")
    exported = tmp_path / "avails.xlsx"
    run("export", "--format", "ema", "--output", str(exported))
    workbook = openpyxl.load_workbook(exported)
    # A grant's rows are never split across sheets: each of NS-3 and NS-4 (two rows,
    # one a country) starts a sheet of its own.
    assert workbook.sheetnames == ["Avails", "Avails 2", "Avails 3"]
    assert [workbook[name].max_row for name in workbook.sheetnames] == [5, 5, 5]
    again = _fresh(tmp_path, "again.db")
    again("import", str(exported))
    assert _grants(again) == _grants(run)


@READERS
def test_a_csv_export_reimports_to_the_same_grants(run: Run, tmp_path: Path) -> None:
    seed_real(run, status="signed")
    run("agreement", "add", "RES", "--parties", "real-producer", "--status", "signed")
    run(
        *grant_add(
            "RES",
            "real-producer",
            "real-producer",
            "festival",
            "WW -CN",
            "2016-01-01",
            None,
            "non-exclusive",
            "--language",
            "ko",
        ),
    )
    exported = tmp_path / "grants.csv"
    run("export", "--format", "csv", "--output", str(exported))
    other = _fresh(tmp_path, "other.db")
    summary = other("import", str(exported), "--owner", "real-producer").stdout
    assert "created 2 parties, 1 titles, 2 agreements" in summary
    assert _grants(other) == _grants(run)


@READERS
def test_an_import_with_one_conflicting_row_writes_nothing(run: Run, tmp_path: Path) -> None:
    seed_real(run, status="signed")
    deal = tmp_path / "deal.csv"
    deal.write_text(
        "agreement,title,grantor,grantee,rights,territory,start,end,exclusivity,status\n"
        "IQ-1,real,real-producer,iqiyi,svod,HK,2018-01-01,2020-12-31,exclusive,signed\n"
        "IQ-1,real,real-producer,iqiyi,avod,CN,2018-01-01,2020-12-31,exclusive,signed\n",
        encoding="utf-8",
    )
    result = run("import", str(deal), expect=1)
    assert "row 3" in result.stderr and "exclusive-overlap" in result.stderr
    assert [g["grant"] for g in as_json(run("grant", "list", "--format", "json"))] == ["G1"]
    agreements = {a["ref"] for a in as_json(run("agreement", "list", "--format", "json"))}
    assert "IQ-1" not in agreements, "nothing half-imported: not even the agreement"


CLASHING = (
    "agreement,title,grantor,grantee,rights,territory,start,end,exclusivity,status\n"
    "IQ-1,real,real-producer,iqiyi,svod,HK,2018-01-01,2020-12-31,exclusive,signed\n"
    "IQ-1,real,real-producer,iqiyi,avod,CN,2018-01-01,2020-12-31,exclusive,signed\n"
    "YK-1,real,real-producer,youku,svod,HK,2019-01-01,2019-12-31,exclusive,signed\n"
)
"""Row 2 is clear; row 3 collides with the seed's sole CN deal (G1), row 4 with row 2."""


def _clashing(run: Run, tmp_path: Path, *more: str) -> Path:
    """The seed's deal signed (G1), and `CLASHING` (then the lines `more`) in a file."""
    seed_real(run, status="signed")
    deal = tmp_path / "legacy.csv"
    deal.write_text(CLASHING + "".join(line + "\n" for line in more), encoding="utf-8")
    return deal


@READERS
def test_an_import_allowed_despite_conflicts_keeps_the_reason_on_each_conflicting_grant(
    run: Run, tmp_path: Path
) -> None:
    deal = _clashing(run, tmp_path)
    reason = "settled outside the ledger in 2018"
    result = run("import", str(deal), "--allow-conflicts", "--reason", reason)
    assert "imported 3 grants" in result.stdout
    assert "2 recorded despite conflicts" in result.stdout
    assert "row 3: block (allowed): exclusive-overlap" in result.stderr
    assert "row 4: block (allowed): exclusive-overlap" in result.stderr
    grants = {g["grant"]: g for g in as_json(run("grant", "list", "--format", "json"))}
    assert [grants[g]["conflict_reason"] for g in ("G1", "G2", "G3", "G4")] == [
        None,
        None,
        reason,
        reason,
    ]
    history = as_json(run("history", "G4", "--format", "json"))
    [added] = [entry for entry in history if entry["kind"] == "grant.added"]
    assert added["reason"] == reason
    # The journal names the row it met by the grant that row became, not its row number.
    assert [c["grant"] for c in added["payload"]["conflicts"]] == ["G2"]
    assert "intact" in run("verify").stdout


def test_allowing_an_import_s_conflicts_needs_a_reason_and_nothing_else_takes_one(
    run: Run, tmp_path: Path
) -> None:
    deal = _clashing(run, tmp_path)
    for options in (("--allow-conflicts",), ("--reason", "settled")):
        result = run("import", str(deal), *options, expect=2)
        assert "reason" in result.stderr and "Traceback" not in result.stderr
    journal = tmp_path / "backup.jsonl"
    journal.write_text("", encoding="utf-8")
    result = run("import", str(journal), "--allow-conflicts", "--reason", "settled", expect=2)
    assert "CSV and EMA" in result.stderr
    assert [g["grant"] for g in as_json(run("grant", "list", "--format", "json"))] == ["G1"]


@READERS
def test_an_import_lists_its_first_conflicts_and_counts_the_others(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "SHOWN_CONFLICTS", 1)
    deal = _clashing(run, tmp_path)
    refused = run("import", str(deal), expect=1)
    assert "row 3: block: exclusive-overlap" in refused.stderr
    assert "row 4" not in refused.stderr
    assert "... and 1 more conflict(s), not listed" in refused.stderr
    assert "2 blocking conflict(s); nothing was imported" in refused.stderr
    allowed = run("import", str(deal), "--allow-conflicts", "--reason", "settled")
    assert "... and 1 more conflict(s), not listed" in allowed.stderr
    assert "2 recorded despite conflicts" in allowed.stdout
    reasons = [g["conflict_reason"] for g in as_json(run("grant", "list", "--format", "json"))]
    assert reasons == [None, None, "settled", "settled"]


@READERS
def test_a_file_bad_on_every_row_lists_the_first_by_row_number_and_counts_them_all(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rows, "LISTED_BAD_ROWS", 2)
    # Not grouped by title, so the rows are read in a pass of their own before any is
    # checked: the bad rows are met out of file order.
    lines = [
        f"A-{n},{'real' if n % 2 else 'other'},northstar,iqiyi,svod,CN,31/12/2019,,exclusive,"
        for n in range(7)
    ]
    result = run("import", str(_catalogue(tmp_path, lines)), "--owner", "northstar", expect=2)
    listed = [line for line in result.stderr.splitlines() if "ambiguous date" in line]
    assert [line.split(":")[0] for line in listed[:2]] == [
        "catalogue.csv row 2",
        "catalogue.csv row 3",
    ]
    assert "catalogue.csv: ... and 5 more bad row(s), not listed" in result.stderr
    assert "7 bad rows" in result.stderr
    assert as_json(run("grant", "list", "--format", "json")) == []


@READERS
def test_an_import_refuses_a_name_with_a_control_character_and_writes_nothing(
    run: Run, tmp_path: Path
) -> None:
    lines = [
        "A-1,real\x1fcut,northstar,iqiyi,svod,CN,2019-01-01,2019-12-31,exclusive,",
        "A-2,real,northstar,iqi\tyi,svod,KR,2019-01-01,2019-12-31,exclusive,",
        "A-3,real,northstar,iqiyi,svod,JP,2019-01-01,2019-12-31,exclusive,",
    ]
    result = run("import", str(_catalogue(tmp_path, lines)), "--owner", "northstar", expect=2)
    assert "row 2: title 'real\\x1fcut' has a control character" in result.stderr
    assert "row 3: grantee 'iqi\\tyi' has a control character" in result.stderr
    assert "2 bad rows" in result.stderr
    assert as_json(run("grant", "list", "--format", "json")) == []


@READERS
def test_an_import_refuses_a_window_past_the_calendar_by_its_row_and_writes_nothing(
    run: Run, tmp_path: Path
) -> None:
    lines = [
        "A-1,real,northstar,iqiyi,svod,CN,2019-01-01,2019-12-31,exclusive,",
        "A-2,real,northstar,iqiyi,svod,KR,9999-06-01,1y,exclusive,",
    ]
    result = run("import", str(_catalogue(tmp_path, lines)), "--owner", "northstar", expect=2)
    assert "row 3: a term of 1y from 9999-06-01 runs past 9999-12-31" in result.stderr
    assert "Traceback" not in result.stderr
    assert as_json(run("grant", "list", "--format", "json")) == []


@READERS
def test_an_allowed_import_still_writes_nothing_when_a_row_is_bad(run: Run, tmp_path: Path) -> None:
    deal = _clashing(
        run, tmp_path, "YK-1,real,real-producer,youku,svod,ZZX,2019-01-01,2019-12-31,exclusive,"
    )
    result = run("import", str(deal), "--allow-conflicts", "--reason", "settled", expect=2)
    assert "row 5" in result.stderr and "ZZX" in result.stderr
    assert [g["grant"] for g in as_json(run("grant", "list", "--format", "json"))] == ["G1"]


@READERS
def test_a_csv_row_may_end_after_a_term_and_give_its_days_with_a_time_of_day(
    run: Run, tmp_path: Path
) -> None:
    lines = [
        "NS-1,real,northstar,iqiyi,svod,CN,2018-01-01T00:00:00,P10Y,exclusive,signed",
        "NS-2,real,northstar,netflix,svod,KR,2018-01-01,18m,exclusive,signed",
        "NS-3,real,northstar,cgv,theatrical,KR,2018-05-05 00:00:00,2018-12-11T23:59:59Z,"
        "exclusive,signed",
    ]
    run("import", str(_catalogue(tmp_path, lines)), "--owner", "northstar")
    grants = as_json(run("grant", "list", "--format", "json"))
    assert [(g["start"], g["end"]) for g in grants] == [
        ("2018-01-01", "2027-12-31"),
        ("2018-01-01", "2019-06-30"),
        ("2018-05-05", "2018-12-11"),
    ]
    bad = _catalogue(tmp_path, ["NS-4,real,northstar,iqiyi,svod,JP,P10Y,,exclusive,signed"])
    assert "'P10Y' is a term, not a day" in run("import", str(bad), expect=2).stderr


@READERS
def test_a_catalogue_of_several_studios_gives_each_title_to_the_grantor_of_its_first_licence(
    run: Run, tmp_path: Path
) -> None:
    lines = [
        "CJ-1,parasite,cj-enm,iqiyi,svod,CN,2020-01-01,2021-12-31,exclusive,signed",
        "SB-1,real,showbox,alibaba-pictures,distribution,CN,2017-01-01,2026-12-31,exclusive,signed",
        # A sublicence of Alibaba's: listed before the licence that backs it.
        "AL-1,real,alibaba-pictures,youku,svod,CN,2018-01-01,2018-12-31,exclusive,signed",
    ]
    catalogue = _catalogue(tmp_path, [lines[0], lines[2], lines[1]])
    both = run("import", str(catalogue), "--owner", "x", "--owner-from-grantor", expect=2)
    assert "not both" in both.stderr
    result = run("import", str(catalogue), "--owner-from-grantor")
    assert "created 5 parties, 2 titles, 3 agreements" in result.stdout
    holders = as_json(run("holders", "--territory", "CN", "--on", "2018-06-01", "--format", "json"))
    assert {h["title"]: h["chain"] for h in holders if h["holder"] == "youku"} == {
        "real": ["showbox", "alibaba-pictures", "youku"]
    }
    owners = {t["id"]: t["owners"] for t in as_json(run("title", "list", "--format", "json"))}
    assert owners == {"parasite": ["cj-enm:WW"], "real": ["showbox:WW"]}


@READERS
def test_a_dry_run_checks_everything_and_writes_nothing(run: Run, tmp_path: Path) -> None:
    seed_real(run, status="signed")
    deal = tmp_path / "deal.csv"
    deal.write_text(
        "agreement,title,grantor,grantee,rights,territory,start,end,exclusivity\n"
        "IQ-1,real,real-producer,iqiyi,svod,HK,2018-01-01,2020-12-31,exclusive\n",
        encoding="utf-8",
    )
    assert "would import 1 grants" in run("import", str(deal), "--dry-run").stdout
    assert len(as_json(run("grant", "list", "--format", "json"))) == 1


def test_a_wrong_sheet_is_bad_input(run: Run, tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["Name", "Budget"])
    path = tmp_path / "budget.xlsx"
    book.save(path)
    result = run("import", str(path), expect=2)
    assert "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1


@pytest.mark.skipif(not SAMPLES, reason=f"EMA samples not found under {SHARED}")
def test_avails_that_name_no_licensee_go_to_one_stand_in_party(tmp_path: Path) -> None:
    ledger = _fresh(tmp_path, "ledger.db")
    ledger("import", str(SHARED / "data" / "ema-avails" / "Movies_v1.9.xlsx"))
    assert {g["grantee"] for g in _grants(ledger)} == {"unnamed-licensee"}
    parties = {p["id"]: p["name"] for p in as_json(ledger("party", "list", "--format", "json"))}
    assert parties["unnamed-licensee"] == "Licensee not named in the avails"


@pytest.mark.skipif(not SAMPLES, reason=f"EMA samples not found under {SHARED}")
def test_an_avail_the_file_withdraws_is_named_and_not_imported(tmp_path: Path) -> None:
    ledger = _fresh(tmp_path, "ledger.db")
    result = ledger("import", str(SHARED / "data" / "ema-avails" / "Movies_v1.8.xlsx"))
    # Row 30 takes The Last Dance back in DE (EntryType Full Delete, a 1999 window).
    assert result.stdout.startswith("imported 26 grants")
    assert "1 withdrawn avail(s) (EntryType Full Delete or Delete) not imported, row(s) 30" in (
        result.stderr
    )
    assert not [g for g in _grants(ledger) if g["start"] == "1999-12-31"]


@pytest.mark.skipif(not AVAILS_XML.is_file(), reason=f"Avails XML samples not found under {SHARED}")
def test_an_avails_xml_file_imports_and_one_with_a_bad_territory_writes_nothing(
    tmp_path: Path,
) -> None:
    ledger = _fresh(tmp_path, "ledger.db")
    result = ledger("import", str(AVAILS_XML), "--licensee", "somebody")
    assert result.stdout.startswith("imported 24 grants")
    grants = _grants(ledger)
    assert {g["grantee"] for g in grants} == {"somebody"}
    assert {k: grants[0][k] for k in ("agreement", "title", "grantor", "rights", "start")} == {
        "agreement": "1431081",
        "title": "the-bravados-1958",
        "grantor": "20th-century-fox",
        "rights": ["est"],
        "start": "1917-09-24",
    }
    # Of the sample's marked errors only two are terms of the licence, both on its first
    # transaction: territory JJ and language XYZ. The rest are in ratings, a price, the
    # delivered asset's language and a pricing category, which the ledger does not record.
    bad = _fresh(tmp_path, "bad.db")
    result = bad("import", str(AVAILS_XML.with_name("Avails_withErrors.xml")), expect=2)
    assert "Traceback" not in result.stderr
    assert "Avails_withErrors.xml row 48: unknown territory 'JJ'" in result.stderr.splitlines()
    assert _grants(bad) == []


@pytest.mark.skipif(not AVAILS_XML.is_file(), reason=f"Avails XML samples not found under {SHARED}")
def test_a_deal_sent_as_avails_xml_is_checked_as_avails_not_as_csv(tmp_path: Path) -> None:
    ledger = _fresh(tmp_path, "ledger.db")
    ledger("import", str(AVAILS_XML), "--licensee", "somebody")
    # The same avails offered again (to the stand-in licensee: a deal file names none);
    # they are non-exclusive, so nothing blocks. Read as CSV the file would be refused.
    report = as_json(ledger("check", "--file", str(AVAILS_XML), "--format", "json"))
    assert report == {"clear": True, "conflicts": []}


def test_an_ema_export_names_countries_and_reads_back_as_the_group(
    run: Run, tmp_path: Path
) -> None:
    import openpyxl

    seed_real(run, status="signed")
    run("agreement", "add", "IQ", "--parties", "real-producer,iqiyi", "--status", "signed")
    run(
        *grant_add(
            "IQ",
            "real-producer",
            "iqiyi",
            "svod",
            "GREATER-CHINA -CN",
            "2030-01-01",
            "2030-12-31",
            "non-exclusive",
        ),
    )
    exported = tmp_path / "avails.xlsx"
    run("export", "--format", "ema", "--output", str(exported))
    sheet = openpyxl.load_workbook(exported, read_only=True).worksheets[0]
    header = [cell for cell in next(sheet.iter_rows(min_row=2, max_row=2, values_only=True))]
    territories = [
        row[header.index("Territory")] for row in sheet.iter_rows(min_row=4, values_only=True)
    ]
    assert territories == ["CN", "HK", "MO", "TW"]
    back = _fresh(tmp_path, "back.db")
    back("import", str(exported))
    assert [g["territory"] for g in _grants(back)] == ["CN", "GREATER-CHINA -CN"]


def _indexes(tmp_path: Path, name: str) -> set[str]:
    with sqlite3.connect(tmp_path / name) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    return {name for (name,) in rows}


def _catalogue(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "catalogue.csv"
    header = "agreement,title,grantor,grantee,rights,territory,start,end,exclusivity,status\n"
    path.write_text(header + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


CATALOGUE = [
    "NS-1,real,northstar,iqiyi,svod,CN,2018-01-01,2020-12-31,exclusive,signed",
    "NS-2,real,northstar,netflix,svod,WW -CN,2018-01-01,2020-12-31,exclusive,signed",
    "NS-3,real,northstar,cgv,theatrical,KR,2018-01-01,2018-12-31,exclusive,mou",
]


def test_every_index_a_large_import_sets_aside_is_one_the_schema_defines() -> None:
    defined = {index.name for table in Base.metadata.tables.values() for index in table.indexes}
    assert defined >= DEFERRED_INDEXES


@READERS
def test_a_large_import_builds_the_indexes_it_set_aside_before_it_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "REINDEX_FROM", 1)
    run = _fresh(tmp_path, "ledger.db")
    run("db", "upgrade")
    before = _indexes(tmp_path, "ledger.db")
    assert before >= DEFERRED_INDEXES
    run("import", str(_catalogue(tmp_path, CATALOGUE)), "--owner", "northstar")
    assert _indexes(tmp_path, "ledger.db") == before
    holders = as_json(run("holders", "--territory", "CN", "--on", "2019-01-01", "--format", "json"))
    assert [h["holder"] for h in holders] == ["iqiyi"]
    assert "intact" in run("verify").stdout


@READERS
def test_a_large_import_that_fails_or_is_a_dry_run_leaves_every_index_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "REINDEX_FROM", 1)
    run = _fresh(tmp_path, "ledger.db")
    run("db", "upgrade")
    before = _indexes(tmp_path, "ledger.db")
    run("import", str(_catalogue(tmp_path, CATALOGUE)), "--owner", "northstar", "--dry-run")
    assert _indexes(tmp_path, "ledger.db") == before
    clash = "NS-4,real,northstar,youku,svod,CN,2019-01-01,2019-12-31,exclusive,signed"
    result = run(
        "import", str(_catalogue(tmp_path, [*CATALOGUE, clash])), "--owner", "northstar", expect=1
    )
    assert "row 5" in result.stderr
    assert _indexes(tmp_path, "ledger.db") == before
    assert as_json(run("grant", "list", "--format", "json")) == []


@pytest.fixture
def journal_modes(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Every import is a bulk one; the journal modes SQLite is left in each time the
    ledger asks for one."""
    monkeypatch.setattr(transfer, "REINDEX_FROM", 1)
    modes: list[str | None] = []
    ask = database._journal_mode

    def recording(dbapi: Any, mode: str) -> str | None:
        modes.append(ask(dbapi, mode))
        return modes[-1]

    monkeypatch.setattr(database, "_journal_mode", recording)
    return modes


def _journal_mode_of(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


@READERS
def test_a_bulk_import_is_written_through_a_rollback_journal_then_the_wal_is_back(
    tmp_path: Path, journal_modes: list[str | None]
) -> None:
    modes = journal_modes
    run = _fresh(tmp_path, "ledger.db")
    run("import", str(_catalogue(tmp_path, CATALOGUE)), "--owner", "northstar")
    assert modes == ["delete", "wal"]
    assert _journal_mode_of(tmp_path / "ledger.db") == "wal"
    assert len(_grants(run)) == 3
    assert "intact" in run("verify").stdout


@READERS
def test_a_bulk_import_that_is_refused_leaves_nothing_and_the_wal_back(
    tmp_path: Path, journal_modes: list[str | None]
) -> None:
    modes = journal_modes
    run = _fresh(tmp_path, "ledger.db")
    clash = "NS-4,real,northstar,youku,svod,CN,2019-01-01,2019-12-31,exclusive,signed"
    run("import", str(_catalogue(tmp_path, [*CATALOGUE, clash])), "--owner", "northstar", expect=1)
    assert modes == ["delete", "wal"]
    assert _journal_mode_of(tmp_path / "ledger.db") == "wal"
    assert _grants(run) == []


def test_a_bulk_import_beside_a_reader_keeps_to_the_wal_and_the_reader_its_snapshot(
    tmp_path: Path, journal_modes: list[str | None]
) -> None:
    run = _fresh(tmp_path, "ledger.db")
    run("db", "upgrade")
    modes = journal_modes
    reader = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM rights_grant").fetchone() == (0,)
        run("import", str(_catalogue(tmp_path, CATALOGUE)), "--owner", "northstar")
        assert modes == [None]  # the file was busy: no switch, and none to undo
        assert reader.execute("SELECT count(*) FROM rights_grant").fetchone() == (0,)
    finally:
        reader.close()
    assert len(_grants(run)) == 3
    assert _journal_mode_of(tmp_path / "ledger.db") == "wal"


@pytest.mark.slow
def test_a_bulk_import_killed_half_way_leaves_the_ledger_as_it_was(tmp_path: Path) -> None:
    rows = [
        f"NS-{i},title-{i},northstar,licensee-{i % 7},svod,CN,2018-01-01,2020-12-31,"
        "non-exclusive,signed"
        for i in range(transfer.REINDEX_FROM * 2)
    ]
    catalogue = _catalogue(tmp_path, rows)
    # No connection of this process may hold the file open: the import would keep to the
    # WAL (see the test beside a reader), and the kill would prove less.
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    command = [sys.executable, "-c", "from cli.main import main; main()", "--db", url]
    importing = subprocess.Popen(
        [*command, "import", str(catalogue), "--owner", "northstar"],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    journal = tmp_path / "ledger.db-journal"
    deadline = time.monotonic() + 60
    try:
        # Pages are going into the file under a rollback journal: the write is under way.
        while not journal.exists() and importing.poll() is None:
            assert time.monotonic() < deadline, "the import never started writing"
            time.sleep(0.01)
        time.sleep(0.5)
        assert importing.poll() is None, "the import ended before it could be killed"
    finally:
        importing.kill()
        importing.wait()
    run = _fresh(tmp_path, "ledger.db")
    assert _grants(run) == []
    assert "intact" in run("verify").stdout
    assert _journal_mode_of(tmp_path / "ledger.db") == "wal"


def test_an_import_leaves_the_interpreters_thread_switching_as_it_found_it(
    tmp_path: Path,
) -> None:
    run = _fresh(tmp_path, "ledger.db")
    before = sys.getswitchinterval()
    run("import", str(_catalogue(tmp_path, CATALOGUE)), "--owner", "northstar")
    clash = "NS-4,real,northstar,youku,svod,CN,2019-01-01,2019-12-31,exclusive,signed"
    run("import", str(_catalogue(tmp_path, [clash])), expect=1)
    assert sys.getswitchinterval() == before


@READERS
@pytest.mark.parametrize("period", [100, 64], ids=["long forgotten", "forgotten while read ahead"])
def test_an_agreement_met_again_after_the_import_has_forgotten_it_is_not_made_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, period: int
) -> None:
    # An import keeps only the 60 names it met last in mind (in chunks of 2 rows, read 4
    # chunks ahead); each agreement comes back `period` rows later: long after it was
    # forgotten, or just as it is about to be, between reading a row and checking it.
    monkeypatch.setattr(transfer, "CHUNK", 2)
    monkeypatch.setattr(transfer, "KNOWN_NAMES", 60)
    monkeypatch.setattr(projection, "BATCH", 2)
    lines = [
        f"A-{n % period:03d},real,northstar,licensee-{n % 7},svod,CN,"
        f"{2000 + n // period}-01-01,{2000 + n // period}-12-31,non-exclusive,signed"
        for n in range(2 * period)
    ]
    run = _fresh(tmp_path, "ledger.db")
    summary = run("import", str(_catalogue(tmp_path, lines)), "--owner", "northstar").stdout
    assert f"created 8 parties, 1 titles, {period} agreements" in summary
    assert len(as_json(run("agreement", "list", "--format", "json"))) == period
    assert "intact" in run("verify").stdout


@READERS
def test_rows_of_a_title_far_apart_in_the_file_are_still_checked_against_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One title at hand at a time, in chunks of one row, indexes set aside: the third row
    # is checked with the first (a title at a time), however far apart the file has them.
    monkeypatch.setattr(transfer, "OPEN_TITLES", 1)
    monkeypatch.setattr(transfer, "CHUNK", 1)
    monkeypatch.setattr(transfer, "REINDEX_FROM", 1)
    first = "NS-1,real,northstar,iqiyi,svod,CN,2018-01-01,2020-12-31,exclusive,signed"
    other = "NS-2,miss-granny,northstar,cj-enm,svod,KR,2018-01-01,2020-12-31,exclusive,signed"
    clash = "NS-3,real,northstar,youku,svod,CN,2019-01-01,2019-12-31,exclusive,signed"
    later = "NS-4,real,northstar,youku,svod,CN,2021-01-01,2021-12-31,exclusive,signed"
    run = _fresh(tmp_path, "ledger.db")
    refused = run(
        "import", str(_catalogue(tmp_path, [first, other, clash])), "--owner", "northstar", expect=1
    )
    assert "row 4" in refused.stderr and "exclusive-overlap" in refused.stderr
    assert as_json(run("grant", "list", "--format", "json")) == []
    run("import", str(_catalogue(tmp_path, [first, other, later])), "--owner", "northstar")
    assert len(as_json(run("grant", "list", "--format", "json"))) == 3
    assert "intact" in run("verify").stdout


@READERS
def test_a_file_listing_sublicences_before_their_licences_imports_with_whole_chains(
    tmp_path: Path,
) -> None:
    lines = [
        "SUB-2,real,iqiyi,youku,svod,CN,2019-01-01,2019-12-31,exclusive,signed",
        "SUB-1,real,northstar,iqiyi,svod,CN,2018-01-01,2020-12-31,exclusive,signed",
        "OTHER,miss-granny,northstar,cj-enm,svod,KR,2018-01-01,2020-12-31,exclusive,signed",
    ]
    run = _fresh(tmp_path, "ledger.db")
    run("import", str(_catalogue(tmp_path, lines)), "--owner", "northstar")
    args = ("holders", "--territory", "CN", "--on", "2019-06-01", "--format", "json")
    chains = {h["holder"]: h["chain"] for h in as_json(run(*args))}
    assert chains == {"iqiyi": ["northstar", "iqiyi"], "youku": ["northstar", "iqiyi", "youku"]}
    # Numbered in the order checked: the licence, then its sublicence, then the next title.
    grants = as_json(run("grant", "list", "--format", "json"))
    assert [(g["grant"], g["agreement"]) for g in grants] == [
        ("G1", "SUB-1"),
        ("G2", "SUB-2"),
        ("G3", "OTHER"),
    ]


@READERS
def test_a_file_not_grouped_by_title_imports_to_the_grants_of_the_grouped_file(
    tmp_path: Path,
) -> None:
    titles = ("real", "miss-granny", "oldboy")
    catalogue = [
        f"NS-{n},{title},northstar,licensee-{n % 4},svod,{country},"
        f"{2000 + n}-01-01,{2000 + n}-12-31,exclusive,signed"
        for title in titles
        for n, country in enumerate(("CN", "KR", "WW -CN -KR", "JP"))
    ]
    grouped = _grants_after_import(tmp_path / "grouped", catalogue)
    mixed = catalogue[1::2] + catalogue[0::2]  # every title comes back
    from_mixed = _grants_after_import(tmp_path / "mixed", mixed)
    assert len(grouped) == 12
    assert sorted(map(str, from_mixed)) == sorted(map(str, grouped))
    # Numbered a title at a time, titles in the order the file first names them.
    assert [g["title"] for g in from_mixed] == [t for t in titles for _ in range(4)]


@READERS
def test_an_import_says_when_it_must_sort_the_file_before_checking_a_row(
    tmp_path: Path,
) -> None:
    rows = [
        "NS-1,real,northstar,iqiyi,svod,CN,2018-01-01,2020-12-31,exclusive,signed",
        "NS-2,oldboy,northstar,cj-enm,svod,KR,2018-01-01,2020-12-31,exclusive,signed",
        "NS-3,real,northstar,youku,svod,KR,2018-01-01,2020-12-31,exclusive,signed",
    ]
    for name, lines, told in (("grouped", [rows[0], rows[2], rows[1]], 0), ("mixed", rows, 1)):
        (tmp_path / name).mkdir()
        path = _catalogue(tmp_path / name, lines)
        ledger = Ledger(database.make_engine(f"sqlite:///{tmp_path / name / 'l.db'}"), "tester")
        calls: list[None] = []
        summary = transfer.import_rows(
            ledger,
            transfer.read_rows(path, "csv"),
            path.name,
            owner="northstar",
            sorting=partial(calls.append, None),
        )
        assert (summary.grants, len(calls)) == (3, told)


def _grants_after_import(directory: Path, lines: list[str]) -> list[dict[str, Any]]:
    directory.mkdir()
    run = _fresh(directory, "ledger.db")
    run("import", str(_catalogue(directory, lines)), "--owner", "northstar")
    assert "intact" in run("verify").stdout
    return _grants(run)


@READERS
def test_a_generated_catalogue_in_random_order_imports_to_the_grants_of_the_ordered_one(
    tmp_path: Path,
) -> None:
    # The benchmark's catalogue has sublicences down chains of title; shuffled, many come
    # before the licences that back them, and every title comes back again and again.
    generate = Path(__file__).parents[2] / "benchmarks" / "generate.py"
    grants = {}
    for arrangement, options in (("grouped", []), ("shuffled", ["--shuffle"])):
        catalogue = tmp_path / f"{arrangement}.csv"
        subprocess.run(
            [sys.executable, str(generate), "--grants", "1500", "--titles", "8", *options,
             "--output", str(catalogue)],
            check=True, capture_output=True,
        )  # fmt: skip
        run = _fresh(tmp_path, f"{arrangement}.db")
        run("import", str(catalogue), "--owner", "northstar-studios")
        assert "intact" in run("verify").stdout
        grants[arrangement] = sorted(map(str, _grants(run)))
    assert len(grants["grouped"]) >= 1500
    assert grants["shuffled"] == grants["grouped"]


@READERS
def test_an_import_of_a_file_changed_while_it_is_read_says_so_in_one_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file not grouped by title is read twice; here it is saved again between the two.
    mixed = [CATALOGUE[0], CATALOGUE[2], CATALOGUE[0].replace("real", "oldboy"), CATALOGUE[1]]
    path = _catalogue(tmp_path, mixed)
    version = csv_format._version
    seen: list[tuple[int, int]] = []

    def saved_again(status: os.stat_result) -> tuple[int, int]:
        size, modified = version(status)
        seen.append((size, modified + len(seen)))  # a later look finds a later save
        return seen[-1]

    monkeypatch.setattr(csv_format, "_version", saved_again)
    run = _fresh(tmp_path, "ledger.db")
    failed = run("import", str(path), "--owner", "northstar", expect=2)
    assert "changed while it was read: import it again" in failed.stderr
    assert "Traceback" not in failed.stderr and len(failed.stderr.strip().splitlines()) == 1
    assert as_json(run("grant", "list", "--format", "json")) == []
