"""The everyday questions: who holds it, what is still free, what expires soon."""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, Text, and_, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from ledger.domain.conflicts import GrantView, check_grant
from ledger.domain.dates import Term, end_for_term
from ledger.domain.grants import parse_end
from ledger.domain.rights import RIGHTS
from ledger.domain.territories import TerritoryExpr, compact, groups_containing
from ledger.errors import BadInput, NotFound
from ledger.persistence.database import driver_rows, streamed
from ledger.persistence.schema import (
    FIRST_DAY,
    HOLDING_SEPARATOR,
    KIND_SEPARATOR,
    LAST_DAY,
    Agreement,
    GrantTerritory,
    Holdback,
    Ownership,
    RightsGrant,
    Title,
)
from ledger.services.collector import collector_paused
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
NOT_SIGNED = (*PENDING, "terminated")
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
    holder: str
    grantor: str
    grant: str
    agreement: str
    status: str
    start: date | None
    end: date | None
    start_tbd: str | None
    """The start as written while its day is not known (`theatrical+90d`), else None."""
    chain: tuple[str, ...]
    # What the grant's rights, territory and exclusivity show, last: the holdings of a
    # kind share these five as one tuple (`_Facts.shown_fields`).
    rights: tuple[str, ...]
    matching_rights: tuple[str, ...]
    exclusivity: str
    territory: str
    countries: tuple[str, ...]

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
        if self.start_tbd is not None:
            notes.append(f"starts {self.start_tbd} (TBD)")
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

    def json_text(self) -> str:
        """`as_json()` as the json module writes it (`json.dumps(..., ensure_ascii=False)`),
        without a dictionary per holding: a country-wide answer has tens of thousands, and
        the lists and days they share are written once each."""
        string = _json_string
        return "".join(
            (
                '{"title": ',
                string(self.title),
                ', "rights": ',
                _json_strings(self.rights),
                ', "holder": ',
                string(self.holder),
                ', "grantor": ',
                string(self.grantor),
                ', "exclusivity": ',
                string(self.exclusivity),
                ', "grant": ',
                string(self.grant),
                ', "agreement": ',
                string(self.agreement),
                ', "status": ',
                string(self.status),
                ', "territory": ',
                string(self.territory),
                ', "start": ',
                _json_day(self.start),
                ', "end": ',
                _json_day(self.end),
                ', "chain": ',
                _json_strings(self.chain),
                ', "pending": ',
                "true" if self.pending else "false",
                ', "countries": ',
                _json_strings(self.countries),
                ', "note": ',
                string(self.note),
                ', "matching_rights": ',
                _json_strings(self.matching_rights),
                "}",
            )
        )


_json_string: Callable[[str], str] = json.encoder.encode_basestring
"""The string encoder of `json.dumps(..., ensure_ascii=False)`."""


@lru_cache(maxsize=4096)
def _json_strings(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(map(_json_string, values)) + "]"


@lru_cache(maxsize=8192)
def _json_day(day: date | None) -> str:
    return "null" if day is None else f'"{day.isoformat()}"'


def who_holds(
    conn: Connection,
    territory: TerritoryExpr,
    period: Period,
    title: str | None = None,
    rights: frozenset[str] | None = None,
) -> list[Holding]:
    """Every grant that covers some of `territory` on some day of `period`, by title."""
    return list(holdings_in(conn, territory, period, title, rights))


def holdings_in(
    conn: Connection,
    territory: TerritoryExpr,
    period: Period,
    title: str | None = None,
    rights: frozenset[str] | None = None,
) -> Iterator[Holding]:
    """`who_holds`, streamed a title at a time: memory holds one title's holdings, however
    many the answer has (`WW` at a million grants: hundreds of thousands)."""
    asked = territory.countries
    codes: set[str] = set()
    for country in asked:
        codes |= groups_containing(country)
    # The lookup index of `grant_territory` answers "which grants name CN or a group
    # holding it, in force on these days" and holds all that a holding shows: no grant is
    # read.
    in_force: tuple[ColumnElement[bool], ...] = (
        GT.c.to_day >= period.first,
        _AsStored(GT.c.from_day) <= period.last,
    )
    code: ColumnElement[str] = GT.c.code
    if title is not None:
        # One title's few grants, read by their ids: `code || ''` keeps SQLite from
        # preferring the lookup index, which would read every grant in the territory.
        in_force += (GT.c.grant_id.in_(select(G.c.id).where(G.c.title_id == title)),)
        code = GT.c.code.concat("")
    named = code.in_(sorted(codes))
    # A grant whose exclusions take out every asked country (`WW -CN` asked about CN)
    # still names a group holding them. It is dropped by its territory: the few
    # territories that exclude such a group are read first (a handful at a million
    # grants), which costs a third of dropping the grants by id. One that excludes only
    # some of the asked countries is judged below, country by country.
    excluding = select(GT.c.territory).distinct().where(named, GT.c.excluded, *in_force)
    covering_none = [
        text for (text,) in conn.execute(excluding) if countries_of(text).isdisjoint(asked)
    ]
    query = (
        select(
            # A holding as one text: its days (as `YYYY-MM-DD`, each ten characters), then
            # what its grant shows (`holding`, each value after a separator): the driver
            # makes one string of it, where a column each took a third of the answer's
            # time.
            _IsoDay(GT.c.from_day).concat(_IsoDay(GT.c.to_day)).concat(GT.c.holding)
        )
        .where(
            named,
            GT.c.excluded.is_(False),
            *in_force,
            GT.c.territory.not_in(covering_none),
        )
        .order_by(GT.c.title_id, GT.c.grant_id)
    )
    statuses = _statuses_other_than_signed(conn, title)
    owners = _owners(conn, title)
    # A country-wide question at a million grants reads tens of thousands of rows: what
    # each distinct (territory, rights) pair means is worked out once, a grant its
    # title's owner made has its chain at once, the chains of the few sublicences are
    # built when the last row of their title is in, and the collector stays out of the
    # way while the answer is built (new, acyclic tuples).
    facts = _FactsOf(asked, rights)
    windows = _Windows()
    holdings: list[Holding] = []  # of the current title, in order
    title_facts: list[_Facts] = []  # of the current title's holdings, in order
    title_owners: dict[str, frozenset[str]] = _NO_OWNERS
    current: str | None = None
    sublicensed = False
    previous = None
    with collector_paused():
        for (row,) in driver_rows(conn, query):
            window, title_id, grant, grantor, holder, kind, start, agreement = row.split(
                HOLDING_SEPARATOR, 7
            )
            if grant == previous:  # a second term of the grant names an asked code
                continue
            previous = grant
            if title_id != current:
                if sublicensed:
                    _chain_sublicences(holdings, title_facts, title_owners)
                yield from holdings
                holdings = []
                sublicensed = False
                title_facts.clear()
                title_owners = owners.get(title_id, _NO_OWNERS)
                current = title_id
            known = facts[kind]
            if known is None:
                continue
            fact, overlap, shown_fields = known
            owned = title_owners.get(grantor)
            if owned is not None and not owned.isdisjoint(overlap):
                chain = _chain_of(grantor, holder)
            else:
                chain = ()  # a sublicence: the grant above it may come later
                sublicensed = True
            first, last = windows[window]
            title_facts.append(fact)
            holdings.append(
                # Made as the tuple it is: `Holding.__new__` is a Python call, a tenth of
                # a country-wide answer's time.
                tuple.__new__(
                    Holding,
                    (  # noqa: RUF005 (a concatenation is quicker than `*shown_fields`)
                        title_id,
                        holder,
                        grantor,
                        grant,
                        agreement,
                        statuses.get(agreement, "signed"),
                        first,
                        last,
                        # The start as written matters only while its day is not known.
                        start if first is None else None,
                        chain,
                    )
                    + shown_fields,
                )
            )
        if sublicensed:
            _chain_sublicences(holdings, title_facts, title_owners)
        yield from holdings


def _chain_sublicences(
    holdings: list[Holding], facts: list[_Facts], owners: dict[str, frozenset[str]]
) -> None:
    """Give the sublicences among the last `len(facts)` holdings, all of one title, their
    chains of title: owner -> licensee -> sublicensee.

    A grant upstream of a sublicence covers some of its countries on the days asked and
    some of the rights asked, so it is itself among the title's holdings."""
    first = len(holdings) - len(facts)
    received: dict[str, list[tuple[str, frozenset[str], frozenset[str]]]] = {}
    for held, fact in zip(holdings[first:], facts, strict=True):
        if held.grantor != held.holder:
            received.setdefault(held.holder, []).append((held.grantor, fact.overlap, fact.held))
    for position, fact in enumerate(facts, start=first):
        held = holdings[position]
        if held.chain:
            continue
        chain = list(_chain_of(held.grantor, held.holder))
        party = held.grantor
        while not owners.get(party, _NOWHERE) & fact.overlap and len(chain) < CHAIN_DEPTH:
            upstream = [
                grantor
                for grantor, countries, rights in received.get(party, ())
                if countries & fact.overlap and rights & fact.shown and grantor not in chain
            ]
            if not upstream:
                break
            party = upstream[0]
            chain.insert(0, party)
        holdings[position] = held._replace(chain=tuple(chain))


class _AsStored(FunctionElement[Any]):
    """A column as stored, without its type's affinity on SQLite (`+column`): a day there
    is text in a column of numeric affinity, which SQLite would otherwise try to read as
    a number at each comparison, row by row. Its index is not used for it."""

    inherit_cache = True

    def __init__(self, column: ColumnElement[Any]) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(_AsStored, "sqlite")
def _without_affinity(element: _AsStored, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"


class _IsoDay(FunctionElement[str]):
    """A day as `YYYY-MM-DD` text: as SQLite stores it, and on PostgreSQL whatever its
    `DateStyle`."""

    type = Text()
    inherit_cache = True


@compiles(_AsStored)
@compiles(_IsoDay, "sqlite")
def _as_it_is(element: _AsStored | _IsoDay, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_IsoDay)
def _to_char(element: _IsoDay, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM-DD')"


class _Windows(dict[str, tuple[date | None, date | None]]):
    """A holding's days as its row gives them (`from_day` then `to_day`, `YYYY-MM-DD`
    each) as the days they name, None for the open ends `FIRST_DAY` and `LAST_DAY`; each
    pair made once."""

    def __missing__(self, text: str) -> tuple[date | None, date | None]:
        self[text] = window = (_day(text[:10]), _day(text[10:]))
        return window


def _day(text: str) -> date | None:
    day = date.fromisoformat(text)
    return None if day in (FIRST_DAY, LAST_DAY) else day


def _statuses_other_than_signed(conn: Connection, title: str | None) -> dict[str, str]:
    """The agreements (of `title`, or all) whose status is not `signed`: far fewer than
    the grants of a country-wide answer, so read once rather than joined to every row."""
    # An index range per status (`ix_agreement_status`), not a pass over every agreement.
    query = select(A.c.ref, A.c.status).where(A.c.status.in_(NOT_SIGNED))
    if title is not None:
        query = query.where(A.c.ref.in_(select(G.c.agreement_ref).where(G.c.title_id == title)))
    return dict(driver_rows(conn, query))


def _owners(conn: Connection, title: str | None) -> dict[str, dict[str, frozenset[str]]]:
    """Who owns which countries, of the title asked about or of every title (a row a
    title, more or less: far fewer than its grants)."""
    owners: dict[str, dict[str, frozenset[str]]] = {}
    query = select(O.c.title_id, O.c.party_id, O.c.territory)
    if title is not None:
        query = query.where(O.c.title_id == title)
    for title_id, party, territory in driver_rows(conn, query):
        owned = owners.setdefault(title_id, {})
        countries = countries_of(territory)  # shared, cached: not copied per title
        before = owned.get(party)
        owned[party] = countries if before is None else before | countries
    return owners


_Known = tuple["_Facts", frozenset[str], tuple[Any, ...]]
"""A kind's facts, with the two a holding's row takes from them: its overlap and the
holding's last fields (`_Facts.shown_fields`). A plain tuple: unpacked at once a row."""


class _FactsOf(dict[str, "_Known | None"]):
    """A packed (rights, territory, exclusivity) as what it means for one holders
    question (None: it covers none of the asked countries, or none of the asked rights);
    each kind worked out once."""

    def __init__(self, asked: frozenset[str], rights: frozenset[str] | None) -> None:
        super().__init__()
        self.asked, self.rights = asked, rights

    def __missing__(self, kind: str) -> _Known | None:
        rights_text, territory, exclusivity = kind.split(KIND_SEPARATOR)
        fact = _facts(territory, rights_text, exclusivity, self.asked, self.rights)
        self[kind] = known = None if fact is None else (fact, fact.overlap, fact.shown_fields)
        return known


class _Facts(NamedTuple):
    """What a grant's territory and rights mean for one holders question."""

    overlap: frozenset[str]  # the asked countries the grant covers
    held: frozenset[str]  # its rights
    shown: frozenset[str]  # those asked about (all of them when none were asked)
    shown_fields: tuple[tuple[str, ...], tuple[str, ...], str, str, tuple[str, ...]]
    """A holding's last fields: its rights and matching rights (compact), exclusivity,
    territory (compact) and countries (the overlap, sorted)."""


def _facts(
    territory: str,
    rights_text: str,
    exclusivity: str,
    asked: frozenset[str],
    rights: frozenset[str] | None,
) -> _Facts | None:
    """None when the grant covers none of the asked countries or none of the asked
    rights: no holding."""
    overlap = countries_of(territory) & asked
    if not overlap:
        return None
    held = rights_of(rights_text)
    shown = held if rights is None else held & rights
    if not shown:
        return None
    return _Facts(
        overlap,
        held,
        shown,
        (
            _compact_rights(held),
            _compact_rights(shown),
            exclusivity,
            _compact_territory(territory),
            tuple(sorted(overlap)),
        ),
    )


@lru_cache(maxsize=4096)
def _compact_rights(rights: frozenset[str]) -> tuple[str, ...]:
    return RIGHTS.compact(rights)


@lru_cache(maxsize=4096)
def _compact_territory(text: str) -> str:
    return compact(countries_of(text))


@lru_cache(maxsize=4096)
def _chain_of(grantor: str, holder: str) -> tuple[str, ...]:
    """The chain of a grant made by its title's owner: the owner, then the holder."""
    return (holder,) if grantor == holder else (grantor, holder)


_NOWHERE: frozenset[str] = frozenset()
_NO_OWNERS: dict[str, frozenset[str]] = {}


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
    """Grants, holdbacks and notice dates that end from `as_of` through `as_of + within_days`,
    soonest first (on one day: grants, then holdbacks, then notices, each by grant)."""
    return list(expiries_in(conn, as_of, within_days))


def expiries_in(conn: Connection, as_of: date, within_days: int) -> Iterator[Expiry]:
    """`expiring`, streamed: each kind is read in that order from its own index on the
    day, and the three are merged as they come, so that a report over years of a large
    ledger is never held whole."""
    horizon = as_of + timedelta(days=within_days)
    base = (
        G.c.id,
        G.c.title_id,
        G.c.grantor_id,
        G.c.grantee_id,
        G.c.agreement_ref,
        A.c.status,
    )
    joined = G.join(A, A.c.ref == G.c.agreement_ref)

    def ending(kind: str, source: Any, rights: Any, territory: Any, day: Any) -> Iterator[Expiry]:
        query = (
            select(*base, rights, territory, day)
            .select_from(source)
            .where(and_(day >= as_of, day <= horizon))
            .order_by(day, G.c.id)
        )
        for row in streamed(conn, query):
            end = row[-1]
            yield Expiry(
                kind=kind,
                grant=grant_label(row.id),
                title=row.title_id,
                grantee=row.grantee_id,
                reverts_to=row.grantor_id,
                rights=RIGHTS.compact(rights_of(row[-3])),
                territory=compact(countries_of(row[-2])),
                end=end,
                days_left=(end - as_of).days,
                agreement=row.agreement_ref,
                status=row.status,
            )

    yield from heapq.merge(
        ending("grant", joined, G.c.rights, G.c.territory, G.c.last_day),
        ending("holdback", joined.join(H, H.c.grant_id == G.c.id), H.c.rights, H.c.territory,
               H.c.last_day),
        ending("notice", joined, G.c.rights, G.c.territory, G.c.notice_on),
        key=lambda e: (e.end, KIND_ORDER[e.kind], int(e.grant[1:])),
    )  # fmt: skip


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
    for row in streamed(conn, query):
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
