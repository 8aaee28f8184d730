"""A start, an end or an `until` as a person or a file writes it (`read_bound`,
`read_end`), beside the lenient readers of what the journal already holds."""

from __future__ import annotations

from datetime import date

import pytest

from ledger.domain.dates import EventRef, Term
from ledger.domain.grants import HoldbackSpec, parse_bound, read_bound, read_end
from ledger.errors import BadInput


@pytest.mark.parametrize(
    ("text", "term"),
    [("10y", Term(years=10)), ("P10Y", Term(years=10)), ("18 months", Term(months=18))],
)
def test_an_end_written_as_a_term_is_that_term(text: str, term: Term) -> None:
    assert read_end(text) == term


@pytest.mark.parametrize(
    ("text", "end"),
    [
        ("2027-06-30", date(2027, 6, 30)),
        ("term:10y", Term(years=10)),
        ("theatrical+90d", EventRef("theatrical", Term(days=90))),
        ("", None),
        ("Open", None),
    ],
)
def test_an_end_is_otherwise_read_as_before(text: str, end: object) -> None:
    assert read_end(text) == end


@pytest.mark.parametrize("text", ["P10Y", "10y", "2 weeks"])
def test_a_start_or_until_written_as_a_term_is_bad_input_not_a_release_event(text: str) -> None:
    with pytest.raises(BadInput, match=f"'{text}' is a term, not a day"):
        read_bound(text)
    with pytest.raises(BadInput, match="is a term, not a day"):
        HoldbackSpec.parse(f"svod@CN@{text}")


def test_a_journal_entry_recorded_before_the_check_still_reads_as_it_was_recorded() -> None:
    assert parse_bound("p10y") == EventRef("p10y", Term())
    assert read_bound("est+30d") == EventRef("est", Term(days=30))
