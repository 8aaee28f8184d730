"""The conflict engine agrees with a brute-force reference that judges cell by cell.

The reference expands every grant into explicit cells (right leaf, country, day,
language) over a small universe and applies DOMAIN.md's rules one cell at a time, as read
in the "Readings of the spec" of `ledger.domain.conflicts`, with no region algebra. The language
"other" stands for every language but ko and zh; days outside the universe behave like
its edges, so clipping both sides to it loses nothing.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.conflicts import (
    STRENGTH,
    Conflict,
    Exclusivity,
    GrantView,
    HoldbackView,
    OwnershipView,
    Status,
    check_grant,
)
from ledger.services.views import Nearby

D0 = date(2030, 1, 1)
RIGHTS = ("r1", "r2", "r3", "r4")
COUNTRIES = ("AA", "BB", "CC", "DD")
LANGUAGES = ("ko", "zh", "other")
DAY_RANGE = range(-1, 22)  # grants live on days 0..19; one margin day each side
PARTIES = ("owner", "a", "b", "c")
EXCLUSIVITIES: tuple[Exclusivity, ...] = ("exclusive", "sole", "non-exclusive")
STATUSES: tuple[Status, ...] = ("draft", "mou", "signed", "signed")

Cell = tuple[str, str, int, str]
Key = tuple[str, str | None, str]


def day(n: int) -> date:
    return D0 + timedelta(days=n)


def to_n(d: date | None, open_value: int) -> int:
    return open_value if d is None else (d - D0).days


# --- the reference ------------------------------------------------------------------------


def covers(g: GrantView, cell: Cell) -> bool:
    right, country, n, lang = cell
    return (
        right in g.rights
        and country in g.countries
        and to_n(g.start, -(10**6)) <= n <= to_n(g.end, 10**6)
        and (g.languages is None or lang in g.languages)
    )


def held_back(g: GrantView, cell: Cell) -> bool:
    """The cell lies inside one of g's holdbacks (reservations carry none)."""
    if g.is_reservation:
        return False
    right, country, n, _ = cell
    for h in g.holdbacks:
        last = to_n(h.until, 10**6)
        if right in h.rights and country in h.countries and to_n(g.start, -(10**6)) <= n <= last:
            return True
    return False


def upstream(party: str, cell: Cell, grants: Sequence[GrantView]) -> set[str]:
    """`party` and every party above it in a chain of grants covering the cell."""
    found = {party}
    changed = True
    while changed:
        changed = False
        for g in grants:
            if (
                not g.is_reservation
                and g.grantee in found
                and g.grantor not in found
                and covers(g, cell)
            ):
                found.add(g.grantor)
                changed = True
    return found


def downstream(party: str, cell: Cell, grants: Sequence[GrantView]) -> set[str]:
    """`party` and every party holding through it on the cell."""
    found = {party}
    changed = True
    while changed:
        changed = False
        for g in grants:
            if (
                not g.is_reservation
                and g.grantor in found
                and g.grantee not in found
                and covers(g, cell)
            ):
                found.add(g.grantee)
                changed = True
    return found


def severity(g: GrantView) -> str:
    return "block" if g.status == "signed" else "warn"


def reservation_meets_sole(p: GrantView, g: GrantView) -> bool:
    if p.grantor != g.grantor:
        return False
    return (p.is_reservation and not g.is_reservation and g.exclusivity == "sole") or (
        g.is_reservation and not p.is_reservation and p.exclusivity == "sole"
    )


def above_exempt(lower: GrantView, upper: GrantView) -> bool:
    """Upper's grantee is lower's grantor or above it: does that spare lower?"""
    if not upper.is_reservation:
        return True
    # an upstream reservation spares only non-exclusive and sole licences further down;
    # one by lower's own grantor is left to the reservation-and-sole rule
    return upper.grantor != lower.grantor and lower.exclusivity != "exclusive"


def reference(
    p: GrantView, existing: Sequence[GrantView], owners: Sequence[OwnershipView]
) -> dict[Key, set[Cell]]:
    grants = list(existing)
    out: dict[Key, set[Cell]] = defaultdict(set)
    binding = {"exclusive", "sole"}
    need = STRENGTH[p.exclusivity]
    for cell in itertools.product(RIGHTS, COUNTRIES, DAY_RANGE, LANGUAGES):
        in_p = covers(p, cell)
        ups = upstream(p.grantor, cell, grants)
        downs = downstream(p.grantee, cell, grants)
        for g in grants:
            in_g = covers(g, cell)
            # 1. exclusive-overlap
            if (
                in_p
                and in_g
                and g.grantee != p.grantee
                and (g.exclusivity in binding or p.exclusivity in binding)
                and not reservation_meets_sole(p, g)
                and not (g.grantee in ups and above_exempt(p, g))
                and not (g.grantor in downs and above_exempt(g, p))
            ):
                out[("exclusive-overlap", g.id, severity(g))].add(cell)
            # 4. holdback, both directions
            if g.grantee != p.grantee:
                theirs = in_p and held_back(g, cell) and g.grantee not in ups
                ours = in_g and held_back(p, cell) and g.grantor not in downs
                if theirs or ours:
                    out[("holdback", g.id, severity(g))].add(cell)
        if not in_p:
            continue
        # 2 and 3: what P's grantor holds on this cell
        strengths = [3 for o in owners if o.party == p.grantor and cell[1] in o.countries]
        received = [
            g for g in grants if g.grantee == p.grantor and not g.is_reservation and covers(g, cell)
        ]
        strengths += [STRENGTH[g.exclusivity] for g in received if g.status == "signed"]
        if strengths and max(strengths) >= need:
            continue
        kind = "no-exclusive-rights-in" if strengths else "no-rights-in"
        rescuers = sorted(
            (g for g in received if g.status != "signed" and STRENGTH[g.exclusivity] >= need),
            key=lambda g: (g.recorded_seq, g.id),
        )
        if rescuers:
            out[(kind, rescuers[0].id, "warn")].add(cell)
        else:
            out[(kind, None, "block")].add(cell)
    return dict(out)


def engine(conflicts: Iterable[Conflict]) -> dict[Key, set[Cell]]:
    out: dict[Key, set[Cell]] = {}
    for c in conflicts:
        key = (c.kind, c.other.id if c.other else None, c.severity)
        assert key not in out, f"two conflicts for {key}"
        cells = {
            cell
            for cell in itertools.product(RIGHTS, COUNTRIES, DAY_RANGE, LANGUAGES)
            if c.region.contains(cell[0], cell[1], day(cell[2]), cell[3])
        }
        # the region may extend beyond the universe's days, never within it to nothing
        if cells:
            out[key] = cells
    return out


# --- random ledgers -----------------------------------------------------------------------

nonempty_rights = st.frozensets(st.sampled_from(RIGHTS), min_size=1, max_size=3)
nonempty_countries = st.frozensets(st.sampled_from(COUNTRIES), min_size=1, max_size=3)
languages = st.sampled_from([None, None, frozenset({"ko"}), frozenset({"zh"})])


@st.composite
def windows(draw: st.DrawFn) -> tuple[date | None, date | None]:
    start = draw(st.one_of(st.none(), st.integers(0, 19)))
    end = draw(st.one_of(st.none(), st.integers(start or 0, 19)))
    return (None if start is None else day(start), None if end is None else day(end))


@st.composite
def holdbacks(draw: st.DrawFn, start: date | None) -> tuple[HoldbackView, ...]:
    first = 0 if start is None else to_n(start, 0)
    return tuple(
        HoldbackView(
            draw(nonempty_rights),
            draw(nonempty_countries),
            draw(st.one_of(st.none(), st.integers(first, 19).map(day))),
        )
        for _ in range(draw(st.integers(0, 1)))
    )


@st.composite
def grants(draw: st.DrawFn, id: str, seq: int) -> GrantView:
    grantor = draw(st.sampled_from((*PARTIES, "owner")))
    grantee = draw(st.sampled_from(PARTIES))
    if grantor != grantee and draw(st.booleans()):
        grantee = draw(st.sampled_from(PARTIES[1:]))  # chains from the owner downward
    start, end = draw(windows())
    return GrantView(
        id=id,
        agreement=None,
        status=draw(st.sampled_from(STATUSES)),
        grantor=grantor,
        grantee=grantee,
        rights=draw(nonempty_rights),
        countries=draw(nonempty_countries),
        languages=draw(languages),
        start=start,
        end=end,
        exclusivity=draw(st.sampled_from(EXCLUSIVITIES)),
        holdbacks=draw(holdbacks(start)),
        recorded_seq=seq,
    )


@st.composite
def ledgers(
    draw: st.DrawFn,
) -> tuple[GrantView, list[GrantView], list[OwnershipView]]:
    owned = draw(st.frozensets(st.sampled_from(COUNTRIES), min_size=1))
    owners = [OwnershipView("owner", owned)]
    if owned != frozenset(COUNTRIES) and draw(st.booleans()):
        owners.append(OwnershipView("a", frozenset(COUNTRIES) - owned))
    count = draw(st.integers(0, 7))
    # recorded_seq drawn independently so that ties and reorderings are exercised
    existing = [draw(grants(f"G{n}", draw(st.integers(0, 3)))) for n in range(count)]
    proposed = draw(grants("line 1", 99))
    return proposed, existing, owners


@settings(max_examples=200, deadline=None)
@given(ledgers())
def test_the_engine_agrees_with_a_cell_by_cell_reference(
    ledger: tuple[GrantView, list[GrantView], list[OwnershipView]],
) -> None:
    proposed, existing, owners = ledger
    assert engine(check_grant(proposed, existing, owners)) == reference(proposed, existing, owners)


@settings(max_examples=100, deadline=None)
@given(ledgers())
def test_overlaps_and_holdbacks_are_the_same_whichever_grant_is_proposed(
    ledger: tuple[GrantView, list[GrantView], list[OwnershipView]],
) -> None:
    proposed, existing, owners = ledger
    if not existing:
        return
    other, rest = existing[0], existing[1:]
    forward = engine(check_grant(proposed, [other, *rest], owners))
    backward = engine(check_grant(other, [proposed, *rest], owners))

    def between(found: dict[Key, set[Cell]], other_id: str) -> dict[str, set[Cell]]:
        return {
            kind: cells
            for (kind, other_grant, _), cells in found.items()
            if kind in ("exclusive-overlap", "holdback") and other_grant == other_id
        }

    assert between(forward, other.id) == between(backward, proposed.id)


@settings(max_examples=200, deadline=None)
@given(ledgers())
def test_the_checks_pre_filter_never_drops_a_grant_the_engine_would_use(
    ledger: tuple[GrantView, list[GrantView], list[OwnershipView]],
) -> None:
    """`views.Nearby` hands the engine only a proposal's neighbours; the answer must not
    change (a dropped grant would be a conflict silently missed)."""
    proposed, existing, owners = ledger
    nearby = Nearby()
    for position, view in enumerate(existing):
        nearby.add(position, view)
    neighbours = [view for _, view in nearby.around(proposed)]
    assert check_grant(proposed, neighbours, owners) == check_grant(proposed, existing, owners)


def test_the_pre_filter_keeps_a_grant_that_shares_only_the_proposals_first_day() -> None:
    held = GrantView(
        id="G1",
        agreement="A",
        status="signed",
        grantor="owner",
        grantee="a",
        rights=frozenset({"r1"}),
        countries=frozenset({"AA"}),
        languages=None,
        start=day(0),
        end=day(5),
        exclusivity="exclusive",
    )
    proposed = GrantView(
        id="line 1",
        agreement="B",
        status="signed",
        grantor="owner",
        grantee="b",
        rights=frozenset({"r1"}),
        countries=frozenset({"AA"}),
        languages=None,
        start=day(5),
        end=day(9),
        exclusivity="exclusive",
    )
    nearby = Nearby()
    nearby.add(0, held)
    assert [view.id for _, view in nearby.around(proposed)] == ["G1"]
    [conflict] = check_grant(proposed, [held], [OwnershipView("owner", frozenset({"AA"}))])
    assert (conflict.slice.first, conflict.slice.last) == (day(5), day(5))
