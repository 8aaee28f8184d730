"""Named scenarios from the seed deal: Alibaba Pictures' sole distribution of *Real* in China."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date

import pytest

from ledger.domain.conflicts import (
    Conflict,
    GrantView,
    HoldbackView,
    OwnershipView,
    Slice,
    Status,
    check_grant,
    holdings,
)
from ledger.domain.scope import Box, LanguageSet
from ledger.errors import BadInput

DISTRIBUTION = frozenset(
    {
        *("theatrical", "non-theatrical", "other-theatrical", "festival"),
        *("inflight", "ships", "hotels", "educational"),
        *("video-rental", "video-sell-through", "other-video"),
        *("free-tv", "pay-tv", "pay-per-view"),
        *("est", "poest", "tvod", "nvod", "svod", "avod", "fvod"),
    }
)
SVOD = frozenset({"svod"})
CN = frozenset({"CN"})
GREATER_CHINA = frozenset({"CN", "HK", "MO", "TW"})
WORLD = frozenset({"KR", "CN", "HK", "MO", "TW", "JP", "US", "FR"})

PRODUCER = "real-producer"
ALIBABA = "alibaba-pictures"
OWNERS = (OwnershipView(PRODUCER, WORLD),)

_seq = iter(range(1, 10_000))


def grant(
    grantor: str,
    grantee: str,
    rights: frozenset[str] = SVOD,
    countries: frozenset[str] = CN,
    start: date | None = date(2018, 1, 1),
    end: date | None = date(2019, 12, 31),
    exclusivity: str = "exclusive",
    status: Status = "signed",
    id: str = "line 1",
    languages: frozenset[str] | None = None,
    holdbacks: tuple[HoldbackView, ...] = (),
) -> GrantView:
    assert exclusivity in ("exclusive", "sole", "non-exclusive")
    return GrantView(
        id=id,
        agreement=None,
        status=status,
        grantor=grantor,
        grantee=grantee,
        rights=rights,
        countries=countries,
        languages=languages,
        start=start,
        end=end,
        exclusivity=exclusivity,  # type: ignore[arg-type]
        holdbacks=holdbacks,
        recorded_seq=next(_seq),
    )


def alibaba_deal(status: Status = "signed") -> GrantView:
    """The seed deal: sole distribution in mainland China for ten years."""
    return grant(
        PRODUCER,
        ALIBABA,
        DISTRIBUTION,
        CN,
        date(2017, 1, 1),
        date(2026, 12, 31),
        "sole",
        status,
        id="G1",
    )


def kinds(conflicts: list[Conflict]) -> list[tuple[str, str, str | None]]:
    return [(c.kind, c.severity, c.other.id if c.other else None) for c in conflicts]


def test_an_exclusive_svod_licence_in_china_during_alibabas_term_blocks() -> None:
    proposed = grant(PRODUCER, "iqiyi")
    conflicts = check_grant(proposed, [alibaba_deal("signed")], OWNERS)
    assert kinds(conflicts) == [("exclusive-overlap", "block", "G1")]
    assert conflicts[0].slice == Slice(SVOD, CN, date(2018, 1, 1), date(2019, 12, 31))


def test_the_same_licence_only_warns_while_alibabas_deal_is_an_mou() -> None:
    conflicts = check_grant(grant(PRODUCER, "iqiyi"), [alibaba_deal("mou")], OWNERS)
    assert kinds(conflicts) == [("exclusive-overlap", "warn", "G1")]


def test_the_same_licence_in_hong_kong_is_clear() -> None:
    proposed = grant(PRODUCER, "iqiyi", countries=frozenset({"HK"}))
    assert check_grant(proposed, [alibaba_deal()], OWNERS) == []


def test_a_greater_china_licence_blocks_with_the_slice_showing_china_only() -> None:
    proposed = grant(PRODUCER, "iqiyi", countries=GREATER_CHINA)
    conflicts = check_grant(proposed, [alibaba_deal()], OWNERS)
    assert kinds(conflicts) == [("exclusive-overlap", "block", "G1")]
    assert conflicts[0].slice.countries == CN


def test_a_non_exclusive_licence_by_the_producer_still_collides_with_a_sole_licence() -> None:
    proposed = grant(PRODUCER, "iqiyi", exclusivity="non-exclusive")
    conflicts = check_grant(proposed, [alibaba_deal()], OWNERS)
    assert kinds(conflicts) == [("exclusive-overlap", "block", "G1")]


@pytest.mark.parametrize("exclusivity", ["non-exclusive", "sole"])
def test_alibaba_sublicensing_svod_in_china_non_exclusively_or_sole_is_clear(
    exclusivity: str,
) -> None:
    proposed = grant(ALIBABA, "youku", exclusivity=exclusivity)
    assert check_grant(proposed, [alibaba_deal()], OWNERS) == []


def test_alibaba_sublicensing_exclusively_has_no_exclusive_rights_in_china() -> None:
    proposed = grant(ALIBABA, "youku", exclusivity="exclusive")
    conflicts = check_grant(proposed, [alibaba_deal()], OWNERS)
    assert kinds(conflicts) == [("no-exclusive-rights-in", "block", None)]
    assert conflicts[0].slice == Slice(SVOD, CN, date(2018, 1, 1), date(2019, 12, 31))


def test_alibaba_licensing_in_japan_has_no_rights_there() -> None:
    proposed = grant(ALIBABA, "u-next", countries=frozenset({"CN", "JP"}), exclusivity="sole")
    conflicts = check_grant(proposed, [alibaba_deal()], OWNERS)
    assert kinds(conflicts) == [("no-rights-in", "block", None)]
    assert conflicts[0].slice.countries == {"JP"}


def test_alibaba_licensing_beyond_its_term_has_no_rights_after_it_ends() -> None:
    proposed = grant(ALIBABA, "youku", start=date(2026, 1, 1), end=None, exclusivity="sole")
    conflicts = check_grant(proposed, [alibaba_deal()], OWNERS)
    assert kinds(conflicts) == [("no-rights-in", "block", None)]
    assert conflicts[0].slice == Slice(SVOD, CN, date(2027, 1, 1), None)


def test_the_producers_reservation_is_untouched_by_a_sole_licence_in_either_order() -> None:
    reservation = grant(PRODUCER, PRODUCER, DISTRIBUTION, CN, None, None, "exclusive", id="R1")
    assert check_grant(reservation, [alibaba_deal()], OWNERS) == []
    assert check_grant(alibaba_deal(), [reservation], OWNERS) == []


def test_the_producers_reservation_is_blocked_by_an_exclusive_licence_in_either_order() -> None:
    reservation = grant(PRODUCER, PRODUCER, DISTRIBUTION, CN, None, None, "non-exclusive", id="R1")
    exclusive = replace(alibaba_deal(), exclusivity="exclusive")
    assert kinds(check_grant(reservation, [exclusive], OWNERS)) == [
        ("exclusive-overlap", "block", "G1")
    ]
    assert kinds(check_grant(exclusive, [reservation], OWNERS)) == [
        ("exclusive-overlap", "block", "R1")
    ]


@pytest.mark.parametrize("exclusivity", ["non-exclusive", "sole"])
def test_the_producers_reservation_leaves_alibabas_sole_or_non_exclusive_sublicence_clear(
    exclusivity: str,
) -> None:
    reservation = grant(PRODUCER, PRODUCER, DISTRIBUTION, CN, None, None, "exclusive", id="R1")
    proposed = grant(ALIBABA, "youku", exclusivity=exclusivity)
    assert check_grant(proposed, [reservation, alibaba_deal()], OWNERS) == []
    assert kinds(check_grant(reservation, [alibaba_deal(), proposed], OWNERS)) == []


def test_the_producers_reservation_collides_with_an_exclusive_sublicence_by_alibaba() -> None:
    reservation = grant(PRODUCER, PRODUCER, DISTRIBUTION, CN, None, None, "sole", id="R1")
    proposed = grant(ALIBABA, "youku", exclusivity="exclusive")
    assert kinds(check_grant(proposed, [reservation, alibaba_deal()], OWNERS)) == [
        ("exclusive-overlap", "block", "R1"),
        ("no-exclusive-rights-in", "block", None),
    ]


def test_a_window_ending_the_day_before_another_starts_does_not_collide() -> None:
    earlier = grant(PRODUCER, "iqiyi", start=date(2016, 1, 1), end=date(2016, 12, 31), id="G0")
    assert check_grant(alibaba_deal(), [earlier], OWNERS) == []
    touching = replace(earlier, end=date(2017, 1, 1))
    conflicts = check_grant(alibaba_deal(), [touching], OWNERS)
    assert kinds(conflicts) == [("exclusive-overlap", "block", "G0")]
    assert (conflicts[0].slice.first, conflicts[0].slice.last) == (date(2017, 1, 1),) * 2


def test_a_chain_of_sublicences_collides_with_none_of_the_grants_it_descends_from() -> None:
    a_sole = grant(PRODUCER, "a", id="G1", exclusivity="sole", start=None, end=None)
    b_exclusive = grant("a", "b", id="G2", exclusivity="exclusive", start=None, end=None)
    c_from_b = grant("b", "c", id="line 1", exclusivity="non-exclusive")
    assert check_grant(c_from_b, [a_sole, b_exclusive], OWNERS) == []
    # but the owner licensing the same scope to someone else collides with both
    d = grant(PRODUCER, "d", id="line 2", exclusivity="non-exclusive")
    assert kinds(check_grant(d, [a_sole, b_exclusive], OWNERS)) == [
        ("exclusive-overlap", "block", "G1"),
        ("exclusive-overlap", "block", "G2"),
    ]


def test_a_grant_does_not_collide_with_sublicences_already_made_below_its_grantee() -> None:
    b_from_a = grant("a", "b", id="G2", exclusivity="exclusive", start=None, end=None)
    to_a = grant(PRODUCER, "a", id="line 1", exclusivity="exclusive", start=None, end=None)
    assert check_grant(to_a, [b_from_a], OWNERS) == []


THEATRICAL_WITH_HOLDBACK = grant(
    PRODUCER,
    "wanda",
    frozenset({"theatrical"}),
    CN,
    date(2017, 6, 1),
    date(2022, 12, 31),
    "exclusive",
    id="G5",
    holdbacks=(HoldbackView(SVOD, CN, date(2018, 3, 31)),),
)


def test_an_svod_grant_inside_a_theatrical_holdback_blocks_until_the_holdback_ends() -> None:
    proposed = grant(PRODUCER, "iqiyi", start=date(2018, 1, 1), end=date(2018, 12, 31))
    conflicts = check_grant(proposed, [THEATRICAL_WITH_HOLDBACK], OWNERS)
    assert kinds(conflicts) == [("holdback", "block", "G5")]
    assert conflicts[0].slice == Slice(SVOD, CN, date(2018, 1, 1), date(2018, 3, 31))


def test_a_holdback_does_not_bind_its_own_grantee_or_its_sublicensees() -> None:
    to_wanda = grant(PRODUCER, "wanda", start=date(2018, 1, 1), end=date(2018, 12, 31))
    assert check_grant(to_wanda, [THEATRICAL_WITH_HOLDBACK], OWNERS) == []
    wanda_svod = grant(PRODUCER, "wanda", id="G6", start=None, end=None)
    below = grant("wanda", "wanda-online", start=date(2018, 1, 1), end=date(2018, 12, 31))
    assert check_grant(below, [THEATRICAL_WITH_HOLDBACK, wanda_svod], OWNERS) == []


def test_an_existing_grant_falling_inside_the_proposed_grants_holdback_is_reported() -> None:
    svod = grant(PRODUCER, "iqiyi", id="G7", status="mou", start=date(2018, 1, 1))
    conflicts = check_grant(replace(THEATRICAL_WITH_HOLDBACK, id="line 1"), [svod], OWNERS)
    assert kinds(conflicts) == [("holdback", "warn", "G7")]
    assert conflicts[0].slice.last == date(2018, 3, 31)


def test_a_holdback_before_its_grants_start_is_bad_input() -> None:
    bad = replace(THEATRICAL_WITH_HOLDBACK, holdbacks=(HoldbackView(SVOD, CN, date(2017, 1, 1)),))
    with pytest.raises(BadInput):
        check_grant(bad, [], OWNERS)


def test_a_holdback_with_an_unknown_release_date_binds_beyond_its_grants_end() -> None:
    indefinite = replace(THEATRICAL_WITH_HOLDBACK, holdbacks=(HoldbackView(SVOD, CN, None),))
    proposed = grant(PRODUCER, "iqiyi", start=date(2022, 1, 1), end=date(2023, 12, 31))
    conflicts = check_grant(proposed, [indefinite], OWNERS)
    assert conflicts[0].slice == Slice(SVOD, CN, date(2022, 1, 1), date(2023, 12, 31))


def test_a_terminated_grant_does_not_collide_from_the_next_day() -> None:
    terminated = replace(alibaba_deal(), end=date(2019, 6, 30))
    later = grant(PRODUCER, "iqiyi", start=date(2019, 7, 1), end=date(2020, 6, 30))
    assert check_grant(later, [terminated], OWNERS) == []
    overlapping = replace(later, start=date(2019, 6, 30))
    assert kinds(check_grant(overlapping, [terminated], OWNERS)) == [
        ("exclusive-overlap", "block", "G1")
    ]


def test_disjoint_language_sets_do_not_collide() -> None:
    korean = replace(alibaba_deal(), languages=frozenset({"ko"}))
    chinese = grant(PRODUCER, "iqiyi", languages=frozenset({"zh"}))
    assert check_grant(chinese, [korean], OWNERS) == []


def test_a_grant_with_no_language_set_collides_with_one_in_korean() -> None:
    korean = replace(alibaba_deal(), languages=frozenset({"ko"}))
    conflicts = check_grant(grant(PRODUCER, "iqiyi"), [korean], OWNERS)
    assert kinds(conflicts) == [("exclusive-overlap", "block", "G1")]
    assert conflicts[0].region.languages() == LanguageSet.of(["ko"])


def test_a_pending_received_grant_turns_no_rights_in_into_a_warning_naming_it() -> None:
    pending = alibaba_deal("mou")
    proposed = grant(ALIBABA, "youku", exclusivity="sole", countries=frozenset({"CN", "JP"}))
    conflicts = check_grant(proposed, [pending], OWNERS)
    assert kinds(conflicts) == [("no-rights-in", "block", None), ("no-rights-in", "warn", "G1")]
    assert conflicts[0].slice.countries == {"JP"}
    assert conflicts[1].slice.countries == {"CN"}


def test_a_pending_grant_too_weak_for_the_promise_leaves_the_block() -> None:
    pending = replace(alibaba_deal("mou"), exclusivity="non-exclusive")
    proposed = grant(ALIBABA, "youku", exclusivity="sole")
    assert kinds(check_grant(proposed, [pending], OWNERS)) == [("no-rights-in", "block", None)]


def test_a_pending_exclusive_grant_turns_no_exclusive_rights_in_into_a_warning() -> None:
    upgrade = replace(alibaba_deal("draft"), id="G2", exclusivity="exclusive", end=None)
    proposed = grant(ALIBABA, "youku", exclusivity="exclusive", end=date(2027, 12, 31))
    conflicts = check_grant(proposed, [alibaba_deal(), upgrade], OWNERS)
    assert kinds(conflicts) == [
        ("no-rights-in", "warn", "G2"),
        ("no-exclusive-rights-in", "warn", "G2"),
    ]
    assert conflicts[0].slice.first == date(2027, 1, 1)
    assert conflicts[1].slice.last == date(2026, 12, 31)


def test_of_several_pending_grants_the_earliest_recorded_is_named() -> None:
    first = alibaba_deal("mou")
    second = replace(alibaba_deal("draft"), id="G2", recorded_seq=first.recorded_seq + 1)
    proposed = grant(ALIBABA, "youku", exclusivity="sole")
    assert kinds(check_grant(proposed, [second, first], OWNERS)) == [("no-rights-in", "warn", "G1")]


def test_received_grants_join_across_abutting_windows_territories_and_rights() -> None:
    pieces = [
        grant(PRODUCER, ALIBABA, SVOD, CN, date(2018, 1, 1), date(2018, 6, 30), id="G1"),
        grant(PRODUCER, ALIBABA, SVOD, CN, date(2018, 7, 1), date(2019, 12, 31), id="G2"),
        grant(PRODUCER, ALIBABA, SVOD, frozenset({"HK"}), None, None, id="G3"),
    ]
    proposed = grant(ALIBABA, "youku", countries=frozenset({"CN", "HK"}))
    assert check_grant(proposed, pieces, OWNERS) == []


def test_conflicts_are_collected_and_sorted_by_kind_then_recorded_order() -> None:
    later = replace(alibaba_deal(), id="G9", grantee="tencent", recorded_seq=900)
    earlier = replace(alibaba_deal(), id="G2", recorded_seq=200)
    proposed = grant("someone", "iqiyi", holdbacks=(HoldbackView(DISTRIBUTION, CN, None),))
    conflicts = check_grant(proposed, [later, earlier], OWNERS)
    assert kinds(conflicts) == [
        ("exclusive-overlap", "block", "G2"),
        ("exclusive-overlap", "block", "G9"),
        ("no-rights-in", "block", None),
        ("holdback", "block", "G2"),
        ("holdback", "block", "G9"),
    ]


def test_a_recorded_grant_rechecked_against_a_ledger_holding_it_meets_only_itself() -> None:
    deal = alibaba_deal()
    assert check_grant(deal, [deal], OWNERS) == []


def test_a_proposed_window_ending_before_it_starts_is_bad_input() -> None:
    with pytest.raises(BadInput):
        check_grant(grant(PRODUCER, "x", start=date(2020, 1, 1), end=date(2019, 1, 1)), [], OWNERS)


def test_holdings_report_strength_for_an_avails_query() -> None:
    within = Box.of(SVOD, GREATER_CHINA, date(2018, 1, 1), date(2018, 12, 31))
    held = holdings(ALIBABA, [alibaba_deal()], OWNERS, within)
    assert held["exclusive"].is_empty
    assert held["sole"].countries() == CN
    assert held["non-exclusive"].equivalent(held["sole"])


def test_a_check_against_two_hundred_grants_is_fast() -> None:
    countries = sorted(WORLD)
    existing = [
        grant(
            PRODUCER if n % 3 else ALIBABA,
            f"party-{n % 17}",
            frozenset({sorted(DISTRIBUTION)[n % 21], sorted(DISTRIBUTION)[(n * 7) % 21]}),
            frozenset({countries[n % 8], countries[(n * 3) % 8]}),
            date(2017 + n % 9, 1 + n % 12, 1),
            date(2019 + n % 9, 1 + n % 12, 28),
            ("exclusive", "sole", "non-exclusive")[n % 3],
            ("signed", "mou", "draft")[n % 3],
            id=f"G{n}",
            languages=None if n % 4 else frozenset({"ko"}),
            holdbacks=(HoldbackView(SVOD, CN, date(2020 + n % 9, 1, 1)),) if n % 5 == 0 else (),
        )
        for n in range(200)
    ]
    existing.append(alibaba_deal())
    proposed = grant(ALIBABA, "youku", DISTRIBUTION, GREATER_CHINA, None, None, "exclusive")
    check_grant(proposed, existing, OWNERS)
    runs = 20
    started = time.perf_counter()
    for _ in range(runs):
        conflicts = check_grant(proposed, existing, OWNERS)
    elapsed = (time.perf_counter() - started) / runs
    assert conflicts
    assert elapsed < 0.05  # generous for slow CI; typically a few milliseconds


def test_an_unknown_status_on_an_existing_grant_is_bad_input() -> None:
    terminated = replace(alibaba_deal(), status="terminated")  # type: ignore[arg-type]
    with pytest.raises(BadInput):
        check_grant(grant(PRODUCER, "iqiyi"), [terminated], OWNERS)
