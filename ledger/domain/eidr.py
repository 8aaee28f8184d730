"""EIDR content identifiers: format and ISO 7064 Mod 37,36 check character.

This module owns what counts as a valid EIDR id for a title
(``10.5240/XXXX-XXXX-XXXX-XXXX-XXXX-C``): five groups of four hex digits and a check
character from 0-9A-Z computed over the 20 hex digits.
"""

from __future__ import annotations

import re

from ledger.errors import BadInput

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PREFIX = "10.5240/"
_SHAPE = re.compile(r"10\.5240/((?:[0-9A-F]{4}-){5})([0-9A-Z])")
# People paste ids as DOIs or DOI links; the ledger stores the bare id.
_WRAPPERS = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:|eidr:)", re.IGNORECASE)


def eidr_check_character(digits: str) -> str:
    """ISO 7064 Mod 37,36 (hybrid) check character for the suffix's hex digits."""
    product = 36
    for char in digits:
        total = (product + _ALPHABET.index(char)) % 36 or 36
        product = (total * 2) % 37
    return _ALPHABET[(37 - product) % 36]


def normalise_eidr(text: str) -> str:
    """The canonical upper-case EIDR id; BadInput for a bad shape or a wrong check character."""
    candidate = _WRAPPERS.sub("", text.strip()).upper()
    match = _SHAPE.fullmatch(candidate)
    if match is None:
        raise BadInput(
            f"not an EIDR id '{text.strip()}': expected 10.5240/XXXX-XXXX-XXXX-XXXX-XXXX-C"
        )
    digits = match.group(1).replace("-", "")
    expected = eidr_check_character(digits)
    if match.group(2) != expected:
        raise BadInput(
            f"EIDR id '{text.strip()}' fails its check character "
            f"(expected {expected}, got {match.group(2)}): a character is mistyped"
        )
    return candidate
