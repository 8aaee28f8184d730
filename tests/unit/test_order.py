"""The order a file's rows are checked in: a title at a time, licences before sublicences."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import LedgerError
from ledger.io import order
from ledger.io.order import grouped_by_title, in_check_order, licences_first, sorted_on_disk
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


titles = st.lists(st.sampled_from(["real", "miss-granny", "parasite", "oldboy"]), max_size=40)


@settings(max_examples=30, deadline=None)
@given(titles)
def test_sorting_on_disk_gives_the_order_sorting_in_memory_gives(names: list[str]) -> None:
    rows = [row(n, title, ref=f"R{n}") if n % 3 else row(n, title) for n, title in enumerate(names)]
    first: dict[str, int] = {}
    for r in rows:
        first.setdefault(r.title, len(first))
    expected = sorted(rows, key=lambda r: first[r.title])
    on_disk = list(sorted_on_disk(iter(rows)))
    assert on_disk == expected
    assert [dict(r.extras) for r in on_disk] == [dict(r.extras) for r in expected]


def test_the_sort_leaves_nothing_behind_in_its_directory(tmp_path: Path) -> None:
    rows = [row(2, "b"), row(3, "a"), row(4, "b")]
    assert numbers(sorted_on_disk(iter(rows), tmp_path)) == [2, 4, 3]
    assert list(tmp_path.iterdir()) == []


def test_a_sort_that_fails_says_where_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As when TMPDIR fills up: SQLite refuses a write part way through.
    monkeypatch.setattr(order, "_stored", lambda _row, _number: ("one", "too", "many"))
    with pytest.raises(LedgerError, match=r"could not sort the file.s rows by title in .*TMPDIR"):
        list(sorted_on_disk(iter([row(2, "b"), row(3, "a")]), tmp_path))
    assert list(tmp_path.iterdir()) == []
