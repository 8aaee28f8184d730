"""The journal writer's hand-written hash input escapes a payload as the json module does."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ledger.persistence.journal import _json_text_string, canonical_json

# Any payload: texts with quotes, backslashes, control characters, CJK, emoji, U+2028.
payloads = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(payloads)
def test_a_payload_is_written_into_its_entrys_hash_as_json_dumps_writes_it(payload: object) -> None:
    body = canonical_json(payload)
    assert _json_text_string(body) == json.encoder.encode_basestring(body)


def test_a_payload_full_of_characters_json_escapes_is_written_as_json_dumps_writes_it() -> None:
    body = canonical_json({"name": 'Say "미스\\고고"\n\t\x01\x1f\u2028 🎬', "id": 7})
    assert _json_text_string(body) == json.encoder.encode_basestring(body)
