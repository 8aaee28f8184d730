"""The ledger's use cases: every write goes through the journal, every check through the engine.

This is the only code that commits. The CLI calls it; tests call it directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, func, select

from ledger.domain.conflicts import check_grant
from ledger.domain.eidr import normalise_eidr
from ledger.domain.grants import AGREEMENT_STATUSES, GrantSpec
from ledger.domain.territories import parse_territory
from ledger.errors import BadInput, NotFound, Refused
from ledger.persistence.database import ensure_current
from ledger.persistence.schema import (
    Agreement,
    AgreementParty,
    Party,
    RightsGrant,
    Title,
)
from ledger.services.checks import CheckResult, ReportedConflict, explain, merge
from ledger.services.views import (
    LINE_SEQ,
    TitleScope,
    grant_label,
    parse_grant_label,
    proposed_view,
)

if TYPE_CHECKING:  # the write side is loaded by the first write (`Ledger.write`)
    from ledger.services.unit_of_work import Work

A = Agreement.__table__
AP = AgreementParty.__table__
G = RightsGrant.__table__
P = Party.__table__
T = Title.__table__

TITLE_KINDS = ("film", "series", "season", "episode")
ACTOR_ENV = "RIGHTS_LEDGER_ACTOR"


def default_actor() -> str:
    actor = os.environ.get(ACTOR_ENV)
    if actor:
        return actor
    import getpass  # only when no actor is named: start-up counts

    return getpass.getuser()


@dataclass(frozen=True)
class OwnerShare:
    party: str
    territory: str = "WW"
    share: float | None = None


class Ledger:
    """One ledger database, seen by one actor."""

    def __init__(
        self,
        engine: Engine,
        actor: str | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        migrate: bool = True,
    ) -> None:
        self.engine = engine
        self.actor = actor or default_actor()
        self.now = now
        if migrate:
            ensure_current(engine)

    # -- plumbing ----------------------------------------------------------------------

    def write(
        self,
        step: Callable[[Work], Any],
        titles: Sequence[str] = (),
        whole: bool = False,
        bulk: bool = False,
    ) -> Any:
        from ledger.services.unit_of_work import run_write

        return run_write(self.engine, self.actor, self.now, step, titles, whole, bulk)

    # -- parties, titles, events -------------------------------------------------------

    def add_party(self, party_id: str, name: str, country: str | None = None) -> None:
        _check_slug(party_id, "party")
        cc = _single_country(country) if country else None

        def step(work: Work) -> None:
            if _exists(work.conn, P.c.id, party_id):
                raise Refused(f"party {party_id!r} already exists")
            work.record(
                "party.added", f"party:{party_id}", {"id": party_id, "name": name, "country": cc}
            )

        self.write(step)

    def add_title(
        self,
        title_id: str,
        name: str,
        kind: str = "film",
        year: int | None = None,
        origin: str | None = None,
        eidr: str | None = None,
        parent: str | None = None,
        owners: Sequence[OwnerShare] = (),
        original_name: str | None = None,
    ) -> None:
        _check_slug(title_id, "title")
        if kind not in TITLE_KINDS:
            raise BadInput(f"unknown title kind {kind!r} (use {', '.join(TITLE_KINDS)})")
        payload: dict[str, Any] = {
            "id": title_id,
            "name": name,
            "original_name": original_name,
            "kind": kind,
            "year": year,
            "origin": _single_country(origin) if origin else None,
            "eidr": normalise_eidr(eidr) if eidr else None,
            "parent": parent,
            "owners": [
                {"party": o.party, "territory": parse_territory(o.territory).text, "share": o.share}
                for o in owners
            ],
        }

        def step(work: Work) -> None:
            if _exists(work.conn, T.c.id, title_id):
                raise Refused(f"title {title_id!r} already exists")
            if parent is not None and not _exists(work.conn, T.c.id, parent):
                raise NotFound(f"no parent title {parent!r}")
            if payload["eidr"] and _exists(work.conn, T.c.eidr, payload["eidr"]):
                raise Refused(f"EIDR {payload['eidr']} already belongs to another title")
            for owner in owners:
                _need(work.conn, P.c.id, owner.party, "party")
            work.record("title.added", f"title:{title_id}", payload)

        self.write(step, titles=[title_id])

    def add_owners(self, title: str, owners: Sequence[OwnerShare]) -> None:
        """Record further owners of a title's original rights (a co-producer's share)."""
        payloads = [
            {
                "title": title,
                "party": o.party,
                "territory": parse_territory(o.territory).text,
                "share": o.share,
            }
            for o in owners
        ]

        def step(work: Work) -> None:
            _need(work.conn, T.c.id, title, "title")
            for payload in payloads:
                _need(work.conn, P.c.id, str(payload["party"]), "party")
                work.record("ownership.added", f"title:{title}", payload)

        self.write(step, titles=[title])

    def record_event(self, title: str, kind: str, territory: str, on: date) -> None:
        expr = parse_territory(territory)
        event_kind = kind.strip().lower()
        if not event_kind.replace("-", "").isalnum():
            raise BadInput(
                f"bad event kind {kind!r}: use a word such as theatrical, est, broadcast"
            )

        def step(work: Work) -> None:
            _need(work.conn, T.c.id, title, "title")
            work.record(
                "event.recorded",
                f"title:{title}",
                {"title": title, "kind": event_kind, "territory": expr.text, "on": on.isoformat()},
            )

        self.write(step, titles=[title])

    # -- agreements --------------------------------------------------------------------

    def add_agreement(
        self,
        ref: str,
        parties: Sequence[str],
        status: str = "draft",
        signed_on: date | None = None,
        note: str | None = None,
    ) -> None:
        if status not in AGREEMENT_STATUSES or status == "terminated":
            raise BadInput(f"unknown agreement status {status!r} (use draft, mou or signed)")
        if not parties:
            raise BadInput("an agreement names at least one party")
        _check_ref(ref)

        def step(work: Work) -> None:
            if _exists(work.conn, A.c.ref, ref):
                raise Refused(f"agreement {ref!r} already exists")
            for party in parties:
                _need(work.conn, P.c.id, party, "party")
            work.record(
                "agreement.added",
                f"agreement:{ref}",
                {
                    "ref": ref,
                    "parties": list(dict.fromkeys(parties)),
                    "status": status,
                    "signed_on": signed_on.isoformat() if signed_on else None,
                    "note": note,
                },
            )

        self.write(step)

    def sign_agreement(
        self,
        ref: str,
        on: date | None = None,
        allow_conflicts: bool = False,
        reason: str | None = None,
    ) -> CheckResult:
        """Sign a draft or MOU. Its grants are re-checked as signed first: a grant that only
        warned while pending may now block (another exclusive deal was signed meanwhile)."""
        if allow_conflicts:
            need_reason(reason)

        def step(work: Work) -> CheckResult:
            status = self._agreement_status(work.conn, ref)
            if status in ("signed", "terminated"):
                raise Refused(f"agreement {ref} is already {status}")
            work.lock_titles(_titles_of_agreement(work.conn, ref))
            result = merge(
                [
                    check_specs(work.conn, [spec], exclude=label)
                    for label, spec in _grants_of_agreement(work, ref)
                ]
            )
            blocking = CheckResult(tuple(c for c in result.conflicts if c.severity == "block"))
            if blocking.conflicts and not allow_conflicts:
                raise BlockedGrant(blocking, what="signature")
            work.record(
                "agreement.signed",
                f"agreement:{ref}",
                {"ref": ref, "on": on.isoformat() if on else None},
                reason if allow_conflicts and blocking.conflicts else None,
            )
            return result

        return self.write(step, titles=self._titles_of_agreement(ref))  # type: ignore[no-any-return]

    def terminate_agreement(self, ref: str, on: date, reason: str) -> None:
        need_reason(reason)

        def step(work: Work) -> None:
            if self._agreement_status(work.conn, ref) == "terminated":
                raise Refused(f"agreement {ref} is already terminated")
            work.lock_titles(_titles_of_agreement(work.conn, ref))
            work.record(
                "agreement.terminated",
                f"agreement:{ref}",
                {"ref": ref, "on": on.isoformat()},
                reason,
            )

        self.write(step, titles=self._titles_of_agreement(ref))

    def _agreement_status(self, conn: Connection, ref: str) -> str:
        status = conn.execute(select(A.c.status).where(A.c.ref == ref)).scalar_one_or_none()
        if status is None:
            raise NotFound(f"no agreement {ref!r}")
        return str(status)

    def _titles_of_agreement(self, ref: str) -> list[str]:
        """The titles to lock before the transaction; re-read and locked inside it too."""
        with self.engine.connect() as conn:
            return _titles_of_agreement(conn, ref)

    # -- the conflict check and grants -------------------------------------------------

    def check(self, specs: Sequence[GrantSpec], lines: Sequence[int] | None = None) -> CheckResult:
        """Check a deal (one or more lines) against the ledger and its lines against each other."""
        with self.engine.connect() as conn:
            return check_specs(conn, specs, lines)

    def add_grant(
        self, spec: GrantSpec, allow_conflicts: bool = False, reason: str | None = None
    ) -> tuple[str, CheckResult]:
        """Record a grant unless a conflict blocks it; the check and the write are one decision."""
        if allow_conflicts:
            need_reason(reason)

        def step(work: Work) -> tuple[str, CheckResult]:
            _validate_references(work.conn, spec)
            result = check_specs(work.conn, [spec])
            if not result.clear and not allow_conflicts:
                raise BlockedGrant(result)
            work.journal.open()
            grant_id = next_grant_id(work.conn)
            payload: dict[str, Any] = {"id": grant_id, **spec.as_payload()}
            if allow_conflicts and result.conflicts:
                payload = added_despite(payload, result.conflicts)
            work.record(
                "grant.added",
                f"grant:{grant_label(grant_id)}",
                payload,
                reason if allow_conflicts and result.conflicts else None,
            )
            return grant_label(grant_id), result

        label, result = self.write(step, titles=_lock_titles(self.engine, spec.title))
        return label, result

    def amend_grant(
        self,
        label: str,
        changes: dict[str, Any],
        reason: str,
        allow_conflicts: bool = False,
    ) -> CheckResult:
        """Amend a grant (extend its window, change its scope): a new entry, same id."""
        need_reason(reason)
        grant_id = _grant_id(label)

        def step(work: Work) -> CheckResult:
            current = work.projector.payload_of(_need_grant(work.conn, grant_id))
            amended = GrantSpec.from_payload({**current, **changes})
            if self._agreement_status(work.conn, amended.agreement) == "terminated":
                raise Refused(f"grant {grant_label(grant_id)}'s agreement is terminated")
            result = check_specs(work.conn, [amended], exclude=grant_label(grant_id))
            if not result.clear and not allow_conflicts:
                raise BlockedGrant(result)
            payload = {"id": grant_id, "changes": {k: amended.as_payload()[k] for k in changes}}
            if result.conflicts:
                payload["conflicts"] = [c.as_json() for c in result.conflicts]
            work.record("grant.amended", f"grant:{grant_label(grant_id)}", payload, reason)
            return result

        return self.write(step, titles=self._titles_of_grant(grant_id))  # type: ignore[no-any-return]

    def terminate_grant(self, label: str, on: date, reason: str) -> None:
        need_reason(reason)
        grant_id = _grant_id(label)

        def step(work: Work) -> None:
            _need_grant(work.conn, grant_id)
            work.record(
                "grant.terminated",
                f"grant:{grant_label(grant_id)}",
                {"id": grant_id, "on": on.isoformat()},
                reason,
            )

        self.write(step, titles=self._titles_of_grant(grant_id))

    def _titles_of_grant(self, grant_id: int) -> list[str]:
        with self.engine.connect() as conn:
            title = conn.execute(
                select(G.c.title_id).where(G.c.id == grant_id)
            ).scalar_one_or_none()
        if title is None:
            raise NotFound(f"no grant {grant_label(grant_id)}")
        return _lock_titles(self.engine, str(title))


class BlockedGrant(Refused):
    """A write refused because a conflict blocks it; carries the whole check."""

    def __init__(self, result: CheckResult, what: str = "grant") -> None:
        blocking = result.blocking
        super().__init__(
            f"{what} refused: {len(blocking)} blocking "
            f"conflict{'s' if len(blocking) != 1 else ''} (nothing was recorded; "
            "--allow-conflicts --reason TEXT records it anyway)"
        )
        self.result = result


def check_specs(
    conn: Connection,
    specs: Sequence[GrantSpec],
    lines: Sequence[int] | None = None,
    exclude: str | None = None,
    statuses: Sequence[str] | None = None,
    source_label: str = "line",
) -> CheckResult:
    """Each line against the ledger, and against the lines before it in the same deal.

    Lines of one deal are taken as signed together, so a collision between them blocks;
    `statuses` (an import file's status column) says otherwise line by line.
    """
    found: list[ReportedConflict] = []
    scopes: dict[str, TitleScope] = {}
    for index, spec in enumerate(specs):
        line = lines[index] if lines is not None else None
        scope = scopes.get(spec.title)
        if scope is None:
            # Loaded for the deal's lines on this title: the grants near none are left.
            of_title = [other for other in specs if other.title == spec.title]
            scope = scopes[spec.title] = TitleScope.load(
                conn, spec.title, exclude, for_specs=of_title
            )
        label = f"{source_label} {line}" if line is not None else "proposed"
        status = statuses[index] if statuses is not None else "signed"
        proposed = proposed_view(spec, scope.events, label, status, seq=LINE_SEQ + index)
        for conflict in check_grant(proposed, scope.around(proposed), scope.owners):
            found.append(explain(conflict, proposed, line))
        scope.add_line(index, proposed)
    return CheckResult(tuple(found))


def _titles_of_agreement(conn: Connection, ref: str) -> list[str]:
    rows = conn.execute(select(G.c.title_id).where(G.c.agreement_ref == ref).distinct())
    return [r.title_id for r in rows]


def _grants_of_agreement(work: Work, ref: str) -> list[tuple[str, GrantSpec]]:
    rows = work.conn.execute(select(G.c.id).where(G.c.agreement_ref == ref).order_by(G.c.id))
    return [
        (grant_label(r.id), GrantSpec.from_payload(work.projector.payload_of(r.id)))
        for r in rows.all()
    ]


def next_grant_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(G.c.id), 0))).scalar_one()) + 1


def _lock_titles(engine: Engine, title: str) -> list[str]:
    with engine.connect() as conn:
        parent = conn.execute(select(T.c.parent_id).where(T.c.id == title)).scalar_one_or_none()
    return [title, parent] if parent else [title]


def _validate_references(conn: Connection, spec: GrantSpec) -> None:
    _need(conn, T.c.id, spec.title, "title")
    for party in {spec.grantor, spec.grantee}:
        _need(conn, P.c.id, party, "party")
    status = conn.execute(select(A.c.status).where(A.c.ref == spec.agreement)).scalar_one_or_none()
    if status is None:
        raise NotFound(
            f"no agreement {spec.agreement!r} (add it first: rights-ledger agreement add)"
        )
    if status == "terminated":
        raise Refused(f"agreement {spec.agreement} is terminated; grants cannot be added to it")


def _grant_id(label: str) -> int:
    grant_id = parse_grant_label(label)
    if grant_id is None:
        raise BadInput(f"not a grant id: {label!r} (grant ids look like G12)")
    return grant_id


def _need_grant(conn: Connection, grant_id: int) -> int:
    if not _exists(conn, G.c.id, grant_id):
        raise NotFound(f"no grant {grant_label(grant_id)}")
    return grant_id


def _exists(conn: Connection, column: Any, value: object) -> bool:
    return conn.execute(select(column).where(column == value).limit(1)).first() is not None


def _need(conn: Connection, column: Any, value: str, what: str) -> None:
    if not _exists(conn, column, value):
        raise NotFound(f"no {what} {value!r} (add it first: rights-ledger {what} add)")


def added_despite(payload: dict[str, Any], conflicts: Iterable[ReportedConflict]) -> dict[str, Any]:
    """The payload of a grant.added entry recorded despite `conflicts` (`--allow-conflicts`):
    they are kept in it, and the projector keeps the entry's reason on the grant."""
    return {**payload, "conflicts_allowed": True, "conflicts": [c.as_json() for c in conflicts]}


def need_reason(reason: str | None) -> None:
    """Refuse a write that accepts conflicts without saying why."""
    if not reason or not reason.strip():
        raise BadInput("a reason is required (--reason TEXT)")


def _check_slug(value: str, what: str) -> None:
    if not value or not all(c.isalnum() or c in "-_." for c in value) or not value[0].isalnum():
        raise BadInput(
            f"bad {what} id {value!r}: use letters, digits and hyphens, e.g. alibaba-pictures"
        )


def _check_ref(value: str) -> None:
    if not value.strip() or any(c.isspace() for c in value):
        raise BadInput(f"bad agreement reference {value!r}: no spaces, e.g. ALI-REAL-2016")


def _single_country(text: str) -> str:
    countries = parse_territory(text).countries
    if len(countries) != 1:
        raise BadInput(f"{text!r} is not a single country")
    return next(iter(countries))
