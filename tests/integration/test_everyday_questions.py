"""Who holds it, what is free, what expires: asked of a ledger built only through the CLI
(and, where a connection carries several questions, of the services beneath it)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from pathlib import Path

from click.testing import Result

from ledger.domain.territories import parse_territory
from ledger.persistence.database import make_engine
from ledger.services.queries import Period, expiring, who_holds
from tests.conftest import as_json, grant_add, seed_real

Run = Callable[..., Result]


def add_grant(
    run: Run,
    agreement: str,
    grantor: str,
    grantee: str,
    rights: str,
    territory: str,
    start: str,
    end: str | None,
    exclusivity: str,
    *extra: str,
) -> str:
    args = grant_add(agreement, grantor, grantee, rights, territory, start, end, exclusivity)
    return run(*args, *extra).stdout.strip()


def holders_of(run: Run, *args: str) -> list[dict[str, object]]:
    return as_json(run("holders", "--format", "json", *args))  # type: ignore[no-any-return]


def test_who_holds_china_rights_names_the_sole_licensee_and_its_chain(run: Run) -> None:
    seed_real(run, status="signed")
    [holding] = holders_of(
        run, "--territory", "CN", "--title", "real", "--rights", "svod", "--on", "2020-03-01"
    )
    assert holding["holder"] == "alibaba-pictures"
    assert holding["grantor"] == "real-producer"
    assert holding["exclusivity"] == "sole"
    assert holding["rights"] == ["distribution"]
    assert holding["matching_rights"] == ["svod"]
    assert holding["chain"] == ["real-producer", "alibaba-pictures"]
    assert (holding["start"], holding["end"]) == ("2017-01-01", "2026-12-31")
    assert holding["status"] == "signed"
    assert "may still exploit" in str(holding["note"])


def test_a_worldwide_grant_excluding_china_does_not_make_its_grantee_a_china_holder(
    run: Run,
) -> None:
    seed_real(run, status="signed")
    run("party", "add", "netflix", "--name", "Netflix")
    run("party", "add", "hbo", "--name", "HBO")
    run("agreement", "add", "NF-1", "--parties", "real-producer,netflix", "--status", "signed")
    run("agreement", "add", "HBO-1", "--parties", "real-producer,hbo", "--status", "signed")
    add_grant(
        run,
        "NF-1",
        "real-producer",
        "netflix",
        "svod",
        "WW -CN",
        "2020-01-01",
        "2022-12-31",
        "non-exclusive",
    )
    add_grant(
        run,
        "HBO-1",
        "real-producer",
        "hbo",
        "pay-tv",
        "WW -HK",
        "2020-01-01",
        "2022-12-31",
        "non-exclusive",
        "--allow-conflicts",
        "--reason",
        "test",
    )
    holders = {h["holder"] for h in holders_of(run, "--territory", "CN", "--on", "2021-01-01")}
    assert "netflix" not in holders
    assert {"hbo", "alibaba-pictures"} <= holders
    assert "netflix" in {
        h["holder"] for h in holders_of(run, "--territory", "HK", "--on", "2021-01-01")
    }


def test_a_terminated_grant_stops_holding_the_day_after_termination(run: Run) -> None:
    seed_real(run, status="signed")
    run("grant", "terminate", "G1", "--on", "2020-06-30", "--reason", "breach")
    assert [h["grant"] for h in holders_of(run, "--territory", "CN", "--on", "2020-06-30")] == [
        "G1"
    ]
    assert holders_of(run, "--territory", "CN", "--on", "2020-07-01") == []


def test_an_amended_grant_holds_to_its_new_end_and_not_beyond(run: Run) -> None:
    seed_real(run, status="signed")  # G1 runs through 2026-12-31
    run("grant", "amend", "G1", "--end", "2021-12-31", "--reason", "cut short")
    assert [h["grant"] for h in holders_of(run, "--territory", "CN", "--on", "2021-12-31")] == [
        "G1"
    ]
    assert holders_of(run, "--territory", "CN", "--on", "2022-01-01") == []
    run("grant", "amend", "G1", "--end", "2028-12-31", "--reason", "extension")
    assert [h["end"] for h in holders_of(run, "--territory", "CN", "--on", "2028-06-30")] == [
        "2028-12-31"
    ]
    assert holders_of(run, "--territory", "CN", "--on", "2029-01-01") == []


def test_an_amended_grant_is_held_with_its_new_rights_territory_and_exclusivity(
    run: Run,
) -> None:
    seed_real(run, status="signed")  # G1: distribution, CN, sole
    run(
        "grant", "amend", "G1", "--rights", "svod", "--territory", "GREATER-CHINA",
        "--exclusivity", "exclusive", "--reason", "narrowed to SVOD, widened to Greater China",
    )  # fmt: skip
    [holding] = holders_of(run, "--territory", "HK", "--on", "2020-01-01")
    assert (holding["rights"], holding["territory"], holding["exclusivity"]) == (
        ["svod"],
        "GREATER-CHINA",
        "exclusive",
    )
    assert holders_of(run, "--territory", "CN", "--rights", "pay-tv", "--on", "2020-01-01") == []


def test_a_grant_starting_on_a_release_holds_from_that_day_once_the_date_is_known(
    run: Run,
) -> None:
    seed_real(run, status="signed")
    run("agreement", "add", "RP-IQ", "--parties", "real-producer,iqiyi", "--status", "signed")
    add_grant(
        run,
        "RP-IQ",
        "real-producer",
        "iqiyi",
        "svod",
        "TW",
        "theatrical+90d",
        "2030-12-31",
        "exclusive",
    )
    # While the release date is unknown the start is TBD: the grant may already hold.
    [tbd] = holders_of(run, "--territory", "TW", "--on", "2018-01-01", "--rights", "svod")
    assert (tbd["holder"], tbd["start"]) == ("iqiyi", None)
    run(
        "title",
        "event",
        "real",
        "--kind",
        "theatrical",
        "--territory",
        "TW",
        "--date",
        "2018-03-01",
    )
    assert holders_of(run, "--territory", "TW", "--on", "2018-01-01", "--rights", "svod") == []
    [known] = holders_of(run, "--territory", "TW", "--on", "2018-06-01", "--rights", "svod")
    assert (known["holder"], known["start"]) == ("iqiyi", "2018-05-30")


def test_pending_grants_are_shown_and_marked(run: Run) -> None:
    seed_real(run, status="mou")
    [holding] = holders_of(run, "--territory", "CN", "--on", "2020-01-01")
    assert holding["status"] == "mou"
    assert holding["pending"] is True


def test_a_sublicensee_is_shown_with_the_whole_chain_of_title(run: Run) -> None:
    seed_real(run, status="signed")
    run("party", "add", "youku", "--name", "Youku")
    run("agreement", "add", "ALI-YK", "--parties", "alibaba-pictures,youku", "--status", "signed")
    add_grant(
        run,
        "ALI-YK",
        "alibaba-pictures",
        "youku",
        "svod",
        "CN",
        "2019-01-01",
        "2020-12-31",
        "non-exclusive",
    )
    chains = {
        h["holder"]: h["chain"] for h in holders_of(run, "--territory", "CN", "--on", "2019-06-01")
    }
    assert chains["youku"] == ["real-producer", "alibaba-pictures", "youku"]


def test_a_chain_of_title_is_whole_even_when_the_grant_above_was_recorded_later(
    run: Run,
) -> None:
    seed_real(run, status="signed")  # G1: real-producer -> alibaba-pictures, CN
    for party, name in (("youku", "Youku"), ("tudou", "Tudou")):
        run("party", "add", party, "--name", name)
    run("agreement", "add", "YK-TD", "--parties", "youku,tudou", "--status", "signed")
    run("agreement", "add", "ALI-YK", "--parties", "alibaba-pictures,youku", "--status", "signed")
    # Youku's sublicence to Tudou is recorded first (youku holds nothing yet: allowed,
    # with a reason), the licence from Alibaba to Youku after it.
    add_grant(
        run,
        "YK-TD",
        "youku",
        "tudou",
        "svod",
        "CN",
        "2019-01-01",
        "2019-12-31",
        "non-exclusive",
        "--allow-conflicts",
        "--reason",
        "paper from Alibaba on its way",
    )
    add_grant(
        run,
        "ALI-YK",
        "alibaba-pictures",
        "youku",
        "svod",
        "CN",
        "2019-01-01",
        "2020-12-31",
        "non-exclusive",
    )
    chains = {
        h["holder"]: h["chain"] for h in holders_of(run, "--territory", "CN", "--on", "2019-06-01")
    }
    assert chains == {
        "alibaba-pictures": ["real-producer", "alibaba-pictures"],
        "youku": ["real-producer", "alibaba-pictures", "youku"],
        "tudou": ["real-producer", "alibaba-pictures", "youku", "tudou"],
    }


def test_avails_leave_out_china_while_the_sole_licence_runs(run: Run) -> None:
    seed_real(run, status="signed")
    during = as_json(
        run(
            "avails",
            "--title",
            "real",
            "--rights",
            "pay-tv",
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
            "--exclusive",
            "--format",
            "json",
        )
    )
    assert during["territory"] == "WW -CN"
    assert "CN" not in during["countries"] and "HK" in during["countries"]
    after = as_json(
        run(
            "avails",
            "--title",
            "real",
            "--rights",
            "pay-tv",
            "--from",
            "2027-01-01",
            "--to",
            "2027-12-31",
            "--exclusive",
            "--format",
            "json",
        )
    )
    assert after["territory"] == "WW"
    straddling = as_json(
        run(
            "avails",
            "--title",
            "real",
            "--rights",
            "pay-tv",
            "--from",
            "2026-12-31",
            "--to",
            "2027-12-31",
            "--format",
            "json",
        )
    )
    assert "CN" not in straddling["countries"], "free for the whole period, not just part of it"


def test_avails_non_exclusively_still_respect_an_exclusive_licence(run: Run) -> None:
    seed_real(run, status="signed")
    run("agreement", "add", "IQ-1", "--parties", "real-producer,iqiyi", "--status", "signed")
    add_grant(
        run,
        "IQ-1",
        "real-producer",
        "iqiyi",
        "avod",
        "JP KR",
        "2020-01-01",
        "2021-12-31",
        "exclusive",
    )
    free = as_json(
        run(
            "avails",
            "--title",
            "real",
            "--rights",
            "avod",
            "--from",
            "2021-01-01",
            "--to",
            "2021-03-31",
            "--territory",
            "ASIA",
            "--format",
            "json",
        )
    )
    assert not {"JP", "KR", "CN"} & set(free["countries"])
    assert "TH" in free["countries"]


def test_expiries_include_a_grant_ending_on_the_horizon_but_not_the_day_after(run: Run) -> None:
    seed_real(run, status="signed")  # G1 ends 2026-12-31
    hits = as_json(run("expiries", "--within", "30d", "--as-of", "2026-12-01", "--format", "json"))
    assert [(e["grant"], e["end"], e["days_left"]) for e in hits] == [("G1", "2026-12-31", 30)]
    assert hits[0]["kind"] == "grant" and hits[0]["grantee"] == "alibaba-pictures"
    assert hits[0]["reverts_to"] == "real-producer"
    none = as_json(run("expiries", "--within", "29d", "--as-of", "2026-12-01", "--format", "json"))
    assert none == []


def test_holders_asked_after_expiries_on_one_connection_lose_no_holding(
    run: Run, db_url: str
) -> None:
    seed_real(run, status="signed")
    china, day = parse_territory("CN"), Period(date(2020, 3, 1), date(2020, 3, 1))
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            alone = who_holds(conn, china, day)
        with engine.connect() as conn:
            assert list(expiring(conn, date(2020, 1, 1), 3650))
            after = who_holds(conn, china, day)
    finally:
        engine.dispose()
    assert alone and after == alone


def test_an_open_ended_grant_never_appears_in_expiries(run: Run) -> None:
    seed_real(run, status="signed")
    run("agreement", "add", "RES", "--parties", "real-producer", "--status", "signed")
    add_grant(
        run,
        "RES",
        "real-producer",
        "real-producer",
        "festival",
        "KR",
        "2020-01-01",
        None,
        "non-exclusive",
    )
    for as_of in ("2020-01-01", "2030-01-01", "2090-01-01"):
        hits = as_json(run("expiries", "--within", "3650d", "--as-of", as_of, "--format", "json"))
        assert "G2" not in {e["grant"] for e in hits}


def test_expiries_list_holdbacks_and_notice_dates_soonest_first(run: Run) -> None:
    seed_real(run, status="signed")
    run(
        "agreement",
        "add",
        "TH-1",
        "--parties",
        "real-producer,alibaba-pictures",
        "--status",
        "signed",
    )
    add_grant(
        run,
        "TH-1",
        "real-producer",
        "alibaba-pictures",
        "marketing",
        "CN",
        "2027-01-01",
        "2027-12-31",
        "sole",
        "--notice",
        "2027-02-15",
    )
    run("grant", "amend", "G1", "--end", "2027-03-31", "--reason", "short extension")
    hits = as_json(run("expiries", "--within", "90d", "--as-of", "2027-01-10", "--format", "json"))
    assert [(e["kind"], e["grant"], e["end"]) for e in hits] == [
        ("notice", "G2", "2027-02-15"),
        ("grant", "G1", "2027-03-31"),
    ]


def test_expiries_on_one_day_list_grants_then_holdbacks_then_notices_each_by_grant(
    run: Run,
) -> None:
    seed_real(run, status="signed")
    run("agreement", "add", "TH-2", "--parties", "real-producer,iqiyi", "--status", "signed")
    # G2 ends on 2027-03-31 with a holdback to the same day; G3 ends then too and gives
    # notice on 2027-02-15, as G4 does while it ends later.
    for rights, end, *extra in (
        ("svod", "2027-03-31", "--holdback", "avod@CN@2027-03-31"),
        ("est", "2027-03-31", "--notice", "2027-02-15"),
        ("tvod", "2027-06-30", "--notice", "2027-02-15"),
    ):
        add_grant(
            run, "TH-2", "real-producer", "iqiyi", rights, "KR", "2027-01-01", end,
            "exclusive", *extra,
        )  # fmt: skip
    hits = as_json(run("expiries", "--within", "1y", "--as-of", "2027-01-10", "--format", "json"))
    assert [(e["end"], e["kind"], e["grant"]) for e in hits] == [
        ("2027-02-15", "notice", "G3"),
        ("2027-02-15", "notice", "G4"),
        ("2027-03-31", "grant", "G2"),
        ("2027-03-31", "grant", "G3"),
        ("2027-03-31", "holdback", "G2"),
        ("2027-06-30", "grant", "G4"),
    ]


def test_a_terminated_grant_appears_at_its_termination_day_not_its_old_end(run: Run) -> None:
    seed_real(run, status="signed")
    run("grant", "terminate", "G1", "--on", "2025-01-31", "--reason", "settlement")
    hits = as_json(run("expiries", "--within", "60d", "--as-of", "2025-01-01", "--format", "json"))
    assert [(e["grant"], e["end"]) for e in hits] == [("G1", "2025-01-31")]


def test_quiet_if_none_prints_nothing_when_nothing_is_due(run: Run) -> None:
    seed_real(run, status="signed")
    result = run("expiries", "--within", "7d", "--as-of", "2020-01-01", "--quiet-if-none")
    assert result.stdout == "" and result.stderr == ""


def test_expiries_output_file_is_written_whole(run: Run, tmp_path: Path) -> None:
    seed_real(run, status="signed")
    reports = tmp_path / "reports"
    reports.mkdir()
    report = reports / "expiries.csv"
    run(
        "expiries",
        "--within",
        "31d",
        "--as-of",
        "2026-12-01",
        "--format",
        "csv",
        "--output",
        str(report),
    )
    rows = list(csv.DictReader(io.StringIO(report.read_text(encoding="utf-8"))))
    assert [r["grant"] for r in rows] == ["G1"]
    assert [p.name for p in reports.iterdir()] == ["expiries.csv"], "no temporary file left"


def test_csv_json_and_table_carry_the_same_rows(run: Run) -> None:
    seed_real(run, status="signed")
    run("agreement", "add", "RES", "--parties", "real-producer", "--status", "signed")
    add_grant(
        run,
        "RES",
        "real-producer",
        "real-producer",
        "festival",
        "WW",
        "2016-01-01",
        None,
        "non-exclusive",
    )
    args = ("holders", "--territory", "CN", "--on", "2020-01-01")
    from_json = [(h["grant"], h["holder"]) for h in as_json(run(*args, "--format", "json"))]
    from_csv = [
        (r["grant"], r["holder"])
        for r in csv.DictReader(io.StringIO(run(*args, "--format", "csv").stdout))
    ]
    table_lines = run(*args).stdout.splitlines()[1:]
    assert from_json == from_csv == [("G1", "alibaba-pictures"), ("G2", "real-producer")]
    assert len(table_lines) == len(from_json)
    for (grant, holder), line in zip(from_json, table_lines, strict=True):
        assert grant in line and holder in line


def test_csv_cells_say_what_the_json_says_open_ends_and_tbd_starts_included(run: Run) -> None:
    seed_real(run, status="signed")
    run("agreement", "add", "RES", "--parties", "real-producer", "--status", "signed")
    for rights, start in (("festival", "2016-01-01"), ("marketing", "theatrical+30d")):
        add_grant(run, "RES", "real-producer", "real-producer", rights, "WW", start, None, "sole")
    args = ("holders", "--territory", "CN", "--on", "2020-01-01")
    from_json = as_json(run(*args, "--format", "json"))
    from_csv = list(csv.DictReader(io.StringIO(run(*args, "--format", "csv").stdout)))
    assert len(from_csv) == len(from_json) == 3
    for row, held in zip(from_csv, from_json, strict=True):
        assert row["rights"] == ";".join(held["rights"])
        assert row["chain"] == " -> ".join(held["chain"])
        assert row["end"] == (held["end"] or "open")
        assert row["note"] == held["note"]
        for column in ("title", "holder", "grantor", "exclusivity", "territory", "grant"):
            assert row[column] == held[column]
    starts = [row["start"] for row in from_csv]
    assert starts == ["2017-01-01", "2016-01-01", "theatrical+30d (TBD)"]
    assert [row["end"] for row in from_csv][1:] == ["open", "open"]


def test_a_co_producer_added_as_owner_can_license_its_own_territory(run: Run) -> None:
    seed_real(run, status="signed")
    run("party", "add", "china-film", "--name", "China Film Co.")
    run("agreement", "add", "CF-1", "--parties", "china-film,iqiyi", "--status", "signed")
    args = (
        "check",
        "--title",
        "real",
        "--grantor",
        "china-film",
        "--grantee",
        "iqiyi",
        "--rights",
        "free-tv",
        "--territory",
        "MO",
        "--start",
        "2020-01-01",
        "--end",
        "2020-12-31",
        "--exclusivity",
        "non-exclusive",
        "--format",
        "json",
    )
    assert as_json(run(*args, expect=1))["conflicts"][0]["kind"] == "no-rights-in"
    run("title", "owner", "real", "--owner", "china-film:MO:10")
    assert as_json(run(*args, expect=0))["clear"]
    owners = as_json(run("title", "list", "--format", "json"))[0]["owners"]
    assert owners == ["real-producer:WW", "china-film:MO:10%"]


def test_listings_give_each_agreement_its_parties_and_grants_and_each_title_its_owners(
    run: Run,
) -> None:
    seed_real(run, status="signed")
    run("party", "add", "a-first", "--name", "First by id")
    run("title", "add", "another", "--name", "Another", "--owner", "a-first:WW")
    run("agreement", "add", "AAA-EMPTY", "--parties", "a-first,iqiyi", "--status", "draft")
    run("agreement", "add", "ZZZ-TWO", "--parties", "real-producer,iqiyi", "--status", "signed")
    for rights in ("svod", "avod"):
        add_grant(
            run, "ZZZ-TWO", "real-producer", "iqiyi", rights, "KR", "2027-01-01", "2027-12-31",
            "exclusive",
        )  # fmt: skip
    listed = as_json(run("agreement", "list", "--format", "json"))
    assert [(a["ref"], a["parties"], a["grants"]) for a in listed] == [
        ("AAA-EMPTY", ["a-first", "iqiyi"], 0),
        ("ALI-REAL-2016", ["alibaba-pictures", "real-producer"], 1),
        ("ZZZ-TWO", ["iqiyi", "real-producer"], 2),
    ]
    titles = as_json(run("title", "list", "--format", "json"))
    assert [(t["id"], t["owners"]) for t in titles] == [
        ("another", ["a-first:WW"]),
        ("real", ["real-producer:WW"]),
    ]
    parties = [p["id"] for p in as_json(run("party", "list", "--format", "json"))]
    assert parties == sorted(parties) and parties[0] == "a-first"
