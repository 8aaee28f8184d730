"""Reading the MovieLabs Avails XML (schema v2.1 to v2.7) into grant rows.

An Avails XML file is an `AvailList` (or one `Avail`, or an `AvailListSigned` wrapping
lists) of `Avail`s; each names its licensor and one or more `Asset`s, and offers them
under one or more `Transaction`s (a licence type, territories, a window). Each
transaction of each asset is one grant, mapped by the spreadsheet's rules
(`ledger.io.ema.avail_row`, described in that module): the XML is read into the
spreadsheet's column names and the same function makes the row, so ids, extras, the
`unnamed-licensee` stand-in and event-relative windows are the same whichever form a
studio sends.

Elements are matched by local name, so every schema version reads alike whatever its
namespace (`.../avails/v2.1/avails` to `v2.7`, with `md` and `mdmec` of any version).
What the versions differ in, from the schemas `avails-v2.1.xsd` to `avails-v2.7.xsd` in
MovieLabs/mddf (`mddf-lib/src/com/movielabs/mddf/resources/`) and its translator
(`RowToXmlHelperV1_7_3.java`): v2.1 calls the asset language `StoreLanguage` and has no
`AllowedLanguage`; `Licensee` (in the transaction) and the `lag` attribute of
`StartCondition`/`EndCondition` came later; exclusivity is a `Term` named `Exclusive`
holding a `Boolean` (and `ExclusiveAttributes` a `Text`).

| XML                                              | column                        |
| ------------------------------------------------ | ----------------------------- |
| Avail/Licensor/DisplayName                       | DisplayName                   |
| Avail/ALID                                       | ALID                          |
| Transaction/Licensee (its text or DisplayName)   | Licensee                      |
| Transaction/@TransactionID                       | AvailID                       |
| Transaction/Territory/country or countryRegion   | Territory (several: a list)   |
| Transaction/TerritoryExcluded/...                | TerritoryExclusion            |
| Transaction/Start or StartCondition (@lag)       | Start (StartLag)              |
| Transaction/End or EndCondition (@lag)           | End (EndLag)                  |
| Transaction/AllowedLanguage (@asset)             | AllowedLanguages (`es:dub`)   |
| Transaction/Term[@termName=Exclusive]/Boolean    | Exclusive                     |
| Asset/WorkType                                   | WorkType                      |
| Asset/@contentID                                 | ContentID                     |
| Asset/*Metadata/TitleInternalAlias, ...          | TitleInternalAlias, ...       |
| .../EpisodeNumber/Number, .../SeasonNumber/Number | EpisodeNumber, SeasonNumber  |
| .../VolumeNumber/Number                          | VolumeNumber                  |
| .../SeriesMetadata/SeriesTitleInternalAlias, ... | SeriesTitleInternalAlias, ... |

plus the transaction's `LicenseType`, `ContractID`, `FormatProfile`,
`LicenseRightsDescription`, `WindowDuration`, `AssetLanguage` and `HoldbackLanguage`,
and the metadata's EIDR ids (`TitleEIDR-URN` as `TitleID`, `EditEIDR-URN` as `EditID`),
first `AltIdentifier` (`AltID`; `SeasonAltID`, `SeriesAltID` likewise) and `ReleaseDate`
(its year, `ReleaseYear`). An episode's ids are the spreadsheet's `EpisodeContentID`,
`EpisodeID` and `EpisodeAltID`, its titles `EpisodeTitleInternalAlias` and
`EpisodeTitleDisplayUnlimited`. Ids are kept as written (`urn:eidr:10.5240:...`).
Ratings, prices and other terms say nothing of who holds which rights and are not read.

A grant's `row` is the line of its `Transaction` element, and each problem the reader
finds also names the avail and transaction by position (`Avail 2, Transaction 1`).

The file is untrusted input: it is parsed with expat (the parser under
`xml.etree.ElementTree`, driven directly so that each element's line is known), which
never fetches external entities, and a file that declares a DOCTYPE or an entity is
refused outright, so no entity expansion (the "billion laughs") can happen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

from ledger.errors import BadInput
from ledger.io.ema import AvailProblem, AvailRows, AvailWithdrawn, avail_row
from ledger.io.rows import RowErrors

AVAILS_ROOTS = frozenset({"AvailList", "Avail", "AvailListSigned"})
# Elements of the transaction read as the spreadsheet column of the same name.
TRANSACTION_TEXT = (
    "LicenseType",
    "ContractID",
    "FormatProfile",
    "LicenseRightsDescription",
    "WindowDuration",
)
# Series and season details sit at different depths for episodes and seasons.
TV_DETAILS = (
    "SeriesTitleInternalAlias",
    "SeriesTitleDisplayUnlimited",
    "SeriesContentID",
    "SeasonContentID",
    "SeasonTitleInternalAlias",
    "SeasonTitleDisplayUnlimited",
    "VolumeTitleInternalAlias",
    "VolumeTitleDisplayUnlimited",
)
_YEAR = re.compile(r"^(\d{4})\b")


class _Declaration(Exception):
    """The file declares a DOCTYPE or an entity; raised from inside the parser."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def read_ema_xml(path: Path, *, licensee: str = "") -> AvailRows:
    """Read every transaction of an Avails XML file into grant rows.

    `licensee` names the grantee where a transaction names none. Raises `BadInput` for
    a file that is not well-formed XML or not Avails, and `RowErrors` listing every
    transaction that cannot be mapped.
    """
    name = path.name
    root, lines = _parse(path)
    if root.tag not in AVAILS_ROOTS:
        raise BadInput(
            f"{name}: not an Avails XML file (its root element is <{root.tag}>, not <AvailList>)"
        )
    rows = AvailRows()
    errors: list[tuple[int, str]] = []
    avails = list(root.iter("Avail"))
    if not avails:
        raise BadInput(f"{name}: an Avails XML file with no <Avail>")
    for avail_number, avail in enumerate(avails, start=1):
        transactions = avail.findall("Transaction")
        if not transactions:
            errors.append((lines[avail], f"Avail {avail_number}: no <Transaction>"))
        assets = avail.findall("Asset") or [Element("Asset")]
        for number, transaction in enumerate(transactions, start=1):
            line = lines[transaction]
            for asset in assets:
                try:
                    rows.append(avail_row(_fields(avail, asset, transaction), line, licensee))
                except AvailWithdrawn:
                    rows.withdrawn.append(str(line))
                except AvailProblem as problem:
                    errors.append((line, f"Avail {avail_number}, Transaction {number}: {problem}"))
    if errors:
        raise RowErrors(name, errors)
    return rows


def _parse(path: Path) -> tuple[Element, dict[Element, int]]:
    """The document with namespaces dropped from names, and the line of each element."""
    builder = TreeBuilder()
    lines: dict[Element, int] = {}
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True

    def start(tag: str, attributes: dict[str, str]) -> None:
        element = builder.start(_local(tag), {_local(k): v for k, v in attributes.items()})
        lines[element] = parser.CurrentLineNumber

    def end(tag: str) -> None:
        builder.end(_local(tag))

    def refuse(*_: object) -> None:
        raise _Declaration(parser.CurrentLineNumber)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    # Entities can only be declared inside a DOCTYPE, so refusing it refuses them all,
    # before expat reads the first declaration.
    parser.StartDoctypeDeclHandler = refuse
    try:
        with path.open("rb") as stream:
            parser.ParseFile(stream)
    except expat.ExpatError as error:
        raise BadInput(
            f"{path.name}: not well-formed XML: {expat.ErrorString(error.code)} "
            f"(line {error.lineno}, column {error.offset + 1})"
        ) from None
    except _Declaration as declaration:
        raise BadInput(
            f"{path.name}: line {declaration.line}: a DOCTYPE or ENTITY declaration; "
            "Avails XML has none, and it is refused for safety"
        ) from None
    except OSError as error:
        raise BadInput(f"{path.name}: cannot read file ({error.strerror})") from None
    return builder.close(), lines


def _local(name: str) -> str:
    # With a namespace separator expat names elements "uri local".
    return name.rsplit(" ", 1)[-1]


def _fields(avail: Element, asset: Element, transaction: Element) -> dict[str, str]:
    """The avail's values under the EMA spreadsheet's column names."""
    metadata = next((child for child in asset if child.tag.endswith("Metadata")), Element("_"))
    # An episode's own titles and ids are the episode's: the spreadsheet's Episode* columns.
    episode = metadata.tag == "EpisodeMetadata"
    prefix = "Episode" if episode else ""
    fields = {
        "DisplayName": _text(avail.find("Licensor/DisplayName")),
        "EntryType": _text(avail.find("Disposition/EntryType")),
        "ALID": _text(avail.find("ALID")),
        "Licensee": _licensee(transaction.find("Licensee")),
        "AvailID": transaction.get("TransactionID", "").strip(),
        "Territory": _regions(transaction.findall("Territory")),
        "TerritoryExclusion": _regions(transaction.findall("TerritoryExcluded")),
        **_edge(transaction, "Start"),
        **_edge(transaction, "End"),
        "AllowedLanguages": _languages(transaction.findall("AllowedLanguage")),
        "AssetLanguage": _languages(
            [*transaction.findall("AssetLanguage"), *transaction.findall("StoreLanguage")]
        ),
        "HoldbackLanguage": _languages(transaction.findall("HoldbackLanguage")),
        "Exclusive": _term(transaction, "Exclusive"),
        "ExclusiveAttributes": _term(transaction, "ExclusiveAttributes"),
        "WorkType": _text(asset.find("WorkType")),
        f"{prefix}ContentID": asset.get("contentID", "").strip(),
        f"{prefix}TitleInternalAlias": _text(metadata.find("TitleInternalAlias")),
        f"{prefix}TitleDisplayUnlimited": _text(metadata.find("TitleDisplayUnlimited")),
        "TitleDisplay19": _text(metadata.find("TitleDisplay19")),
        "TitleID": _text(metadata.find("TitleEIDR-URN")),
        "EpisodeID" if episode else "EditID": _text(metadata.find("EditEIDR-URN")),
        "ReleaseYear": _year(_text(metadata.find("ReleaseDate"))),
        "EpisodeNumber": _text(asset.find(".//EpisodeNumber/Number")),
        "SeasonNumber": _text(asset.find(".//SeasonNumber/Number")),
        "VolumeNumber": _text(asset.find(".//VolumeNumber/Number")),
        **{detail: _text(asset.find(f".//{detail}")) for detail in TV_DETAILS},
        **_alt_id(metadata.find("AltIdentifier/Identifier"), f"{prefix}AltID"),
        **_alt_id(asset.find(".//SeasonAltIdentifier/Identifier"), "SeasonAltID"),
        **_alt_id(asset.find(".//SeriesAltIdentifier/Identifier"), "SeriesAltID"),
    }
    fields.update((column, _text(transaction.find(column))) for column in TRANSACTION_TEXT)
    return fields


def _alt_id(identifier: Element | None, column: str) -> dict[str, str]:
    """An alternative id; MovieLabs' translator writes the spreadsheet's `AltID` column
    as `AltID:value` (`SeasonAltID:value`, ...), so that label is dropped."""
    text = _text(identifier)
    return {column: text.removeprefix(f"{column}:")}


def _text(element: Element | None) -> str:
    # Pretty-printed files wrap long titles over lines: runs of white space are one space.
    return " ".join((element.text or "").split()) if element is not None else ""


def _licensee(element: Element | None) -> str:
    """`Licensee` is a name in the schema (md:OrgName) but MovieLabs' own translator
    writes it as a `DisplayName` inside: either is read."""
    if element is None:
        return ""
    return _text(element) or _text(element.find("DisplayName"))


def _regions(territories: Iterable[Element]) -> str:
    codes = [
        _text(region)
        for territory in territories
        for region in territory
        if region.tag in ("country", "countryRegion")
    ]
    return ", ".join(code for code in codes if code)


def _edge(transaction: Element, edge: str) -> dict[str, str]:
    """`Start` (a date and time) or `StartCondition` (with its `lag`), likewise `End`."""
    condition = transaction.find(f"{edge}Condition")
    if condition is not None:
        return {edge: _text(condition), f"{edge}Lag": condition.get("lag", "").strip()}
    return {edge: _text(transaction.find(edge))}


def _languages(elements: Iterable[Element]) -> str:
    """`<AllowedLanguage asset="dub">es</AllowedLanguage>` as the spreadsheet's `es:dub`."""
    tags = []
    for element in elements:
        tag, asset = _text(element), element.get("asset", "").strip()
        if tag:
            tags.append(f"{tag}:{asset}" if asset else tag)
    return ", ".join(tags)


def _term(transaction: Element, term_name: str) -> str:
    for term in transaction.findall("Term"):
        if term.get("termName", "").strip() == term_name:
            return next((_text(value) for value in term), "")
    return ""


def _year(release_date: str) -> str:
    match = _YEAR.match(release_date)
    return match[1] if match else ""
