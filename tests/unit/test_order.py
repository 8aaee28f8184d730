"""The order a file's rows are checked in: a title at a time, licences before sublicences."""

from __future__ import annotations

from ledger.io.order import grouped_by_title, in_check_order, licences_first
from ledger.io.rows import GrantRow


def row(n: int, title: str, grantor: str = "owner", grantee: str = "x", **extras: str) -> GrantRow:
    return GrantRow(
        n,
        f"A{n}",
        title,
        grantor,
        grantee,
        "svod",
        "CN",
        "2020-01-01",
        "",
        "exclusive",
        extras=extras,
    )


def numbers(rows: object) -> list[int]:
    return [r.row for r in rows]  # type: ignore[attr-defined]


def test_titles_that_come_back_are_not_grouped_and_contiguous_ones_are() -> None:
    assert grouped_by_title(["a", "a", "b", "b", "c"])
    assert not grouped_by_title(["a", "b", "a"])
    assert grouped_by_title([])


def test_titles_are_checked_in_order_of_first_mention_each_in_file_order() -> None:
    rows = [row(2, "b"), row(3, "a"), row(4, " b "), row(5, "c"), row(6, "a")]
    assert numbers(in_check_order(rows)) == [2, 4, 3, 6, 5]


def test_a_sublicence_listed_before_its_licence_is_checked_after_it() -> None:
    rows = [
        row(2, "t", "iqiyi", "tencent"),  # sublicence of the licence on row 4
        row(3, "t", "owner", "cj"),
        row(4, "t", "owner", "iqiyi"),
        row(5, "t", "tencent", "youku"),  # sublicence of row 2's sublicence
        row(6, "t", "owner", "owner"),  # a reservation is no link in a chain
    ]
    assert numbers(licences_first(rows)) == [3, 4, 6, 2, 5]


def test_a_file_without_sublicences_keeps_its_order() -> None:
    rows = [row(2, "t", "owner", "b"), row(3, "t", "owner", "a"), row(4, "t", "owner", "b")]
    assert numbers(licences_first(rows)) == [2, 3, 4]


def test_grantors_reached_only_through_a_cycle_come_last_in_file_order() -> None:
    rows = [row(2, "t", "a", "b"), row(3, "t", "b", "a"), row(4, "t", "owner", "c")]
    assert numbers(licences_first(rows)) == [4, 2, 3]
