"""`rights-ledger demo`: a fresh ledger of the seed deals, then the everyday questions."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from cli.context import Env
from cli.grant_commands import print_check
from cli.output import emit
from cli.query_commands import EXPIRY_COLUMNS, HOLDER_COLUMNS
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


def _heading(text: str) -> None:
    click.echo()
    click.secho(f"== {text}", bold=True)


@click.command()
@click.option("--into", type=click.Path(path_type=Path, dir_okay=False), default="rights-ledger-demo.db",
              show_default=True, help="The SQLite file to build the demo ledger in (rebuilt each run).")
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
    with ledger.engine.connect() as conn:
        _heading(f"Who holds China rights to Real on {seed.AS_OF}?   (rights-ledger holders --territory CN --title real)")
        found = who_holds(conn, parse_territory("CN"), Period(seed.AS_OF, seed.AS_OF), "real")
        emit("table", [{**h.as_json(), "chain": " -> ".join(h.chain)} for h in found], HOLDER_COLUMNS)

        _heading("Can the producer license exclusive SVOD in China to iQIYI from 2027-01-01 for 2 years?   (rights-ledger check ...)")
        print_check(ledger.check([seed.colliding_deal()]), "table")

        _heading("The same deal in Hong Kong")
        hk = seed.colliding_deal().__class__(**{**seed.colliding_deal().__dict__, "territory": parse_territory("HK")})
        print_check(ledger.check([hk]), "table")

        _heading("Where is Real's SVOD still free to sell exclusively in 2027?   (rights-ledger avails ...)")
        result = available(conn, "real", seed.colliding_deal().rights, Period(seed.AS_OF, seed.AS_OF.replace(month=12, day=31)),
                           parse_territory("WW"), exclusive=True)
        click.echo(f"free in: {result.as_json()['territory']}")

        _heading(f"What expires in the 90 days after {seed.AS_OF}?   (rights-ledger expiries --within 90d)")
        emit("table", [e.as_json() for e in expiring(conn, seed.AS_OF, 90)], EXPIRY_COLUMNS)
    click.echo()
    click.echo(f"The demo ledger is in {into}; explore it with, e.g.:")
    click.echo(f"  rights-ledger --db {url} grant list")
    click.echo(f"  rights-ledger --db {url} history ALI-REAL-2016")
