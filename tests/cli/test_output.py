"""Tables: every row counts for the widths, however long the table."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from cli import output


def _rows(count: int, wide_at: int) -> Iterator[tuple[str, str]]:
    for n in range(count):
        yield (f"G{n}", "a much wider cell than the others" if n == wide_at else "svod")


@pytest.mark.parametrize("held", [3, 10_000])
def test_a_table_is_aligned_to_its_widest_cell_wherever_that_row_comes(
    monkeypatch: pytest.MonkeyPatch, held: int
) -> None:
    # With 3 rows held in memory, the 12 rows are set aside and read back: the widest
    # cell, in the last batch, still sets its column's width.
    monkeypatch.setattr(output, "TABLE_IN_MEMORY", held)
    out = io.StringIO()
    output.table(_rows(12, wide_at=10), ("grant", "rights"), out=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "GRANT  RIGHTS"
    assert lines[1:] == [
        f"{grant:<5}  {rights}" for grant, rights in _rows(12, wide_at=10)
    ]  # the first column is as wide as its header, the second is last: no padding
    out = io.StringIO()
    output.table(((r, g) for g, r in _rows(12, wide_at=10)), ("rights", "grant"), out=out)
    widths = {line.index("G") for line in out.getvalue().splitlines()[1:]}
    assert widths == {len("a much wider cell than the others") + 2}


def test_an_empty_table_says_so() -> None:
    out = io.StringIO()
    output.table(iter(()), ("grant",), empty="no grants", out=out)
    assert out.getvalue() == "no grants\n"
