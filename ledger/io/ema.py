"""Reading and writing the EMA Avails spreadsheet (MovieLabs, template v1.6 to v1.9).

An EMA Avails workbook has, on each sheet it uses, the element group in row 1, the
column name in row 2, the template version (or notes) in row 3 and data from row 4; a
sheet saved without the group row has the names in row 1 and data from row 3 (MovieLabs'
reader, mddf-lib `xlsx/AvailsSheet.java`, accepts both), and one saved without the
version row its data from the row after the names. Names under a title or blank rows
(up to row 10) and further `//` note rows under them are found as Google's EMA
validator finds them. A sheet is read to its last row written, whatever size it
declares. Column order differs between
versions and studios (v1.7.3 sorts them by group), so every column is found by its name;
a name that appears twice (e.g. `AvailID` and `Avail/AvailID`) yields the first
non-empty cell. Every sheet whose header has `Territory`, `LicenseType`, `Start` and
`End` is read (Movies and TV sheets of one workbook together); other sheets (data
dictionaries, instructions) are skipped.

Versions, from the MovieLabs/mddf repository (its samples `Movies_v1.7.2.xlsx` to
`TV_v1.9.xlsx`, and its translator `mddf-lib/.../avails/xml/RowToXmlHelperV1_6.java`
to `V1_9.java`, which lists what each version calls a column): v1.7 to v1.9 keep the
names and add columns (v1.7: `ALID`; v1.7.2: `AltID`; v1.7.3: `Licensee`,
`TerritoryExclusion`, `StartLag`/`EndLag`, `WindowDuration`, `Exclusive`,
`ExclusiveAttributes`; v1.9: `CampaignID`). v1.6 named three columns the reader uses
differently, read as their later names (`COLUMN_ALIASES`): `StoreLanguage`
(`AssetLanguage`), `HoldbackExclusionLanguage` (`AllowedLanguages`) and `ProductID`
(`EditID`). No template after v1.9 was found. The Avails XML form is read by
`ledger.io.ema_xml` through `avail_row`, by the same rules.

How an avail row becomes a `GrantRow` (the reader resolves nothing; the import
service validates territories, rights, dates and exclusivity afterwards):

- territory: `Territory` plus `TerritoryExclusion` (codes separated by commas,
  semicolons or spaces) -> `US`, `WW -US -CA`. `Worldwide`, `WW`, `World`, `XW` and
  `ZZ` mean the world (`WW`); the v1.7.3 sample writes worldwide-minus as `ZZ` with
  exclusions. Any other code is kept as written, so a bad code (`JJ`) reaches the
  territory parser, which names it.
- start / end: a date cell, an Excel serial number or an ISO date (time of day is
  dropped: the ledger counts whole days) -> `2013-05-14`. A condition word -> an event
  reference: `ESTStart` -> `est+0d`, `Theatrical` -> `theatrical+0d`, `Broadcast` ->
  `broadcast+0d`, any other single word -> its lower-case form (the event parser
  judges it). `StartLag` / `EndLag` (ISO 8601 durations such as `P30D`, `-P5DT10H`)
  become the offset: whole days, weeks, months or years exactly (`est+30d`,
  `theatrical+1m`); a lag with hours is rounded to whole days outwards (start earlier,
  end later, the conservative direction for conflict checks) and the exact lag is kept
  in extras. A lag on a plain date is added to the date. End `Open` or empty -> ""
  (open). Start `Immediate` ("as soon as the avail is received", a day the file does not
  give) -> `immediate+0d`, an event of its own: the start is TBD, and the window is
  checked as open until the title's `immediate` event is recorded (`title event --kind
  immediate`). End `Immediate` (withdraw now) and an empty Start are errors. An open
  End with a `WindowDuration` (`P180D`) ends when the duration runs out: the term
  `180d` from the start; `write_ema` writes a term end so (open End, its duration)
  while the start waits on an event, and as its last day once it is known.
- rights: `LicenseType` through EMA's own vocabulary (`ema_license_types` of the rights
  tree: EST, POEST, VOD as tvod, SVOD, AVOD, FVOD..., and `Pre-Release` and `Library`
  as tvod, as MovieLabs' validator reads them), anything else through the rights aliases. A type
  that is one of several for its right (`Library`, `TVOD`) is kept in extras as
  `LicenseType`, and `write_ema` writes it again.
- `EntryType` `Full Delete` or `Delete`: the avail is withdrawn, which is no grant; it
  is not imported, and the import names its row (`AvailRows.withdrawn`). It ends no
  grant the ledger holds either: a licence ends by its own terms or by `grant
  terminate`, not by an offer taken back.
- exclusivity: `Exclusive` TRUE/Yes/Y/T/1 (also the `=TRUE()` formula some templates
  hold) -> `exclusive`, FALSE/No/N/F/0/empty -> `non-exclusive` (an avail says nothing
  of exclusivity unless it is exclusive). `ExclusiveAttributes` `Sole` with an
  exclusive avail -> `sole` (the EMA has no sole licence; this is how `write_ema`
  says it); any other `ExclusiveAttributes` is kept in extras.
- grantor: `DisplayName` (the licensor) -> slug, the name in `grantor_name`.
  grantee: `Licensee` -> slug, name in `grantee_name`. Most avails leave `Licensee`
  empty (the file is sent to that retailer): pass `licensee=` to `read_ema`; with
  neither, the grantee is the stand-in party `unnamed-licensee`.
- title: supplemental and promotional material (`WorkType` Supplemental, Promotion) is a
  title of its own, named after the film it is about: `the-incredible-hulk-2008-supplemental`,
  "The Incredible Hulk (Supplemental)".
- title: movies and collections: the name is `TitleInternalAlias` (the studio's stable
  name, the same in every language version; `Mountain, The` is turned back into
  `The Mountain`), else `TitleDisplayUnlimited`, else `TitleDisplay19`; the id is the
  slug of the name plus `ReleaseYear` (`the-first-dance-2013`), or without a name
  the slug of `ContentID`/`ALID`/`AltID`. TV (`WorkType` Episode, Season or Series):
  the title is the episode (or season, or series) itself, since rights are licensed
  per episode or season: id `<series>-s<season>-e<episode>`, name the episode (or
  season) title, else `<Series> S1 E3` / `<Series> Season 1`; series and season
  names and ids go to extras. A `Volume` (part of a season, v1.8 and XML v2.4 on) is
  `<series>-s<season>-v<VolumeNumber>`, not the season: licensing a volume does not
  license the season's other episodes.
- agreement: the EMA has no contract reference but some templates have `ContractID`:
  that, else `AvailID` (so each avail is its own agreement), else
  `EMA-<licensor>-<licensee>`.
- status: `signed` (a studio publishes avails for deals it has made), unless the
  ledger's own `LedgerStatus` column says otherwise.
- language: `AllowedLanguages` (`es:subdub, fr:subdub` -> `es;fr`; a regional tag such
  as `es-419` is recorded as its language, `es`, the exact text kept). `AssetLanguage`
  (the language of the delivered asset, not a limit on the licence) goes to extras.
- extras: AvailID, ContentID, AltID, ALID, TitleID, EditID, FormatProfile (HD/SD/UHD:
  the ledger licenses a work, not a format, so an HD and an SD row are two equal
  grants), LicenseRightsDescription, ReleaseYear, WorkType (unless Movie), the TV
  series/season/episode ids and numbers, and others listed in `KEPT_COLUMNS`.

Rows with the same non-empty `AvailID` that follow each other and differ only in
`Territory` are one grant: their territories are joined (`KR JP`). `write_ema` writes a
grant with several included territories that way (one row per included code, all
carrying the grant's exclusions), so export then import gives one grant per grant.

`write_ema` writes one v1.9-shaped sheet (more, `Avails 2`..., past the 1,048,576 rows a
sheet holds) with the columns above, plus columns
`LedgerTitle`, `LedgerLicensor`, `LedgerLicensee` and `LedgerStatus` (row-1 group
`rights-ledger`) holding the ledger's own ids, which names alone cannot reproduce; an
EMA consumer reads by column name and ignores them. Worldwide is written `ZZ`, as in
the MovieLabs sample, exclusions as `CN, HK`.
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from xml.etree.ElementTree import ParseError

from ledger.domain.dates import parse_event_ref, parse_term
from ledger.domain.rights import RIGHTS
from ledger.domain.territories import ALL_COUNTRIES, compact, parse_territory
from ledger.errors import BadInput
from ledger.io.rows import GrantRow, RowErrors, slugify

# Most avails name no licensee: they are what a studio offers the recipient of the file.
# Their grants go to one stand-in party (rename it, or import with --licensee, to say who).
UNNAMED_LICENSEE = "unnamed-licensee"
UNNAMED_LICENSEE_NAME = "Licensee not named in the avails"

# A single right with an EMA LicenseType is written as EMA writes it (tvod as VOD).
_EMA_TYPE_OF = {
    node: license_type for license_type, node in reversed(list(RIGHTS.ema_license_types.items()))
}
EMA_MARKER_COLUMNS = frozenset({"Territory", "LicenseType", "Start", "End"})
HEADER_SEARCH_ROWS = 10
"""How many rows from the top of a sheet its column names may be on."""
# Columns renamed since template v1.6, by their old name (MovieLabs' own translator,
# mddf-lib `RowToXmlHelperV1_6.mapKey`, reads v1.6 sheets the same way).
COLUMN_ALIASES = {
    "StoreLanguage": "AssetLanguage",
    # The languages exempt from the holdback are those the licence allows.
    "HoldbackExclusionLanguage": "AllowedLanguages",
    "ProductID": "EditID",
}
WORLDWIDE_CODES = frozenset({"WORLDWIDE", "WW", "WORLD", "XW", "ZZ"})
WORLDWIDE_OUT = "ZZ"
LEDGER_GROUP = "rights-ledger"
LEDGER_COLUMNS = ("LedgerTitle", "LedgerLicensor", "LedgerLicensee", "LedgerStatus")

# Condition words of the EMA Start/End columns and the ledger's release-event kinds.
EVENT_BY_CONDITION = {
    "eststart": "est",
    "est": "est",
    "theatrical": "theatrical",
    "theatricalstart": "theatrical",
    "broadcast": "broadcast",
}
CONDITION_BY_EVENT = {
    "est": "ESTStart",
    "theatrical": "Theatrical",
    "broadcast": "Broadcast",
    "immediate": "Immediate",
}

TRUE_WORDS = frozenset({"TRUE", "YES", "Y", "T", "1", "=TRUE()", "=TRUE"})
FALSE_WORDS = frozenset({"FALSE", "NO", "N", "F", "0", "=FALSE()", "=FALSE", ""})

KEPT_COLUMNS = (
    "AvailID",
    "ContentID",
    "AltID",
    "ALID",
    "TitleID",
    "EditID",
    "FormatProfile",
    "LicenseRightsDescription",
    "ReleaseYear",
    "AssetLanguage",
    "ExclusiveAttributes",
    "HoldbackLanguage",
    "WindowDuration",
    "SeriesTitleInternalAlias",
    "SeriesContentID",
    "SeasonContentID",
    "EpisodeContentID",
    "SeriesAltID",
    "SeasonAltID",
    "EpisodeAltID",
    "SeriesID",
    "SeasonID",
    "EpisodeID",
    "SeasonNumber",
    "EpisodeNumber",
    "VolumeNumber",
)
TV_WORK_TYPES = frozenset({"episode", "season", "series", "volume"})
EVERY_LANGUAGE = frozenset({"any", "all", "*"})
"""What an `AllowedLanguages` cell may write for every language."""
MATERIAL_WORK_TYPES = frozenset({"supplemental", "promotion"})
"""Work types of material about a title (bonus material, trailers), which an avail names
by the title it is about."""
# A row with none of these is an empty template row, even if it carries prefilled
# formulas (some templates fill `Exclusive` with =FALSE() down a thousand rows).
CORE_COLUMNS = (
    "DisplayName",
    "Licensee",
    "Territory",
    "LicenseType",
    "Start",
    "End",
    "TitleInternalAlias",
    "TitleDisplayUnlimited",
    "SeriesTitleInternalAlias",
    "ContentID",
)

# (row-1 group, row-2 column) of the sheet `write_ema` produces, in order.
WRITTEN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Avail", "DisplayName"),
    ("Avail", "Licensee"),
    ("AvailTrans", "AssetLanguage"),
    ("AvailTrans", "Territory"),
    ("AvailTrans", "TerritoryExclusion"),
    ("AvailAsset", "WorkType"),
    ("AvailMetadata", "TitleInternalAlias"),
    ("AvailMetadata", "TitleDisplayUnlimited"),
    ("AvailMetadata", "SeriesTitleInternalAlias"),
    ("AvailMetadata", "SeasonNumber"),
    ("AvailMetadata", "EpisodeNumber"),
    ("AvailTrans", "LicenseType"),
    ("AvailTrans", "LicenseRightsDescription"),
    ("AvailTrans", "FormatProfile"),
    ("AvailTrans", "Start"),
    ("AvailTrans", "StartLag"),
    ("AvailTrans", "End"),
    ("AvailTrans", "EndLag"),
    ("AvailTrans", "WindowDuration"),
    ("AvailAsset", "TitleID"),
    ("AvailAsset", "EditID"),
    ("AvailAsset", "AltID"),
    ("AvailAsset", "ContentID"),
    ("AvailAsset", "SeriesContentID"),
    ("AvailAsset", "SeasonContentID"),
    ("AvailAsset", "EpisodeContentID"),
    ("AvailAsset", "SeriesAltID"),
    ("AvailAsset", "SeasonAltID"),
    ("AvailAsset", "EpisodeAltID"),
    ("AvailAsset", "SeriesID"),
    ("AvailAsset", "SeasonID"),
    ("AvailAsset", "EpisodeID"),
    ("Avail", "AvailID"),
    ("Avail", "ALID"),
    ("AvailMetadata", "ReleaseYear"),
    ("AvailTrans", "ContractID"),
    ("AvailTrans", "Exclusive"),
    ("AvailTrans", "ExclusiveAttributes"),
    ("AvailTrans", "HoldbackLanguage"),
    ("AvailTrans", "AllowedLanguages"),
    *((LEDGER_GROUP, column) for column in LEDGER_COLUMNS),
)
REQUIRED_WRITTEN = frozenset(
    {
        "DisplayName",
        "Territory",
        "WorkType",
        "TitleInternalAlias",
        "LicenseType",
        "Start",
        "End",
        "ContentID",
        "ALID",
    }
)
# Extras that the reader derives itself, so writing them as columns would duplicate.
_NOT_WRITTEN_EXTRAS = frozenset({"Sheet", "StartLagExact", "EndLagExact", "AllowedLanguagesRaw"})

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$")
_CONDITION = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_DURATION = re.compile(
    r"^(?P<sign>[+-])?P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
# An event reference as the ledger writes it: `theatrical+90d`, or `est` for no offset.
_EVENT_REF = re.compile(
    r"^(?P<event>[a-z][a-z0-9_-]*?)(?:(?P<sign>[+-])(?P<n>\d+)(?P<unit>[dwmy]))?$"
)
_CODE_LIKE = re.compile(r"^[A-Z0-9][A-Z0-9-]*$")
_LIST_SEPARATORS = re.compile(r"[,;\s]+")


WITHDRAWN_ENTRY_TYPES = frozenset({"full delete", "delete"})
"""`EntryType`s that take an avail back rather than offer it."""


class AvailRows(list[GrantRow]):
    """An avails file's grant rows, and the rows (lines, for XML) of the avails it
    withdraws (`EntryType` `Full Delete` or `Delete`): a withdrawal is no grant, and
    ends none the ledger holds (a termination is the licence's own act), so it is set
    aside, for the import to say so."""

    def __init__(self) -> None:
        super().__init__()
        self.withdrawn: list[str] = []
        """Where each withdrawn avail is: its row (`30`, with its sheet when the workbook
        has several: `30 (sheet 'Template-Movies')`), or for XML its line."""


class AvailWithdrawn(Exception):
    """The avail is withdrawn (`WITHDRAWN_ENTRY_TYPES`): not a grant."""


class AvailProblem(Exception):
    """One avail cannot be mapped; the readers collect these into RowErrors."""


# --------------------------------------------------------------------------- reading


def read_ema(path: Path, *, licensee: str = "") -> AvailRows:
    """Read every EMA Avails sheet of an .xlsx file into grant rows.

    `licensee` names the grantee for rows whose `Licensee` cell is empty. Raises
    `BadInput` for a file that is not an xlsx or has no EMA sheet, and `RowErrors`
    listing every row that cannot be mapped. A withdrawn avail is no row: see
    `AvailRows`.
    """
    name = path.name
    workbook = _open_workbook(path)
    try:
        sheets = []
        for sheet in workbook.worksheets:
            # Read to the last row and column written, whatever size the sheet declares:
            # read-only openpyxl stops at the declared size, which some programs write
            # too small (or leave at `A1`).
            sheet.reset_dimensions()
            header = _sheet_header(sheet)
            if header is not None:
                sheets.append((sheet, header))
        if not sheets:
            found = ", ".join(workbook.sheetnames) or "none"
            raise BadInput(
                f"{name}: wrong sheet: no sheet has the EMA Avails columns "
                f"Territory, LicenseType, Start, End in its first {HEADER_SEARCH_ROWS} rows "
                f"(found sheets: {found})"
            )
        rows = AvailRows()
        errors: list[tuple[int, str]] = []
        several = len(sheets) > 1
        for sheet, header in sheets:
            label = sheet.title if several else ""
            for row_or_error in _read_sheet(sheet, header, label, licensee, rows.withdrawn):
                if isinstance(row_or_error, GrantRow):
                    rows.append(row_or_error)
                else:
                    errors.append(row_or_error)
    except _DAMAGED as error:
        # A workbook is read as its rows are needed: a damaged part shows only then.
        raise BadInput(
            f"{name}: a damaged workbook ({type(error).__name__}: {error}): "
            "save it again from the spreadsheet program"
        ) from None
    finally:
        workbook.close()
    if errors:
        raise RowErrors(name, errors)
    return rows


_DAMAGED = (ParseError, zipfile.BadZipFile, zlib.error, EOFError)
"""What reading a damaged workbook's sheets raises: a cut or corrupt part of the zip."""


def _open_workbook(path: Path) -> Any:
    # openpyxl is imported only when a spreadsheet is read or written: it is a tenth of a
    # second of start-up that every other command would pay.
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    if not path.is_file():
        raise BadInput(f"{path.name}: no such file")
    try:
        with warnings.catch_warnings():
            # Workbooks saved by other tools often lack a default style; openpyxl warns on
            # stderr, which would only confuse a reader of the import's report.
            warnings.simplefilter("ignore", UserWarning)
            return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise BadInput(
            f"{path.name}: not an xlsx file (EMA Avails must be an Excel .xlsx workbook)"
        ) from None


class _Header(NamedTuple):
    groups: list[str]
    """The element group over each column ("" where the sheet has no group row)."""
    names: list[str]
    first_row: int
    """The first row that may hold an avail."""


def _sheet_header(sheet: Any) -> _Header | None:
    """Where the sheet's column names are, if it looks like EMA Avails, else None.

    Templates put the names in row 2 under the row-1 groups, with row 3 for the version
    or notes; a sheet saved without the group row has them in row 1 and data from row 3,
    as MovieLabs' own reader allows (mddf-lib `xlsx/AvailsSheet.ingest`). Some senders put
    a title or blank rows above them, so the names are looked for in the first
    `HEADER_SEARCH_ROWS` rows, as Google's EMA validator does (`EMAResourceValidator.
    findHeaderRowIndexes`); the row above the names is their groups. A sheet saved
    without the version row has its data from the row after the names: that row is
    skipped only when it names no territory and no licence type (`//REQ` is none).
    Further note rows under it (their first cell written starts with `//`, which both
    readers take for a comment) are skipped too; a note among the avails is not, so that
    no avail is ever dropped unread."""
    top = list(sheet.iter_rows(min_row=1, max_row=2 * HEADER_SEARCH_ROWS, values_only=True))
    found = [
        index
        for index in range(min(HEADER_SEARCH_ROWS, len(top)))
        if set(map(_column_name, top[index])) >= EMA_MARKER_COLUMNS
    ]
    if not found:
        return None
    index = found[0]
    # Of two rows that both name the columns (XPath names `AvailTrans/Territory` over
    # plain ones), the lower is the header: the row under it holds the avails.
    while index + 1 in found:
        index += 1
    names = [_column_name(cell) for cell in top[index]]
    groups = [_text(cell) for cell in top[index - 1]] if index else []
    groups += [""] * (len(names) - len(groups))
    # The row after the names is the template's version and requirements row
    # (`1.9`, `//REQ`, `//Opt`), or, in a sheet saved without it, the first
    # avail, which has a territory and a licence type: never skipped unread.
    notes = not _is_avail(names, top[index + 1] if index + 1 < len(top) else ())
    first_row = index + (3 if notes else 2)
    while first_row <= len(top) and _is_comment(top[first_row - 1]):
        first_row += 1
    return _Header(groups, names, first_row)


def _is_comment(values: Sequence[Any]) -> bool:
    """Whether a row is a note: its first cell written starts with `//`."""
    return next((text for text in map(_text, values) if text), "").startswith("//")


def _is_avail(names: list[str], values: Sequence[Any]) -> bool:
    """Whether a row under these column names has a territory or a licence type: an
    avail (maybe a bad one), not the template's version row (`1.9`, `//REQ`)."""
    for column in ("Territory", "LicenseType"):
        position = names.index(column)
        text = _text(values[position]) if position < len(values) else ""
        if text and not text.startswith("//"):
            return True
    return False


def _column_name(cell: Any) -> str:
    # v1.7.3 has both `AvailID` and `Avail/AvailID`: the XPath form names the same field.
    name = _text(cell).rsplit("/", 1)[-1]
    return COLUMN_ALIASES.get(name, name)


def _read_sheet(
    sheet: Any, header: _Header, label: str, licensee: str, withdrawn: list[str]
) -> Iterator[GrantRow | tuple[int, str]]:
    """The sheet's grant rows and (row, problem) errors; the rows of withdrawn avails are
    added to `withdrawn`."""
    groups, names, first_row = header
    positions: dict[str, list[int]] = {}
    for position, column in enumerate(names):
        if column:
            positions.setdefault(column, []).append(position)
    ledger_extras = [
        (names[p], p)
        for p in range(len(names))
        if groups[p] == LEDGER_GROUP and names[p] and names[p] not in LEDGER_COLUMNS
    ]
    prefix = f"sheet '{label}': " if label else ""
    pending: GrantRow | None = None
    pending_parts: tuple[list[str], list[str]] = ([], [])
    cells = sheet.iter_rows(min_row=first_row, max_col=len(names), values_only=True)
    for number, values in enumerate(cells, start=first_row):
        record = _Record(values, positions)
        if not any(record.text(column) for column in CORE_COLUMNS):
            continue
        try:
            row, includes, excludes = _map_row(record, number, licensee)
        except AvailWithdrawn:
            withdrawn.append(f"{number} (sheet '{label}')" if label else str(number))
            continue
        except AvailProblem as problem:
            yield number, f"{prefix}{problem}"
            continue
        extras = dict(row.extras)
        for column, position in ledger_extras:
            value = _text(values[position]) if position < len(values) else ""
            if value:
                extras[column] = value
        if label:
            extras["Sheet"] = label
        row = row._replace(extras=extras)
        if pending is not None and _same_grant(pending, row, pending_parts[1], excludes):
            pending_parts[0].extend(i for i in includes if i not in pending_parts[0])
            continue
        if pending is not None:
            yield _with_territory(pending, *pending_parts)
        pending, pending_parts = row, (list(includes), list(excludes))
    if pending is not None:
        yield _with_territory(pending, *pending_parts)


def _same_grant(
    first: GrantRow, second: GrantRow, first_excludes: list[str], second_excludes: list[str]
) -> bool:
    """Consecutive rows of one avail that differ only in the country they name."""
    avail = first.extras.get("AvailID", "")
    return (
        bool(avail)
        and first_excludes == second_excludes
        and first._replace(row=0, territory="") == second._replace(row=0, territory="")
    )


def _with_territory(row: GrantRow, includes: list[str], excludes: list[str]) -> GrantRow:
    """One avail's rows joined back into one territory, in the ledger's compact form where
    it can read them (CN, HK, MO and TW rows are GREATER-CHINA again), so an export reads
    back as it was recorded."""
    text = territory_text(includes, excludes)
    # An unknown code is kept as written: the import reports it with its row.
    with contextlib.suppress(BadInput):
        text = compact(parse_territory(text).countries)
    return row._replace(territory=text)


def territory_text(includes: Sequence[str], excludes: Sequence[str]) -> str:
    """The expression for included and excluded codes: `KR JP`, `WW -CN -HK`."""
    joiner = ", " if any(" " in item for item in includes) else " "
    return joiner.join(includes) + "".join(f" -{item}" for item in excludes)


def avail_row(fields: Mapping[str, Any], number: int, licensee: str = "") -> GrantRow:
    """One avail given by EMA column name (`Territory`, `StartLag`, ...) as a grant row.

    How another form of an avail (the Avails XML) is read by the spreadsheet's rules;
    `number` is where it is in its file. Raises `AvailProblem` if it cannot be mapped,
    `AvailWithdrawn` if it is withdrawn."""
    record = _Record(tuple(fields.values()), {name: [i] for i, name in enumerate(fields)})
    return _with_territory(*_map_row(record, number, licensee))


@dataclass(frozen=True)
class _Record:
    """One spreadsheet row, read by column name."""

    values: tuple[Any, ...]
    positions: Mapping[str, list[int]]

    def raw(self, column: str) -> Any:
        for position in self.positions.get(column, ()):
            if position < len(self.values):
                value = self.values[position]
                text = _text(value)
                # Templates leave guidance such as "//e.g., rs_detectives" in data cells.
                if text and not text.startswith("//"):
                    return value
        return None

    def text(self, column: str) -> str:
        return _text(self.raw(column))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value).strip()


def _map_row(record: _Record, number: int, licensee: str) -> tuple[GrantRow, list[str], list[str]]:
    if record.text("EntryType").lower() in WITHDRAWN_ENTRY_TYPES:
        raise AvailWithdrawn
    extras = {column: record.text(column) for column in KEPT_COLUMNS if record.text(column)}

    territory = record.text("Territory")
    if not territory:
        raise AvailProblem("missing 'Territory'")
    includes = [_territory_code(t) for t in _LIST_SEPARATORS.split(territory) if t]
    excludes = [
        _territory_code(t) for t in _LIST_SEPARATORS.split(record.text("TerritoryExclusion")) if t
    ]

    written = record.text("LicenseType")
    if not written:
        raise AvailProblem("missing 'LicenseType'")
    # EMA's own vocabulary first (its VOD is transactional VOD); anything else, such as a
    # ledger export's `brand-licensing;e-commerce`, is left for the rights parser.
    rights = RIGHTS.ema_license_types.get(written.strip().upper(), written)
    if rights != written and _EMA_TYPE_OF[rights] != written.strip().upper():
        # One of several EMA types of one right (`Library` and `Pre-Release` are tvod):
        # the type as written is kept, and an export writes it again.
        extras["LicenseType"] = written

    grantor_name = record.text("DisplayName")
    if not grantor_name:
        raise AvailProblem("missing 'DisplayName' (the licensor)")
    grantee_name = record.text("Licensee") or licensee

    start = _window_edge(record, "Start", extras)
    end = _window_edge(record, "End", extras)
    if not end:
        # An open window that lasts at most `WindowDuration` ends when it runs out: a
        # term from its start (which may itself wait on an event).
        end = _duration(record.text("WindowDuration"))
    exclusivity = _exclusivity(record, extras)

    title, title_name = _title(record, extras)
    work_type = record.text("WorkType")
    if work_type and work_type.lower() != "movie":
        extras["WorkType"] = work_type
    display = record.text("TitleDisplayUnlimited")
    if display and display != title_name:
        extras["TitleDisplayUnlimited"] = display

    allowed = record.text("AllowedLanguages")
    tags = [part.split(":", 1)[0].strip() for part in re.split(r"[,;]", allowed)]
    # The ledger tracks languages, not regional variants: `es-419` (Latin American
    # Spanish) is recorded as `es`. That widens the grant, so a conflict check errs on the
    # side of reporting a collision; the exact tags stay in extras.
    languages = dict.fromkeys(tag.split("-", 1)[0].lower() for tag in tags if tag)
    # `any` and `all` are no languages (ISO 639-3 has Anyin, `any`, and Allar, `all`):
    # every language, as an empty cell says.
    language = "" if languages.keys() & EVERY_LANGUAGE else ";".join(languages)
    if ":" in allowed or any("-" in tag for tag in tags) or (allowed and not language):
        extras["AllowedLanguagesRaw"] = allowed

    grantor = record.text("LedgerLicensor") or slugify(grantor_name)
    grantee = record.text("LedgerLicensee") or (
        slugify(grantee_name) if grantee_name else UNNAMED_LICENSEE
    )
    if not grantee_name and grantee == UNNAMED_LICENSEE:
        grantee_name = UNNAMED_LICENSEE_NAME
    agreement = (
        record.text("ContractID")
        or record.text("AvailID")
        or "-".join(part for part in ("EMA", grantor, grantee) if part)
    )
    row = GrantRow(
        row=number,
        agreement=agreement,
        title=record.text("LedgerTitle") or title,
        grantor=grantor,
        grantee=grantee,
        rights=rights,
        territory="",
        start=start,
        end=end,
        exclusivity=exclusivity,
        language=language,
        status=record.text("LedgerStatus") or "signed",
        title_name=title_name,
        grantor_name=grantor_name,
        grantee_name=grantee_name,
        extras=extras,
    )
    return row, includes, excludes


def _territory_code(token: str) -> str:
    return "WW" if token.upper() in WORLDWIDE_CODES else token


def _exclusivity(record: _Record, extras: dict[str, str]) -> str:
    written = record.text("Exclusive")
    flag = written.upper().replace(" ", "")
    if flag in TRUE_WORDS:
        if record.text("ExclusiveAttributes").lower() == "sole":
            extras.pop("ExclusiveAttributes", None)
            return "sole"
        return "exclusive"
    if flag in FALSE_WORDS:
        return "non-exclusive"
    raise AvailProblem(f"'Exclusive' is {written!r}; expected TRUE or FALSE (Yes/No)")


def _window_edge(record: _Record, column: str, extras: dict[str, str]) -> str:
    """The start or end of the window as an ISO date, an event reference or ""."""
    value = record.raw(column)
    lag_text = record.text(f"{column}Lag")
    is_start = column == "Start"
    day = _as_date(value)
    if day is not None:
        if lag_text:
            day = _shift_date(day, lag_text, is_start, column, extras)
        return day.isoformat()
    word = _text(value)
    key = word.lower()
    if not word:
        if is_start:
            raise AvailProblem("missing 'Start'")
        return ""
    if key == "open" and not is_start:
        return ""
    if key == "immediate" and not is_start:
        raise AvailProblem("'End' is 'Immediate' (withdraw now), not a licence window; give a date")
    if not _CONDITION.match(word) or key == "open":
        raise AvailProblem(
            f"'{column}' is {word!r}: not a date (YYYY-MM-DD) nor a condition such as "
            f"{'Theatrical or ESTStart' if is_start else 'Open or ESTStart'}"
        )
    event = EVENT_BY_CONDITION.get(key, key)
    offset = _lag_offset(lag_text, is_start, column, extras) if lag_text else "+0d"
    return f"{event}{offset}"


def _duration(text: str) -> str:
    """A `WindowDuration` (`P180D`, `P2Y`) as the end of an open window, or "" when it is
    none the ledger counts (empty, zero, hours)."""
    try:
        return parse_term(text).text if text else ""
    except BadInput:
        return ""


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _excel_serial(float(value))
    if isinstance(value, str):
        text = value.strip()
        match = _ISO_DATE.match(text)
        if match:
            try:
                return date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                raise AvailProblem(f"{text!r} is not a calendar date") from None
        if re.fullmatch(r"\d{4,6}(\.\d+)?", text):
            return _excel_serial(float(text))
    return None


def _excel_serial(serial: float) -> date:
    # Excel's day 1 is 1900-01-01 but it counts a 29 Feb 1900 that never was, hence
    # the 1899-12-30 epoch for every serial after February 1900.
    if not 1 <= serial < 2958466:
        raise AvailProblem(f"{serial:g} is not an Excel date")
    return date(1899, 12, 30) + timedelta(days=int(serial))


@dataclass(frozen=True)
class _Lag:
    sign: int
    years: int
    months: int
    weeks: int
    days: int
    seconds: float


def _parse_lag(text: str, column: str) -> _Lag:
    match = _DURATION.match(text.strip().upper())
    if not match or text.strip().upper().rstrip("T").endswith("P"):
        raise AvailProblem(f"'{column}Lag' is {text!r}, not an ISO 8601 duration like P30D")
    number = {k: int(v) for k, v in match.groupdict().items() if v and k not in ("sign", "s")}
    seconds = number.get("h", 0) * 3600 + number.get("mi", 0) * 60 + float(match["s"] or 0)
    return _Lag(
        sign=-1 if match["sign"] == "-" else 1,
        years=number.get("y", 0),
        months=number.get("mo", 0),
        weeks=number.get("w", 0),
        days=number.get("d", 0),
        seconds=seconds,
    )


def _lag_offset(text: str, is_start: bool, column: str, extras: dict[str, str]) -> str:
    lag = _parse_lag(text, column)
    sign = "-" if lag.sign < 0 else "+"
    calendar = [(lag.years, "y"), (lag.months, "m")]
    used = [(n, unit) for n, unit in calendar if n]
    if used:
        if len(used) > 1 or lag.weeks or lag.days or lag.seconds:
            raise AvailProblem(f"'{column}Lag' {text!r} mixes years or months with other units")
        n, unit = used[0]
        return f"{sign}{n}{unit}"
    if lag.weeks and not lag.days and not lag.seconds:
        return f"{sign}{lag.weeks}w"
    signed_days = lag.sign * (lag.weeks * 7 + lag.days + lag.seconds / 86400)
    # Outward rounding: a start moves earlier, an end later, so the window read is never
    # narrower than the one offered.
    whole = math.floor(signed_days) if is_start else math.ceil(signed_days)
    if whole != signed_days:
        extras[f"{column}LagExact"] = text
    return f"{'-' if whole < 0 else '+'}{abs(whole)}d"


def _shift_date(day: date, text: str, is_start: bool, column: str, extras: dict[str, str]) -> date:
    # The lag as an event offset (`+30d`), added as the ledger adds one to its event's day.
    offset = _lag_offset(text, is_start, column, extras)
    try:
        return parse_event_ref(f"lag{offset}").resolve(day)
    except BadInput:  # past the calendar's last day (or before its first)
        raise AvailProblem(
            f"'{column}Lag' is {text!r}: it takes {day} out of the calendar"
        ) from None


_ARTICLE_SUFFIX = re.compile(r"^(?P<rest>.+),\s*(?P<article>The|A|An)$", re.IGNORECASE)


def _natural_name(name: str) -> str:
    """`View from a Mountain, The` -> `The View from a Mountain` (library sort form)."""
    match = _ARTICLE_SUFFIX.match(name.strip())
    if match:
        return f"{match['article']} {match['rest']}"
    return name.strip()


def _title(record: _Record, extras: dict[str, str]) -> tuple[str, str]:
    """(title id, title name) for the row; see the module docstring for the rules."""
    work_type = record.text("WorkType").lower()
    if work_type in TV_WORK_TYPES:
        return _tv_title(record, work_type, extras)
    name = _natural_name(
        record.text("TitleInternalAlias")
        or record.text("TitleDisplayUnlimited")
        or record.text("TitleDisplay19")
    )
    year = record.text("ReleaseYear")
    if name:
        slug = slugify(name)
        title = f"{slug}-{year}" if re.fullmatch(r"\d{4}", year) else slug
        if work_type in MATERIAL_WORK_TYPES:
            # A trailer or featurette of the film, named after it: a title of its own, so
            # that its licences never meet the film's.
            return f"{title}-{work_type}", f"{name} ({record.text('WorkType')})"
        return title, name
    for column in ("ContentID", "ALID", "AltID"):
        if record.text(column):
            return slugify(record.text(column)), ""
    raise AvailProblem(
        "no title: TitleInternalAlias, TitleDisplayUnlimited and ContentID are empty"
    )


def _tv_title(record: _Record, work_type: str, extras: dict[str, str]) -> tuple[str, str]:
    series = _natural_name(
        record.text("SeriesTitleInternalAlias") or record.text("SeriesTitleDisplayUnlimited")
    )
    season = _ordinal(record.text("SeasonNumber"))
    episode = _ordinal(record.text("EpisodeNumber"))
    if not series:
        raise AvailProblem(f"a {work_type} avail without 'SeriesTitleInternalAlias'")
    extras["SeriesTitleInternalAlias"] = record.text("SeriesTitleInternalAlias") or series
    slug = slugify(series)
    if work_type == "series":
        return slug, series
    season_part = f"-s{season}" if season else ""
    if work_type == "episode":
        episode_name = _natural_name(
            record.text("EpisodeTitleInternalAlias") or record.text("EpisodeTitleDisplayUnlimited")
        )
        if episode:
            label = f"{series} S{season} E{episode}" if season else f"{series} E{episode}"
            return f"{slug}{season_part}-e{episode}", episode_name or label
        if episode_name:
            return f"{slug}{season_part}-{slugify(episode_name)}", episode_name
        raise AvailProblem("an episode avail without 'EpisodeNumber' or an episode title")
    if work_type == "volume":
        volume = _ordinal(record.text("VolumeNumber"))
        volume_name = _natural_name(
            record.text("VolumeTitleInternalAlias") or record.text("VolumeTitleDisplayUnlimited")
        )
        if not volume:
            raise AvailProblem("a volume avail without 'VolumeNumber'")
        label = (
            f"{series} Season {season} Volume {volume}" if season else f"{series} Volume {volume}"
        )
        return f"{slug}{season_part}-v{volume}", volume_name or label
    season_name = _natural_name(
        record.text("SeasonTitleInternalAlias") or record.text("SeasonTitleDisplayUnlimited")
    )
    if not season:
        raise AvailProblem(f"a {work_type} avail without 'SeasonNumber'")
    return f"{slug}{season_part}", season_name or f"{series} Season {season}"


_ORDINAL = re.compile(
    r"(?:(?:season|series|episode|ep|volume|vol|[sev])\.?\s*)?0*(\d+)"
    r"|s\d+\s*e0*(\d+)",  # an episode written with its season: S01E02
    re.IGNORECASE,
)


def _ordinal(text: str) -> str:
    """A season, episode or volume number as a title id part: `1` for `1`, `01`, `Season
    1` or `S1` (`2` for an episode's `S01E02`); another text as its slug (`special`)."""
    match = _ORDINAL.fullmatch(text.strip())
    if match is None:
        return slugify(text)
    return str(int(match[1] or match[2]))


# --------------------------------------------------------------------------- writing


SHEET_ROWS = 1_048_576
"""Rows a worksheet holds in Excel (and in LibreOffice): a larger export goes on on sheets
`Avails 2`, `Avails 3`..., each with the header rows, which `read_ema` reads together."""


def write_ema(
    rows: Iterable[GrantRow],
    path: Path,
    version: str = "1.9",
    extra_columns: Sequence[str] = (),
) -> int:
    """Write grants as an EMA Avails v1.9-shaped workbook; return the grants written.

    A grant becomes one spreadsheet row per included territory (see the module
    docstring); `read_ema` joins them back. `extra_columns` names further `extras`
    keys to write as `rights-ledger` columns, which `read_ema` keeps in extras.
    The workbook is written in openpyxl's write-only mode, row by row, on as many sheets
    as `SHEET_ROWS` asks.
    """
    import openpyxl

    columns = [*WRITTEN_COLUMNS, *((LEDGER_GROUP, c) for c in extra_columns)]
    header = [
        [group for group, _ in columns],
        [name for _, name in columns],
        [version] + ["//REQ" if name in REQUIRED_WRITTEN else "//Opt" for _, name in columns[1:]],
    ]
    workbook = openpyxl.Workbook(write_only=True)

    def new_sheet() -> Any:
        sheets = len(workbook.sheetnames)
        sheet = workbook.create_sheet("Avails" if not sheets else f"Avails {sheets + 1}")
        for line in header:
            sheet.append(line)
        return sheet

    sheet = new_sheet()
    room = SHEET_ROWS - len(header)  # rows the sheet can still take
    count = 0
    for count, grant in enumerate(rows, start=1):
        avails = [[cells.get(name) for _, name in columns] for cells in _avail_rows(grant, count)]
        if len(avails) > room:  # a grant's rows stay on one sheet: they read back as one
            sheet, room = new_sheet(), SHEET_ROWS - len(header)
        for avail in avails:
            sheet.append(avail)
        room -= len(avails)
    try:
        workbook.save(path)
    except OSError as error:
        raise BadInput(f"{path.name}: cannot write file ({error.strerror})") from None
    return count


def _avail_rows(grant: GrantRow, number: int) -> Iterator[dict[str, Any]]:
    extras = {k: v for k, v in grant.extras.items() if k not in _NOT_WRITTEN_EXTRAS}
    cells: dict[str, Any] = dict(extras)
    start, start_lag = _edge_cells(grant.start, is_start=True)
    end, end_lag = _edge_cells(grant.end, is_start=False)
    exclusive: Any = {"exclusive": True, "sole": True, "non-exclusive": False}.get(
        grant.exclusivity, grant.exclusivity
    )
    cells.update(
        DisplayName=grant.grantor_name or grant.grantor,
        Licensee="" if grant.grantee == UNNAMED_LICENSEE else grant.grantee_name or grant.grantee,
        WorkType=extras.get("WorkType", "Movie"),
        TitleInternalAlias=grant.title_name or grant.title,
        TitleDisplayUnlimited=extras.get("TitleDisplayUnlimited", grant.title_name or grant.title),
        LicenseType=_license_type(grant.rights, extras.get("LicenseType", "")),
        Start=start,
        StartLag=start_lag,
        End=end,
        EndLag=end_lag,
        WindowDuration=_window_duration(grant.end) or extras.get("WindowDuration"),
        AvailID=extras.get("AvailID") or f"{grant.agreement}-{number}",
        ContractID=grant.agreement,
        Exclusive=exclusive,
        AllowedLanguages=", ".join(code for code in grant.language.split(";") if code) or None,
        LedgerTitle=grant.title,
        LedgerLicensor=grant.grantor,
        LedgerLicensee=grant.grantee,
        LedgerStatus=grant.status,
    )
    if grant.exclusivity == "sole":
        cells["ExclusiveAttributes"] = "Sole"
    includes, excludes = _ema_territories(grant.territory)
    exclusion = ", ".join(excludes) or None
    for include in includes or [""]:
        territory = WORLDWIDE_OUT if include.upper() in WORLDWIDE_CODES else include
        yield {**cells, "Territory": territory, "TerritoryExclusion": exclusion}


def _license_type(rights: str, written: str) -> str:
    """The `LicenseType` of a grant's rights: as its avail wrote it (`Library`), when it
    came from one and still names those rights, else as EMA writes them (tvod as VOD)."""
    if written and RIGHTS.ema_license_types.get(written.strip().upper()) == rights:
        return written
    return _EMA_TYPE_OF.get(rights, rights)


def _window_duration(end: str) -> str | None:
    """The `WindowDuration` of an end that is a term (`10y`, `term:10y` while its start
    waits on an event), ISO 8601 (`P10Y`); None for any other end."""
    text = end.removeprefix("term:")
    try:
        term = parse_term(text)
    except BadInput:
        return None
    parts = ((term.years, "Y"), (term.months, "M"), (term.days, "D"))
    return "P" + "".join(f"{n}{unit}" for n, unit in parts if n)


def _edge_cells(value: str, *, is_start: bool) -> tuple[Any, str | None]:
    """The Start/End cell and its lag cell for a window edge as the ledger writes it (an
    end that is a term is an open End with its `WindowDuration`)."""
    if not value or (not is_start and _window_duration(value)):
        return ("Immediate" if is_start else "Open"), None
    match = _ISO_DATE.match(value)
    if match and len(value) == 10:
        try:
            return date.fromisoformat(value), None
        except ValueError:
            return value, None
    ref = _EVENT_REF.match(value.strip())
    if ref:
        condition = CONDITION_BY_EVENT.get(ref["event"], ref["event"])
        n = int(ref["n"] or 0)
        if n == 0:
            return condition, None
        sign = "-" if ref["sign"] == "-" else ""
        return condition, f"{sign}P{n}{ref['unit'].upper()}"
    return value, None


def _ema_territories(expression: str) -> tuple[list[str], list[str]]:
    """EMA names countries, not the ledger's groups: `Worldwide` with its exclusions when
    that is shorter, else one row per country. An expression the ledger cannot read is
    written as it stands, for the reader at the other end to report."""
    try:
        countries = parse_territory(expression).countries
    except BadInput:
        return split_territory(expression)
    missing = ALL_COUNTRIES - countries
    if len(missing) < len(countries):
        return ["WW"], sorted(missing)
    return sorted(countries), []


def split_territory(expression: str) -> tuple[list[str], list[str]]:
    """Split a territory expression's text into included and excluded items.

    Textual only (nothing is resolved): `WW -CN -HK` -> (["WW"], ["CN", "HK"]);
    `KR, JP` -> (["KR", "JP"], []); `ASIA excluding CN, JP` -> (["ASIA"], ["CN", "JP"]);
    the words of a country name stay together (`Hong Kong`).
    """
    head, *rest = re.split(r"(?i)\bexcluding\b", expression, maxsplit=1)
    includes: list[str] = []
    excludes: list[str] = []
    for part in re.split(r"[,;]", head):
        for excluded, item in _items(part.split()):
            (excludes if excluded else includes).append(item)
    for part in re.split(r"[,;]", rest[0] if rest else ""):
        excludes.extend(item for _, item in _items(part.split()))
    return includes, excludes


def _items(words: list[str]) -> Iterator[tuple[bool, str]]:
    """Group words into (is_exclusion, item): a code or `-code` stands alone, while
    consecutive words of a name (`Hong Kong`, `-South Korea`) form one item."""
    current: list[str] = []
    excluded = False
    for word in words:
        minus = word.startswith("-") and len(word) > 1
        bare = word[1:] if minus else word
        joins_name = (
            current
            and not minus
            and not _CODE_LIKE.match(word)
            and not _CODE_LIKE.match(current[-1])
        )
        if joins_name:
            current.append(word)
            continue
        if current:
            yield excluded, " ".join(current)
        current, excluded = [bare], minus
    if current:
        yield excluded, " ".join(current)
