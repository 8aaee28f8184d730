"""Grant commands through the CLI, as a script would drive them."""

from __future__ import annotations

from collections.abc import Callable

from click.testing import Result

from tests.conftest import as_json, grant_add, seed_real

Run = Callable[..., Result]


def test_grant_add_prints_only_the_new_grant_id_on_stdout(run: Run) -> None:
    seed_real(run)
    result = run(
        *grant_add(
            "ALI-REAL-2016",
            "real-producer",
            "alibaba-pictures",
            "marketing",
            "CN",
            "2017-01-01",
            None,
            "sole",
            term="10y",
        ),
    )
    assert result.stdout == "G2\n"


def test_an_exclusive_svod_licence_in_china_during_alibabas_signed_term_is_refused(
    run: Run,
) -> None:
    seed_real(run, status="signed")
    run("agreement", "add", "IQ-1", "--parties", "real-producer,iqiyi", "--status", "signed")
    result = run(
        *grant_add(
            "IQ-1",
            "real-producer",
            "iqiyi",
            "svod",
            "CN",
            "2018-01-01",
            None,
            "exclusive",
            term="3y",
        ),
        expect=1,
    )
    assert result.stdout == ""
    assert "exclusive-overlap" in result.stderr
    listed = as_json(run("grant", "list", "--format", "json"))
    assert [g["grant"] for g in listed] == ["G1"]


def test_check_reports_the_overlapping_slice_as_json(run: Run) -> None:
    seed_real(run, status="signed")
    result = run(
        "check",
        "--title",
        "real",
        "--grantor",
        "real-producer",
        "--grantee",
        "iqiyi",
        "--rights",
        "svod",
        "--territory",
        "GREATER-CHINA",
        "--start",
        "2018-01-01",
        "--end",
        "2020-12-31",
        "--exclusivity",
        "exclusive",
        "--format",
        "json",
        expect=1,
    )
    report = as_json(result)
    assert report["clear"] is False
    [conflict] = report["conflicts"]
    assert conflict["kind"] == "exclusive-overlap"
    assert conflict["severity"] == "block"
    assert conflict["grant"] == "G1"
    assert conflict["agreement"] == "ALI-REAL-2016"
    assert conflict["grantee"] == "alibaba-pictures"
    assert conflict["rights"] == ["svod"]
    assert conflict["territories"] == ["CN"]
    assert (conflict["start"], conflict["end"]) == ("2018-01-01", "2020-12-31")


def test_grant_list_shows_a_terms_end_as_a_date_and_keeps_the_term_as_written(run: Run) -> None:
    seed_real(run)
    run(
        *grant_add(
            "ALI-REAL-2016",
            "real-producer",
            "alibaba-pictures",
            "marketing",
            "CN",
            "2017-06-28",
            None,
            "sole",
            term="10y",
        ),
    )
    shown = as_json(run("grant", "show", "G2", "--format", "json"))
    assert (shown["start"], shown["end"], shown["end_as_written"]) == (
        "2017-06-28",
        "2027-06-27",
        "term:10y",
    )
    run("grant", "terminate", "G2", "--on", "2020-12-31", "--reason", "buy-back")
    shown = as_json(run("grant", "show", "G2", "--format", "json"))
    assert (shown["end"], shown["terminated_on"]) == ("2027-06-27", "2020-12-31")
