"""The seed deal's conflict cases, checked through the CLI as legal staff would run them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.conftest import as_json, grant_add, seed_real

Run = Callable[..., Result]


def check(
    run: Run,
    grantor: str,
    grantee: str,
    rights: str,
    territory: str,
    exclusivity: str,
    start: str = "2018-01-01",
    end: str = "2020-12-31",
    expect: int | None = None,
) -> dict[str, Any]:
    result = run(
        "check",
        "--title",
        "real",
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
        "--end",
        end,
        "--exclusivity",
        exclusivity,
        "--format",
        "json",
        expect=expect,
    )
    report: dict[str, Any] = as_json(result)
    assert result.exit_code == (0 if report["clear"] else 1)
    return report


def kinds(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["kind"], c["severity"]) for c in report["conflicts"]]


@pytest.fixture
def signed(run: Run) -> Run:
    seed_real(run, status="signed")
    return run


def test_exclusive_svod_in_china_to_another_platform_during_alibabas_term_blocks(
    signed: Run,
) -> None:
    report = check(signed, "real-producer", "iqiyi", "svod", "CN", "exclusive", expect=1)
    assert kinds(report) == [("exclusive-overlap", "block")]


def test_the_same_licence_in_hong_kong_is_clear(signed: Run) -> None:
    report = check(signed, "real-producer", "iqiyi", "svod", "HK", "exclusive", expect=0)
    assert report == {"clear": True, "conflicts": []}


def test_greater_china_blocks_with_the_slice_showing_mainland_china_only(signed: Run) -> None:
    report = check(signed, "real-producer", "iqiyi", "svod", "GREATER-CHINA", "exclusive", expect=1)
    [conflict] = report["conflicts"]
    assert conflict["territories"] == ["CN"]


@pytest.mark.parametrize("exclusivity", ["non-exclusive", "sole"])
def test_alibaba_sublicensing_svod_in_china_without_exclusivity_is_clear(
    signed: Run, exclusivity: str
) -> None:
    assert check(signed, "alibaba-pictures", "iqiyi", "svod", "CN", exclusivity, expect=0)["clear"]


def test_alibaba_cannot_promise_exclusivity_it_does_not_hold(signed: Run) -> None:
    report = check(signed, "alibaba-pictures", "iqiyi", "svod", "CN", "exclusive", expect=1)
    assert kinds(report) == [("no-exclusive-rights-in", "block")]
    assert report["conflicts"][0]["grant"] is None


def test_alibaba_licensing_in_japan_is_no_rights_in(signed: Run) -> None:
    report = check(signed, "alibaba-pictures", "iqiyi", "svod", "JP", "non-exclusive", expect=1)
    assert kinds(report) == [("no-rights-in", "block")]
    assert report["conflicts"][0]["territories"] == ["JP"]


def test_a_conflict_with_an_mou_only_warns(run: Run) -> None:
    seed_real(run, status="mou")
    report = check(run, "real-producer", "iqiyi", "svod", "CN", "exclusive", expect=0)
    assert kinds(report) == [("exclusive-overlap", "warn")]


def test_a_window_ending_the_day_before_another_starts_does_not_collide(signed: Run) -> None:
    assert check(
        signed,
        "real-producer",
        "iqiyi",
        "svod",
        "CN",
        "exclusive",
        start="2027-01-01",
        end="2029-12-31",
        expect=0,
    )["clear"]
    assert not check(
        signed,
        "real-producer",
        "iqiyi",
        "svod",
        "CN",
        "exclusive",
        start="2026-12-31",
        end="2029-12-31",
        expect=1,
    )["clear"]


def test_a_window_ending_on_the_day_another_starts_collides_on_that_day(signed: Run) -> None:
    report = check(
        signed,
        "real-producer",
        "iqiyi",
        "svod",
        "CN",
        "exclusive",
        start="2014-01-01",
        end="2017-01-01",
        expect=1,
    )
    [conflict] = report["conflicts"]
    assert (conflict["start"], conflict["end"]) == ("2017-01-01", "2017-01-01")


def test_the_producers_reservation_is_untouched_by_a_sole_licence_but_blocked_by_an_exclusive_one(
    run: Run,
) -> None:
    seed_real(run, status="signed")
    run("agreement", "add", "RES", "--parties", "real-producer", "--status", "signed")
    run(
        *grant_add(
            "RES",
            "real-producer",
            "real-producer",
            "festival",
            "KR",
            "2018-01-01",
            None,
            "non-exclusive",
        ),
    )
    assert check(run, "real-producer", "iqiyi", "festival", "KR", "sole", expect=0)["clear"]
    report = check(run, "real-producer", "iqiyi", "festival", "KR", "exclusive", expect=1)
    assert kinds(report) == [("exclusive-overlap", "block")]
    assert report["conflicts"][0]["grant"] == "G2"


def test_an_ended_grant_is_ignored_from_the_day_after_its_termination(signed: Run) -> None:
    signed("grant", "terminate", "G1", "--on", "2019-06-30", "--reason", "breach")
    report = check(signed, "real-producer", "iqiyi", "svod", "CN", "exclusive", expect=1)
    assert report["conflicts"][0]["end"] == "2019-06-30"
    assert check(
        signed, "real-producer", "iqiyi", "svod", "CN", "exclusive", start="2019-07-01", expect=0
    )["clear"]


def test_a_terminated_agreement_keeps_its_severity_until_its_last_day(run: Run) -> None:
    seed_real(run, status="signed")
    run("agreement", "terminate", "ALI-REAL-2016", "--on", "2019-06-30", "--reason", "breach")
    report = check(run, "real-producer", "iqiyi", "svod", "CN", "exclusive", expect=1)
    assert kinds(report) == [("exclusive-overlap", "block")]
    assert report["conflicts"][0]["end"] == "2019-06-30"


def test_disjoint_languages_do_not_collide_but_no_language_means_all(signed: Run) -> None:
    signed("agreement", "add", "IQ", "--parties", "real-producer,iqiyi", "--status", "signed")
    signed(
        *grant_add(
            "IQ",
            "real-producer",
            "iqiyi",
            "svod",
            "KR",
            "2018-01-01",
            "2020-12-31",
            "exclusive",
            "--language",
            "ko",
        ),
    )
    base = (
        "check",
        "--title",
        "real",
        "--grantor",
        "real-producer",
        "--grantee",
        "alibaba-pictures",
        "--rights",
        "svod",
        "--territory",
        "KR",
        "--start",
        "2019-01-01",
        "--end",
        "2019-12-31",
        "--exclusivity",
        "exclusive",
        "--format",
        "json",
    )
    assert as_json(signed(*base, "--language", "zh", expect=0))["clear"]
    assert not as_json(signed(*base, expect=1))["clear"]


def test_a_holdback_blocks_svod_until_ninety_days_after_the_theatrical_release(run: Run) -> None:
    seed_real(run, status="signed")
    run(
        "agreement",
        "add",
        "TH",
        "--parties",
        "real-producer,alibaba-pictures",
        "--status",
        "signed",
    )
    run(
        *grant_add(
            "TH",
            "real-producer",
            "alibaba-pictures",
            "theatrical",
            "TW",
            "2018-01-01",
            "2018-12-31",
            "exclusive",
            "--holdback",
            "svod@TW@theatrical+90d",
        ),
    )
    pending = check(
        run,
        "real-producer",
        "iqiyi",
        "svod",
        "TW",
        "non-exclusive",
        start="2019-01-01",
        end="2019-12-31",
        expect=1,
    )
    assert kinds(pending) == [("holdback", "block")], "unknown event date: conservatively open"
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
    report = check(run, "real-producer", "iqiyi", "svod", "TW", "non-exclusive", expect=1)
    assert report["conflicts"][0]["end"] == "2018-05-30"
    assert check(
        run, "real-producer", "iqiyi", "svod", "TW", "non-exclusive", start="2018-05-31", expect=0
    )["clear"]


def test_a_whole_deal_file_is_checked_against_the_ledger_and_within_itself(
    signed: Run, tmp_path: Path
) -> None:
    deal = tmp_path / "deal.csv"
    deal.write_text(
        "agreement,title,grantor,grantee,rights,territory,start,end,exclusivity\n"
        "IQ,real,real-producer,iqiyi,svod,HK,2018-01-01,2020-12-31,exclusive\n"
        "IQ,real,real-producer,alibaba-pictures,svod,HK,2019-01-01,2019-12-31,exclusive\n"
        "IQ,real,real-producer,iqiyi,avod,CN,2018-01-01,2020-12-31,exclusive\n",
        encoding="utf-8",
    )
    report = as_json(signed("check", "--file", str(deal), "--format", "json", expect=1))
    found = sorted((c["line"], c["kind"], c["grant"]) for c in report["conflicts"])
    assert found == [(3, "exclusive-overlap", "line 2"), (4, "exclusive-overlap", "G1")]


def test_grant_add_records_a_blocked_grant_only_with_a_reason(signed: Run) -> None:
    signed("agreement", "add", "IQ", "--parties", "real-producer,iqiyi", "--status", "signed")
    args = (
        *grant_add(
            "IQ",
            "real-producer",
            "iqiyi",
            "svod",
            "CN",
            "2018-01-01",
            "2018-12-31",
            "exclusive",
        ),
    )
    signed(*args, expect=1)
    signed(*args, "--allow-conflicts", expect=2)
    result = signed(*args, "--allow-conflicts", "--reason", "settlement with Alibaba")
    assert result.stdout == "G2\n"
    assert "exclusive-overlap" in result.stderr
    shown = as_json(signed("grant", "show", "G2", "--format", "json"))
    assert shown["conflict_reason"] == "settlement with Alibaba"


def test_signing_an_mou_is_refused_when_an_exclusive_deal_was_signed_meanwhile(run: Run) -> None:
    seed_real(run, status="mou")  # G1: Alibaba, sole distribution in CN, pending
    run("agreement", "add", "IQ", "--parties", "real-producer,iqiyi", "--status", "signed")
    added = run(
        *grant_add(
            "IQ",
            "real-producer",
            "iqiyi",
            "svod",
            "CN",
            "2018-01-01",
            "2018-12-31",
            "exclusive",
        ),
    )
    assert "warn" in added.stderr
    refused = run("agreement", "sign", "ALI-REAL-2016", expect=1)
    assert "exclusive-overlap" in refused.stderr and "G2" in refused.stderr
    statuses = {
        a["ref"]: a["status"] for a in as_json(run("agreement", "list", "--format", "json"))
    }
    assert statuses["ALI-REAL-2016"] == "mou"
    run("agreement", "sign", "ALI-REAL-2016", "--allow-conflicts", "--reason", "iQIYI consents")
    history = as_json(run("history", "ALI-REAL-2016", "--format", "json"))
    assert history[-1]["kind"] == "agreement.signed"
    assert history[-1]["reason"] == "iQIYI consents"
