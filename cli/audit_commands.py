"""Evidence and exchange: history, verify, import, export."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import click

from cli.context import Env
from cli.output import emit, format_option, warn, write_atomically
from ledger.errors import BadInput, NotFound
from ledger.io.csv_format import write_csv
from ledger.io.ema import AvailRows, write_ema
from ledger.io.rows import RowErrors
from ledger.services.audit import Anchor, export_journal, import_journal
from ledger.services.audit import history as journal_history
from ledger.services.audit import verify as verify_ledger
from ledger.services.checks import ReportedConflict
from ledger.services.transfer import (
    EMA_SUFFIXES,
    ImportRefused,
    export_rows,
    import_rows,
    read_rows,
)

pass_env = click.make_pass_decorator(Env)


@click.command()
@click.argument("subject", required=False)
@format_option
@pass_env
def history(env: Env, subject: str | None, fmt: str) -> None:
    """The journal entries about a grant, an agreement (and its grants), a title or a party,
    oldest first; without SUBJECT, the whole journal.

    \b
    Examples:
      rights-ledger history G3
      rights-ledger history ALI-REAL-2016 --format json
    """
    found = journal_history(env.ledger().engine, subject)
    rows: list[dict[str, Any]] = [
        {
            "seq": e.seq,
            "recorded_at": e.recorded_at,
            "actor": e.actor,
            "kind": e.kind,
            "subject": e.subject,
            "reason": e.reason,
            "payload": e.data,
            "hash": e.hash,
        }
        for e in found
    ]
    if subject is not None and not rows:
        raise NotFound(f"nothing in the journal about {subject!r}")
    if fmt == "table":
        rows = [{**r, "payload": _summary(r["payload"])} for r in rows]
    emit(
        fmt,
        rows,
        ("seq", "recorded_at", "actor", "kind", "subject", "reason", "payload"),
        f"no journal entries about {subject}" if subject else "the journal is empty",
    )


def _summary(payload: dict[str, object]) -> str:
    keys = ("rights", "territory", "start", "end", "exclusivity", "on", "status", "changes", "name")
    parts = []
    for key in keys:
        if key in payload and payload[key] not in (None, [], {}):
            value = payload[key]
            parts.append(f"{key}={';'.join(map(str, value)) if isinstance(value, list) else value}")
    return " ".join(parts)


def _anchor(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Anchor | None:
    if value is None:
        return None
    try:
        return Anchor.parse(value)
    except BadInput as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.option(
    "--anchor",
    callback=_anchor,
    metavar="SEQ:HASH",
    help="A head printed by an earlier verify, kept elsewhere: it must still be there.",
)
@pass_env
def verify(env: Env, anchor: Anchor | None) -> None:
    """Recompute the journal's hash chain and compare the ledger's state with it.

    Exit 0 with a one-line summary ending in the chain's head (SEQ:HASH) when intact;
    exit 1 naming the first bad entry or row. Keep the head somewhere the database's
    users cannot write (a cron log, a ticket) and pass it back with --anchor: that also
    catches entries cut from the end of the journal.

    \b
    Examples:
      rights-ledger verify
      rights-ledger verify --anchor 1432:5f0c2e...
    """
    verdict = verify_ledger(env.ledger().engine, anchor)
    if verdict.intact:
        click.echo(
            f"intact: {verdict.entries} journal entries, hash chain and state agree; "
            f"head {verdict.head}"
        )
        return
    click.echo(f"TAMPERED: {verdict.problem}")
    raise click.exceptions.Exit(1)


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, allow_dash=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("csv", "ema", "journal")),
    help="Default: by extension (.xlsx and .xml are ema, .jsonl journal).",
)
@click.option("--dry-run", is_flag=True, help="Check everything, write nothing.")
@click.option(
    "--owner", help="Owner (worldwide) of titles the file creates (EMA default: the licensor)."
)
@click.option(
    "--owner-from-grantor",
    is_flag=True,
    help="Each title the file creates is owned worldwide by the grantor of its first "
    "licence (EMA files: the default).",
)
@click.option("--licensee", help="EMA: the licensee when the file names none.")
@click.option(
    "--allow-conflicts",
    is_flag=True,
    help="Record rows despite blocking conflicts (needs --reason), e.g. a legacy catalogue.",
)
@click.option("--reason", help="Why the conflicts are accepted (kept with each such grant).")
@pass_env
def import_(
    env: Env,
    file: Path,
    fmt: str | None,
    dry_run: bool,
    owner: str | None,
    owner_from_grantor: bool,
    licensee: str | None,
    allow_conflicts: bool,
    reason: str | None,
) -> None:
    """Import grants from CSV or EMA Avails (spreadsheet or XML), or a journal: all or nothing.

    Every row is checked (values, then conflicts with the ledger and with the file's other
    rows); any bad row or blocking conflict is reported with its row number and nothing is
    written. Rows may come in any order: they are checked a title at a time, a licence
    before the sublicences it backs, and the grants are numbered in that order.

    With --allow-conflicts --reason, rows that conflict are recorded all the same (a
    catalogue whose collisions were settled outside the ledger): each such grant keeps
    the reason, and its journal entry the conflicts. Bad rows still refuse the file.

    \b
    Examples:
      rights-ledger import catalogue.csv --owner cj-enm --dry-run
      rights-ledger import studios.csv --owner-from-grantor
      rights-ledger import Movies_v1.9.xlsx --licensee iqiyi
      rights-ledger import legacy.csv --owner cj-enm --allow-conflicts \\
          --reason "catalogue as held by the 2015 distribution database"
      rights-ledger --db postgresql://ledger@db/rights import backup.jsonl --format journal
    """
    fmt = fmt or _format_of(file)
    if not file.is_file():
        raise BadInput(f"no such file: {file}")
    if owner is not None and owner_from_grantor:
        raise BadInput("give --owner PARTY or --owner-from-grantor, not both")
    ledger = env.ledger()
    if fmt == "journal":
        if allow_conflicts or reason is not None:
            raise BadInput("--allow-conflicts and --reason apply to CSV and EMA imports")
        count = import_journal(ledger.engine, file, dry_run)
        click.echo(f"{'would import' if dry_run else 'imported'} {count} journal entries")
        return
    try:
        rows = read_rows(file, fmt, licensee or "")
        if isinstance(rows, AvailRows) and rows.withdrawn:
            _warn_withdrawn(file.name, rows.withdrawn)
        run = partial(
            import_rows,
            ledger,
            rows,
            file.name,
            owner=owner,
            owner_from_grantor=owner_from_grantor or fmt == "ema",
            dry_run=dry_run,
            allow_conflicts=allow_conflicts,
            reason=reason,
        )
        # A progress bar only for a person at a terminal: counting a file's lines for it
        # is a pass over the file that a script or cron job need not pay for.
        if sys.stderr.isatty():
            with click.progressbar(length=len(rows), label="importing", file=sys.stderr) as bar:
                summary = run(progress=bar.update, sorting=partial(_sorting, file.name))
        else:
            summary = run(progress=None)
    except RowErrors as errors:
        for line in errors.lines():
            warn(line)
        raise
    except ImportRefused as refused:
        for conflict in refused.result.conflicts:
            _warn_conflict(file.name, conflict, conflict.severity)
        _warn_unshown(refused.unshown)
        raise
    for conflict in summary.warnings:
        _warn_conflict(
            file.name, conflict, "warn" if conflict.severity == "warn" else "block (allowed)"
        )
    _warn_unshown(summary.unshown)
    verb = "would import" if dry_run else "imported"
    allowed = f"; {summary.allowed} recorded despite conflicts" if summary.allowed else ""
    click.echo(
        f"{verb} {summary.grants} grants; created {summary.parties} parties, "
        f"{summary.titles} titles, {summary.agreements} agreements{allowed}"
    )


def _warn_conflict(source: str, conflict: ReportedConflict, severity: str) -> None:
    warn(f"{source} row {conflict.line}: {severity}: {conflict.kind}: {conflict.message}")


SHOWN_WITHDRAWN = 20
"""Withdrawn avails an import names one by one; the others are counted."""


def _warn_withdrawn(source: str, places: list[str]) -> None:
    more = len(places) - SHOWN_WITHDRAWN
    listed = ", ".join(places[:SHOWN_WITHDRAWN]) + (f" and {more} more" if more > 0 else "")
    warn(
        f"{source}: {len(places)} withdrawn avail(s) (EntryType Full Delete or Delete) not "
        f"imported, row(s) {listed}: a withdrawal ends no grant the ledger holds "
        "('grant terminate' ends one)"
    )


def _warn_unshown(unshown: int) -> None:
    if unshown:
        warn(f"... and {unshown} more conflict(s), not listed (the first found are above)")


def _sorting(name: str) -> None:
    """Say why the bar stands still: the whole file is indexed before a row is checked."""
    click.echo(f"\n{name} is not grouped by title: finding each title's rows first", err=True)


def _format_of(file: Path) -> str:
    suffix = file.suffix.lower()
    if suffix in EMA_SUFFIXES:
        return "ema"
    return "journal" if suffix in (".jsonl", ".json") else "csv"


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("csv", "ema", "journal")),
    default="csv",
    show_default=True,
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to FILE (atomically); default stdout (not for ema).",
)
@pass_env
def export(env: Env, fmt: str, output: Path | None) -> None:
    """Export every grant as CSV or an EMA Avails spreadsheet, or the whole journal.

    \b
    Examples:
      rights-ledger export --format csv --output grants.csv
      rights-ledger export --format ema --output avails.xlsx
      rights-ledger export --format journal --output backup.jsonl
    """
    engine = env.ledger().engine

    def write(out: TextIO) -> None:
        if fmt == "journal":
            export_journal(engine, out)
        else:
            with engine.connect() as conn:
                write_csv(export_rows(conn), out)

    if fmt == "ema":
        if output is None:
            raise BadInput("--format ema writes a spreadsheet: give --output FILE.xlsx")
        with engine.connect() as conn:
            count = write_ema(export_rows(conn), output)
        click.echo(f"wrote {count} grants to {output}", err=True)
        return
    if output is None:
        write(sys.stdout)
    else:
        write_atomically(output, write)
