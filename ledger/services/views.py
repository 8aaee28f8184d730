"""Reading the state tables into the plain snapshots the conflict engine works on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import lru_cache

from sqlalchemy import Connection, Row, select

from ledger.domain.conflicts import GrantView, HoldbackView, OwnershipView
from ledger.domain.grants import EventDate, GrantSpec, resolve_last_day, resolve_start
from ledger.domain.rights import RIGHTS, parse_rights
from ledger.domain.territories import parse_territory
from ledger.persistence.schema import (
    Agreement,
    Holdback,
    Ownership,
    ReleaseEvent,
    RightsGrant,
    Title,
)

A = Agreement.__table__
G = RightsGrant.__table__
H = Holdback.__table__
O = Ownership.__table__
E = ReleaseEvent.__table__
T = Title.__table__

DERIVATIVE = RIGHTS.leaves_of("derivative")


@lru_cache(maxsize=8192)
def rights_of(text: str) -> frozenset[str]:
    """The leaves of a stored `;`-separated rights list."""
    return parse_rights(text.split(";"))


@lru_cache(maxsize=8192)
def countries_of(text: str) -> frozenset[str]:
    """The countries of a stored territory expression."""
    return parse_territory(text).countries


def grant_label(grant_id: int) -> str:
    return f"G{grant_id}"


def parse_grant_label(text: str) -> int | None:
    body = text.strip().upper()
    if body.startswith("G"):
        body = body[1:]
    return int(body) if body.isdigit() else None


def title_events(conn: Connection, title: str) -> list[EventDate]:
    rows = conn.execute(select(E.c.kind, E.c.territory, E.c.on).where(E.c.title_id == title))
    return [EventDate(r.kind, countries_of(r.territory), r.on) for r in rows]


def owners_of(conn: Connection, title: str) -> list[OwnershipView]:
    rows = conn.execute(select(O.c.party_id, O.c.territory).where(O.c.title_id == title))
    return [OwnershipView(r.party_id, countries_of(r.territory)) for r in rows]


def parent_of(conn: Connection, title: str) -> str | None:
    return conn.execute(select(T.c.parent_id).where(T.c.id == title)).scalar_one_or_none()


GRANT_COLUMNS = (
    G.c.id, G.c.agreement_ref, G.c.title_id, G.c.grantor_id, G.c.grantee_id, G.c.rights,
    G.c.territory, G.c.languages, G.c.exclusivity, G.c.first_day, G.c.last_day,
    G.c.recorded_seq, A.c.standing,
)


def view_of_row(row: Row[tuple[object, ...]], holdbacks: Sequence[HoldbackView] = ()) -> GrantView:
    standing = str(row.standing)
    return GrantView(
        id=grant_label(int(row.id)),  # type: ignore[call-overload]
        agreement=str(row.agreement_ref),
        status=standing if standing in ("draft", "mou", "signed") else "draft",  # type: ignore[arg-type]
        grantor=str(row.grantor_id),
        grantee=str(row.grantee_id),
        rights=rights_of(str(row.rights)),
        countries=countries_of(str(row.territory)),
        languages=frozenset(str(row.languages).split(";")) if row.languages is not None else None,
        start=row.first_day,  # type: ignore[arg-type]
        end=row.last_day,  # type: ignore[arg-type]
        exclusivity=str(row.exclusivity),  # type: ignore[arg-type]
        holdbacks=tuple(holdbacks),
        recorded_seq=int(row.recorded_seq),  # type: ignore[call-overload]
    )


def grant_views(conn: Connection, title: str) -> list[GrantView]:
    """Every grant of `title`, in recorded order, with its holdbacks."""
    holdbacks: dict[int, list[HoldbackView]] = {}
    query = (
        select(H.c.grant_id, H.c.rights, H.c.territory, H.c.last_day)
        .join(G, G.c.id == H.c.grant_id)
        .where(G.c.title_id == title)
        .order_by(H.c.grant_id, H.c.position)
    )
    for h in conn.execute(query):
        holdbacks.setdefault(h.grant_id, []).append(
            HoldbackView(rights_of(h.rights), countries_of(h.territory), h.last_day)
        )
    rows = conn.execute(
        select(*GRANT_COLUMNS)
        .join(A, A.c.ref == G.c.agreement_ref)
        .where(G.c.title_id == title)
        .order_by(G.c.recorded_seq)
    )
    return [view_of_row(r, holdbacks.get(int(r.id), ())) for r in rows]


def relevant_views(conn: Connection, title: str, rights: frozenset[str]) -> list[GrantView]:
    """The grants a proposal on `title` is compared with: the title's own, and for
    derivative rights (remakes, formats) the parent's derivative grants too."""
    views = grant_views(conn, title)
    parent = parent_of(conn, title)
    if parent is not None and rights & DERIVATIVE:
        for view in grant_views(conn, parent):
            shared = view.rights & DERIVATIVE
            if shared:
                views.append(replace(view, rights=shared))
    return views


def proposed_view(
    spec: GrantSpec, events: Iterable[EventDate], label: str, status: str = "signed", seq: int = 0
) -> GrantView:
    """A proposed grant as the engine sees it, its window resolved against release events."""
    events = list(events)
    countries = spec.territory.countries
    first = resolve_start(spec.start, countries, events)
    last = resolve_last_day(spec.end, first, countries, events)
    return GrantView(
        id=label,
        agreement=spec.agreement,
        status=status,  # type: ignore[arg-type]
        grantor=spec.grantor,
        grantee=spec.grantee,
        rights=spec.rights,
        countries=countries,
        languages=spec.languages,
        start=first,
        end=last,
        exclusivity=spec.exclusivity,
        holdbacks=tuple(
            HoldbackView(
                h.rights,
                h.territory.countries,
                resolve_last_day(h.until, None, h.territory.countries, events),
            )
            for h in spec.holdbacks
        ),
        recorded_seq=seq,
    )
