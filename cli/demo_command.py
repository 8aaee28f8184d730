"""`rights-ledger demo`: a fresh ledger of the seed deals, then the everyday questions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click
from sqlalchemy import select

from cli.context import Env
from cli.grant_commands import print_check
from cli.output import emit, emit_texts
from cli.query_commands import EXPIRY_COLUMNS, HOLDER_COLUMNS, holding_cells
from ledger.domain.territories import parse_territory
from ledger.errors import Refused
from ledger.persistence.database import make_engine
from ledger.persistence.schema import JournalEntry
from ledger.services import demo as seed
from ledger.services.ledger import Ledger
from ledger.services.queries import Period, available, expiring, who_holds

DEMO_ACTOR = "rights-ledger-demo"


def _fresh(path: Path) -> None:
    """Remove an earlier demo ledger at `path`, but never a real one."""
    if not path.exists():
        return
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            actors = set(conn.execute(select(JournalEntry.actor).distinct()).scalars())
    except Exception:
        actors = {"?"}
    finally:
        engine.dispose()
    if actors - {DEMO_ACTOR}:
        raise Refused(f"{path} holds a ledger that is not a demo; choose another --into")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _heading(question: str, command: str) -> None:
    click.echo()
    click.secho(f"== {question}", bold=True)
    click.echo(f"   $ rights-ledger {command}")


@click.command()
@click.option(
    "--into",
    type=click.Path(path_type=Path, dir_okay=False),
    default="rights-ledger-demo.db",
    show_default=True,
    help="The SQLite file to build the demo ledger in (rebuilt each run).",
)
@click.pass_obj
def demo(env: Env, into: Path) -> None:
    """Build a fresh demo ledger from the seed deals, then ask the everyday questions.

    Your own ledger (--db) is not touched.

    \b
    Example:
      rights-ledger demo --into /tmp/demo.db
    """
    _fresh(into)
    url = f"sqlite:///{into.resolve()}"
    ledger = Ledger(make_engine(url), DEMO_ACTOR)
    seed.build(ledger)
    for line in seed.ASSUMPTIONS:
        click.echo(line)
    day = seed.AS_OF
    deal = seed.colliding_deal()
    with ledger.engine.connect() as conn:
        _heading(
            f"Who holds China rights to Real on {day}?",
            f"holders --territory CN --title real --on {day}",
        )
        found = who_holds(conn, parse_territory("CN"), Period(day, day), "real")
        emit_texts("table", map(holding_cells, found), HOLDER_COLUMNS)

        _heading(
            "Can the producer license exclusive SVOD in China to iQIYI for 2 years from 2027?",
            "check --title real --grantor real-producer --grantee iqiyi --rights svod "
            "--territory CN --start 2027-01-01 --term 2y --exclusivity exclusive",
        )
        print_check(ledger.check([deal]), "table")

        _heading("And the same deal in Hong Kong?", "check ... --territory HK ...")
        print_check(ledger.check([replace(deal, territory=parse_territory("HK"))]), "table")

        year_end = day.replace(month=12, day=31)
        _heading(
            f"Where is Real's SVOD still free to sell exclusively from {day} to {year_end}?",
            f"avails --title real --rights svod --from {day} --to {year_end} --exclusive",
        )
        free = available(
            conn, "real", deal.rights, Period(day, year_end), parse_territory("WW"), exclusive=True
        )
        click.echo(f"free in: {free.as_json()['territory']}")

        _heading(
            f"What expires in the 90 days after {day}?",
            f"expiries --within 90d --as-of {day}",
        )
        emit("table", [e.as_json() for e in expiring(conn, day, 90)], EXPIRY_COLUMNS)
    click.echo()
    click.echo(f"The demo ledger is in {into}; explore it with, e.g.:")
    click.echo(f"  rights-ledger --db {url} grant list")
    click.echo(f"  rights-ledger --db {url} history ALI-REAL-2016")
