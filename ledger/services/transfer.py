"""Moving grants in and out: CSV and EMA Avails files, all or nothing.

An import checks every row (its values, then conflicts with the ledger and with the
rows before it) inside one transaction, and writes nothing unless every row passes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from ledger.domain.grants import GrantSpec, parse_bound, parse_end, parse_exclusivity
from ledger.domain.languages import parse_languages
from ledger.domain.rights import parse_rights
from ledger.domain.territories import parse_territory
from ledger.errors import BadInput, LedgerError
from ledger.io.csv_format import read_csv
from ledger.io.ema import read_ema
from ledger.io.rows import GrantRow, RowErrors
from ledger.persistence.schema import Agreement, Party, RightsGrant, Title
from ledger.services.checks import CheckResult, ReportedConflict
from ledger.services.ledger import Ledger, check_specs, next_grant_id
from ledger.services.unit_of_work import Work
from ledger.services.views import grant_label

A = Agreement.__table__
G = RightsGrant.__table__
P = Party.__table__
T = Title.__table__

FORMATS = ("csv", "ema")
Progress = Callable[[int], None]


def read_rows(path: Path, fmt: str, licensee: str = "") -> list[GrantRow]:
    """The rows of a CSV or EMA Avails file (`licensee` for EMA files that name none)."""
    if not path.is_file():
        raise BadInput(f"no such file: {path}")
    if fmt == "ema":
        return read_ema(path, licensee=licensee)
    return read_csv(path)


def spec_from_row(row: GrantRow, default_status: str = "signed") -> tuple[GrantSpec, str]:
    """The grant a row describes, and its agreement's status; BadInput names the problem."""
    if not row.start.strip():
        raise BadInput("no start date")
    status = (row.status or default_status).strip().lower()
    if status not in ("draft", "mou", "signed"):
        raise BadInput(f"unknown status {row.status!r} (use draft, mou or signed)")
    spec = GrantSpec(
        agreement=row.agreement.strip(),
        title=row.title.strip(),
        grantor=row.grantor.strip(),
        grantee=row.grantee.strip(),
        rights=parse_rights(row.rights.replace(",", ";").split(";")),
        territory=parse_territory(row.territory),
        start=parse_bound(row.start),
        end=parse_end(row.end),
        exclusivity=parse_exclusivity(row.exclusivity),
        languages=parse_languages(row.language.replace(";", ",")) if row.language.strip() else None,
        external_refs=dict(row.extras),
    )
    return spec, status


def specs_from_rows(rows: Iterable[GrantRow], source: str) -> tuple[list[GrantSpec], list[int], list[str]]:
    specs: list[GrantSpec] = []
    lines: list[int] = []
    statuses: list[str] = []
    errors: list[tuple[int, str]] = []
    for row in rows:
        try:
            spec, status = spec_from_row(row)
        except BadInput as exc:
            errors.append((row.row, str(exc)))
            continue
        specs.append(spec)
        lines.append(row.row)
        statuses.append(status)
    if errors:
        raise RowErrors(source, errors)
    return specs, lines, statuses


def read_deal(path: Path) -> tuple[list[GrantSpec], list[int]]:
    """A deal to check: the rows of a CSV (or EMA workbook) as proposed grants."""
    fmt = "ema" if path.suffix.lower() in (".xlsx", ".xlsm") else "csv"
    specs, lines, _ = specs_from_rows(read_rows(path, fmt), path.name)
    return specs, lines


@dataclass
class ImportSummary:
    grants: int = 0
    parties: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    agreements: list[str] = field(default_factory=list)
    warnings: list[ReportedConflict] = field(default_factory=list)
    dry_run: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "grants": self.grants, "parties_created": self.parties, "titles_created": self.titles,
            "agreements_created": self.agreements, "dry_run": self.dry_run,
            "warnings": [w.as_json() for w in self.warnings],
        }


class ImportRefused(LedgerError):
    """Rows conflict with the ledger or with each other; nothing was imported."""

    def __init__(self, result: CheckResult, source: str) -> None:
        blocking = result.blocking
        super().__init__(f"{source}: {len(blocking)} blocking conflict(s); nothing was imported")
        self.result = result


class _DryRun(Exception):
    def __init__(self, summary: ImportSummary) -> None:
        self.summary = summary


def import_rows(
    ledger: Ledger,
    rows: Sequence[GrantRow],
    source: str,
    owner: str | None = None,
    owner_from_grantor: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import rows all or nothing. Missing parties, titles and agreements are created;
    a created title is owned worldwide by `owner` (or, for EMA, by the row's licensor)."""
    specs, lines, statuses = specs_from_rows(rows, source)

    def step(work: Work) -> ImportSummary:
        summary = ImportSummary(dry_run=dry_run)
        _create_missing(work, rows, specs, statuses, owner, owner_from_grantor, summary, source)
        work.projector.flush()
        result = check_specs(work.conn, specs, lines, statuses=statuses, source_label="row")
        if not result.clear:
            raise ImportRefused(result, source)
        summary.warnings = list(result.conflicts)
        grant_id = next_grant_id(work.conn)
        for index, spec in enumerate(specs):
            work.record("grant.added", f"grant:{grant_label(grant_id)}", {"id": grant_id, **spec.as_payload()})
            grant_id += 1
            if progress is not None and index % 1000 == 999:
                progress(1000)
        if progress is not None:
            progress(len(specs) % 1000)
        summary.grants = len(specs)
        if dry_run:
            raise _DryRun(summary)
        return summary

    try:
        return ledger.write(step, whole=True)  # type: ignore[no-any-return]
    except _DryRun as done:
        return done.summary


def _create_missing(
    work: Work,
    rows: Sequence[GrantRow],
    specs: Sequence[GrantSpec],
    statuses: Sequence[str],
    owner: str | None,
    owner_from_grantor: bool,
    summary: ImportSummary,
    source: str,
) -> None:
    conn = work.conn
    known_parties = _existing(conn, P.c.id, {p for s in specs for p in (s.grantor, s.grantee)} | ({owner} if owner else set()))
    known_titles = _existing(conn, T.c.id, {s.title for s in specs})
    known_agreements = _existing(conn, A.c.ref, {s.agreement for s in specs})
    errors: list[tuple[int, str]] = []
    for row, spec, status in zip(rows, specs, statuses, strict=True):
        names = {spec.grantor: row.grantor_name, spec.grantee: row.grantee_name}
        for party in (spec.grantor, spec.grantee):
            if party not in known_parties:
                work.record("party.added", f"party:{party}", {"id": party, "name": names[party] or party, "country": None})
                known_parties.add(party)
                summary.parties.append(party)
        if spec.title not in known_titles:
            title_owner = spec.grantor if owner_from_grantor and owner is None else owner
            if title_owner is None:
                errors.append((row.row, f"title {spec.title!r} is not in the ledger: give --owner PARTY to create it"))
                continue
            if title_owner not in known_parties:
                errors.append((row.row, f"no party {title_owner!r} to own {spec.title!r}"))
                continue
            work.record(
                "title.added", f"title:{spec.title}",
                {"id": spec.title, "name": row.title_name or spec.title, "original_name": None,
                 "kind": "film", "year": None, "origin": None, "eidr": None, "parent": None,
                 "owners": [{"party": title_owner, "territory": "WW", "share": None}]},
            )
            known_titles.add(spec.title)
            summary.titles.append(spec.title)
        if spec.agreement not in known_agreements:
            work.record(
                "agreement.added", f"agreement:{spec.agreement}",
                {"ref": spec.agreement, "parties": list(dict.fromkeys((spec.grantor, spec.grantee))),
                 "status": status, "signed_on": None, "note": f"created by import of {source}"},
            )
            known_agreements.add(spec.agreement)
            summary.agreements.append(spec.agreement)
    if errors:
        raise RowErrors(source, errors)
    terminated = {r.ref for r in conn.execute(select(A.c.ref).where(A.c.status == "terminated", A.c.ref.in_(sorted(known_agreements))))}
    bad = [(row.row, f"agreement {spec.agreement} is terminated") for row, spec in zip(rows, specs, strict=True) if spec.agreement in terminated]
    if bad:
        raise RowErrors(source, bad)


def _existing(conn: Connection, column: Any, values: set[str]) -> set[str]:
    found: set[str] = set()
    ordered = sorted(values)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        found |= {str(v) for v in conn.execute(select(column).where(column.in_(chunk))).scalars()}
    return found


def export_rows(conn: Connection) -> Iterator[GrantRow]:
    """Every grant as a file row (the title's and parties' names alongside), in id order."""
    names = {r.id: r.name for r in conn.execute(select(P.c.id, P.c.name))}
    title_names = {r.id: r.name for r in conn.execute(select(T.c.id, T.c.name))}
    query = select(G, A.c.standing).join(A, A.c.ref == G.c.agreement_ref).order_by(G.c.id)
    for row in conn.execution_options(yield_per=2000).execute(query):
        refs = json.loads(row.external_refs) if row.external_refs else {}
        yield GrantRow(
            row=row.id, agreement=row.agreement_ref, title=row.title_id, grantor=row.grantor_id,
            grantee=row.grantee_id, rights=row.rights, territory=row.territory, start=row.start,
            end=_end_text(row.end, row.terminated_on), exclusivity=row.exclusivity,
            language=row.languages or "", status=row.standing,
            title_name=title_names.get(row.title_id, ""), grantor_name=names.get(row.grantor_id, ""),
            grantee_name=names.get(row.grantee_id, ""), extras=refs,
        )


def _end_text(end: str | None, terminated_on: Any) -> str:
    """An exported grant ends on its termination day when it was cut short."""
    if terminated_on is not None:
        return str(terminated_on.isoformat())
    return end or ""
