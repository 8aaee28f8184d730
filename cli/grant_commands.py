"""Grants and the conflict check that guards them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from cli.context import Env
from cli.output import emit, emit_json, format_option, reporting_conflicts, warn_conflicts
from cli.params import DATE, EXCLUSIVITY, RIGHTS, TERM, TERRITORY
from ledger.domain.dates import Term
from ledger.domain.grants import EndBound, GrantSpec, HoldbackSpec, bound_text, read_bound, read_end
from ledger.domain.languages import parse_languages
from ledger.domain.rights import RIGHTS as RIGHTS_TREE
from ledger.domain.territories import TerritoryExpr
from ledger.errors import BadInput
from ledger.services.checks import CheckResult
from ledger.services.views import parse_grant_label

pass_env = click.make_pass_decorator(Env)
F = TypeVar("F", bound=Callable[..., Any])

GRANT_COLUMNS = (
    "grant",
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
    "terminated_on",
)
CONFLICT_COLUMNS = (
    "severity",
    "kind",
    "grant",
    "agreement",
    "grantee",
    "rights",
    "territory",
    "start",
    "end",
)


def window_options(func: F) -> F:
    for option in reversed(
        (
            click.option("--end", help="Last day in force (inclusive), or EVENT+OFFSET."),
            click.option("--term", type=TERM, help="Instead of --end: 10y, 18m, 90d, P10Y."),
            click.option(
                "--open", "open_end", is_flag=True, help="Instead of --end: no end (perpetuity)."
            ),
        )
    ):
        func = option(func)
    return func


def scope_options(agreement_required: bool) -> Callable[[F], F]:
    """The options that describe a grant, shared by `grant add` and `check`."""

    def decorate(func: F) -> F:
        options = (
            click.option(
                "--agreement",
                required=agreement_required,
                default=None if agreement_required else "PROPOSED",
                help="The agreement reference the grant belongs to.",
            ),
            click.option("--title", "title_id", help="The title id."),
            click.option("--grantor", help="Who grants (the owner or a licensee)."),
            click.option("--grantee", help="Who receives (the grantor itself for a reservation)."),
            click.option(
                "--rights", type=RIGHTS, help="Rights, comma-separated: svod,avod or distribution."
            ),
            click.option(
                "--territory",
                type=TERRITORY,
                help='Territory expression: CN, "WW -CN -HK", GREATER-CHINA.',
            ),
            click.option(
                "--start", help="First day in force, or EVENT+OFFSET such as theatrical+90d."
            ),
            click.option(
                "--exclusivity", type=EXCLUSIVITY, help="exclusive, sole or non-exclusive."
            ),
            click.option(
                "--language", help="Languages, comma-separated ISO 639 codes (default: all)."
            ),
            click.option(
                "--holdback",
                "holdbacks",
                multiple=True,
                help='RIGHTS@TERRITORY@UNTIL, repeatable, e.g. "svod@CN@theatrical+90d".',
            ),
            click.option(
                "--notice", type=DATE, help="A notice or option deadline to report in expiries."
            ),
        )
        func = window_options(func)
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def end_bound(end: str | None, term: Term | None, open_end: bool) -> EndBound:
    given = [
        name for name, value in (("--end", end), ("--term", term), ("--open", open_end)) if value
    ]
    if len(given) != 1:
        raise BadInput("give exactly one of --end, --term or --open")
    if term is not None:
        return term
    if open_end:
        return None
    assert end is not None
    return read_end(end)


def build_spec(values: dict[str, Any]) -> GrantSpec:
    missing = [
        f"--{k.replace('_id', '')}"
        for k in ("title_id", "grantor", "grantee", "rights", "territory", "start", "exclusivity")
        if values.get(k) is None
    ]
    if missing:
        raise BadInput(f"missing {', '.join(missing)}")
    start = read_bound(values["start"])
    end = end_bound(values.get("end"), values.get("term"), values.get("open_end", False))
    territory: TerritoryExpr = values["territory"]
    return GrantSpec(
        agreement=values["agreement"],
        title=values["title_id"],
        grantor=values["grantor"],
        grantee=values["grantee"],
        rights=values["rights"],
        territory=territory,
        start=start,
        end=end,
        exclusivity=values["exclusivity"],
        languages=parse_languages(values["language"]) if values.get("language") else None,
        holdbacks=tuple(HoldbackSpec.parse(h) for h in values.get("holdbacks", ())),
        notice_on=values.get("notice"),
    )


def print_check(result: CheckResult, fmt: str) -> None:
    if fmt == "json":
        emit_json(result.as_json())
        return
    rows = [c.as_json() for c in result.conflicts]
    if fmt == "csv":
        emit(fmt, rows, (*CONFLICT_COLUMNS, "message"))
        return
    if not result.conflicts:
        click.echo("clear: no conflicts")
        return
    for conflict in result.conflicts:
        where = f"line {conflict.line}: " if conflict.line is not None else ""
        click.echo(f"{conflict.severity.upper():5}  {where}{conflict.kind}: {conflict.message}")
    verdict = (
        "clear (warnings only)"
        if result.clear
        else f"BLOCKED by {len(result.blocking)} conflict(s)"
    )
    click.echo(verdict)


@click.command()
@scope_options(agreement_required=False)
@click.option(
    "--file",
    "deal_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Check a whole deal: a CSV with the import columns.",
)
@click.option("--recorded-as-of", help="Check against the ledger as recorded at this moment.")
@format_option
@pass_env
def check(
    env: Env, /, deal_file: Path | None, recorded_as_of: str | None, fmt: str, **values: Any
) -> None:
    """Check a proposed deal for conflicts before signing. Exit 1 when something blocks.

    \b
    Examples:
      rights-ledger check --title real --grantor real-producer --grantee iqiyi \\
          --rights svod --territory CN --start 2018-01-01 --term 3y --exclusivity exclusive
      rights-ledger check --file deal.csv --format json
    """
    ledger = env.ledger(recorded_as_of)
    if deal_file is not None:
        # File reading (CSV and spreadsheets) loads only when a file is checked.
        from ledger.services.transfer import read_deal

        specs, lines = read_deal(deal_file)
        result = ledger.check(specs, lines)
    else:
        result = ledger.check([build_spec(values)])
    print_check(result, fmt)
    if not result.clear:
        raise click.exceptions.Exit(1)


@click.group()
def grant() -> None:
    """Licence lines: add (after a conflict check), list, show, amend, terminate."""


@grant.command("add")
@scope_options(agreement_required=True)
@click.option(
    "--allow-conflicts", is_flag=True, help="Record despite blocking conflicts (needs --reason)."
)
@click.option("--reason", help="Why the conflicts are accepted (kept in the journal).")
@pass_env
def grant_add(env: Env, /, allow_conflicts: bool, reason: str | None, **values: Any) -> None:
    """Record a grant. It is checked first: a blocking conflict refuses it (exit 1).

    Prints the new grant's id alone on stdout; warnings go to stderr.

    \b
    Example:
      rights-ledger grant add --agreement ALI-REAL-2016 --title real \\
          --grantor real-producer --grantee alibaba-pictures --rights distribution \\
          --territory CN --start 2017-06-28 --term 10y --exclusivity sole
    """
    spec = build_spec(values)
    with reporting_conflicts():
        label, result = env.ledger().add_grant(spec, allow_conflicts, reason)
    warn_conflicts(result)
    click.echo(label)


@grant.command("list")
@click.option("--title", "title_id", help="Only this title's grants.")
@click.option("--agreement", help="Only this agreement's grants.")
@click.option("--party", help="Only grants this party gives or receives.")
@click.option("--recorded-as-of", help="The grants as recorded at this moment.")
@format_option
@pass_env
def grant_list(
    env: Env,
    title_id: str | None,
    agreement: str | None,
    party: str | None,
    recorded_as_of: str | None,
    fmt: str,
) -> None:
    """List grants.

    \b
    Example:
      rights-ledger grant list --title real --format json
    """
    # Imported here, not with the module: `check` and `grant add` start faster without it.
    from ledger.services.queries import grant_records

    engine = env.ledger(recorded_as_of).engine
    with engine.connect() as conn:
        emit(fmt, grant_records(conn, title_id, agreement, party), GRANT_COLUMNS, "no grants")


@grant.command("show")
@click.argument("grant_id")
@click.option("--recorded-as-of", help="The grant as recorded at this moment.")
@format_option
@pass_env
def grant_show(env: Env, grant_id: str, recorded_as_of: str | None, fmt: str) -> None:
    """Show one grant with its holdbacks.

    \b
    Example:
      rights-ledger grant show G1
    """
    from ledger.services.queries import grant_records, holdbacks_of

    number = parse_grant_label(grant_id)
    if number is None:
        raise BadInput(f"not a grant id: {grant_id!r} (grant ids look like G12)")
    engine = env.ledger(recorded_as_of).engine
    with engine.connect() as conn:
        found = list(grant_records(conn, grant_id=number))
        if not found:
            raise click.ClickException(f"no grant G{number}")
        record = {**found[0], "holdbacks": holdbacks_of(conn, number)}
    if fmt == "json":
        emit_json(record)
    elif fmt == "csv":
        emit(fmt, [record], GRANT_COLUMNS)
    else:
        for key, value in record.items():
            if key == "holdbacks":
                for h in value:
                    click.echo(
                        f"{'holdback':17} no {';'.join(h['rights'])} in {h['territory']} "
                        f"until {h['until']}"
                        + (f" ({h['last_day']})" if h["last_day"] not in (None, h["until"]) else "")
                    )
            elif value not in (None, []):
                click.echo(f"{key:17} {';'.join(value) if isinstance(value, list) else value}")


@grant.command("amend")
@click.argument("grant_id")
@click.option("--start", help="New first day, or EVENT+OFFSET.")
@window_options
@click.option("--rights", type=RIGHTS, help="New rights.")
@click.option("--territory", type=TERRITORY, help="New territory expression.")
@click.option("--exclusivity", type=EXCLUSIVITY, help="New exclusivity.")
@click.option("--notice", type=DATE, help="New notice date.")
@click.option("--reason", required=True, help="Why (kept in the journal).")
@click.option("--allow-conflicts", is_flag=True, help="Record despite blocking conflicts.")
@pass_env
def grant_amend(
    env: Env, /, grant_id: str, reason: str, allow_conflicts: bool, **values: Any
) -> None:
    """Amend a grant (e.g. extend it). The grant keeps its id; the journal keeps both versions.

    \b
    Example:
      rights-ledger grant amend G1 --end 2029-06-27 --reason "two-year extension"
    """
    changes: dict[str, Any] = {}
    if values["start"]:
        changes["start"] = bound_text(read_bound(values["start"]))
    if values["end"] or values["term"] or values["open_end"]:
        changes["end"] = bound_text(end_bound(values["end"], values["term"], values["open_end"]))
    if values["rights"] is not None:
        changes["rights"] = list(RIGHTS_TREE.compact(values["rights"]))
    if values["territory"] is not None:
        changes["territory"] = values["territory"].text
    if values["exclusivity"] is not None:
        changes["exclusivity"] = values["exclusivity"]
    if values["notice"] is not None:
        changes["notice_on"] = values["notice"].isoformat()
    if not changes:
        raise BadInput(
            "nothing to amend: give --end, --term, --open, --start, --rights, --territory, ..."
        )
    with reporting_conflicts():
        result = env.ledger().amend_grant(grant_id, changes, reason, allow_conflicts)
    warn_conflicts(result)
    click.echo(grant_id.upper())


@grant.command("terminate")
@click.argument("grant_id")
@click.option("--on", required=True, type=DATE, help="The last day in force.")
@click.option("--reason", required=True, help="Why (kept in the journal).")
@pass_env
def grant_terminate(env: Env, grant_id: str, on: date, reason: str) -> None:
    """Terminate a grant early: --on is its last day in force, and its holdbacks' too.

    \b
    Example:
      rights-ledger grant terminate G3 --on 2020-12-31 --reason "licensee insolvent"
    """
    env.ledger().terminate_grant(grant_id, on, reason)
    click.echo(f"{grant_id.upper()}: terminated, last day in force {on}")
