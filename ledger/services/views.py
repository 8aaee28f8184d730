"""Reading the state tables into the plain snapshots the conflict engine works on."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, Date, and_, bindparam, exists, or_, select

from ledger.domain.conflicts import (
    GrantView,
    HoldbackView,
    OwnershipView,
    binds_others,
    grant_box,
    holdback_boxes,
    weighs_on_others,
)
from ledger.domain.grants import (
    GRANT_PREFIX,
    EventDate,
    GrantSpec,
    resolve_last_day,
    resolve_start,
)
from ledger.domain.rights import RIGHTS, parse_rights
from ledger.domain.scope import Box
from ledger.domain.territories import parse_stored_territory
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
O = Ownership.__table__  # noqa: E741
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
    return parse_stored_territory(text).countries


@lru_cache(maxsize=8192)
def languages_of(text: str) -> frozenset[str]:
    """The languages of a stored `;`-separated language list."""
    return frozenset(text.split(";"))


def grant_label(grant_id: int) -> str:
    return f"{GRANT_PREFIX}{grant_id}"


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
    G.c.id,
    G.c.agreement_ref,
    G.c.title_id,
    G.c.grantor_id,
    G.c.grantee_id,
    G.c.rights,
    G.c.territory,
    G.c.languages,
    G.c.exclusivity,
    G.c.first_day,
    G.c.last_day,
    G.c.recorded_seq,
    A.c.standing,
)


def view_of_row(row: Any, holdbacks: Sequence[HoldbackView] = ()) -> GrantView:
    standing = str(row.standing)
    return GrantView(
        id=grant_label(int(row.id)),
        agreement=str(row.agreement_ref),
        status=standing if standing in ("draft", "mou", "signed") else "draft",  # type: ignore[arg-type]
        grantor=str(row.grantor_id),
        grantee=str(row.grantee_id),
        rights=rights_of(str(row.rights)),
        countries=countries_of(str(row.territory)),
        languages=languages_of(str(row.languages)) if row.languages is not None else None,
        start=row.first_day,
        end=row.last_day,
        exclusivity=row.exclusivity,
        holdbacks=tuple(holdbacks),
        recorded_seq=int(row.recorded_seq),
    )


_HOLDBACKS_OF_TITLE = (
    select(H.c.grant_id, H.c.rights, H.c.territory, H.c.last_day)
    .join(G, G.c.id == H.c.grant_id)
    .where(G.c.title_id == bindparam("title"))
    .order_by(H.c.grant_id, H.c.position)
)
_GRANTS_OF_TITLE = (
    select(*GRANT_COLUMNS)
    .join(A, A.c.ref == G.c.agreement_ref)
    .where(G.c.title_id == bindparam("title"))
    .order_by(G.c.recorded_seq)
)
_GRANTS_OF_TITLE_MEETING = _GRANTS_OF_TITLE.where(
    or_(
        and_(
            or_(G.c.first_day.is_(None), G.c.first_day <= bindparam("last", type_=Date)),
            or_(G.c.last_day.is_(None), G.c.last_day >= bindparam("first", type_=Date)),
        ),
        exists().where(H.c.grant_id == G.c.id),
    )
)
"""`_GRANTS_OF_TITLE` in force on some day from `first` to `last`, or holding back."""


def grant_views(conn: Connection, title: str) -> list[GrantView]:
    """Every grant of `title`, in recorded order, with its holdbacks."""
    holdbacks: dict[int, list[HoldbackView]] = {}
    for h in conn.execute(_HOLDBACKS_OF_TITLE, {"title": title}):
        holdbacks.setdefault(h.grant_id, []).append(
            HoldbackView(rights_of(h.rights), countries_of(h.territory), h.last_day)
        )
    rows = conn.execute(_GRANTS_OF_TITLE, {"title": title})
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
    events = events if isinstance(events, list) else list(events)
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
        )
        if spec.holdbacks
        else (),
        recorded_seq=seq,
    )


class Nearby:
    """Grants of one title, indexed by their rights, so a proposal meets only its neighbours.

    `around(proposed)` gives, tagged with the position each grant was added at, every
    grant whose rights, countries and days overlap the proposal's reach (its scope and its
    holdbacks, as `grant_box` and `holdback_boxes` draw them), and every grant that carries
    holdbacks: a superset of the grants the engine's `_snapshot` keeps for `proposed`
    (the others never enter its rules, chains of title included), so its answer is the
    same, while a title with hundreds of grants in other media, places or years costs a
    few set tests. Keep the two in step.

    `deciding(proposed)` gives fewer, enough for `plainly_clear`: for a proposal that
    binds nobody (`binds_others`), the neighbours that weigh on others
    (`weighs_on_others`) and those granted to its grantor, not the non-exclusive licences
    to anyone else (a title with thousands of non-exclusive festival or AVOD licences
    would otherwise hand every such proposal all of them). Its index is made at the
    first call on a title of `SPLIT_FROM` grants or more, and kept up from then on;
    below that, `around` is as quick.
    """

    def __init__(self) -> None:
        self._by_rights: dict[frozenset[str], list[Placed]] = {}
        self._with_holdbacks: list[Placed] = []
        self._split: _Split | None = None
        self.size = 0

    def add(self, position: int, view: GrantView) -> None:
        self.size += 1
        placed = (position, view)
        if view.holdbacks:
            self._with_holdbacks.append(placed)
            return
        self._by_rights.setdefault(view.rights, []).append(placed)
        if self._split is not None:
            self._split.add(placed)

    def around(self, proposed: GrantView) -> list[Placed]:
        reach = _Reach.of(proposed)
        return reach.gathered(self._with_holdbacks, self._by_rights)

    def deciding(self, proposed: GrantView) -> list[Placed]:
        if self.size < SPLIT_FROM or binds_others(proposed):
            return self.around(proposed)
        split = self._split
        if split is None:
            split = self._split = _Split()
            for group in self._by_rights.values():
                for placed in group:
                    split.add(placed)
        reach = _Reach.of(proposed)
        received = split.light_to.get(proposed.grantor, ())
        return reach.gathered(self._with_holdbacks, split.weighty, received)


SPLIT_FROM = 256
"""Grants from which `Nearby.deciding` keeps an index of its own."""
Placed = tuple[int, GrantView]
"""A grant and the position it was added at."""


class _Split:
    """`Nearby`'s grants without holdbacks, parted for `Nearby.deciding`."""

    def __init__(self) -> None:
        self.weighty: dict[frozenset[str], list[Placed]] = {}
        """Those that weigh on others, by rights."""
        self.light_to: dict[str, list[Placed]] = {}
        """The others, by grantee."""

    def add(self, placed: Placed) -> None:
        view = placed[1]
        if weighs_on_others(view):
            self.weighty.setdefault(view.rights, []).append(placed)
        else:
            self.light_to.setdefault(view.grantee, []).append(placed)


class _Reach(NamedTuple):
    """A proposal's reach as the engine draws it: its scope and its holdbacks. (A named
    tuple: one is made for every line checked.)"""

    rights: frozenset[str]
    countries: frozenset[str]
    first: date
    last: date

    @classmethod
    def of(cls, proposed: GrantView) -> _Reach:
        if proposed.holdbacks and not proposed.is_reservation:
            return cls.spanning([grant_box(proposed), *holdback_boxes(proposed)])
        # No holdback boxes (a reservation carries none): the reach is `grant_box`.
        return cls(
            proposed.rights,
            proposed.countries,
            date.min if proposed.start is None else proposed.start,
            date.max if proposed.end is None else proposed.end,
        )

    @classmethod
    def joint(cls, proposals: Sequence[GrantView]) -> _Reach:
        """The reach of all of `proposals` at once."""
        return cls.spanning([cls.of(proposed) for proposed in proposals])

    @classmethod
    def spanning(cls, parts: Sequence[_Reach | Box]) -> _Reach:
        """The least reach that holds every one of `parts` (boxes or reaches)."""
        return cls(
            frozenset().union(*(part.rights for part in parts)),
            frozenset().union(*(part.countries for part in parts)),
            min(part.first for part in parts),
            max(part.last for part in parts),
        )

    def meets_row(self, row: Any) -> bool:
        """Whether the grant a `_GRANTS_OF_TITLE` row makes (`view_of_row`) would pass
        `gathered`, its rights included, judged on the row (the same tests, kept inline
        there: it runs for every neighbour of every line)."""
        if rights_of(str(row.rights)).isdisjoint(self.rights):
            return False
        if countries_of(str(row.territory)).isdisjoint(self.countries):
            return False
        start, end = row.first_day, row.last_day
        return (start is None or start <= self.last) and (end is None or end >= self.first)

    def gathered(
        self,
        always: list[Placed],
        by_rights: dict[frozenset[str], list[Placed]],
        others: Sequence[Placed] = (),
    ) -> list[Placed]:
        """`always`, then the grants of `by_rights` (grouped by their rights) and of
        `others` that meet the reach, in the order they were added."""
        rights, countries, first, last = self
        found = list(always)
        groups = [group for held, group in by_rights.items() if not held.isdisjoint(rights)]
        if others:
            groups.append([placed for placed in others if not placed[1].rights.isdisjoint(rights)])
        for group in groups:
            for placed in group:
                view = placed[1]
                if view.countries.isdisjoint(countries):
                    continue
                if view.start is not None and view.start > last:
                    continue
                if view.end is not None and view.end < first:
                    continue
                found.append(placed)
        if len(found) > 1:
            found.sort(key=_position)
        return found


def _position(item: tuple[int, GrantView]) -> int:
    return item[0]


PARENT_POSITION = 2**39
"""Positions of a parent's derivative grants: after the title's own recorded grants."""
NEW_POSITION = 2**40
"""Positions of a deal's own lines: after every recorded grant."""
LINE_SEQ = 10**12
"""`recorded_seq` of a deal's line `i`, `LINE_SEQ + i`: after every journal entry, in
line order (the engine orders grants by it when it must pick the earliest recorded)."""


@dataclass
class TitleScope:
    """What proposals on one title are checked against: its owners and release events,
    its grants (and its parent's derivative grants), and the deal's lines before."""

    owners: list[OwnershipView]
    events: list[EventDate]
    own: Nearby = field(default_factory=Nearby)
    parent: Nearby | None = None

    @classmethod
    def fresh(cls, owner: str) -> TitleScope:
        """A title created by the deal being checked: `owner`'s worldwide, no grant yet,
        no release event, no parent."""
        return cls([OwnershipView(owner, countries_of("WW"))], [])

    @classmethod
    def load(
        cls,
        conn: Connection,
        title: str,
        exclude: str | None = None,
        first_new: int | None = None,
        for_specs: Sequence[GrantSpec] = (),
    ) -> TitleScope:
        """The title as recorded. With `first_new`, grants from that id on are lines of
        the deal being imported (already written) and are left out: lines meet the
        lines of their own title, not the parent's.

        With `for_specs`, only the grants that may meet one of them: those in the reach
        of any (`Nearby.around` would pass them) and those that hold back. A title with
        thousands of grants in other media, places or years then costs a check the
        reading of their rows, not the making of their views."""
        scope = cls(owners_of(conn, title), title_events(conn, title))
        reach = (
            _Reach.joint([proposed_view(spec, scope.events, "") for spec in for_specs])
            if for_specs
            else None
        )
        for position, view in enumerate(_recorded(conn, title, first_new, reach)):
            if view.id != exclude:
                scope.own.add(position, view)
        parent = parent_of(conn, title)
        if parent is not None:
            scope.parent = Nearby()
            views = _recorded(conn, parent, first_new, reach)
            for position, view in enumerate(views, start=PARENT_POSITION):
                shared = view.rights & DERIVATIVE
                if shared and view.id != exclude:
                    scope.parent.add(position, replace(view, rights=shared))
        return scope

    def around(self, proposed: GrantView) -> list[GrantView]:
        """The grants and earlier lines `proposed` might touch, in the engine's order."""
        return self._views(proposed, Nearby.around)

    def deciding(self, proposed: GrantView) -> list[GrantView]:
        """Of `around(proposed)`, those `plainly_clear` needs (see `Nearby.deciding`)."""
        return self._views(proposed, Nearby.deciding)

    def _views(
        self, proposed: GrantView, near: Callable[[Nearby, GrantView], list[Placed]]
    ) -> list[GrantView]:
        found = near(self.own, proposed)
        if self.parent is not None and not proposed.rights.isdisjoint(DERIVATIVE):
            found += near(self.parent, proposed)
            found.sort(key=_position)
        return [view for _, view in found]

    def add_line(self, index: int, proposed: GrantView) -> None:
        self.own.add(NEW_POSITION + index, proposed)


def _recorded(
    conn: Connection, title: str, first_new: int | None, reach: _Reach | None = None
) -> list[GrantView]:
    """The recorded grants of `title`, but for those from id `first_new` on and, with
    `reach`, those out of it that hold nothing back."""
    holdbacks: dict[int, list[HoldbackView]] = {}
    for h in conn.execute(_HOLDBACKS_OF_TITLE, {"title": title}):
        holdbacks.setdefault(h.grant_id, []).append(
            HoldbackView(rights_of(h.rights), countries_of(h.territory), h.last_day)
        )
    if reach is None:
        rows = conn.execute(_GRANTS_OF_TITLE, {"title": title})
    else:
        days = {"first": reach.first, "last": reach.last}
        rows = conn.execute(_GRANTS_OF_TITLE_MEETING, {"title": title, **days})
    views = []
    for row in rows:
        grant_id = int(row.id)
        if first_new is not None and grant_id >= first_new:
            continue
        held_back = holdbacks.get(grant_id, ())
        if reach is not None and not held_back and not reach.meets_row(row):
            continue
        views.append(view_of_row(row, held_back))
    return views
