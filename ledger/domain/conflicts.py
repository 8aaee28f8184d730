"""The conflict engine: what a proposed grant collides with, before it is signed.

Pure functions over value snapshots. Rights are already expanded to right leaves and
territories to ISO country codes; the engine never touches the database or a parser.
`check_grant` runs each rule (a small named function returning ``list[Conflict]``) and
collects every conflict; conflicts are data, never exceptions.

The meaning is defined cell by cell, a cell being (right leaf, country, day, language);
the implementation works on `Region`s (unions of boxes), never on single days.

Readings of the spec
--------------------
Where DOMAIN.md leaves room, these are the readings implemented (and checked by the
brute-force reference in ``tests/unit/test_conflicts_property.py``):

1. Chains of title are followed through every existing non-reservation grant on the title,
   whatever its status or exclusivity, cell by cell: X is *upstream* of P's grantor on a
   cell when a chain of grants covering that cell runs from X down to P's grantor; Y holds
   *through* P's grantee on a cell when a chain covering that cell runs from P's grantee
   down to Y. A pending link still makes the chain (the pending grant itself is checked
   when it is signed); reservations never make a link (they give nobody anything).
2. Exemption (a), "G's grantee is P's grantor or upstream of it ... unless G is a
   reservation", is read as a lawyer would: a reservation by P's own grantor is left to
   rule (c) (it spares a sole P, not an exclusive one; a non-exclusive P collides only
   with a sole or exclusive reservation, by the main rule). A reservation by a party
   *strictly* upstream of P's grantor on the cell collides with P only where P is
   `exclusive`: the producer that reserved its own exploitation and licensed Alibaba
   `sole` in CN is not in conflict with Alibaba's sole or non-exclusive sublicence to
   Youku (a sole promise binds only its own grantor; an upstream party exploiting is not
   Alibaba licensing anyone), but an exclusive sublicence promises Youku that nobody
   exploits, which the reservation contradicts. Exemption (b) mirrors (a) with the roles
   swapped (P a reservation, G made by P's grantor's licensees or below), so that
   swapping which grant is proposed gives the same overlap cells; without the mirror, a
   reservation would be exempt from its own exclusive grant in one order only,
   contradicting "a reservation and an exclusive grant collide, in either order".
3. Exemption (c) (reservation vs `sole` grant from the same grantor) is about the two
   grants themselves; it holds whatever the reservation's own exclusivity field says.
4. Two grants to the same grantee never collide (they are one party's holdings).
5. `existing` is taken as given, matched by content, never by id (the lines of one deal
   may share a label). A grant never conflicts with itself anyway: same grantee, and a
   grant is no source of rights for its own grantor.
6. Holdbacks: a holdback of G runs from G's start to its `until`, in every language (the
   caller has already cut `until` short where G or its agreement was terminated: a
   grant's ordinary end does not end its holdbacks, a termination does), and binds P on
   the cells of P's scope inside it, except where P goes to G's grantee or P's grantor
   is G's grantee or holds through it on that cell (chain as in 1). Conversely for P's
   holdbacks binding G. A holdback binds regardless of
   anyone's exclusivity, reservations included (an owner that promised "no SVOD" is bound
   by its own promise). A reservation carries no holdbacks.
7. no-rights-in / no-exclusive-rights-in: the strength P needs is P's own exclusivity
   (non-exclusive needs any holding). Ownership and signed received grants count fully;
   a cell held by them at any strength is never `no-rights-in`, and a cell held by them at
   a weaker strength is `no-exclusive-rights-in`. On the remaining cells a pending
   received grant at the needed strength turns the block into a warning naming it
   (the earliest recorded takes the cells first); a pending grant at a weaker strength
   changes nothing. Existing reservations by the grantor are no source of rights.
8. An existing grant whose last day is before its first (terminated before it began)
   covers nothing, nor do its holdbacks. For the proposed grant such windows, and a
   holdback `until` before its start, are bad input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from ledger.domain.records import quick_init
from ledger.domain.scope import Box, LanguageSet, Region
from ledger.errors import BadInput

Exclusivity = Literal["exclusive", "sole", "non-exclusive"]
Status = Literal["draft", "mou", "signed"]
ConflictKind = Literal["exclusive-overlap", "no-rights-in", "no-exclusive-rights-in", "holdback"]
Severity = Literal["block", "warn"]

STRENGTH: dict[Exclusivity, int] = {"non-exclusive": 1, "sole": 2, "exclusive": 3}
"""Exclusive > sole > non-exclusive; ownership holds at exclusive strength."""

KIND_ORDER: tuple[ConflictKind, ...] = (
    "exclusive-overlap",
    "no-rights-in",
    "no-exclusive-rights-in",
    "holdback",
)
_BINDING: frozenset[Exclusivity] = frozenset({"exclusive", "sole"})
_STATUSES: frozenset[Status] = frozenset({"draft", "mou", "signed"})


@dataclass(frozen=True)
class HoldbackView:
    """No exploitation of `rights` in `countries` by others from the grant's start to `until`.

    `until` is the last day bound; None means indefinitely (its release event date is not
    known yet, so it is read conservatively).
    """

    rights: frozenset[str]
    countries: frozenset[str]
    until: date | None


@quick_init
@dataclass(frozen=True)
class GrantView:
    """A grant as the engine sees it: leaves, countries, a window already terminated."""

    id: str
    agreement: str | None
    status: Status
    grantor: str
    grantee: str
    rights: frozenset[str]
    countries: frozenset[str]
    languages: frozenset[str] | None
    start: date | None
    end: date | None
    exclusivity: Exclusivity
    holdbacks: tuple[HoldbackView, ...] = ()
    recorded_seq: int = 0

    @property
    def is_reservation(self) -> bool:
        return self.grantor == self.grantee


@dataclass(frozen=True)
class OwnershipView:
    """The owner holds every right, in every language, on every day, in these countries."""

    party: str
    countries: frozenset[str]


@dataclass(frozen=True)
class Slice:
    """The summary of a conflict region; None days are open."""

    rights: frozenset[str]
    countries: frozenset[str]
    first: date | None
    last: date | None

    @staticmethod
    def of(region: Region) -> Slice:
        first, last = region.first_day(), region.last_day()
        return Slice(
            region.rights(),
            region.countries(),
            None if first == date.min else first,
            None if last == date.max else last,
        )


@dataclass(frozen=True)
class Conflict:
    kind: ConflictKind
    severity: Severity
    other: GrantView | None
    slice: Slice
    region: Region


# --- scopes -------------------------------------------------------------------------------


def grant_box(grant: GrantView) -> Box:
    """The cells a grant covers (unknown start: open, conservatively)."""
    return Box(
        grant.rights,
        grant.countries,
        date.min if grant.start is None else grant.start,
        date.max if grant.end is None else grant.end,
        LanguageSet.of(grant.languages),
    )


def holdback_boxes(grant: GrantView) -> tuple[Box, ...]:
    """The cells a grant's holdbacks keep others out of; a reservation carries none."""
    if grant.is_reservation:
        return ()
    first = date.min if grant.start is None else grant.start
    boxes = (
        Box(
            holdback.rights,
            holdback.countries,
            first,
            date.max if holdback.until is None else holdback.until,
        )
        for holdback in grant.holdbacks
    )
    return tuple(box for box in boxes if not box.is_empty)


def holdings(
    party: str,
    existing: Iterable[GrantView],
    owners: Iterable[OwnershipView],
    within: Box,
    *,
    statuses: frozenset[Status] = frozenset({"signed"}),
) -> dict[Exclusivity, Region]:
    """The part of `within` that `party` holds, at least at each strength.

    Sources: ownership (exclusive strength) and received non-reservation grants whose
    status is in `statuses`. Suited to `avails` and `holders` queries.
    """
    by_strength: dict[Exclusivity, list[Box]] = {s: [] for s in STRENGTH}
    for owner in owners:
        if owner.party == party:
            by_strength["exclusive"].append(
                Box(within.rights, owner.countries, within.first, within.last, within.languages)
            )
    for grant in existing:
        if grant.grantee == party and not grant.is_reservation and grant.status in statuses:
            by_strength[grant.exclusivity].append(grant_box(grant))
    result: dict[Exclusivity, Region] = {}
    held = Region.EMPTY
    for strength in sorted(STRENGTH, key=STRENGTH.__getitem__, reverse=True):
        for box in by_strength[strength]:
            if (part := box.intersect(within)) is not None:
                held = held.union(part)
        result[strength] = held
    return result


# --- the snapshot a check works on --------------------------------------------------------


@dataclass(frozen=True)
class _Other:
    grant: GrantView
    box: Box
    holdbacks: Region


@dataclass(frozen=True)
class _Check:
    """Everything the rules need, computed once per proposed grant."""

    proposed: GrantView
    scope: Region
    holdbacks: Region
    others: tuple[_Other, ...]
    # party -> cells of P's scope where it is P's grantor or upstream of it
    upstream: dict[str, Region]
    # party -> cells (of P's scope and P's holdbacks) where it is P's grantee or below it
    downstream: dict[str, Region]
    # cells of P's scope its grantor holds (by ownership, signed grants) only more weakly
    # than P promises, and not at all
    held_weakly: Region
    not_held: Region
    # pending grants to P's grantor, earliest recorded first
    pending_received: tuple[_Other, ...]


def _validate(proposed: GrantView) -> None:
    if proposed.exclusivity not in STRENGTH:
        raise BadInput(f"{proposed.id}: unknown exclusivity {proposed.exclusivity!r}")
    if not proposed.rights:
        raise BadInput(f"{proposed.id}: a grant needs at least one right")
    if not proposed.countries:
        raise BadInput(f"{proposed.id}: a grant needs at least one territory")
    if proposed.languages is not None and not proposed.languages:
        raise BadInput(f"{proposed.id}: an empty language set covers nothing; omit it for all")
    if proposed.start is not None and proposed.end is not None and proposed.end < proposed.start:
        raise BadInput(f"{proposed.id}: the window ends ({proposed.end}) before it starts")
    for holdback in proposed.holdbacks:
        if (
            holdback.until is not None
            and proposed.start is not None
            and holdback.until < proposed.start
        ):
            raise BadInput(
                f"{proposed.id}: a holdback until {holdback.until} ends before the grant "
                f"starts ({proposed.start})"
            )


def _parties_between(
    start: str, wanted: set[str], links: dict[str, list[tuple[str, Box]]]
) -> set[str]:
    """The parties on some path of `links` from `start` to a wanted party."""
    forward = {start}
    stack = [start]
    while stack:
        for other, _ in links.get(stack.pop(), ()):
            if other not in forward:
                forward.add(other)
                stack.append(other)
    backward: dict[str, set[str]] = {}
    for party in forward:
        for other, _ in links.get(party, ()):
            backward.setdefault(other, set()).add(party)
    between = wanted & forward
    stack = list(between)
    while stack:
        for other in backward.get(stack.pop(), ()):
            if other not in between:
                between.add(other)
                stack.append(other)
    return between


def _follow_chain(
    start: str, seed: Region, links: dict[str, list[tuple[str, Box]]], wanted: set[str]
) -> dict[str, Region]:
    """Cells on which each party is reachable from `start` through links covering them.

    Only the parties on a path to a wanted one are followed: a chain of title can run
    through many grants, most of which no rule asks about.
    """
    between = _parties_between(start, wanted, links)
    reach: dict[str, Region] = {start: seed}
    frontier: dict[str, Region] = {start: seed}
    while frontier:
        party, delta = frontier.popitem()
        for other, box in links.get(party, ()):
            if other not in between:
                continue
            new = delta.intersect(box)
            if not new:
                continue
            known = reach.get(other)
            if known is not None:
                new = new.subtract(known)
                if not new:
                    continue
            reach[other] = new if known is None else known.union(new)
            waiting = frontier.get(other)
            frontier[other] = new if waiting is None else waiting.union(new)
    return reach


def _not_held(
    proposed: GrantView,
    scope: Region,
    signed: Sequence[_Other],
    owners: Sequence[OwnershipView],
) -> tuple[Region, Region]:
    """The cells of `scope` P's grantor holds only more weakly than P, and not at all.

    Computed by subtraction from the scope, which only shrinks, rather than by building
    the (possibly fragmented) union of everything the grantor holds.
    """
    need = STRENGTH[proposed.exclusivity]
    owned = [Box(proposed.rights, o.countries) for o in owners if o.party == proposed.grantor]
    strong = [o.box for o in signed if STRENGTH[o.grant.exclusivity] >= need]
    weak = [o.box for o in signed if STRENGTH[o.grant.exclusivity] < need]
    missing = scope.subtract(*owned, *strong)
    weakly: list[Box] = []
    for box in weak:
        part = missing.intersect(box)
        if part:
            weakly.extend(part.boxes)  # disjoint: each part leaves `missing` at once
            missing = missing.subtract(box)
    return Region(tuple(weakly)).coalesced(), missing


def _snapshot(
    proposed: GrantView, existing: Sequence[GrantView], owners: Sequence[OwnershipView]
) -> _Check:
    box = grant_box(proposed)
    scope = Region.of(box)
    own_holdbacks = Region.of(*holdback_boxes(proposed))
    reach = scope.union(own_holdbacks)

    others: list[_Other] = []
    reach_rights, reach_countries = reach.rights(), reach.countries()
    for grant in existing:
        # cheap rejection on plain sets before any box is built
        near = not grant.rights.isdisjoint(reach_rights) and not grant.countries.isdisjoint(
            reach_countries
        )
        if not near and not any(
            not h.rights.isdisjoint(proposed.rights)
            and not h.countries.isdisjoint(proposed.countries)
            for h in grant.holdbacks
        ):
            continue
        if grant.exclusivity not in STRENGTH or grant.status not in _STATUSES:
            raise BadInput(
                f"{grant.id}: unknown exclusivity or status "
                f"({grant.exclusivity!r}, {grant.status!r})"
            )
        other_box = grant_box(grant)
        if other_box.is_empty:
            continue
        other_holdbacks = holdback_boxes(grant)
        if (near and reach.overlaps(other_box)) or any(h.overlaps(box) for h in other_holdbacks):
            others.append(_Other(grant, other_box, Region.of(*other_holdbacks)))

    up_links: dict[str, list[tuple[str, Box]]] = {}
    down_links: dict[str, list[tuple[str, Box]]] = {}
    wanted_up: set[str] = set()
    wanted_down: set[str] = set()
    binding = proposed.exclusivity in _BINDING
    for other in others:
        grant = other.grant
        if not grant.is_reservation:
            up_links.setdefault(grant.grantee, []).append((grant.grantor, other.box))
            down_links.setdefault(grant.grantor, []).append((grant.grantee, other.box))
        if grant.grantee != proposed.grantee:
            colliding = binding or grant.exclusivity in _BINDING
            if colliding or other.holdbacks:
                wanted_up.add(grant.grantee)
            if colliding or own_holdbacks:
                wanted_down.add(grant.grantor)

    received = [
        other
        for other in others
        if other.grant.grantee == proposed.grantor
        and not other.grant.is_reservation
        and other.box.overlaps(box)
    ]
    signed = [other for other in received if other.grant.status == "signed"]
    pending = sorted(
        (other for other in received if other.grant.status != "signed"),
        key=lambda other: (other.grant.recorded_seq, other.grant.id),
    )
    held_weakly, not_held = _not_held(proposed, scope, signed, owners)
    return _Check(
        proposed=proposed,
        scope=scope,
        holdbacks=own_holdbacks,
        others=tuple(others),
        upstream=_follow_chain(proposed.grantor, scope, up_links, wanted_up),
        downstream=_follow_chain(proposed.grantee, reach, down_links, wanted_down),
        held_weakly=held_weakly,
        not_held=not_held,
        pending_received=tuple(pending),
    )


def _conflict(
    kind: ConflictKind, severity: Severity, other: GrantView | None, region: Region
) -> Conflict:
    return Conflict(kind, severity, other, Slice.of(region), region.coalesced())


def _severity(other: GrantView) -> Severity:
    return "block" if other.status == "signed" else "warn"


# --- the rules ----------------------------------------------------------------------------


def _reservation_meets_sole(a: GrantView, b: GrantView) -> bool:
    if a.grantor != b.grantor:
        return False
    return (a.is_reservation and not b.is_reservation and b.exclusivity == "sole") or (
        b.is_reservation and not a.is_reservation and a.exclusivity == "sole"
    )


def _above_exempt(lower: GrantView, upper: GrantView) -> bool:
    """Whether `upper`, where its grantee is `lower`'s grantor or above it, spares `lower`.

    A licence never collides with the grants its grantor's title descends from. A
    reservation up there is the upstream party's own exploitation: it spares a sole or
    non-exclusive licence further down (their promises bind only their own grantor), not an
    exclusive one (which promises that nobody exploits); a reservation by the licence's
    own grantor is left to the rule on reservations and sole grants.
    """
    if not upper.is_reservation:
        return True
    return upper.grantor != lower.grantor and lower.exclusivity != "exclusive"


def exclusive_overlaps(check: _Check) -> list[Conflict]:
    """Cells that an exclusive or sole grant promised to one grantee and P gives another."""
    proposed = check.proposed
    conflicts: list[Conflict] = []
    for other in check.others:
        grant = other.grant
        if grant.grantee == proposed.grantee:
            continue
        if grant.exclusivity not in _BINDING and proposed.exclusivity not in _BINDING:
            continue
        if _reservation_meets_sole(proposed, grant):
            continue
        region = check.scope.intersect(other.box)
        if region and grant.grantee in check.upstream and _above_exempt(proposed, grant):
            region = region.subtract(check.upstream[grant.grantee])
        if region and grant.grantor in check.downstream and _above_exempt(grant, proposed):
            region = region.subtract(check.downstream[grant.grantor])
        if region:
            conflicts.append(_conflict("exclusive-overlap", _severity(grant), grant, region))
    return conflicts


def _missing(kind: ConflictKind, missing: Region, check: _Check) -> list[Conflict]:
    """Blocks on `missing`, except where a pending grant would give the needed strength."""
    need = STRENGTH[check.proposed.exclusivity]
    conflicts: list[Conflict] = []
    for other in check.pending_received:
        if not missing:
            break
        if STRENGTH[other.grant.exclusivity] < need:
            continue
        rest = missing.subtract(other.box)
        if rest is not missing:
            covered = missing.intersect(other.box)
            conflicts.append(_conflict(kind, "warn", other.grant, covered))
            missing = rest
    if missing:
        conflicts.append(_conflict(kind, "block", None, missing))
    return conflicts


def missing_rights(check: _Check) -> list[Conflict]:
    """The part of P's scope its grantor does not hold at all."""
    return _missing("no-rights-in", check.not_held, check)


def missing_exclusive_rights(check: _Check) -> list[Conflict]:
    """The part of P's scope its grantor holds, but more weakly than P promises."""
    return _missing("no-exclusive-rights-in", check.held_weakly, check)


def holdback_breaches(check: _Check) -> list[Conflict]:
    """P inside a holdback of G, or G inside a holdback of P (one conflict per G)."""
    proposed = check.proposed
    conflicts: list[Conflict] = []
    for other in check.others:
        grant = other.grant
        if grant.grantee == proposed.grantee:
            continue
        region = Region.EMPTY
        if other.holdbacks:
            inside_theirs = check.scope.intersect(other.holdbacks)
            if inside_theirs and grant.grantee in check.upstream:
                inside_theirs = inside_theirs.subtract(check.upstream[grant.grantee])
            region = inside_theirs
        if check.holdbacks:
            inside_ours = check.holdbacks.intersect(other.box)
            if inside_ours and grant.grantor in check.downstream:
                inside_ours = inside_ours.subtract(check.downstream[grant.grantor])
            region = region.union(inside_ours)
        if region:
            conflicts.append(_conflict("holdback", _severity(grant), grant, region))
    return conflicts


def _order(conflict: Conflict) -> tuple[int, int, str, int]:
    other = conflict.other
    return (
        KIND_ORDER.index(conflict.kind),
        -1 if other is None else other.recorded_seq,
        "" if other is None else other.id,
        0 if conflict.severity == "block" else 1,
    )


def binds_others(proposed: GrantView) -> bool:
    """Whether every neighbour of `proposed` may decide `plainly_clear`: it is exclusive or
    sole, or it holds something back (a reservation's holdbacks are never drawn)."""
    return proposed.exclusivity in _BINDING or (
        bool(proposed.holdbacks) and not proposed.is_reservation
    )


def weighs_on_others(grant: GrantView) -> bool:
    """Whether `grant` may decide `plainly_clear` for a proposal that does not bind others
    (`binds_others` False) and is not made by its grantee: it is exclusive or sole, it
    holds something back, or it is malformed (which is left to the engine). Of the other
    grants only those to the proposal's grantor count: a non-exclusive licence to anyone
    else, without holdbacks, never turns the shortcut's answer."""
    return (
        grant.exclusivity in _BINDING
        or bool(grant.holdbacks)
        or grant.exclusivity not in STRENGTH
        or grant.status not in _STATUSES
    )


def plainly_clear(
    proposed: GrantView, existing: Sequence[GrantView], owners: Sequence[OwnershipView]
) -> bool:
    """Whether `check_grant(proposed, existing, owners)` is certainly empty, decided
    without the region algebra (False means only "ask the engine").

    True when P's grantor holds the whole of P at P's strength: it owns every country of
    P (so it holds every cell at exclusive strength), or one signed grant to it covers
    every cell of P at least as strongly (a sublicence inside what its licensor received:
    no `no-rights-in`, no `no-exclusive-rights-in`, whatever else it received) -- and no
    other grant can collide or bind: with other grants present P carries no holdbacks,
    none of them carries holdbacks, and each one goes to P's grantee, or to P's grantor
    (upstream of P, which a licence never collides with: it is not a reservation), or
    neither it nor P is exclusive or sole. Raises the same `BadInput` as `check_grant`
    for a malformed proposal; a malformed other grant is left to the engine.
    """
    _validate(proposed)
    owned = [o.countries for o in owners if o.party == proposed.grantor]
    held = bool(owned) and proposed.countries <= (
        owned[0] if len(owned) == 1 else frozenset().union(*owned)
    )
    if held and not existing:
        return True
    if proposed.holdbacks and not proposed.is_reservation:
        return False
    binding = proposed.exclusivity in _BINDING
    for grant in existing:
        if grant.exclusivity not in STRENGTH or grant.status not in _STATUSES:
            return False
        if grant.holdbacks:
            return False
        if grant.grantee == proposed.grantor and not grant.is_reservation:
            held = held or _holds_all(grant, proposed)
            continue
        if grant.grantee != proposed.grantee and (binding or grant.exclusivity in _BINDING):
            return False
    return held


def _holds_all(received: GrantView, proposed: GrantView) -> bool:
    """Whether `received`, a grant to P's grantor, gives it every cell of P (as `grant_box`
    draws both) at P's strength or more, for good (signed)."""
    if received.status != "signed":
        return False
    if STRENGTH[received.exclusivity] < STRENGTH[proposed.exclusivity]:
        return False
    if not (proposed.rights <= received.rights and proposed.countries <= received.countries):
        return False
    if received.languages is not None and (
        proposed.languages is None or not proposed.languages <= received.languages
    ):
        return False
    first = date.min if proposed.start is None else proposed.start
    last = date.max if proposed.end is None else proposed.end
    return (received.start is None or received.start <= first) and (
        received.end is None or last <= received.end
    )


def check_grant(
    proposed: GrantView, existing: Sequence[GrantView], owners: Sequence[OwnershipView]
) -> list[Conflict]:
    """Every conflict of `proposed` with the grants and ownership of its title.

    `existing` holds all grants on the title (reservations, every status, every window).
    At most one conflict per (kind, other grant, severity), sorted by kind (in
    `KIND_ORDER`), then by the other grant's recorded order.
    """
    _validate(proposed)
    check = _snapshot(proposed, existing, owners)
    conflicts = [
        *exclusive_overlaps(check),
        *missing_rights(check),
        *missing_exclusive_rights(check),
        *holdback_breaches(check),
    ]
    return sorted(conflicts, key=_order)
