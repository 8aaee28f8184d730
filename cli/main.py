"""The `rights-ledger` command: global options and the command tree."""

from __future__ import annotations

import gc

import click

from cli.context import Env, LedgerGroup
from cli.output import emit, format_option
from cli.params import TERRITORY
from ledger.domain.rights import RIGHTS
from ledger.domain.territories import TerritoryExpr, compact, country_name, list_groups
from ledger.persistence.database import (
    DB_ENV,
    head_revision,
    resolve_url,
    schema_state,
    upgrade,
)
from ledger.services.ledger import ACTOR_ENV

pass_env = click.make_pass_decorator(Env)
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


COMMANDS = {
    "party": "cli.setup_commands:party",
    "title": "cli.setup_commands:title",
    "agreement": "cli.setup_commands:agreement",
    "grant": "cli.grant_commands:grant",
    "check": "cli.grant_commands:check",
    "holders": "cli.query_commands:holders",
    "avails": "cli.query_commands:avails",
    "expiries": "cli.query_commands:expiries",
    "history": "cli.audit_commands:history",
    "verify": "cli.audit_commands:verify",
    "import": "cli.audit_commands:import_",
    "export": "cli.audit_commands:export",
    "demo": "cli.demo_command:demo",
}


@click.group(cls=LedgerGroup, lazy=COMMANDS, context_settings=CONTEXT)
@click.option(
    "--db",
    envvar=DB_ENV,
    metavar="URL",
    help=f"SQLAlchemy URL of the ledger (env {DB_ENV}); default: an SQLite file "
    "in your data directory (see `db info`).",
)
@click.option(
    "--actor",
    envvar=ACTOR_ENV,
    metavar="NAME",
    help=f"Who is making changes, recorded in the journal (env {ACTOR_ENV}; "
    "default: your OS user).",
)
@click.version_option(package_name="rights-ledger")
@click.pass_context
def cli(ctx: click.Context, db: str | None, actor: str | None) -> None:
    """A rights ledger for film and TV: who holds which rights to which title, where and
    when, and a conflict check before any deal is signed.

    \b
    Start with:
      rights-ledger demo                         the seed deals and the three questions
      rights-ledger holders --territory CN --title real
      rights-ledger check --title real --grantor real-producer --grantee iqiyi \\
          --rights svod --territory CN --start 2018-01-01 --term 3y --exclusivity exclusive
      rights-ledger expiries --within 90d
    """
    env = ctx.obj = Env(db, actor)
    ctx.call_on_close(env.close)


@cli.group()
def db() -> None:
    """The database: migrate it, see its revision, see where it is."""


@db.command("upgrade")
@pass_env
def db_upgrade(env: Env) -> None:
    """Run the migrations up to this version's schema (needed once for PostgreSQL).

    \b
    Example:
      rights-ledger --db postgresql+psycopg://ledger@dbhost/rights db upgrade
    """
    upgrade(env.engine)
    click.echo(f"schema at {head_revision()}")


@db.command("current")
@pass_env
def db_current(env: Env) -> None:
    """Print the database's schema revision and whether it is up to date.

    \b
    Example:
      rights-ledger db current
    """
    state = schema_state(env.engine)
    verdict = "up to date" if state.up_to_date else f"out of date (this tool needs {state.head})"
    click.echo(f"{state.current or 'empty'}: {verdict}")


@db.command("info")
@pass_env
def db_info(env: Env) -> None:
    """Print which database the ledger uses.

    \b
    Example:
      RIGHTS_LEDGER_DB=sqlite:///team.db rights-ledger db info
    """
    url = env.engine.url.render_as_string(hide_password=True)
    state = schema_state(env.engine)
    click.echo(f"database: {url}")
    click.echo(f"backend:  {env.engine.dialect.name}")
    click.echo(f"schema:   {state.current or 'empty'} (this tool needs {state.head})")
    if resolve_url(env.db) != (env.db or ""):
        click.echo("(set --db or RIGHTS_LEDGER_DB to use another)")


@cli.command("rights")
@format_option
def rights_command(fmt: str) -> None:
    """Print the rights tree with its aliases (a grant of a node covers everything below).

    \b
    Examples:
      rights-ledger rights
      rights-ledger rights --format json
    """
    if fmt == "table":
        click.echo(RIGHTS.render())
        return
    aliases: dict[str, list[str]] = {}
    for alias, node in sorted(RIGHTS.aliases.items()):
        aliases.setdefault(node, []).append(alias)
    for license_type, node in RIGHTS.ema_license_types.items():
        aliases.setdefault(node, []).append(license_type)
    rows = [
        {
            "right": node,
            "parent": RIGHTS.parents[node],
            "leaves": sorted(RIGHTS.leaves_of(node)),
            "aliases": aliases.get(node, []),
        }
        for node in RIGHTS.nodes
    ]
    emit(fmt, rows, ("right", "parent", "leaves", "aliases"))


@cli.command("territories")
@click.argument("expression", required=False, type=TERRITORY)
@format_option
def territories(expression: TerritoryExpr | None, fmt: str) -> None:
    """Expand a territory expression to its countries, or list the named groups.

    \b
    Examples:
      rights-ledger territories "ASIA excluding CN, JP"
      rights-ledger territories
    """
    if expression is None:
        rows = [
            {
                "group": gid,
                "name": name,
                "countries": len(codes),
                "compact": " ".join(sorted(codes)),
            }
            for gid, name, codes in list_groups()
        ]
        emit(fmt, rows, ("group", "name", "countries"))
        return
    countries = sorted(expression.countries)
    if fmt == "table":
        click.echo(f"{compact(expression.countries)}  ({len(countries)} countries)")
        for code in countries:
            click.echo(f"  {code}  {country_name(code)}")
        return
    rows = [{"code": c, "name": country_name(c)} for c in countries]
    emit(fmt, rows, ("code", "name"))


def main() -> None:
    """The console script: one command, then the process ends."""
    try:
        cli(prog_name="rights-ledger")
    finally:
        # Everything the command made is left to the end of the process: its database
        # connections are closed by now (`Env.close`), and the interpreter's shutdown
        # would otherwise walk every object there is, a fifth of a short command's time.
        gc.freeze()
