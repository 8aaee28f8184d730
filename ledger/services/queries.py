"""The everyday questions: who holds it, what is still free, what expires soon."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, bindparam, or_, select

from ledger.domain.conflicts import GrantView, check_grant
from ledger.domain.dates import Term, end_for_term
from ledger.domain.grants import parse_end
from ledger.domain.rights import RIGHTS
from ledger.domain.territories import TerritoryExpr, compact, groups_containing
from ledger.errors import BadInput, NotFound
from ledger.persistence.schema import (
    Agreement,
    GrantTerritory,
    Holdback,
    Ownership,
    RightsGrant,
    Title,
)
from ledger.services.views import (
    countries_of,
    grant_label,
    owners_of,
    relevant_views,
    rights_of,
)

A = Agreement.__table__
G = RightsGrant.__table__
GT = GrantTerritory.__table__
H = Holdback.__table__
O = Ownership.__table__  # noqa: E741
T = Title.__table__

PENDING = ("draft", "mou")
CHAIN_DEPTH = 12


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


@dataclass(frozen=True)
class Period:
    """Inclusive days asked about; `first == last` for a single day."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise BadInput(f"--to {self.last} is before --from {self.first}")


# -- holders -------------------------------------------------------------------------


class Holding(NamedTuple):
    """One grant covering the asked territory: `rights` as granted, `matching_rights` the
    part of them that was asked about (all of them when no rights were asked).

    A named tuple rather than a dataclass: a country-wide question at a million grants
    builds tens of thousands of these, and a tuple is several times cheaper to make.
    """

    title: str
    rights: tuple[str, ...]
    matching_rights: tuple[str, ...]
    holder: str
    grantor: str
    exclusivity: str
    grant: str
    agreement: str
    status: str
    territory: str
    countries: tuple[str, ...]
    start: date | None
    end: date | None
    start_text: str
    end_text: str | None
    chain: tuple[str, ...]

    @property
    def pending(self) -> bool:
        return self.status in PENDING

    @property
    def reservation(self) -> bool:
        return self.holder == self.grantor

    @property
    def note(self) -> str:
        notes = []
        if self.pending:
            notes.append(f"pending ({self.status})")
        if self.reservation:
            notes.append("reserved by the owner")
        elif self.exclusivity == "sole":
            notes.append(f"sole: {self.grantor} may still exploit")
        if self.start is None:
            notes.append(f"starts {self.start_text} (TBD)")
        return "; ".join(notes)

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "rights": list(self.rights),
            "holder": self.holder,
            "grantor": self.grantor,
            "exclusivity": self.exclusivity,
            "grant": self.grant,
            "agreement": self.agreement,
            "status": self.status,
            "territory": self.territory,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "chain": list(self.chain),
            "pending": self.pending,
            "countries": list(self.countries),
            "note": self.note,
            "matching_rights": list(self.matching_rights),
        }


def who_holds(
    conn: Connection,
    territory: TerritoryExpr,
    period: Period,
    title: str | None = None,
    rights: frozenset[str] | None = None,
) -> list[Holding]:
    """Every grant that covers some of `territory` on some day of `period`."""
    asked = territory.countries
    codes: set[str] = set()
    for country in asked:
        codes |= groups_containing(country)
    touching = select(GT.c.grant_id).where(GT.c.code.in_(sorted(codes)), GT.c.excluded.is_(False))
    # A grant excluding every asked country (`WW -CN` asked about CN) is dropped in SQL;
    # one that excludes only some of them is judged below, country by country.
    excluding_all = (
        select(GT.c.grant_id).where(GT.c.code.in_(sorted(_common_groups(asked))), GT.c.excluded)
        if asked
        else None
    )
    query = (
        select(
            G.c.id,
            G.c.title_id,
            G.c.grantor_id,
            G.c.grantee_id,
            G.c.rights,
            G.c.territory,
            G.c.exclusivity,
            G.c.first_day,
            G.c.last_day,
            G.c.start,
            G.c.end,
            G.c.agreement_ref,
            A.c.status,
        )
        .join(A, A.c.ref == G.c.agreement_ref)
        .where(
            G.c.id.in_(touching),
            *([G.c.id.not_in(excluding_all)] if excluding_all is not None else []),
            or_(G.c.first_day.is_(None), G.c.first_day <= period.last),
            or_(G.c.last_day.is_(None), G.c.last_day >= period.first),
        )
        .order_by(G.c.title_id, G.c.id)
    )
    if title is not None:
        query = query.where(G.c.title_id == title)
    chains = _Chains(conn, period)
    covering = []
    # Rows read by position and facts cached per distinct territory and rights text: a
    # country-wide question at a million grants walks tens of thousands of rows.
    for row in conn.execute(query):
        overlap = _overlap(row[5], asked)
        held = rights_of(row[4])
        if not overlap or (rights is not None and not held & rights):
            continue
        covering.append((row, overlap, held, held & rights if rights is not None else held))
    # Chains of title need each title's owners and the grants upstream of each grantor:
    # read them for all the rows at once rather than row by row.
    chains.prefetch({row[1] for row, _, _, _ in covering})
    return [
        Holding(
            row[1],  # title
            _compact_rights(held),
            _compact_rights(shown),
            row[3],  # holder
            row[2],  # grantor
            row[6],  # exclusivity
            grant_label(row[0]),
            row[11],  # agreement
            row[12],  # status
            _compact_territory(row[5]),
            _sorted_codes(overlap),
            row[7],  # first day
            row[8],  # last day
            row[9],  # start as written
            row[10],  # end as written
            chains.of(row[1], row[2], row[3], overlap, shown),
        )
        for row, overlap, held, shown in covering
    ]


@lru_cache(maxsize=8192)
def _overlap(territory: str, asked: frozenset[str]) -> frozenset[str]:
    return countries_of(territory) & asked


def _common_groups(countries: frozenset[str]) -> frozenset[str]:
    """The groups (and country) that contain every one of `countries`."""
    common: frozenset[str] | None = None
    for country in countries:
        groups = groups_containing(country)
        common = groups if common is None else common & groups
    return common or frozenset()


@lru_cache(maxsize=4096)
def _sorted_codes(countries: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(countries))


@lru_cache(maxsize=4096)
def _compact_rights(rights: frozenset[str]) -> tuple[str, ...]:
    return RIGHTS.compact(rights)


@lru_cache(maxsize=4096)
def _compact_territory(text: str) -> str:
    return compact(countries_of(text))


# Built once: the statement's compiled form is then reused, query after query.
_RECEIVED = select(G.c.grantor_id, G.c.territory, G.c.rights).where(
    G.c.title_id == bindparam("title"),
    G.c.grantee_id == bindparam("party"),
    G.c.grantor_id != bindparam("party"),
    or_(G.c.first_day.is_(None), G.c.first_day <= bindparam("last")),
    or_(G.c.last_day.is_(None), G.c.last_day >= bindparam("first")),
)


class _Chains:
    """Chains of title, owner -> licensee -> sublicensee, looked up once per title."""

    def __init__(self, conn: Connection, period: Period) -> None:
        self.conn = conn
        self.period = period
        self._owners: dict[str, list[tuple[str, frozenset[str]]]] = {}
        self._received: dict[tuple[str, str], list[tuple[str, frozenset[str], frozenset[str]]]] = {}

    def prefetch(self, titles: set[str]) -> None:
        """Read the owners of `titles` in a few queries."""
        wanted = sorted(titles - self._owners.keys())
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for title in chunk:
                self._owners[title] = []
            rows = self.conn.execute(
                select(O.c.title_id, O.c.party_id, O.c.territory)
                .where(O.c.title_id.in_(chunk))
                .order_by(O.c.title_id, O.c.position)
            )
            for row in rows:
                self._owners[row.title_id].append((row.party_id, countries_of(row.territory)))

    def _is_owner(self, title: str, party: str, countries: frozenset[str]) -> bool:
        if title not in self._owners:
            self._owners[title] = [(o.party, o.countries) for o in owners_of(self.conn, title)]
        return any(p == party and c & countries for p, c in self._owners[title])

    def _grantors_of(
        self, title: str, party: str
    ) -> list[tuple[str, frozenset[str], frozenset[str]]]:
        key = (title, party)
        if key not in self._received:
            rows = self.conn.execute(
                _RECEIVED,
                {
                    "title": title,
                    "party": party,
                    "first": self.period.first,
                    "last": self.period.last,
                },
            )
            self._received[key] = [
                (r.grantor_id, countries_of(r.territory), rights_of(r.rights)) for r in rows
            ]
        return self._received[key]

    def of(
        self,
        title: str,
        grantor: str,
        holder: str,
        countries: frozenset[str],
        rights: frozenset[str],
    ) -> tuple[str, ...]:
        chain = [holder] if grantor == holder else [grantor, holder]
        party = grantor
        while not self._is_owner(title, party, countries) and len(chain) < CHAIN_DEPTH:
            upstream = [
                g
                for g, c, r in self._grantors_of(title, party)
                if c & countries and r & rights and g not in chain
            ]
            if not upstream:
                break
            party = upstream[0]
            chain.insert(0, party)
        return tuple(chain)


# -- avails --------------------------------------------------------------------------


@dataclass(frozen=True)
class Avails:
    title: str
    rights: tuple[str, ...]
    period: Period
    exclusive: bool
    countries: frozenset[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "rights": list(self.rights),
            "from": self.period.first.isoformat(),
            "to": self.period.last.isoformat(),
            "exclusive": self.exclusive,
            "territory": compact(self.countries),
            "countries": sorted(self.countries),
        }


AVAILS_GRANTEE = "\x00prospective-licensee"


def available(
    conn: Connection,
    title: str,
    rights: frozenset[str],
    period: Period,
    territory: TerritoryExpr,
    exclusive: bool,
    grantor: str | None = None,
) -> Avails:
    """Where `rights` could still be granted for the whole period: a country is free when a
    grant there to a new licensee would meet no conflict at all (pending deals included)."""
    if conn.execute(select(T.c.id).where(T.c.id == title)).first() is None:
        raise NotFound(f"no title {title!r}")
    owners = owners_of(conn, title)
    grantors = [grantor] if grantor else list(dict.fromkeys(o.party for o in owners))
    views = relevant_views(conn, title, rights)
    free: set[str] = set()
    for party in grantors:
        proposal = GrantView(
            id="avails",
            agreement=None,
            status="signed",
            grantor=party,
            grantee=AVAILS_GRANTEE,
            rights=rights,
            countries=territory.countries,
            languages=None,
            start=period.first,
            end=period.last,
            exclusivity="exclusive" if exclusive else "non-exclusive",
        )
        taken: set[str] = set()
        for conflict in check_grant(proposal, views, owners):
            taken |= conflict.slice.countries
        free |= territory.countries - taken
    return Avails(title, RIGHTS.compact(rights), period, exclusive, frozenset(free))


# -- expiries ------------------------------------------------------------------------


@dataclass(frozen=True)
class Expiry:
    kind: str
    grant: str
    title: str
    grantee: str
    reverts_to: str
    rights: tuple[str, ...]
    territory: str
    end: date
    days_left: int
    agreement: str
    status: str

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "grant": self.grant,
            "title": self.title,
            "grantee": self.grantee,
            "rights": list(self.rights),
            "territory": self.territory,
            "end": self.end.isoformat(),
            "days_left": self.days_left,
            "reverts_to": self.reverts_to,
            "agreement": self.agreement,
            "status": self.status,
        }


KIND_ORDER = {"grant": 0, "holdback": 1, "notice": 2}


def expiring(conn: Connection, as_of: date, within_days: int) -> list[Expiry]:
    """Grants, holdbacks and notice dates that end from `as_of` through `as_of + within_days`."""
    horizon = as_of + timedelta(days=within_days)
    base = (
        G.c.id,
        G.c.title_id,
        G.c.grantor_id,
        G.c.grantee_id,
        G.c.agreement_ref,
        A.c.status,
    )
    rows: list[Expiry] = []

    def add(kind: str, row: Any, rights: str, territory: str, end: date) -> None:
        rows.append(
            Expiry(
                kind=kind,
                grant=grant_label(row.id),
                title=row.title_id,
                grantee=row.grantee_id,
                reverts_to=row.grantor_id,
                rights=RIGHTS.compact(rights_of(rights)),
                territory=compact(countries_of(territory)),
                end=end,
                days_left=(end - as_of).days,
                agreement=row.agreement_ref,
                status=row.status,
            )
        )

    joined = G.join(A, A.c.ref == G.c.agreement_ref)
    for row in conn.execute(
        select(*base, G.c.rights, G.c.territory, G.c.last_day)
        .select_from(joined)
        .where(and_(G.c.last_day >= as_of, G.c.last_day <= horizon))
    ):
        add("grant", row, row.rights, row.territory, row.last_day)
    for row in conn.execute(
        select(*base, H.c.rights, H.c.territory, H.c.last_day)
        .select_from(joined.join(H, H.c.grant_id == G.c.id))
        .where(and_(H.c.last_day >= as_of, H.c.last_day <= horizon))
    ):
        add("holdback", row, row.rights, row.territory, row.last_day)
    for row in conn.execute(
        select(*base, G.c.rights, G.c.territory, G.c.notice_on)
        .select_from(joined)
        .where(and_(G.c.notice_on >= as_of, G.c.notice_on <= horizon))
    ):
        add("notice", row, row.rights, row.territory, row.notice_on)
    rows.sort(key=lambda e: (e.end, KIND_ORDER[e.kind], int(e.grant[1:])))
    return rows


# -- grant listings ------------------------------------------------------------------


def grant_records(
    conn: Connection,
    title: str | None = None,
    agreement: str | None = None,
    party: str | None = None,
    grant_id: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Grants as CLI.md's JSON shape (plus detail keys), streamed in id order."""
    query = select(G, A.c.status).join(A, A.c.ref == G.c.agreement_ref).order_by(G.c.id)
    if title is not None:
        query = query.where(G.c.title_id == title)
    if agreement is not None:
        query = query.where(G.c.agreement_ref == agreement)
    if party is not None:
        query = query.where(or_(G.c.grantor_id == party, G.c.grantee_id == party))
    if grant_id is not None:
        query = query.where(G.c.id == grant_id)
    for row in conn.execution_options(yield_per=2000).execute(query):
        yield {
            "grant": grant_label(row.id),
            "agreement": row.agreement_ref,
            "title": row.title_id,
            "grantor": row.grantor_id,
            "grantee": row.grantee_id,
            "rights": row.rights.split(";"),
            "territory": row.territory,
            "start": _iso(row.first_day) or row.start,
            "end": granted_end(row.end, row.first_day, row.last_day, row.terminated_on),
            "exclusivity": row.exclusivity,
            "status": row.status,
            "terminated_on": _iso(row.terminated_on),
            "start_as_written": row.start,
            "end_as_written": row.end,
            "languages": row.languages.split(";") if row.languages else None,
            "first_day": _iso(row.first_day),
            "last_day": _iso(row.last_day),
            "notice_on": _iso(row.notice_on),
            "conflict_reason": row.conflict_reason,
        }


def granted_end(
    written: str | None, first: date | None, last: date | None, terminated_on: date | None
) -> str | None:
    """The window's end as granted, as a date where it is known (a term is resolved from
    the start, an event from its date), else as written (`theatrical+90d` while TBD)."""
    end = parse_end(written)
    if end is None:
        return None
    if isinstance(end, date):
        return end.isoformat()
    if terminated_on is None and last is not None:
        return last.isoformat()
    if isinstance(end, Term) and first is not None:
        return end_for_term(first, end).isoformat()
    return written


def holdbacks_of(conn: Connection, grant_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(H).where(H.c.grant_id == grant_id).order_by(H.c.position))
    return [
        {
            "rights": r.rights.split(";"),
            "territory": r.territory,
            "until": r.until,
            "last_day": _iso(r.last_day),
        }
        for r in rows
    ]
