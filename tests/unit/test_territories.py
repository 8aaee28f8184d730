"""Territory expressions, groups and compact forms (DOMAIN.md, "Territories")."""

from __future__ import annotations

import re
import time

import pycountry
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.territories import (
    ALL_COUNTRIES,
    TerritoryExpr,
    compact,
    groups_containing,
    list_groups,
    parse_stored_territory,
    parse_territory,
)
from ledger.errors import BadInput

GROUPS = {gid: members for gid, _name, members in list_groups()}


def countries(text: str) -> frozenset[str]:
    return parse_territory(text).countries


# --- countries and groups ---------------------------------------------------------------


def test_all_countries_come_from_pycountry() -> None:
    assert {c.alpha_2 for c in pycountry.countries} == ALL_COUNTRIES
    assert {"CN", "HK", "MO", "TW", "KR", "KP"} <= ALL_COUNTRIES


def test_every_group_code_is_a_real_pycountry_code() -> None:
    for gid, members in GROUPS.items():
        assert members, gid
        assert members <= ALL_COUNTRIES, gid


def test_ww_is_every_country() -> None:
    assert GROUPS["WW"] == ALL_COUNTRIES


def test_greater_china_is_mainland_hong_kong_macao_and_taiwan() -> None:
    assert GROUPS["GREATER-CHINA"] == {"CN", "HK", "MO", "TW"}


def test_eu_has_27_members_and_eea_adds_iceland_liechtenstein_norway() -> None:
    assert len(GROUPS["EU"]) == 27
    assert "GB" not in GROUPS["EU"]
    assert GROUPS["EEA"] == GROUPS["EU"] | {"IS", "LI", "NO"}


M49_REGIONS = ["AFRICA", "AMERICAS", "ASIA", "EUROPE", "OCEANIA"]
M49_SUB_REGIONS = {
    "AFRICA": ["NORTHERN-AFRICA", "SUB-SAHARAN-AFRICA"],
    "AMERICAS": ["LATIN-AMERICA", "NORTHERN-AMERICA"],
    "ASIA": ["CENTRAL-ASIA", "EASTERN-ASIA", "SOUTH-EASTERN-ASIA", "SOUTHERN-ASIA", "WESTERN-ASIA"],
    "EUROPE": ["EASTERN-EUROPE", "NORTHERN-EUROPE", "SOUTHERN-EUROPE", "WESTERN-EUROPE"],
    "OCEANIA": ["AUSTRALIA-AND-NEW-ZEALAND", "MELANESIA", "MICRONESIA", "POLYNESIA"],
}


def _assert_partition(whole: frozenset[str], parts: list[frozenset[str]]) -> None:
    assert sum(len(part) for part in parts) == len(whole), "parts overlap"
    assert frozenset().union(*parts) == whole


def test_m49_regions_partition_every_country_except_antarctica() -> None:
    _assert_partition(ALL_COUNTRIES - {"AQ"}, [GROUPS[r] for r in M49_REGIONS])


def test_m49_sub_regions_partition_their_region() -> None:
    for region, subs in M49_SUB_REGIONS.items():
        _assert_partition(GROUPS[region], [GROUPS[s] for s in subs])


def test_m49_intermediate_regions_partition_their_sub_region() -> None:
    _assert_partition(
        GROUPS["SUB-SAHARAN-AFRICA"],
        [
            GROUPS[g]
            for g in ("EASTERN-AFRICA", "MIDDLE-AFRICA", "SOUTHERN-AFRICA", "WESTERN-AFRICA")
        ],
    )
    _assert_partition(
        GROUPS["LATIN-AMERICA"],
        [GROUPS[g] for g in ("CARIBBEAN", "CENTRAL-AMERICA", "SOUTH-AMERICA")],
    )


@pytest.mark.parametrize(
    ("country", "sub_region"),
    [
        ("CN", "EASTERN-ASIA"),
        ("TW", "EASTERN-ASIA"),  # not in M49; placed here by industry practice
        ("KR", "EASTERN-ASIA"),
        ("VN", "SOUTH-EASTERN-ASIA"),
        ("IN", "SOUTHERN-ASIA"),
        ("IR", "SOUTHERN-ASIA"),
        ("TR", "WESTERN-ASIA"),
        ("CY", "WESTERN-ASIA"),
        ("RU", "EASTERN-EUROPE"),
        ("GB", "NORTHERN-EUROPE"),
        ("MX", "LATIN-AMERICA"),
        ("US", "NORTHERN-AMERICA"),
        ("GL", "NORTHERN-AMERICA"),
        ("SD", "NORTHERN-AFRICA"),
        ("NG", "SUB-SAHARAN-AFRICA"),
        ("AU", "AUSTRALIA-AND-NEW-ZEALAND"),
    ],
)
def test_m49_puts_well_known_countries_in_the_right_sub_region(
    country: str, sub_region: str
) -> None:
    assert country in GROUPS[sub_region]


def test_antarctica_sits_in_no_region_but_in_ww() -> None:
    assert groups_containing("AQ") == {"AQ", "WW"}


def test_no_group_id_collides_with_a_country_code() -> None:
    alpha3 = {c.alpha_3 for c in pycountry.countries}
    assert not set(GROUPS) & (ALL_COUNTRIES | alpha3)


def test_ww_minus_hk_still_covers_mainland_china() -> None:
    assert "CN" in countries("WW -HK")
    assert "HK" not in countries("WW -HK")


def test_ww_minus_cn_minus_hk_reads_back_canonically() -> None:
    expr = parse_territory("WW -CN -HK")
    assert expr == TerritoryExpr(("WW",), ("CN", "HK"))
    assert expr.text == "WW -CN -HK"
    assert expr.countries == ALL_COUNTRIES - {"CN", "HK"}


def test_commas_and_spaces_both_separate_items() -> None:
    assert parse_territory("KR, JP").includes == ("KR", "JP")
    assert parse_territory("KR JP,CN").includes == ("KR", "JP", "CN")


def test_excluding_makes_everything_after_it_excluded() -> None:
    expr = parse_territory("ASIA excluding CN, JP")
    assert expr.text == "ASIA -CN -JP"
    assert expr.countries == GROUPS["ASIA"] - {"CN", "JP"}
    assert parse_territory("WW except EU").countries == ALL_COUNTRIES - GROUPS["EU"]


def test_a_lone_minus_excludes_the_next_item() -> None:
    assert parse_territory("WW - CN").text == "WW -CN"


def test_items_are_normalised_and_deduplicated_in_input_order() -> None:
    expr = parse_territory("jp, kr, JP -cn -CN")
    assert (expr.includes, expr.excludes) == (("JP", "KR"), ("CN",))


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("Eastern Asia", "EASTERN-ASIA"),
        ("eastern_asia", "EASTERN-ASIA"),
        ("greater_china", "GREATER-CHINA"),
        ("Greater China", "GREATER-CHINA"),
        ("world", "WW"),
        ("WORLDWIDE", "WW"),
        ("Latam", "LATIN-AMERICA"),
        ("Latin America and the Caribbean", "LATIN-AMERICA"),
    ],
)
def test_group_ids_are_case_insensitive_and_accept_spaces_underscores_and_aliases(
    text: str, group: str
) -> None:
    assert parse_territory(text).includes == (group,)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("China", "CN"),
        ("Hong Kong", "HK"),
        ("South Korea", "KR"),
        ("North Korea", "KP"),
        ("United States", "US"),
        ("United Kingdom", "GB"),
        ("Taiwan", "TW"),
        ("Macau", "MO"),
        ("Viet Nam", "VN"),
        ("Côte d'Ivoire", "CI"),
        ("cote d ivoire", "CI"),
        ("Timor-Leste", "TL"),
        ("CHN", "CN"),
        ("kor", "KR"),
    ],
)
def test_country_names_and_alpha3_codes_resolve_to_alpha2(text: str, code: str) -> None:
    assert parse_territory(text).includes == (code,)


def test_multi_word_names_mix_with_codes_and_exclusions() -> None:
    expr = parse_territory("Hong Kong, South Korea JP -United States")
    assert expr.includes == ("HK", "KR", "JP")
    assert expr.excludes == ("US",)
    assert parse_territory("WW excluding Hong Kong Macau").excludes == ("HK", "MO")


@pytest.mark.parametrize(
    ("text", "includes", "excludes"),
    [
        ("Korea, Republic of", ("KR",), ()),
        ("korea ,  republic  of", ("KR",), ()),
        ("Korea, Democratic People's Republic of, JP", ("KP", "JP"), ()),
        ("WW -Korea, Republic of -JP", ("WW",), ("KR", "JP")),
        ("ASIA excluding Taiwan, Province of China, CN", ("ASIA",), ("TW", "CN")),
        ("Virgin Islands, U.S., Virgin Islands, British", ("VI", "VG"), ()),
        ("Congo, The Democratic Republic of the", ("CD",), ()),
    ],
)
def test_iso_names_that_hold_a_comma_are_one_country_not_a_list(
    text: str, includes: tuple[str, ...], excludes: tuple[str, ...]
) -> None:
    expr = parse_territory(text)
    assert (expr.includes, expr.excludes) == (includes, excludes)


def test_a_list_whose_items_only_look_like_a_comma_name_stays_a_list() -> None:
    # "Moldova, Republic of" is MD's ISO name, but here "Republic of Korea" goes on.
    assert parse_territory("Moldova, Republic of Korea").includes == ("MD", "KR")
    with pytest.raises(BadInput, match="ambiguous territory 'Korea'"):
        parse_territory("Korea, Japan")


def test_ambiguous_name_is_an_error_listing_the_candidates() -> None:
    with pytest.raises(BadInput, match=r"ambiguous territory 'Korea': could be KP .* or KR "):
        parse_territory("Korea")
    with pytest.raises(BadInput, match=r"CD .* or CG"):
        parse_territory("WW -Congo")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CNN", r"^unknown territory 'CNN' \(did you mean CN\?\)$"),
        ("Chinaa", r"^unknown territory 'Chinaa' \(did you mean China\?\)$"),
        ("Hong Kongg", r"^unknown territory 'Hong Kongg' \(did you mean Hong Kong\?\)$"),
        ("ZZ", r"^unknown territory 'ZZ'$"),
    ],
)
def test_unknown_items_are_errors_with_a_suggestion(text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse_territory(text)


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("UK", "did you mean GB?"),
        ("EL", "did you mean GR?"),
        ("YU", "did you mean RS, ME"),
        ("AN", "did you mean CW, SX or BQ?"),
        ("CS", "Serbia and Montenegro"),
        ("BU", "did you mean MM?"),
        ("ZR", "did you mean CD?"),
    ],
)
def test_obsolete_and_wrong_codes_are_errors_with_a_suggestion(text: str, suggestion: str) -> None:
    with pytest.raises(BadInput, match=f"'{text}'.*{re.escape(suggestion)}"):
        parse_territory(f"KR {text}")


def test_error_messages_are_one_line() -> None:
    for text in ("CNN", "Korea", "YU", "CS", "", "CN -CN"):
        with pytest.raises(BadInput) as caught:
            parse_territory(text)
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize("text", ["", "   ", ",,"])
def test_empty_expression_is_an_error(text: str) -> None:
    with pytest.raises(BadInput):
        parse_territory(text)


@pytest.mark.parametrize("text", ["CN -CN", "-CN", "GREATER-CHINA excluding CN HK MO TW"])
def test_expression_covering_no_country_is_an_error(text: str) -> None:
    with pytest.raises(BadInput, match="covers no country"):
        parse_territory(text)


def test_groups_containing_gives_every_group_of_a_country_and_itself() -> None:
    found = groups_containing("cn")
    assert {"CN", "WW", "ASIA", "EASTERN-ASIA", "GREATER-CHINA"} == found
    assert "EU" in groups_containing("FR") and "EEA" in groups_containing("FR")


def test_groups_containing_matches_expression_semantics() -> None:
    """A grant touches X if an include is in groups_containing(X) and no exclude is."""
    for text in ("WW -HK", "ASIA excluding CN", "EU GB", "GREATER-CHINA -TW"):
        expr = parse_territory(text)
        for code in ("CN", "HK", "FR", "GB", "TW"):
            index = groups_containing(code)
            touches = bool(index & set(expr.includes)) and not index & set(expr.excludes)
            assert touches == (code in expr.countries), (text, code)


# --- compact ----------------------------------------------------------------------------


def test_compact_of_world_minus_two_is_ww_with_exclusions() -> None:
    assert compact(ALL_COUNTRIES - {"CN", "HK"}) == "WW -CN -HK"


def test_compact_of_a_few_countries_is_a_sorted_code_list() -> None:
    assert compact(frozenset({"KR", "JP"})) == "JP KR"


def test_compact_of_nothing_is_empty() -> None:
    assert compact(frozenset()) == ""


def test_compact_of_an_exact_group_is_that_group() -> None:
    assert compact(frozenset({"CN", "HK", "MO", "TW"})) == "GREATER-CHINA"
    assert compact(ALL_COUNTRIES) == "WW"
    assert compact(GROUPS["EASTERN-ASIA"]) == "EASTERN-ASIA"


def test_compact_uses_groups_plus_codes_and_group_exclusions() -> None:
    assert compact(GROUPS["EU"] | {"GB", "CH"}) == "EU CH GB"
    assert compact(GROUPS["ASIA"] - {"CN", "JP"}) == "ASIA -CN -JP"
    assert compact(ALL_COUNTRIES - GROUPS["ASIA"]) == "WW -ASIA"
    assert compact(GROUPS["ASIA"] | GROUPS["EUROPE"]) == "ASIA EUROPE"


def test_compact_prefers_plain_codes_on_a_tie() -> None:
    # "GREATER-CHINA -CN -HK" would also be three tokens... plain codes win ties.
    assert compact(frozenset({"MO", "TW"})) == "MO TW"


def test_compact_rejects_non_country_codes() -> None:
    with pytest.raises(BadInput):
        compact(frozenset({"XX"}))


def test_compact_is_fast_for_typical_sets() -> None:
    typical = [
        ALL_COUNTRIES - {"CN", "HK", "MO"},
        GROUPS["ASIA"] - {"CN"},
        GROUPS["EU"] | {"GB"},
        frozenset({"KR", "JP", "CN"}),
    ]
    from ledger.domain.territories import _compact

    started = time.perf_counter()
    for _ in range(25):
        for countries_ in typical:
            _compact.__wrapped__(countries_)
    per_call_ms = (time.perf_counter() - started) * 1000 / (25 * len(typical))
    assert per_call_ms < 1.0


SORTED_COUNTRIES = sorted(ALL_COUNTRIES)


@settings(max_examples=200, deadline=None)
@given(st.frozensets(st.sampled_from(SORTED_COUNTRIES), min_size=1))
def test_compact_round_trips_any_set_of_countries(wanted: frozenset[str]) -> None:
    assert parse_territory(compact(wanted)).countries == wanted


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(sorted(GROUPS)), min_size=1, max_size=3),
    st.frozensets(st.sampled_from(SORTED_COUNTRIES), max_size=6),
    st.frozensets(st.sampled_from(SORTED_COUNTRIES), max_size=6),
)
def test_compact_round_trips_groups_with_additions_and_removals(
    groups: list[str], added: frozenset[str], removed: frozenset[str]
) -> None:
    wanted = (frozenset().union(*(GROUPS[g] for g in groups)) | added) - removed
    if wanted:
        text = compact(wanted)
        assert parse_territory(text).countries == wanted
        assert len(text.split()) <= len(wanted)


ITEMS = st.sampled_from(sorted(ALL_COUNTRIES | set(GROUPS)))


@settings(max_examples=300, deadline=None)
@given(st.lists(ITEMS, min_size=1, max_size=4), st.lists(ITEMS, max_size=4))
def test_a_stored_expression_reads_back_as_the_full_parser_reads_it(
    includes: list[str], excludes: list[str]
) -> None:
    text = " ".join([*includes, *(f"-{item}" for item in excludes)])
    try:
        expected = parse_territory(text)
    except BadInput as error:
        with pytest.raises(BadInput, match=re.escape(str(error))):
            parse_stored_territory(text)
        return
    assert parse_stored_territory(text) == expected
    assert parse_stored_territory(expected.text).countries == expected.countries


def test_a_stored_expression_with_a_name_in_it_is_still_read() -> None:
    assert parse_stored_territory("Hong Kong -CN") == parse_territory("HK -CN")
