"""Tables: every row counts for the widths, however long the table. CSV: what the csv
module would write."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def _written_by_csv_module(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _written_by_emit_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    output.emit_csv(rows[1:], rows[0], out=out)
    return out.getvalue()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.lists(st.text(alphabet=st.sampled_from('ab ,"\n\r;-\x1f'), max_size=6), min_size=1),
        min_size=1,
        max_size=8,
    )
)
def test_csv_output_is_byte_for_byte_what_the_csv_module_writes(rows: list[list[str]]) -> None:
    # Commas, quotes, line breaks and lone empty cells: the quick path must know when a
    # cell needs quoting and leave such rows to the csv module.
    assert _written_by_emit_csv(rows) == _written_by_csv_module(rows)


def test_a_cell_with_a_comma_or_quote_is_quoted_and_reads_back_whole() -> None:
    rows = [["title", "note"], ["real", 'sole: "showbox", may still exploit'], ["", ""], [""]]
    text = _written_by_emit_csv(rows)
    assert list(csv.reader(io.StringIO(text))) == rows
    assert text.splitlines()[1] == 'real,"sole: ""showbox"", may still exploit"'
