"""The neutral row every file format reads into and writes from.

A `GrantRow` is one licence line exactly as a file states it: strings only, nothing
resolved. Territories, rights, dates and parties are checked later by the import
service, which reports problems against `row` (the line or spreadsheet row the values
came from), so a user can find them in the file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from ledger.errors import BadInput


class GrantRow(NamedTuple):
    """One grant as written in a file (CSV line or EMA Avails row). A named tuple: an
    import reads a million of these."""

    row: int
    """1-based row in the source file: CSV line with the header as 1; spreadsheet row;
    for Avails XML, the line of the `Transaction` element."""
    agreement: str
    title: str
    """Title id (a slug)."""
    grantor: str
    """Party id (a slug)."""
    grantee: str
    rights: str
    """`;`-separated right names or aliases as written, e.g. `SVOD` or `svod;avod`."""
    territory: str
    """A territory expression as text, e.g. `CN` or `WW -CN -HK`."""
    start: str
    """ISO date, an event reference such as `theatrical+0d`, or "" (unknown)."""
    end: str
    """ISO date, an event reference, or "" (open)."""
    exclusivity: str
    """`exclusive`, `sole` or `non-exclusive` as written; validated later."""
    language: str = ""
    """`;`-separated language codes; "" for all languages."""
    status: str = ""
    """The agreement's status if the file gives one: draft, mou or signed."""
    title_name: str = ""
    grantor_name: str = ""
    grantee_name: str = ""
    extras: Mapping[str, str] = MappingProxyType({})
    """External references kept as written (AvailID, ContentID, FormatProfile, ...)."""


LISTED_BAD_ROWS = 1_000
"""Bad rows of a file listed one by one (those of lowest row number); the others are
counted."""


class BadRows(list[tuple[int, str]]):
    """A file's bad rows as they are found, (row, problem) pairs: every one is counted,
    the `LISTED_BAD_ROWS` of lowest row number are kept. A file bad on each of a million
    rows (a date format throughout) holds a thousand messages, not a million."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def append(self, item: tuple[int, str], /) -> None:
        super().append(item)
        self.total += 1
        if len(self) >= 2 * LISTED_BAD_ROWS:
            self.sort()
            del self[LISTED_BAD_ROWS:]

    def extend(self, items: Iterable[tuple[int, str]], /) -> None:
        for item in items:
            self.append(item)


class RowErrors(BadInput):
    """Some rows of a file could not be read; `errors` lists each (row, message), the
    first `LISTED_BAD_ROWS` of them when there are more (`total` says how many).

    The message is one line (a count and the first few problems) so a caller that only
    prints `str(error)` still says where to look; the CLI prints every line of `lines()`.
    """

    def __init__(self, source: str, errors: list[tuple[int, str]]) -> None:
        self.source = source
        self.total = errors.total if isinstance(errors, BadRows) else len(errors)
        self.errors = sorted(errors)[:LISTED_BAD_ROWS]
        shown = "; ".join(f"row {row}: {message}" for row, message in self.errors[:5])
        more = f"; and {self.total - 5} more" if self.total > 5 else ""
        noun = "bad row" if self.total == 1 else "bad rows"
        super().__init__(f"{source}: {self.total} {noun}: {shown}{more}")

    def lines(self) -> list[str]:
        """One message per bad row listed, in the `file row N: problem` form, then how
        many more there are."""
        lines = [f"{self.source} row {row}: {message}" for row, message in self.errors]
        if self.total > len(self.errors):
            unlisted = self.total - len(self.errors)
            lines.append(f"{self.source}: ... and {unlisted} more bad row(s), not listed")
        return lines


_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    """Turn a display name into an id: "Alibaba Pictures" -> "alibaba-pictures".

    Accents are folded ("Les détectives" -> "les-detectives") so the same company
    spelled with or without them gets the same id; names in scripts that do not fold
    to ASCII (Chinese, Korean) keep their letters rather than vanishing.
    """
    folded = unicodedata.normalize("NFKD", name)
    ascii_only = folded.encode("ascii", "ignore").decode("ascii").lower()
    slug = _NOT_SLUG.sub("-", ascii_only).strip("-")
    if slug:
        return slug
    # Nothing survived the ASCII fold (e.g. "阿里巴巴影业"): keep the word characters.
    return re.sub(r"[\W_]+", "-", name.strip().lower()).strip("-")
