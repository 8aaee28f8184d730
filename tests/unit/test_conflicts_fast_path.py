"""`plainly_clear` never says "clear" where the engine finds a conflict.

It is the shortcut a bulk import takes before `check_grant`; when it answers True the
engine is skipped, so that answer must mean exactly "check_grant returns nothing", and it
must refuse a malformed proposal the same way.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.conflicts import (
    GrantView,
    HoldbackView,
    OwnershipView,
    check_grant,
    plainly_clear,
)
from ledger.errors import BadInput
from ledger.services import views
from ledger.services.views import SPLIT_FROM, Nearby
from tests.unit.test_conflicts_property import COUNTRIES, grants, ledgers

Ledger = tuple[GrantView, list[GrantView], list[OwnershipView]]


@st.composite
def plain_ledgers(draw: st.DrawFn) -> Ledger:
    """Ledgers leaning towards the shortcut: the owner grants, few binding grants."""
    proposed, existing, owners = draw(ledgers())
    if draw(st.booleans()):
        owners = [OwnershipView("owner", frozenset(COUNTRIES)), *owners[1:]]
    if draw(st.booleans()):
        proposed = _plain(proposed, draw(st.sampled_from(["owner", "a"])), draw)
    if draw(st.booleans()):
        existing = [_plain(g, g.grantor, draw) for g in existing]
    return proposed, existing, owners


def _plain(grant: GrantView, grantor: str, draw: st.DrawFn) -> GrantView:
    grantee = grant.grantee
    exclusivity = draw(st.sampled_from(["non-exclusive", "non-exclusive", grant.exclusivity]))
    holdbacks = grant.holdbacks if draw(st.booleans()) else ()
    return GrantView(
        id=grant.id,
        agreement=grant.agreement,
        status=grant.status,
        grantor=grantor,
        grantee=grantee,
        rights=grant.rights,
        countries=grant.countries,
        languages=grant.languages,
        start=grant.start,
        end=grant.end,
        exclusivity=exclusivity,  # type: ignore[arg-type]
        holdbacks=holdbacks if grantor != grantee else (),
        recorded_seq=grant.recorded_seq,
    )


@st.composite
def sublicence_ledgers(draw: st.DrawFn) -> Ledger:
    """A licensee sublicenses inside (or around the edge of) a grant it received, beside
    whatever else the title holds: the sublicence shortcut's ground."""
    proposed, existing, owners = draw(ledgers())
    licensee = draw(st.sampled_from(["a", "b"]))
    proposed = replace(
        proposed, grantor=licensee, grantee=draw(st.sampled_from(["b", "c"])), holdbacks=()
    )
    widen = draw(st.booleans())
    received = replace(
        proposed,
        id="G-up",
        grantor=draw(st.sampled_from(["owner", "a"])),
        grantee=licensee,
        status=draw(st.sampled_from(["signed", "signed", "mou"])),
        exclusivity=draw(st.sampled_from(["exclusive", "sole", "non-exclusive"])),
        rights=proposed.rights | (frozenset({"r4"}) if widen else frozenset()),
        countries=proposed.countries if draw(st.booleans()) else frozenset(COUNTRIES),
        languages=draw(st.sampled_from([proposed.languages, None, frozenset({"ko"})])),
        start=draw(st.sampled_from([proposed.start, None, date(2030, 1, 5)])),
        end=draw(st.sampled_from([proposed.end, None, date(2030, 1, 10)])),
        holdbacks=(),
        recorded_seq=0,
    )
    if draw(st.booleans()):
        existing = [replace(g, holdbacks=()) for g in existing]
    return proposed, [received, *existing], owners


@settings(max_examples=400, deadline=None)
@given(st.one_of(ledgers(), plain_ledgers(), sublicence_ledgers()))
def test_plainly_clear_only_when_the_engine_finds_nothing(ledger: Ledger) -> None:
    proposed, existing, owners = ledger
    if plainly_clear(proposed, existing, owners):
        assert check_grant(proposed, existing, owners) == []


@settings(max_examples=100, deadline=None)
@given(grants("line 1", 99))
def test_a_grant_by_a_worldwide_owner_with_nothing_near_is_plainly_clear(
    proposed: GrantView,
) -> None:
    owners = [OwnershipView(proposed.grantor, frozenset(COUNTRIES))]
    assert plainly_clear(proposed, [], owners)
    assert check_grant(proposed, [], owners) == []


def test_the_shortcut_is_taken_for_non_exclusive_neighbours() -> None:
    owner = OwnershipView("owner", frozenset(COUNTRIES))
    first = _view("G1", "owner", "a", "non-exclusive")
    second = _view("line 1", "owner", "b", "non-exclusive")
    assert plainly_clear(second, [first], [owner])
    assert check_grant(second, [first], [owner]) == []


def test_the_shortcut_is_not_taken_where_a_grant_binds() -> None:
    owner = OwnershipView("owner", frozenset(COUNTRIES))
    first = _view("G1", "owner", "a", "exclusive")
    second = _view("line 1", "owner", "b", "non-exclusive")
    assert not plainly_clear(second, [first], [owner])
    assert check_grant(second, [first], [owner]) != []


def test_the_shortcut_is_not_taken_where_either_grant_holds_back() -> None:
    owner = OwnershipView("owner", frozenset(COUNTRIES))
    held = HoldbackView(frozenset({"r1"}), frozenset({"AA"}), date(2031, 6, 30))
    first = replace(_view("G1", "owner", "a", "non-exclusive"), holdbacks=(held,))
    second = _view("line 1", "owner", "b", "non-exclusive", start=date(2031, 1, 1))
    assert not plainly_clear(second, [first], [owner])
    assert check_grant(second, [first], [owner]) != []
    assert not plainly_clear(first, [second], [owner])
    assert check_grant(first, [second], [owner]) != []


def test_the_shortcut_is_not_taken_for_a_grantor_that_owns_only_part() -> None:
    owner = OwnershipView("owner", frozenset({"AA"}))
    proposed = _view("line 1", "owner", "a", "non-exclusive")
    assert not plainly_clear(proposed, [], [owner])
    assert check_grant(proposed, [], [owner]) != []


def test_the_shortcut_refuses_a_malformed_proposal_as_the_engine_does() -> None:
    owner = OwnershipView("owner", frozenset(COUNTRIES))
    backwards = _view("line 1", "owner", "a", "non-exclusive", start=date(2032, 1, 1))
    with pytest.raises(BadInput) as engine:
        check_grant(backwards, [], [owner])
    with pytest.raises(BadInput) as shortcut:
        plainly_clear(backwards, [], [owner])
    assert str(shortcut.value) == str(engine.value)


def _view(
    id: str, grantor: str, grantee: str, exclusivity: str, start: date = date(2030, 1, 1)
) -> GrantView:
    return GrantView(
        id=id,
        agreement=None,
        status="signed",
        grantor=grantor,
        grantee=grantee,
        rights=frozenset({"r1"}),
        countries=frozenset({"AA", "BB"}),
        languages=None,
        start=start,
        end=date(2031, 12, 31),
        exclusivity=exclusivity,  # type: ignore[arg-type]
    )


@st.composite
def owner_deals_beside_non_exclusive_grants(draw: st.DrawFn) -> Ledger:
    """The owner of the world licenses beside non-exclusive grants with no holdbacks."""
    proposed, existing, _ = draw(ledgers())
    proposed = replace(proposed, grantor="owner", holdbacks=())
    existing = [
        replace(g, exclusivity="non-exclusive", holdbacks=())
        if g.grantee != proposed.grantee
        else replace(g, holdbacks=())
        for g in existing
    ]
    return proposed, existing, [OwnershipView("owner", frozenset(COUNTRIES))]


@settings(max_examples=200, deadline=None)
@given(owner_deals_beside_non_exclusive_grants())
def test_the_shortcut_is_taken_and_right_beside_grants_that_bind_nobody(ledger: Ledger) -> None:
    proposed, existing, owners = ledger
    if proposed.exclusivity != "non-exclusive" and any(
        g.grantee != proposed.grantee for g in existing
    ):
        return
    assert plainly_clear(proposed, existing, owners)
    assert check_grant(proposed, existing, owners) == []


def test_the_shortcut_is_taken_for_a_sublicence_inside_what_its_grantor_received() -> None:
    owner = OwnershipView("owner", frozenset(COUNTRIES))
    received = _view("G1", "owner", "a", "exclusive")
    sublicence = replace(
        _view("line 1", "a", "b", "exclusive"),
        countries=frozenset({"AA"}),
        start=date(2030, 6, 1),
        end=date(2030, 12, 31),
    )
    assert plainly_clear(sublicence, [received], [owner])
    assert check_grant(sublicence, [received], [owner]) == []


def test_the_shortcut_is_not_taken_for_a_sublicence_beyond_what_was_received() -> None:
    owner = OwnershipView("owner", frozenset(COUNTRIES))
    received = _view("G1", "owner", "a", "exclusive")
    longer = replace(_view("line 1", "a", "b", "exclusive"), end=date(2032, 12, 31))
    weaker = _view("G1", "owner", "a", "non-exclusive")
    pending = replace(received, status="mou")
    sublicence = _view("line 1", "a", "b", "exclusive")
    for upstream, proposed in ((received, longer), (weaker, sublicence), (pending, sublicence)):
        assert not plainly_clear(proposed, [upstream], [owner])
        assert check_grant(proposed, [upstream], [owner]) != []


@settings(max_examples=300, deadline=None)
@given(st.one_of(ledgers(), plain_ledgers(), sublicence_ledgers()))
def test_the_shortcut_answers_the_same_from_the_few_neighbours_that_decide_it(
    ledger: Ledger,
) -> None:
    """`Nearby.deciding` leaves out the non-exclusive licences to others that a proposal
    binding nobody cannot be turned by: the shortcut must answer as from every neighbour."""
    proposed, existing, owners = ledger
    nearby = Nearby()
    for position, view in enumerate(existing):
        nearby.add(position, view)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(views, "SPLIT_FROM", 0)  # however few grants the ledger has
        deciding = [view for _, view in nearby.deciding(proposed)]
    around = [view for _, view in nearby.around(proposed)]
    assert {view.id for view in deciding} <= {view.id for view in around}
    assert plainly_clear(proposed, deciding, owners) == plainly_clear(proposed, around, owners)


def test_a_title_full_of_non_exclusive_licences_hands_a_non_exclusive_proposal_none_of_them() -> (
    None
):
    nearby = Nearby()
    nearby.add(0, _view("G0", "owner", "a", "exclusive"))
    nearby.add(1, _view("G1", "a", "b", "non-exclusive"))
    platforms = range(2, SPLIT_FROM + 2)
    for n in platforms:
        nearby.add(n, _view(f"G{n}", "owner", f"platform-{n}", "non-exclusive"))
    nearby.add(SPLIT_FROM + 2, _view("G-sole", "owner", "d", "sole"))
    proposed = _view("line 1", "b", "c", "non-exclusive")
    assert [view.id for _, view in nearby.deciding(proposed)] == ["G0", "G1", "G-sole"]
    # Kept up after its first use.
    nearby.add(SPLIT_FROM + 3, _view("G-late", "owner", "e", "exclusive"))
    deciding = [view.id for _, view in nearby.deciding(proposed)]
    assert deciding == ["G0", "G1", "G-sole", "G-late"]
    assert len(nearby.around(proposed)) == SPLIT_FROM + 4
    exclusive = replace(proposed, exclusivity="exclusive")
    assert len(nearby.deciding(exclusive)) == SPLIT_FROM + 4
