"""Recording the cast: parties, titles with their owners and release events, agreements."""

from __future__ import annotations

from datetime import date

import click

from cli.context import Env
from cli.output import emit, format_option, reporting_conflicts, warn_conflicts
from cli.params import DATE, TERRITORY
from ledger.domain.territories import TerritoryExpr
from ledger.errors import BadInput
from ledger.services.catalogue import agreements, parties, titles
from ledger.services.ledger import TITLE_KINDS, OwnerShare

pass_env = click.make_pass_decorator(Env)


@click.group()
def party() -> None:
    """Companies that own, license and receive rights."""


@party.command("add")
@click.argument("party_id")
@click.option("--name", required=True, help="The company's name.")
@click.option("--country", help="Its country (ISO 3166-1 code or name).")
@pass_env
def party_add(env: Env, party_id: str, name: str, country: str | None) -> None:
    """Add a party.

    \b
    Example:
      rights-ledger party add alibaba-pictures --name "Alibaba Pictures" --country CN
    """
    env.ledger().add_party(party_id, name, country)
    click.echo(party_id)


@party.command("list")
@format_option
@pass_env
def party_list(env: Env, fmt: str) -> None:
    """List the parties.

    \b
    Example:
      rights-ledger party list --format json
    """
    emit(fmt, parties(env.ledger().engine), ("id", "name", "country"), "no parties yet")


def _owner(text: str) -> OwnerShare:
    parts = text.split(":")
    if len(parts) > 3 or not parts[0].strip():
        raise BadInput(
            f"bad --owner {text!r}: use PARTY[:TERRITORIES[:SHARE]], e.g. cj-enm:WW -CN:50"
        )
    share = None
    if len(parts) == 3:
        try:
            share = float(parts[2])
        except ValueError:
            raise BadInput(f"bad owner share {parts[2]!r}: use a percentage such as 50") from None
        if not 0 < share <= 100:
            raise BadInput(f"owner share {parts[2]} must be above 0 and at most 100")
    return OwnerShare(
        parts[0].strip(), parts[1].strip() if len(parts) > 1 and parts[1].strip() else "WW", share
    )


@click.group()
def title() -> None:
    """Films, series, seasons and episodes, with their owners and release events."""


@title.command("add")
@click.argument("title_id")
@click.option("--name", required=True, help="The title as released.")
@click.option("--original-name", help="The title in its original language.")
@click.option("--kind", type=click.Choice(TITLE_KINDS), default="film", show_default=True)
@click.option("--year", type=click.IntRange(1870, 2200), help="Year of first release.")
@click.option("--origin", help="Country of origin (ISO code or name).")
@click.option("--eidr", help="EIDR id, 10.5240/XXXX-XXXX-XXXX-XXXX-XXXX-C (check digit verified).")
@click.option("--parent", help="The original of a remake, or the series of a season/episode.")
@click.option(
    "--owner",
    "owners",
    multiple=True,
    help="PARTY[:TERRITORIES[:SHARE]], repeatable; e.g. real-producer:WW or cj-enm:WW -CN:50.",
)
@pass_env
def title_add(
    env: Env,
    title_id: str,
    name: str,
    original_name: str | None,
    kind: str,
    year: int | None,
    origin: str | None,
    eidr: str | None,
    parent: str | None,
    owners: tuple[str, ...],
) -> None:
    """Add a title and who owns its original rights where.

    \b
    Examples:
      rights-ledger title add real --name Real --year 2017 --origin KR --owner real-producer:WW
      rights-ledger title add 20-once-again --name "20 Once Again" --parent miss-granny \\
          --owner cj-enm:"WW -CN":60 --owner china-film:CN:40
    """
    env.ledger().add_title(
        title_id, name, kind, year, origin, eidr, parent, [_owner(o) for o in owners], original_name
    )
    click.echo(title_id)


@title.command("owner")
@click.argument("title_id")
@click.option(
    "--owner",
    "owners",
    multiple=True,
    required=True,
    help="PARTY[:TERRITORIES[:SHARE]], repeatable; e.g. china-film:CN:40.",
)
@pass_env
def title_owner(env: Env, title_id: str, owners: tuple[str, ...]) -> None:
    """Add owners of a title's original rights (a co-production partner, a buy-out).

    \b
    Example:
      rights-ledger title owner 20-once-again --owner china-film:CN:40
    """
    env.ledger().add_owners(title_id, [_owner(o) for o in owners])
    click.echo(title_id)


@title.command("list")
@format_option
@pass_env
def title_list(env: Env, fmt: str) -> None:
    """List the titles and their owners.

    \b
    Example:
      rights-ledger title list
    """
    columns = ("id", "name", "kind", "year", "origin", "parent", "owners", "eidr")
    emit(fmt, titles(env.ledger().engine), columns, "no titles yet")


@title.command("event")
@click.argument("title_id")
@click.option("--kind", required=True, help="theatrical, est, broadcast, svod, ... (a word).")
@click.option("--territory", required=True, type=TERRITORY, help="Where the event happens.")
@click.option("--date", "on", required=True, type=DATE, help="The event's date.")
@pass_env
def title_event(env: Env, title_id: str, kind: str, territory: TerritoryExpr, on: date) -> None:
    """Record a release event that relative windows and holdbacks refer to.

    \b
    Example:
      rights-ledger title event real --kind theatrical --territory CN --date 2017-06-28
    """
    env.ledger().record_event(title_id, kind, territory.text, on)
    click.echo(f"{title_id}: {kind} in {territory.text} on {on}")


@click.group()
def agreement() -> None:
    """Contracts and MOUs that grants belong to."""


@agreement.command("add")
@click.argument("ref")
@click.option(
    "--parties", required=True, help="Comma-separated party ids (one is enough for a reservation)."
)
@click.option(
    "--status", type=click.Choice(("draft", "mou", "signed")), default="draft", show_default=True
)
@click.option("--signed-on", type=DATE, help="The signing date.")
@click.option("--note", help="Free text.")
@pass_env
def agreement_add(
    env: Env, ref: str, parties: str, status: str, signed_on: date | None, note: str | None
) -> None:
    """Add an agreement.

    \b
    Example:
      rights-ledger agreement add ALI-REAL-2016 \\
          --parties real-producer,alibaba-pictures --status mou
    """
    names = [p.strip() for p in parties.split(",") if p.strip()]
    env.ledger().add_agreement(ref, names, status, signed_on, note)
    click.echo(ref)


@agreement.command("list")
@format_option
@pass_env
def agreement_list(env: Env, fmt: str) -> None:
    """List the agreements with their status.

    \b
    Example:
      rights-ledger agreement list --format csv
    """
    columns = ("ref", "status", "parties", "signed_on", "terminated_on", "grants", "note")
    emit(fmt, agreements(env.ledger().engine), columns, "no agreements yet")


@agreement.command("sign")
@click.argument("ref")
@click.option("--on", type=DATE, help="The signing date.")
@click.option("--allow-conflicts", is_flag=True, help="Sign despite blocking conflicts.")
@click.option("--reason", help="Why the conflicts are accepted (kept in the journal).")
@pass_env
def agreement_sign(
    env: Env, ref: str, on: date | None, allow_conflicts: bool, reason: str | None
) -> None:
    """Mark a draft or MOU as signed: its grants now block conflicting deals.

    Its grants are checked again as signed grants first; a conflict that only warned while
    the deal was pending refuses the signature (exit 1) unless --allow-conflicts --reason.

    \b
    Example:
      rights-ledger agreement sign ALI-REAL-2016 --on 2017-03-15
    """
    with reporting_conflicts():
        result = env.ledger().sign_agreement(ref, on, allow_conflicts, reason)
    warn_conflicts(result)
    click.echo(f"{ref}: signed")


@agreement.command("terminate")
@click.argument("ref")
@click.option("--on", required=True, type=DATE, help="The last day in force.")
@click.option("--reason", required=True, help="Why (kept in the journal).")
@pass_env
def agreement_terminate(env: Env, ref: str, on: date, reason: str) -> None:
    """Terminate an agreement: every grant under it ends on --on.

    \b
    Example:
      rights-ledger agreement terminate ALI-REAL-2016 --on 2020-12-31 --reason "breach"
    """
    env.ledger().terminate_agreement(ref, on, reason)
    click.echo(f"{ref}: terminated, last day in force {on}")
