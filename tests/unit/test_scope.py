from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.scope import Box, LanguageSet, Region

D = date(2020, 1, 1)


def day(n: int) -> date:
    return D + timedelta(days=n)


def box(
    rights: str = "svod",
    countries: str = "CN",
    first: int | None = None,
    last: int | None = None,
    languages: LanguageSet | None = None,
) -> Box:
    return Box(
        frozenset(rights.split()),
        frozenset(countries.split()),
        date.min if first is None else day(first),
        date.max if last is None else day(last),
        LanguageSet.ALL if languages is None else languages,
    )


def ko_zh(*langs: str) -> LanguageSet:
    return LanguageSet(frozenset(langs))


def all_except(*langs: str) -> LanguageSet:
    return LanguageSet(frozenset(langs), all_except=True)


def test_all_languages_contains_every_language_and_an_empty_set_none() -> None:
    assert "ko" in LanguageSet.ALL
    assert "ko" not in LanguageSet.NONE
    assert LanguageSet.of(None).is_all
    assert LanguageSet.of(["ko"]) == ko_zh("ko")


def test_language_sets_intersect_across_finite_and_all_except() -> None:
    assert ko_zh("ko", "zh").intersect(all_except("ko")) == ko_zh("zh")
    assert all_except("ko").intersect(ko_zh("ko", "zh")) == ko_zh("zh")
    assert all_except("ko").intersect(all_except("zh")) == all_except("ko", "zh")
    assert ko_zh("ko").intersect(ko_zh("zh")).is_empty


def test_language_sets_union_and_subtract_stay_in_the_two_forms() -> None:
    assert ko_zh("ko").union(all_except("ko", "zh")) == all_except("zh")
    assert all_except("ko").union(all_except("zh")) == LanguageSet.ALL
    assert LanguageSet.ALL.subtract(ko_zh("ko")) == all_except("ko")
    assert all_except("ko").subtract(all_except("ko", "zh")) == ko_zh("zh")


def test_an_all_except_set_overlaps_anything_not_wholly_excluded() -> None:
    assert all_except("ko").overlaps(ko_zh("ko", "zh"))
    assert not all_except("ko", "zh").overlaps(ko_zh("ko", "zh"))
    assert all_except("ko").overlaps(all_except("zh"))


def test_boxes_overlap_only_when_every_dimension_overlaps() -> None:
    assert box(first=0, last=10).overlaps(box(first=10, last=20))
    assert not box(first=0, last=9).overlaps(box(first=10, last=20))
    assert not box(countries="CN").overlaps(box(countries="HK"))
    assert not box(languages=ko_zh("ko")).overlaps(box(languages=ko_zh("zh")))
    assert box(languages=ko_zh("ko")).overlaps(box())


def test_subtracting_a_window_in_the_middle_leaves_two_intervals() -> None:
    pieces = box(first=0, last=30).subtract(box(first=10, last=19))
    assert [(p.first, p.last) for p in pieces] == [(day(0), day(9)), (day(20), day(30))]


def test_subtracting_from_an_open_window_keeps_it_open() -> None:
    pieces = box().subtract(box(first=10, last=19))
    assert [(p.first, p.last) for p in pieces] == [(date.min, day(9)), (day(20), date.max)]
    assert box(first=0).subtract(box(first=5)) == [box(first=0, last=4)]


def test_subtraction_splits_rights_then_countries_then_days_then_languages() -> None:
    big = box("svod tvod", "CN HK", 0, 9, LanguageSet.ALL)
    pieces = big.subtract(box("svod", "CN", 5, 9, ko_zh("ko")))
    assert pieces == [
        box("tvod", "CN HK", 0, 9),
        box("svod", "HK", 0, 9),
        box("svod", "CN", 0, 4),
        box("svod", "CN", 5, 9, all_except("ko")),
    ]


def test_region_union_of_abutting_windows_is_one_box() -> None:
    region = Region.of(box(first=0, last=9), box(first=10, last=19))
    assert region.boxes == (box(first=0, last=19),)


def test_region_union_joins_territories_and_rights() -> None:
    region = Region.of(box("svod", "CN"), box("svod", "HK"), box("tvod", "CN HK"))
    assert region.boxes == (box("svod tvod", "CN HK"),)


def test_region_subtract_then_union_gives_back_the_same_cells() -> None:
    whole = Region.of(box("svod tvod", "CN HK", 0, 30))
    hole = box("svod", "CN", 10, 20, ko_zh("ko"))
    rest = whole.subtract(hole)
    assert not rest.contains("svod", "CN", day(15), "ko")
    assert rest.contains("svod", "CN", day(15), "zh")
    assert rest.union(hole).equivalent(whole)
    assert rest.union(hole).boxes == whole.boxes


def test_region_intersection_keeps_only_common_cells() -> None:
    a = Region.of(box("svod", "CN HK", 0, 10))
    b = Region.of(box("svod tvod", "CN", 5, 20), box("svod", "MO"))
    common = a.intersect(b)
    assert common.equivalent(box("svod", "CN", 5, 10))
    assert common.rights() == {"svod"}
    assert common.countries() == {"CN"}
    assert (common.first_day(), common.last_day()) == (day(5), day(10))


def test_an_empty_region_is_falsy_and_has_no_days() -> None:
    assert Region.EMPTY.is_empty
    assert not Region.of(box("svod", "CN", 5, 4))
    with pytest.raises(ValueError):
        Region.EMPTY.first_day()


def test_many_subtractions_do_not_fragment_a_region() -> None:
    region = Region.of(box("svod tvod est", "CN HK MO TW", 0, 400))
    for n in range(0, 400, 20):
        region = region.subtract(box("svod tvod est", "CN HK MO TW", n, n + 9))
    # one box per remaining 10-day gap, all rights and countries joined
    assert len(region.boxes) == 20


# --- property: the algebra agrees with sets of cells --------------------------------------

RIGHTS = ("a", "b", "c")
COUNTRIES = ("X", "Y", "Z")
LANGS = ("ko", "zh", "other")  # "other" stands for every language but ko and zh
DAYS = range(-1, 12)


def cells(region: Region | Box) -> set[tuple[str, str, int, str]]:
    r = region if isinstance(region, Region) else Region.of(region)
    return {
        (right, country, n, lang)
        for right, country, n, lang in itertools.product(RIGHTS, COUNTRIES, DAYS, LANGS)
        if r.contains(right, country, day(n), lang)
    }


subsets = st.frozensets(st.sampled_from(("ko", "zh")))
languages = st.one_of(
    st.builds(LanguageSet, subsets, st.just(False)),
    st.builds(LanguageSet, subsets, st.just(True)),
)
bound = st.one_of(st.none(), st.integers(0, 10))
boxes = st.builds(
    lambda r, c, f, length, lang: Box(
        r,
        c,
        date.min if f is None else day(f),
        date.max if length is None else day((f or 0) + length),
        lang,
    ),
    st.frozensets(st.sampled_from(RIGHTS), min_size=1),
    st.frozensets(st.sampled_from(COUNTRIES), min_size=1),
    bound,
    st.one_of(st.none(), st.integers(0, 8)),
    languages,
)
regions = st.lists(boxes, max_size=4).map(lambda bs: Region.of(*bs))


def disjoint(region: Region) -> bool:
    return all(not a.overlaps(b) for a, b in itertools.combinations(region.boxes, 2))


@settings(max_examples=300, deadline=None)
@given(regions, regions)
def test_region_operations_agree_with_sets_of_cells(a: Region, b: Region) -> None:
    assert cells(a.union(b)) == cells(a) | cells(b)
    assert cells(a.intersect(b)) == cells(a) & cells(b)
    assert cells(a.subtract(b)) == cells(a) - cells(b)
    for result in (a.union(b), a.intersect(b), a.subtract(b)):
        assert disjoint(result)
        assert all(not piece.is_empty for piece in result.boxes)


@settings(max_examples=60, deadline=None)
@given(st.lists(boxes, min_size=10, max_size=40), st.lists(boxes, max_size=12))
def test_fragmented_regions_stay_exact_and_disjoint(built: list[Box], taken: list[Box]) -> None:
    region = Region.EMPTY
    expected: set[tuple[str, str, int, str]] = set()
    for piece in built:
        region = region.union(piece)
        expected |= cells(piece)
    remaining = region.subtract(*taken)
    for piece in taken:
        expected -= cells(piece)
    assert cells(remaining) == expected
    assert disjoint(remaining)
    assert cells(remaining.coalesced()) == expected
