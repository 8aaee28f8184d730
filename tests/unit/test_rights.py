"""The rights (media) tree, its aliases and leaf-set operations (DOMAIN.md, "Rights")."""

from __future__ import annotations

import pytest

from ledger.domain.rights import (
    ALL_LEAVES,
    RIGHTS,
    RightsTree,
    parse_rights,
)
from ledger.errors import BadInput

# (node, its children) for every inner node, exactly as DOMAIN.md draws the tree.
EXPECTED_TREE = [
    ("all", ["distribution", "licensing", "e-commerce", "marketing", "derivative"]),
    ("distribution", ["cinema", "ancillary", "home-video", "television", "vod"]),
    ("cinema", ["theatrical", "non-theatrical", "other-theatrical", "festival"]),
    ("ancillary", ["inflight", "ships", "hotels", "educational"]),
    ("home-video", ["video-rental", "video-sell-through", "other-video"]),
    ("television", ["free-tv", "pay-tv", "pay-per-view"]),
    ("vod", ["est", "poest", "tvod", "nvod", "svod", "avod", "fvod"]),
    ("licensing", ["brand-licensing", "merchandising"]),
    ("marketing", ["advertising-placement", "promotion", "online-ticketing"]),
    ("derivative", ["remake", "format", "music", "multimedia", "multimedia-extract", "tv-extract"]),
]


def test_tree_is_exactly_the_one_domain_md_draws() -> None:
    assert RIGHTS.root == "all"
    inner = {node: tuple(children) for node, children in EXPECTED_TREE}
    assert {node: kids for node, kids in RIGHTS.children.items() if kids} == inner
    assert RIGHTS.children["e-commerce"] == ()


def test_all_leaves_are_the_leaves_of_the_root() -> None:
    assert ALL_LEAVES == RIGHTS.leaves_of("all") == RIGHTS.all_leaves
    assert len(ALL_LEAVES) == 4 + 4 + 3 + 3 + 7 + 2 + 1 + 3 + 6
    assert "e-commerce" in ALL_LEAVES  # a childless top-level node is its own leaf


def test_a_node_covers_every_node_below_it() -> None:
    assert RIGHTS.leaves_of("vod") == {"est", "poest", "tvod", "nvod", "svod", "avod", "fvod"}
    assert RIGHTS.leaves_of("svod") == {"svod"}
    assert RIGHTS.leaves_of("distribution") >= RIGHTS.leaves_of("television")


@pytest.mark.parametrize(
    ("name", "node"),
    [
        ("SVOD", "svod"),
        ("EST", "est"),
        ("POEST", "poest"),
        ("AVOD", "avod"),
        ("FVOD", "fvod"),
        ("PPV", "pay-per-view"),
        ("dvd", "home-video"),
        ("Blu-Ray", "home-video"),
        ("tv", "television"),
        ("sequel", "remake"),
        ("prequel", "remake"),
        ("merch", "merchandising"),
        ("ecommerce", "e-commerce"),
        ("E Commerce", "e-commerce"),
        ("Pay TV", "pay-tv"),
        ("free_tv", "free-tv"),
        ("theatrical release", "theatrical"),
        ("cinema", "cinema"),
    ],
)
def test_aliases_and_spellings_resolve_case_insensitively(name: str, node: str) -> None:
    assert RIGHTS.resolve(name) == node


def test_ema_vod_in_capitals_is_transactional_but_the_node_name_vod_is_the_whole_branch() -> None:
    assert RIGHTS.resolve("VOD") == "tvod"
    assert parse_rights("VOD") == {"tvod"}
    assert RIGHTS.resolve("vod") == "vod"
    assert parse_rights("Vod") == RIGHTS.leaves_of("vod")


def test_ema_license_type_vod_means_transactional_vod() -> None:
    assert RIGHTS.ema_license_types["VOD"] == "tvod"
    assert RIGHTS.ema_license_types["SVOD"] == "svod"
    assert "DVD" not in RIGHTS.ema_license_types


def test_unknown_right_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(BadInput, match=r"^unknown right 'svdo' \(did you mean svod\?\)$"):
        RIGHTS.resolve("svdo")
    with pytest.raises(BadInput, match=r"^unknown right 'zzz'$"):
        parse_rights("svod, zzz")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("svod", {"svod"}),
        ("svod,avod", {"svod", "avod"}),
        ("svod;pay-tv", {"svod", "pay-tv"}),
        (" svod ; pay tv ", {"svod", "pay-tv"}),
        (["svod", "dvd"], {"svod", "video-rental", "video-sell-through", "other-video"}),
    ],
)
def test_parse_rights_returns_the_leaf_set(text: str | list[str], expected: set[str]) -> None:
    assert parse_rights(text) == expected


def test_parse_rights_of_a_branch_is_all_its_leaves() -> None:
    assert parse_rights("distribution") == RIGHTS.leaves_of("distribution")


@pytest.mark.parametrize("text", ["", " , ", []])
def test_empty_rights_are_an_error(text: str | list[str]) -> None:
    with pytest.raises(BadInput, match="no rights given"):
        parse_rights(text)


def test_compact_gives_the_highest_complete_nodes_in_tree_order() -> None:
    assert RIGHTS.compact(ALL_LEAVES) == ("all",)
    assert RIGHTS.compact(parse_rights("svod;pay-tv")) == ("pay-tv", "svod")
    assert RIGHTS.compact(parse_rights("vod, television, merch")) == (
        "television",
        "vod",
        "merchandising",
    )
    assert RIGHTS.compact(ALL_LEAVES - {"svod"})[0] == "cinema"
    assert RIGHTS.compact(frozenset()) == ()


def test_compact_round_trips_through_parse() -> None:
    for text in ("svod,avod", "distribution", "vod;cinema;music", "all"):
        leaves = parse_rights(text)
        assert parse_rights(list(RIGHTS.compact(leaves))) == leaves


def test_compact_rejects_non_leaves() -> None:
    with pytest.raises(BadInput, match="not leaf rights: vod"):
        RIGHTS.compact(frozenset({"vod"}))


def test_render_draws_the_tree_with_aliases() -> None:
    text = RIGHTS.render()
    lines = text.splitlines()
    assert lines[0].startswith("all")
    assert "├── distribution" in lines[1]
    assert any(line.endswith("── poest") for line in lines)
    assert "home-video  (also: dvd, blu-ray" in text
    assert lines[-1].strip().startswith("└── tv-extract")
    assert len(lines) == len(RIGHTS.nodes)


def test_bad_tree_data_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown node"):
        RightsTree.from_data({"tree": {"all": {"svod": {}}}, "aliases": {"x": "nope"}})
    with pytest.raises(ValueError, match="duplicate"):
        RightsTree.from_data({"tree": {"all": {"a": {"b": {}}, "c": {"b": {}}}}})
