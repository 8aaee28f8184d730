"""A holding's hand-written JSON is what the json module writes of `as_json()`."""

from __future__ import annotations

import json
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from ledger.services.queries import Holding

texts = st.text()  # any text: quotes, backslashes, control characters, CJK, emoji
names = st.tuples() | st.lists(texts, max_size=4).map(tuple)
days = st.none() | st.dates(min_value=date(1900, 1, 1), max_value=date(2199, 12, 31))
holdings = st.builds(
    Holding,
    title=texts,
    rights=names,
    matching_rights=names,
    holder=texts,
    grantor=texts,
    exclusivity=st.sampled_from(("exclusive", "sole", "non-exclusive")),
    grant=texts,
    agreement=texts,
    status=st.sampled_from(("signed", "mou", "draft")),
    territory=texts,
    countries=names,
    start=days,
    end=days,
    start_tbd=st.none() | texts,
    chain=names,
)


@given(holdings)
def test_a_holdings_json_text_is_the_json_module_writing_of_as_json(held: Holding) -> None:
    assert held.json_text() == json.dumps(held.as_json(), ensure_ascii=False)


@given(holdings)
def test_a_holdings_json_text_reads_back_as_its_json_document(held: Holding) -> None:
    assert json.loads(held.json_text()) == held.as_json()
