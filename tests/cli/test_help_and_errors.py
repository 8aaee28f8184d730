"""Every command explains itself, and bad input gets one clear line, exit 2, nothing written."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from tests.conftest import as_json, seed_real

Run = Callable[..., Result]


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def _command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None
        command = found
    return command


ALL_COMMANDS = list(_commands(cli))


def test_the_command_tree_has_every_command_of_the_contract() -> None:
    expected = {
        ("party", "add"),
        ("party", "list"),
        ("title", "add"),
        ("title", "list"),
        ("title", "event"),
        ("agreement", "add"),
        ("agreement", "sign"),
        ("agreement", "terminate"),
        ("grant", "add"),
        ("grant", "list"),
        ("grant", "show"),
        ("grant", "amend"),
        ("grant", "terminate"),
        ("check",),
        ("holders",),
        ("avails",),
        ("expiries",),
        ("history",),
        ("verify",),
        ("import",),
        ("export",),
        ("rights",),
        ("territories",),
        ("db", "upgrade"),
        ("db", "current"),
        ("db", "info"),
        ("demo",),
    }
    assert expected <= set(ALL_COMMANDS)


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "-h"])
    assert result.exit_code == 0, result.output
    if not isinstance(_command_at(path), click.Group):
        assert "Example" in result.output, f"{' '.join(path)} --help shows no example"
        assert "rights-ledger " in result.output


def _one_clear_line(result: Result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--territory", "CNN"], "did you mean CN"),
        (["--territory", "Korea"], "KR"),
        (["--territory", "YU"], "obsolete"),
        (["--rights", "svdo"], "did you mean svod"),
        (["--start", "01/02/2027"], "ambiguous date"),
        (["--end", "2016-12-31"], "before start"),
        (["--exclusivity", "mostly"], "exclusive"),
        (["--term", "ten years"], "term"),
    ],
)
def test_bad_grant_input_is_one_line_exit_2_and_writes_nothing(
    run: Run, args: list[str], says: str
) -> None:
    seed_real(run)
    base = {
        "--agreement": "ALI-REAL-2016",
        "--title": "real",
        "--grantor": "real-producer",
        "--grantee": "alibaba-pictures",
        "--rights": "marketing",
        "--territory": "CN",
        "--start": "2017-01-01",
        "--exclusivity": "sole",
    }
    overrides = dict(zip(args[::2], args[1::2], strict=True))
    options = {**base, **overrides}
    window = (
        ["--term", overrides["--term"]]
        if "--term" in overrides
        else ["--end", options.pop("--end", "2018-12-31")]
    )
    options.pop("--term", None)
    flat = [part for pair in options.items() for part in pair]
    line = _one_clear_line(run("grant", "add", *flat, *window, expect=None))
    assert says.lower() in line.lower()
    assert [g["grant"] for g in as_json(run("grant", "list", "--format", "json"))] == ["G1"]


def test_an_unknown_command_is_a_usage_error_in_one_line(run: Run) -> None:
    _one_clear_line(run("grnat", expect=None))


def test_a_missing_required_option_is_a_usage_error_in_one_line(run: Run) -> None:
    line = _one_clear_line(run("party", "add", "x", expect=None))
    assert "--name" in line


def test_a_malformed_deal_file_names_its_row_and_exits_2(run: Run, tmp_path: Path) -> None:

    seed_real(run)
    deal = tmp_path / "deal.csv"
    deal.write_text(
        "agreement,title,grantor,grantee,rights,territory,start,end,exclusivity\n"
        "IQ,real,real-producer,iqiyi,svod,CN,2027-01-01,2027-12-31,exclusive\n"
        "IQ,real,real-producer,iqiyi,svod,ZZZ,2027-01-01,2027-12-31,exclusive\n",
        encoding="utf-8",
    )
    result = run("check", "--file", str(deal), expect=2)
    assert "row 3" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_import_file_is_bad_input(run: Run) -> None:
    _one_clear_line(run("import", "/nonexistent/deal.csv", expect=None))


def test_an_unknown_grant_id_is_not_found_exit_1(run: Run) -> None:
    result = run("grant", "show", "G99", expect=1)
    assert "G99" in result.stderr
