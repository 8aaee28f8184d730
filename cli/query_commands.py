"""The everyday questions: holders, avails, expiries."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from itertools import chain
from pathlib import Path

import click

from cli.context import Env, today
from cli.output import (
    emit,
    emit_json,
    emit_json_texts,
    emit_texts,
    format_option,
    write_atomically,
)
from cli.params import DATE, RIGHTS, TERRITORY, WITHIN
from ledger.domain.territories import TerritoryExpr, parse_territory
from ledger.errors import BadInput
from ledger.services.queries import Holding, Period, available, expiries_in, holdings_in

pass_env = click.make_pass_decorator(Env)

HOLDER_COLUMNS = (
    "title",
    "rights",
    "holder",
    "grantor",
    "exclusivity",
    "territory",
    "start",
    "end",
    "grant",
    "agreement",
    "status",
    "chain",
    "note",
)
EXPIRY_COLUMNS = (
    "end",
    "days_left",
    "kind",
    "grant",
    "title",
    "grantee",
    "reverts_to",
    "rights",
    "territory",
    "agreement",
    "status",
)


def _period(on: date | None, start: date | None, end: date | None, as_of: date | None) -> Period:
    if on is not None and (start or end):
        raise BadInput("give either --on or --from/--to, not both")
    if on is not None:
        return Period(on, on)
    if start or end:
        first = start or end
        last = end or start
        assert first is not None and last is not None
        return Period(first, last)
    day = as_of or today()
    return Period(day, day)


@click.command()
@click.option(
    "--territory", required=True, type=TERRITORY, help='Where: CN, GREATER-CHINA, "WW -US".'
)
@click.option("--title", "title_id", help="Only this title.")
@click.option("--rights", type=RIGHTS, help="Only these rights (a node covers its children).")
@click.option("--on", type=DATE, help="On this day (default: today, or --as-of).")
@click.option("--from", "start", type=DATE, help="From this day...")
@click.option("--to", "end", type=DATE, help="...through this day.")
@click.option("--as-of", type=DATE, help="What 'today' is.")
@click.option("--recorded-as-of", help="Answer from the ledger as recorded at this moment.")
@format_option
@pass_env
def holders(
    env: Env,
    territory: TerritoryExpr,
    title_id: str | None,
    rights: frozenset[str] | None,
    on: date | None,
    start: date | None,
    end: date | None,
    as_of: date | None,
    recorded_as_of: str | None,
    fmt: str,
) -> None:
    """Who holds rights in a territory: every grant that covers it, with its chain of title.

    Pending (draft/MOU) grants are shown and marked; a sole licence notes that its
    grantor may still exploit.

    \b
    Examples:
      rights-ledger holders --territory CN --title real --rights svod --on 2027-03-01
      rights-ledger holders --territory China --format json
    """
    period = _period(on, start, end, as_of)
    engine = env.ledger(recorded_as_of).engine
    with engine.connect() as conn:
        # Streamed a title at a time: a country-wide answer is never held whole.
        found = holdings_in(conn, territory, period, title_id, rights)
        if fmt == "json":
            emit_json_texts(h.json_text() for h in found)
        else:
            empty = f"nobody holds rights in {territory.text} then"
            emit_texts(fmt, map(holding_cells, found), HOLDER_COLUMNS, empty)


def holding_cells(held: Holding) -> tuple[str, ...]:
    """A holding as the texts of a table or CSV row, in `HOLDER_COLUMNS` order.

    A country-wide answer at a million grants has tens of thousands of holdings: the
    lists and days they share are written out once each (`_listed`, `_day`)."""
    return (
        held.title,
        _listed(held.rights),
        held.holder,
        held.grantor,
        held.exclusivity,
        held.territory,
        _day(held.start) if held.start else f"{held.start_tbd} (TBD)",
        _day(held.end) if held.end else "open",
        held.grant,
        held.agreement,
        held.status,
        _chained(held.chain),
        held.note,
    )


@lru_cache(maxsize=4096)
def _listed(values: tuple[str, ...]) -> str:
    return ";".join(values)


@lru_cache(maxsize=4096)
def _chained(parties: tuple[str, ...]) -> str:
    return " -> ".join(parties)


@lru_cache(maxsize=8192)
def _day(day: date) -> str:
    return day.isoformat()


@click.command()
@click.option("--title", "title_id", required=True, help="The title.")
@click.option("--rights", required=True, type=RIGHTS, help="The rights to sell.")
@click.option("--from", "start", required=True, type=DATE, help="First day wanted.")
@click.option("--to", "end", required=True, type=DATE, help="Last day wanted.")
@click.option("--territory", type=TERRITORY, help="Where to look (default: WW).")
@click.option(
    "--exclusive/--non-exclusive",
    default=False,
    help="Free to grant exclusively? (default: non-exclusively)",
)
@click.option("--grantor", help="Who would grant (default: the title's owners).")
@format_option
@pass_env
def avails(
    env: Env,
    title_id: str,
    rights: frozenset[str],
    start: date,
    end: date,
    territory: TerritoryExpr | None,
    exclusive: bool,
    grantor: str | None,
    fmt: str,
) -> None:
    """Where rights are still free to sell for the whole period, in compact form.

    A country is free when a grant there would meet no conflict, pending deals included.

    \b
    Example:
      rights-ledger avails --title real --rights pay-tv \\
          --from 2028-01-01 --to 2028-12-31 --exclusive
    """
    where = territory or parse_territory("WW")
    with env.ledger().engine.connect() as conn:
        result = available(conn, title_id, rights, Period(start, end), where, exclusive, grantor)
    data = result.as_json()
    if fmt == "json":
        emit_json(data)
    elif fmt == "csv":
        emit(
            fmt,
            [{**data, "countries": result.countries and sorted(result.countries)}],
            ("title", "rights", "from", "to", "exclusive", "territory", "countries"),
        )
    else:
        how = "exclusively" if exclusive else "non-exclusively"
        rights_text = ", ".join(result.rights)
        if result.countries:
            click.echo(
                f"{title_id}: {rights_text} free {how} from {start} to {end} "
                f"in: {data['territory']}"
            )
            click.echo(f"({len(result.countries)} countries)")
        else:
            click.echo(
                f"{title_id}: {rights_text} is not free {how} anywhere asked from {start} to {end}"
            )


@click.command()
@click.option(
    "--within", default="90d", type=WITHIN, show_default=True, help="Horizon: 90d, 12w, 6m."
)
@click.option("--as-of", type=DATE, help="Count from this day (default: today).")
@click.option("--quiet-if-none", is_flag=True, help="Print nothing when nothing is due (for cron).")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the report to FILE (atomically).",
)
@click.option("--recorded-as-of", help="Answer from the ledger as recorded at this moment.")
@format_option
@pass_env
def expiries(
    env: Env,
    within: int,
    as_of: date | None,
    quiet_if_none: bool,
    output: Path | None,
    recorded_as_of: str | None,
    fmt: str,
) -> None:
    """Grants, holdbacks and notice deadlines ending from today through today + N days.

    \b
    Examples:
      rights-ledger expiries --within 90d
      rights-ledger expiries --within 7d --quiet-if-none --output /var/reports/expiries.txt
    """
    day = as_of or today()
    engine = env.ledger(recorded_as_of).engine
    with engine.connect() as conn:
        # Streamed, soonest first: a report over years of a large ledger is never held.
        found = expiries_in(conn, day, within)
        first = next(found, None)
        if first is None and quiet_if_none:
            return
        rows = (e.as_json() for e in chain(() if first is None else (first,), found))
        empty = f"nothing expires from {day} through {within} days later"
        if output is None:
            emit(fmt, rows, EXPIRY_COLUMNS, empty)
            return
        write_atomically(output, lambda out: emit(fmt, rows, EXPIRY_COLUMNS, empty, out))
