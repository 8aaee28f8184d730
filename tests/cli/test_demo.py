"""The demo answers the everyday questions from a real database built from the seed deals."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from tests.conftest import as_json


def test_the_demo_answers_who_holds_china_rights_checks_a_collision_and_lists_expiries(
    tmp_path: Path,
) -> None:
    ledger = tmp_path / "demo.db"
    result = CliRunner().invoke(cli, ["demo", "--into", str(ledger)])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "The article gives no dates" in out, "the demo says which dates it assumed"
    holders_section = out.split("== Who holds China rights")[1].split("==")[0]
    assert "alibaba-pictures" in holders_section and "sole" in holders_section
    assert "BLOCK  exclusive-overlap" in out
    assert "clear: no conflicts" in out.split("Hong Kong?")[1]
    assert "free in: WW -CN" in out
    expiries_section = out.split("What expires")[1]
    assert "2027-06-27  57" in expiries_section
    # The answers come from a real ledger that the other commands can read.
    listed = CliRunner().invoke(
        cli, ["--db", f"sqlite:///{ledger}", "grant", "list", "--format", "json"]
    )
    assert {g["grantee"] for g in as_json(listed)} >= {"alibaba-pictures", "china-film"}
    verified = CliRunner().invoke(cli, ["--db", f"sqlite:///{ledger}", "verify"])
    assert verified.exit_code == 0


def test_the_demo_never_overwrites_a_ledger_that_is_not_a_demo(tmp_path: Path) -> None:
    real = tmp_path / "real.db"
    CliRunner().invoke(cli, ["--db", f"sqlite:///{real}", "party", "add", "x", "--name", "X"])
    result = CliRunner().invoke(cli, ["demo", "--into", str(real)])
    assert result.exit_code == 1
    assert "not a demo" in result.stderr
    assert real.exists()
