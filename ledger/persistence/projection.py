"""Deriving the current state from journal entries.

`Projector.apply` is the one place that turns an entry into rows of the state tables.
The service layer calls it in the same transaction as the append, `verify` replays the
whole journal through it into a scratch database and compares, and `--recorded-as-of`
replays the journal up to a moment. Grant rows are buffered and written in batches so a
large import is not one round trip per row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from functools import lru_cache, partial
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Connection,
    Integer,
    String,
    Table,
    column,
    delete,
    func,
    insert,
    select,
    update,
    values,
)

from ledger.domain.grants import (
    EndBound,
    EventDate,
    GrantSpec,
    HoldbackSpec,
    bound_text,
    earliest,
    resolve_last_day,
    resolve_start,
)
from ledger.domain.rights import RIGHTS
from ledger.domain.territories import parse_stored_territory, parse_territory
from ledger.persistence.journal import Entry, insert_rows, sqlite_batches
from ledger.persistence.schema import (
    FIRST_DAY,
    HOLDING_FORMAT,
    HOLDING_VALUES,
    LAST_DAY,
    Agreement,
    AgreementParty,
    GrantTerritory,
    Holdback,
    Ownership,
    Party,
    ReleaseEvent,
    RightsGrant,
    Title,
)

A = cast(Table, Agreement.__table__)
AP = cast(Table, AgreementParty.__table__)
G = cast(Table, RightsGrant.__table__)
GT = cast(Table, GrantTerritory.__table__)
H = cast(Table, Holdback.__table__)
O = cast(Table, Ownership.__table__)  # noqa: E741
P = cast(Table, Party.__table__)
E = cast(Table, ReleaseEvent.__table__)
T = cast(Table, Title.__table__)


BATCH = 5000
"""Grant rows buffered before they are written in one statement."""


def _day(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


class Projector:
    """Applies journal entries to the state tables of one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._sqlite = conn.dialect.name == "sqlite"
        self.bulk = False
        """Set by a bulk import: parties, titles and agreements added are buffered too,
        and written (before any grant) at the next flush. Nothing may read them back
        through the connection before that flush."""
        self.defer: Callable[[Callable[[], None]], None] | None = None
        """Set by a bulk import: `flush` hands its inserts to this (which runs them later,
        in order, on the same connection) instead of running them."""
        self._grants: list[tuple[Any, ...]] = []
        self._terms: list[tuple[int, str, int]] = []
        self._holdbacks: list[dict[str, Any]] = []
        self._added: dict[Table, list[tuple[Any, ...]]] = {P: [], T: [], O: [], A: [], AP: []}
        self._events: dict[str, list[EventDate]] = {}
        self._handlers: Mapping[str, Callable[[Entry, dict[str, Any]], None]] = {
            "party.added": self._party_added,
            "title.added": self._title_added,
            "ownership.added": self._ownership_added,
            "event.recorded": self._event_recorded,
            "agreement.added": self._agreement_added,
            "agreement.signed": self._agreement_signed,
            "agreement.terminated": self._agreement_terminated,
            "grant.added": self._grant_added,
            "grant.amended": self._grant_amended,
            "grant.terminated": self._grant_terminated,
        }

    def apply(
        self, entry: Entry, data: dict[str, Any] | None = None, spec: GrantSpec | None = None
    ) -> None:
        """Project `entry`. A caller that has its payload (`data`) and, for grant.added,
        the grant it describes (`spec`, as `GrantSpec.from_payload(data)` would read it)
        may pass them, so that a bulk import does not parse back what it just wrote."""
        handler = self._handlers.get(entry.kind)
        if handler is None:
            raise ValueError(f"journal entry {entry.seq} has an unknown kind {entry.kind!r}")
        if data is None:
            data = entry.data
        if entry.kind == "grant.added":
            self._grant_added(entry, data, spec)
            return
        if not (self.bulk and entry.kind in _BUFFERED):
            self.flush()
        handler(entry, data)

    def add_grant(self, seq: int, values: tuple[Any, ...]) -> None:
        """Project the grant.added entry `seq` of a bulk import, whose grant's row but its
        entry's number is `values` (`grant_values`): the very rows `apply` would write for
        that entry. A file row carries no holdbacks."""
        self._grants.append((*values, seq))
        self._terms.extend(_term_rows(values[0], values[6]))
        if len(self._grants) >= BATCH:
            self.flush()

    def flush(self) -> None:
        conn = self.conn
        writes: list[Callable[[], None]] = []
        for table, added in self._added.items():
            if added:
                writes.append(partial(insert_rows, conn, table, _COLUMNS[table], added))
                self._added[table] = []
        if self._grants:
            writes.append(partial(insert_rows, conn, G, GRANT_COLUMNS, self._grants))
            self._grants = []
        if self._terms:  # after their grants: they are completed from the grants' rows
            writes.append(partial(insert_terms, conn, self._terms))
            self._terms = []
        if self._holdbacks:
            rows = [
                tuple(self._day_value(v) if c == "last_day" else v for c, v in h.items())
                for h in self._holdbacks
            ]
            writes.append(partial(insert_rows, conn, H, tuple(self._holdbacks[0]), rows))
            self._holdbacks = []
        if not writes:
            return
        write = partial(_write_all, writes)
        if self.defer is None:
            write()
        else:
            self.defer(write)

    def _day_value(self, day: date | None) -> date | str | None:
        return _day_value(day, self._sqlite)

    # -- parties, titles, events -------------------------------------------------------

    def _party_added(self, _entry: Entry, data: dict[str, Any]) -> None:
        if self.bulk:
            self._added[P].append((data["id"], data["name"], data.get("country")))
            return
        self.conn.execute(
            insert(P).values(id=data["id"], name=data["name"], country=data.get("country"))
        )

    def _title_added(self, entry: Entry, data: dict[str, Any]) -> None:
        owners = data.get("owners", [])
        if self.bulk and all(owner.get("share") is None for owner in owners):
            self._added[T].append(
                (
                    data["id"],
                    data["name"],
                    data.get("original_name"),
                    data["kind"],
                    data.get("year"),
                    data.get("origin"),
                    data.get("eidr"),
                    data.get("parent"),
                )
            )
            # A new title has no owners yet: they take positions 1, 2, ... as
            # `_ownership_added` would number them one after the other.
            self._added[O].extend(
                (data["id"], position, owner["party"], owner["territory"], None)
                for position, owner in enumerate(owners, start=1)
            )
            return
        self.flush()
        self.conn.execute(
            insert(T).values(
                id=data["id"],
                name=data["name"],
                original_name=data.get("original_name"),
                kind=data["kind"],
                year=data.get("year"),
                origin=data.get("origin"),
                eidr=data.get("eidr"),
                parent_id=data.get("parent"),
            )
        )
        for owner in data.get("owners", []):
            self._ownership_added(entry, {"title": data["id"], **owner})

    def _ownership_added(self, _entry: Entry, data: dict[str, Any]) -> None:
        count = len(
            self.conn.execute(select(O.c.position).where(O.c.title_id == data["title"])).all()
        )
        self.conn.execute(
            insert(O).values(
                title_id=data["title"],
                position=count + 1,
                party_id=data["party"],
                territory=data["territory"],
                share=data.get("share"),
            )
        )

    def events_of(self, title: str) -> list[EventDate]:
        cached = self._events.get(title)
        if cached is None:
            rows = self.conn.execute(
                select(E.c.kind, E.c.territory, E.c.on).where(E.c.title_id == title)
            )
            cached = [EventDate(r.kind, parse_territory(r.territory).countries, r.on) for r in rows]
            self._events[title] = cached
        return cached

    def _event_recorded(self, entry: Entry, data: dict[str, Any]) -> None:
        title = data["title"]
        self.conn.execute(
            insert(E).values(
                recorded_seq=entry.seq,
                title_id=title,
                kind=data["kind"],
                territory=data["territory"],
                on=date.fromisoformat(data["on"]),
            )
        )
        self._events.pop(title, None)
        rows = self.conn.execute(select(G.c.id).where(G.c.title_id == title)).all()
        for row in rows:
            self._refresh_days(row.id)

    # -- agreements --------------------------------------------------------------------

    def _agreement_added(self, _entry: Entry, data: dict[str, Any]) -> None:
        if self.bulk:
            self._added[A].append(
                (
                    data["ref"],
                    data["status"],
                    data["status"],
                    self._day_value(_day(data.get("signed_on"))),
                    data.get("note"),
                )
            )
            self._added[AP].extend((data["ref"], p) for p in data["parties"])
            return
        self.conn.execute(
            insert(A).values(
                ref=data["ref"],
                status=data["status"],
                standing=data["status"],
                signed_on=_day(data.get("signed_on")),
                note=data.get("note"),
            )
        )
        parties = data["parties"]
        if parties:
            self.conn.execute(
                insert(AP), [{"agreement_ref": data["ref"], "party_id": p} for p in parties]
            )

    def _agreement_signed(self, _entry: Entry, data: dict[str, Any]) -> None:
        self.conn.execute(
            update(A)
            .where(A.c.ref == data["ref"])
            .values(status="signed", standing="signed", signed_on=_day(data.get("on")))
        )

    def _agreement_terminated(self, _entry: Entry, data: dict[str, Any]) -> None:
        on = date.fromisoformat(data["on"])
        # `standing` keeps the status before termination: it sets a conflict's severity.
        self.conn.execute(
            update(A).where(A.c.ref == data["ref"]).values(status="terminated", terminated_on=on)
        )
        for row in self.conn.execute(select(G.c.id).where(G.c.agreement_ref == data["ref"])).all():
            self._terminate(row.id, on)

    # -- grants ------------------------------------------------------------------------

    def _grant_added(
        self, entry: Entry, data: dict[str, Any], spec: GrantSpec | None = None
    ) -> None:
        grant_id = int(data["id"])
        if spec is None:
            spec = GrantSpec.from_payload(data)
        first, last = self._days(spec, None)
        languages = data["languages"]
        values = _grant_values(
            grant_id,
            spec,
            data["start"],
            data["end"],
            ";".join(languages) if isinstance(languages, list) else None,
            first,
            last,
            entry.reason if data.get("conflicts_allowed") else None,
            self._sqlite,
        )
        self._grants.append((*values, entry.seq))
        self._terms.extend(_term_rows(grant_id, spec.territory.text))
        if spec.holdbacks:
            self._holdbacks.extend(self._holdback_rows(grant_id, spec, None))
        if len(self._grants) >= BATCH:
            self.flush()

    def _grant_amended(self, _entry: Entry, data: dict[str, Any]) -> None:
        grant_id = int(data["id"])
        spec = GrantSpec.from_payload({**self.payload_of(grant_id), **data["changes"]})
        columns = _grant_columns(spec)
        self.conn.execute(update(G).where(G.c.id == grant_id).values(**columns))
        self.conn.execute(delete(GT).where(GT.c.grant_id == grant_id))
        # Their days are set, with the grant's, by `_refresh_days` below.
        insert_terms(self.conn, _term_rows(grant_id, spec.territory.text))
        self.conn.execute(delete(H).where(H.c.grant_id == grant_id))
        self._holdbacks.extend(self._holdback_rows(grant_id, spec, None))
        self._refresh_days(grant_id)

    def _grant_terminated(self, _entry: Entry, data: dict[str, Any]) -> None:
        self._terminate(int(data["id"]), date.fromisoformat(data["on"]))

    def _terminate(self, grant_id: int, on: date) -> None:
        current = self.conn.execute(
            select(G.c.terminated_on).where(G.c.id == grant_id)
        ).scalar_one()
        self.conn.execute(
            update(G).where(G.c.id == grant_id).values(terminated_on=earliest(current, on))
        )
        self._refresh_days(grant_id)

    # -- derived days ------------------------------------------------------------------

    def payload_of(self, grant_id: int) -> dict[str, Any]:
        """A grant as it stands, in the journal's payload form."""
        row = self.conn.execute(select(G).where(G.c.id == grant_id)).one()
        holdbacks = self.conn.execute(
            select(H.c.rights, H.c.territory, H.c.until)
            .where(H.c.grant_id == grant_id)
            .order_by(H.c.position)
        ).all()
        return {
            "agreement": row.agreement_ref,
            "title": row.title_id,
            "grantor": row.grantor_id,
            "grantee": row.grantee_id,
            "rights": row.rights.split(";"),
            "territory": row.territory,
            "languages": row.languages.split(";") if row.languages is not None else None,
            "start": row.start,
            "end": row.end,
            "exclusivity": row.exclusivity,
            "holdbacks": [
                {"rights": h.rights.split(";"), "territory": h.territory, "until": h.until}
                for h in holdbacks
            ],
            "notice_on": row.notice_on.isoformat() if row.notice_on else None,
            "external_refs": json.loads(row.external_refs) if row.external_refs else {},
        }

    def _days(self, spec: GrantSpec, terminated_on: date | None) -> tuple[date | None, date | None]:
        events = self.events_of(spec.title)
        countries = spec.territory.countries
        first = resolve_start(spec.start, countries, events)
        last = resolve_last_day(spec.end, first, countries, events)
        if terminated_on is not None:
            last = earliest(last, terminated_on)
        return first, last

    def _holdback_rows(
        self, grant_id: int, spec: GrantSpec, terminated_on: date | None
    ) -> list[dict[str, Any]]:
        events = self.events_of(spec.title)
        rows = []
        for position, holdback in enumerate(spec.holdbacks, start=1):
            payload = holdback.as_payload()
            until = resolve_last_day(holdback.until, None, holdback.territory.countries, events)
            rows.append(
                {
                    "grant_id": grant_id,
                    "position": position,
                    "rights": ";".join(holdback_rights(holdback)),
                    "territory": holdback.territory.text,
                    "until": str(payload["until"]),
                    # Terminating a grant on day D makes D the last day of its holdbacks too.
                    "last_day": earliest(until, terminated_on) if terminated_on else until,
                }
            )
        return rows

    def _refresh_days(self, grant_id: int) -> None:
        self.flush()
        terminated_on = self.conn.execute(
            select(G.c.terminated_on).where(G.c.id == grant_id)
        ).scalar_one()
        spec = GrantSpec.from_payload(self.payload_of(grant_id))
        first, last = self._days(spec, terminated_on)
        self.conn.execute(
            update(G).where(G.c.id == grant_id).values(first_day=first, last_day=last)
        )
        self.conn.execute(
            update(GT)
            .where(GT.c.grant_id == grant_id)
            .values(from_day=first or FIRST_DAY, to_day=last or LAST_DAY)
        )
        self.conn.execute(delete(H).where(H.c.grant_id == grant_id))
        rows = self._holdback_rows(grant_id, spec, terminated_on)
        if rows:
            self.conn.execute(insert(H), rows)


@lru_cache(maxsize=65536)
def _iso(day: date) -> str:
    return day.isoformat()


def _day_value(day: date | None, sqlite: bool) -> date | str | None:
    """A day as the driver is given it: SQLite's text form on the raw SQLite path."""
    if day is None or not sqlite:
        return day
    return _iso(day)


def grant_values(
    grant_id: int,
    spec: GrantSpec,
    first: date | None,
    last: date | None,
    reason: str | None,
    sqlite: bool,
) -> tuple[Any, ...]:
    """The `rights_grant` row of an imported grant but its last column, the number of
    its journal entry (`Projector.add_grant`): `first` and `last` its days resolved
    against the title's release events (as `_days` would), `reason` its entry's when
    its conflicts were allowed; days as the `sqlite` driver, or another, is given them."""
    return _grant_values(
        grant_id,
        spec,
        _bound_text(spec.start),
        _bound_text(spec.end),
        _languages_text(spec.languages),
        first,
        last,
        reason,
        sqlite,
    )


def _grant_values(
    grant_id: int,
    spec: GrantSpec,
    start: str | None,
    end: str | None,
    languages: str | None,
    first: date | None,
    last: date | None,
    reason: str | None,
    sqlite: bool,
) -> tuple[Any, ...]:
    """A new rights_grant row in `GRANT_COLUMNS` order, but `recorded_seq` (last)."""
    return (
        grant_id,
        spec.agreement,
        spec.title,
        spec.grantor,
        spec.grantee,
        _rights_text(spec.rights),
        spec.territory.text,
        languages,
        start,
        end,
        spec.exclusivity,
        _day_value(spec.notice_on, sqlite),
        None,
        _day_value(first, sqlite),
        _day_value(last, sqlite),
        reason,
        _refs_text(spec.external_refs) if spec.external_refs else None,
    )


def _write_all(writes: list[Callable[[], None]]) -> None:
    for write in writes:
        write()


def _term_rows(grant_id: int, territory: str) -> list[tuple[int, str, int]]:
    """The terms of a grant's territory, as `insert_terms` takes them: from its stored
    text, so that a replay of the journal gives the very same rows."""
    return [(grant_id, code, excluded) for code, excluded in _terms_of(territory)]


def insert_terms(conn: Connection, terms: Sequence[tuple[int, str, int]]) -> None:
    """The grant_territory rows of `terms` (grant id, code, excluded 0 or 1), completed in SQL
    from their grants' rows, written before: each term carries its grant's days in force
    as their widest span (`FIRST_DAY` while the start is not known, `LAST_DAY` while there
    is no end), its title and territory, and what a holding shows (`HOLDING_FORMAT` over
    the grant's `HOLDING_VALUES`).

    Only the terms are sent: sending the grants' columns again with each term would
    double what an import's writer binds, holding the GIL (see `sqlite_batches`)."""
    if not terms:
        return
    if conn.dialect.name == "sqlite":
        before = (_iso(FIRST_DAY), _iso(LAST_DAY), HOLDING_FORMAT)
        sqlite_batches(conn, terms, 3, _terms_sql, before)
        return
    for start in range(0, len(terms), _TERMS_PER_STATEMENT):
        chunk = terms[start : start + _TERMS_PER_STATEMENT]
        listed = _TERMS.data([(grant, code, bool(excluded)) for grant, code, excluded in chunk])
        completed = select(
            listed.c.grant_id,
            listed.c.code,
            listed.c.excluded,
            func.coalesce(G.c.first_day, FIRST_DAY),
            func.coalesce(G.c.last_day, LAST_DAY),
            G.c.title_id,
            G.c.territory,
            func.format(HOLDING_FORMAT, *(G.c[name] for name in HOLDING_VALUES)),
        ).join_from(listed, G, G.c.id == listed.c.grant_id)
        conn.execute(insert(GT).from_select(TERM_COLUMNS, completed))


_TERMS = values(
    column("grant_id", Integer), column("code", String), column("excluded", Boolean), name="term"
)
_TERMS_PER_STATEMENT = 5000
"""Terms a statement sends elsewhere than on SQLite (three values each: PostgreSQL takes
65,535 at most)."""


@lru_cache(maxsize=8)
def _terms_sql(count: int) -> str:
    """`insert_terms` on SQLite for `count` terms: the days' open ends and
    `HOLDING_FORMAT`, then the terms."""
    names = ", ".join(f'"{name}"' for name in TERM_COLUMNS)
    shown = ", ".join(f'g."{name}"' for name in HOLDING_VALUES)
    listed = ", ".join(["(?, ?, ?)"] * count)
    # CROSS JOIN: the terms in the order given, each grant found by its id.
    return (
        f"INSERT INTO grant_territory ({names}) "
        "SELECT t.column1, t.column2, t.column3, "
        "coalesce(g.first_day, ?), coalesce(g.last_day, ?), g.title_id, g.territory, "
        f"printf(?, {shown}) "
        f"FROM (VALUES {listed}) AS t CROSS JOIN rights_grant AS g ON g.id = t.column1"
    )


def holdback_rights(holdback: HoldbackSpec) -> list[str]:
    return list(RIGHTS.compact(holdback.rights))


def _grant_columns(spec: GrantSpec, payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The columns of `spec`; `payload`, when given, is `spec.as_payload()` (or a superset)."""
    if payload is None:
        payload = spec.as_payload()
    languages = payload["languages"]
    return {
        "agreement_ref": spec.agreement,
        "title_id": spec.title,
        "grantor_id": spec.grantor,
        "grantee_id": spec.grantee,
        "rights": _rights_text(spec.rights),
        "territory": spec.territory.text,
        "languages": ";".join(languages) if isinstance(languages, list) else None,
        "start": payload["start"],
        "end": payload["end"],
        "exclusivity": spec.exclusivity,
        "notice_on": spec.notice_on,
    }


@lru_cache(maxsize=4096)
def _rights_text(rights: frozenset[str]) -> str:
    return ";".join(RIGHTS.compact(rights))


@lru_cache(maxsize=4096)
def _terms_of(text: str) -> tuple[tuple[str, int], ...]:
    """The (code, excluded) terms of a stored territory expression, excluded as 0 or 1:
    what SQLite stores, and what its driver binds at once (a bool, not exactly an int,
    has it look for an adapter first, in vain)."""
    expr = parse_stored_territory(text)
    return (*((code, 0) for code in expr.includes), *((code, 1) for code in expr.excludes))


@lru_cache(maxsize=32768)
def _bound_text(bound: EndBound) -> str | None:
    return bound_text(bound)


@lru_cache(maxsize=1024)
def _languages_text(languages: frozenset[str] | None) -> str | None:
    return ";".join(sorted(languages)) if languages is not None else None


GRANT_COLUMNS = (
    "id",
    "agreement_ref",
    "title_id",
    "grantor_id",
    "grantee_id",
    "rights",
    "territory",
    "languages",
    "start",
    "end",
    "exclusivity",
    "notice_on",
    "terminated_on",
    "first_day",
    "last_day",
    "conflict_reason",
    "external_refs",
    "recorded_seq",
)
TERM_COLUMNS = (
    "grant_id",
    "code",
    "excluded",
    "from_day",
    "to_day",
    "title_id",
    "territory",
    "holding",
)
_COLUMNS: dict[Table, tuple[str, ...]] = {
    P: ("id", "name", "country"),
    T: ("id", "name", "original_name", "kind", "year", "origin", "eidr", "parent_id"),
    O: ("title_id", "position", "party_id", "territory", "share"),
    A: ("ref", "status", "standing", "signed_on", "note"),
    AP: ("agreement_ref", "party_id"),
}
_BUFFERED = frozenset({"party.added", "title.added", "agreement.added"})


def _refs_text(refs: Mapping[str, str]) -> str | None:
    return json.dumps(dict(refs), sort_keys=True) if refs else None
