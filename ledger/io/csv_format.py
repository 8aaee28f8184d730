"""The ledger's CSV deal format: one header row, then one grant per line.

Columns are found by name (any order, any case); `language` and `status` may be left
out, and columns the ledger does not know are kept in `GrantRow.extras` so a caller can
echo them back. Values are passed on as written: territories, rights and dates are
checked by the import service, not here. Every bad line is collected before raising,
so one run of `import` or `check --file` shows every problem in the file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

from ledger.errors import BadInput
from ledger.io.rows import GrantRow, RowErrors

CSV_COLUMNS = (
    "agreement",
    "title",
    "grantor",
    "grantee",
    "rights",
    "territory",
    "start",
    "end",
    "exclusivity",
    "language",
    "status",
)
OPTIONAL_COLUMNS = ("language", "status")
REQUIRED_COLUMNS = tuple(c for c in CSV_COLUMNS if c not in OPTIONAL_COLUMNS)
# `end` must be a column (an absent column would silently make every grant perpetual)
# but an empty cell is meaningful: an open end.
REQUIRED_VALUES = tuple(c for c in REQUIRED_COLUMNS if c != "end")
# Display names a richer export may add; read into the row, not into extras.
NAME_COLUMNS = ("title_name", "grantor_name", "grantee_name")


def read_csv(path: Path) -> list[GrantRow]:
    """Read a deal CSV into rows; raise `BadInput` (or `RowErrors`) naming lines."""
    name = path.name
    try:
        # utf-8-sig drops the BOM Excel writes; newline="" lets csv handle CRLF and
        # line breaks inside quoted cells.
        with path.open(encoding="utf-8-sig", newline="") as stream:
            return _read_stream(stream, name)
    except UnicodeDecodeError as error:
        raise BadInput(
            f"{name}: not UTF-8 text (bad byte at offset {error.start}); save the file as CSV UTF-8"
        ) from None
    except OSError as error:
        raise BadInput(f"{name}: cannot read file ({error.strerror})") from None


def _read_stream(stream: TextIO, name: str) -> list[GrantRow]:
    reader = csv.reader(stream)
    header: list[str] | None = None
    for record in reader:
        if any(cell.strip() for cell in record):
            header = record
            break
    header_line = reader.line_num
    if header is None:
        raise BadInput(f"{name}: empty file; expected a header row: {','.join(CSV_COLUMNS)}")
    columns = _index_header(header, name, header_line)

    rows: list[GrantRow] = []
    errors: list[tuple[int, str]] = []
    line_after_previous = reader.line_num
    for record in reader:
        # A record may span lines (a quoted line break); report the line it starts on.
        line = line_after_previous + 1
        line_after_previous = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        row, problem = _make_row(record, line, header, columns)
        if problem:
            errors.append((line, problem))
        elif row is not None:
            rows.append(row)
    if errors:
        raise RowErrors(name, errors)
    return rows


def _index_header(header: list[str], name: str, line: int) -> dict[str, int]:
    """Map lower-cased column name -> position; reject duplicates and missing columns."""
    columns: dict[str, int] = {}
    for position, raw in enumerate(header):
        key = raw.strip().lower()
        if not key:
            continue
        if key in columns:
            raise BadInput(f"{name} row {line}: column '{raw.strip()}' appears twice")
        columns[key] = position
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        listed = ", ".join(f"'{c}'" for c in missing)
        raise BadInput(
            f"{name} row {line}: missing column{'s' if len(missing) > 1 else ''} {listed} "
            f"(the header needs {','.join(REQUIRED_COLUMNS)})"
        )
    return columns


def _make_row(
    record: list[str], line: int, header: list[str], columns: dict[str, int]
) -> tuple[GrantRow | None, str]:
    if len(record) > len(header) and any(cell.strip() for cell in record[len(header) :]):
        return None, f"{len(record)} values but the header has {len(header)} columns"

    def value(column: str) -> str:
        position = columns.get(column)
        if position is None or position >= len(record):
            return ""
        return record[position].strip()

    missing = [c for c in REQUIRED_VALUES if not value(c)]
    if missing:
        return None, "missing " + ", ".join(f"'{c}'" for c in missing)

    known = set(CSV_COLUMNS) | set(NAME_COLUMNS)
    extras = {
        header[position].strip(): record[position].strip()
        for key, position in columns.items()
        if key not in known and position < len(record) and record[position].strip()
    }
    return (
        GrantRow(
            row=line,
            agreement=value("agreement"),
            title=value("title"),
            grantor=value("grantor"),
            grantee=value("grantee"),
            rights=value("rights"),
            territory=value("territory"),
            start=value("start"),
            end=value("end"),
            exclusivity=value("exclusivity"),
            language=value("language"),
            status=value("status"),
            title_name=value("title_name"),
            grantor_name=value("grantor_name"),
            grantee_name=value("grantee_name"),
            extras=extras,
        ),
        "",
    )


def write_csv(rows: Iterable[GrantRow], stream: TextIO, extra_columns: Sequence[str] = ()) -> int:
    """Write the header and one line per row; return how many rows were written.

    Rows are written as they come, so an export of a million grants never holds them
    all. `extra_columns` names `extras` keys to add as columns after the standard ones
    (the header must be known before the first row, hence a parameter, not a scan).
    """
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *extra_columns])
    count = 0
    for row in rows:
        writer.writerow(
            [
                row.agreement,
                row.title,
                row.grantor,
                row.grantee,
                row.rights,
                row.territory,
                row.start,
                row.end,
                row.exclusivity,
                row.language,
                row.status,
                *(row.extras.get(column, "") for column in extra_columns),
            ]
        )
        count += 1
    return count
