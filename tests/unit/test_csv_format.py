"""The deal CSV: reading by column name, errors with line numbers, write/read round trip."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import BadInput
from ledger.io.csv_format import (
    CSV_COLUMNS,
    NAME_COLUMNS,
    iter_csv,
    iter_csv_by_title,
    read_csv,
    write_csv,
)
from ledger.io.rows import GrantRow, RowErrors, slugify

HEADER = ",".join(CSV_COLUMNS)
GOOD_LINE = "ALI-REAL-2016,real,showbox,alibaba-pictures,svod;avod,WW -CN,2017-07-01,,sole,zh,mou"


def write(tmp_path: Path, text: str, name: str = "deal.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_a_row_is_read_with_its_line_number_and_values_as_written(tmp_path: Path) -> None:
    rows = read_csv(write(tmp_path, f"{HEADER}\n{GOOD_LINE}\n"))
    assert rows == [
        GrantRow(
            row=2,
            agreement="ALI-REAL-2016",
            title="real",
            grantor="showbox",
            grantee="alibaba-pictures",
            rights="svod;avod",
            territory="WW -CN",
            start="2017-07-01",
            end="",
            exclusivity="sole",
            language="zh",
            status="mou",
        )
    ]


def test_columns_are_found_by_name_in_any_order_and_case(tmp_path: Path) -> None:
    text = (
        "Territory,EXCLUSIVITY,agreement,Title,grantor,grantee,rights,start,end\n"
        "CN,exclusive,A1,real,showbox,ali,SVOD,theatrical+90d,2027-06-30\n"
    )
    [row] = read_csv(write(tmp_path, text))
    assert (row.territory, row.exclusivity, row.start, row.end) == (
        "CN",
        "exclusive",
        "theatrical+90d",
        "2027-06-30",
    )
    assert row.language == "" and row.status == ""


def test_unknown_columns_are_kept_in_extras(tmp_path: Path) -> None:
    [row] = read_csv(write(tmp_path, f"{HEADER},AvailID,Notes\n{GOOD_LINE},X-1,\n"))
    assert row.extras == {"AvailID": "X-1"}


def test_a_bom_crlf_and_blank_lines_are_tolerated(tmp_path: Path) -> None:
    text = f"\ufeff{HEADER}\r\n\r\n{GOOD_LINE}\r\n,,,,,,,,,,\r\n{GOOD_LINE}\r\n"
    rows = read_csv(write(tmp_path, text))
    assert [row.row for row in rows] == [3, 5]
    assert rows[0].agreement == "ALI-REAL-2016"


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_a_file_separated_by_semicolons_or_tabs_reads_as_the_same_rows(
    tmp_path: Path, delimiter: str
) -> None:
    comma = read_csv(write(tmp_path, f"{HEADER}\n{GOOD_LINE}\n", "comma.csv"))
    line = GOOD_LINE.replace(",", delimiter).replace("svod;avod", "svod,avod")
    header = HEADER.replace(",", delimiter)
    [row] = read_csv(write(tmp_path, f"\n{header}\n{line}\n", "excel.csv"))
    assert row._replace(row=2, rights="svod;avod") == comma[0]
    assert row.row == 3


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    header = HEADER.replace("territory,", "").replace("grantee,", "")
    with pytest.raises(BadInput, match=r"deal.csv row 1: missing columns 'grantee', 'territory'"):
        read_csv(write(tmp_path, f"{header}\n"))


def test_every_row_with_a_missing_value_is_reported_with_its_line(tmp_path: Path) -> None:
    no_territory = GOOD_LINE.replace("WW -CN", "")
    no_title_or_start = GOOD_LINE.replace(",real,", ",,").replace("2017-07-01", "")
    text = f"{HEADER}\n{GOOD_LINE}\n{no_territory}\n{GOOD_LINE}\n{no_title_or_start}\n"
    with pytest.raises(RowErrors) as caught:
        read_csv(write(tmp_path, text))
    assert caught.value.errors == [
        (3, "missing 'territory'"),
        (5, "missing 'title', 'start'"),
    ]
    assert str(caught.value).startswith("deal.csv: 2 bad rows: row 3: missing 'territory'")
    assert caught.value.lines()[0] == "deal.csv row 3: missing 'territory'"
    assert caught.value.exit_code == 2


def test_a_row_with_more_values_than_the_header_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RowErrors, match="row 2: 12 values but the header has 11 columns"):
        read_csv(write(tmp_path, f"{HEADER}\n{GOOD_LINE},surplus\n"))


def test_a_file_that_is_not_utf8_is_refused_clearly(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\n{GOOD_LINE.replace('real', 'réal')}\n", encoding="cp1252")
    with pytest.raises(BadInput, match=r"deal.csv: not UTF-8 text .*save the file as CSV UTF-8"):
        read_csv(path)


def test_an_empty_file_asks_for_a_header(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"deal\.csv: empty file; expected a header row"):
        read_csv(write(tmp_path, "\n\n"))


def test_a_duplicated_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="column 'Title' appears twice"):
        read_csv(write(tmp_path, f"{HEADER},Title\n"))


def test_a_quoted_line_break_keeps_the_row_number_of_its_first_line(tmp_path: Path) -> None:
    text = f'{HEADER},note\n{GOOD_LINE},"two\nlines"\n{GOOD_LINE},x\n'
    rows = read_csv(write(tmp_path, text))
    assert [row.row for row in rows] == [2, 4]
    assert rows[0].extras == {"note": "two\nlines"}


def test_slugify_makes_ids_from_names() -> None:
    assert slugify("Alibaba Pictures") == "alibaba-pictures"
    assert slugify("  Les détectives ") == "les-detectives"
    assert slugify("Mission: Impossible \u2013 Rogue Nation") == "mission-impossible-rogue-nation"
    assert slugify("阿里巴巴影业") == "阿里巴巴影业"


text_value = (
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(bool)
)
optional_value = st.one_of(st.just(""), text_value)


@st.composite
def grant_rows(draw: st.DrawFn) -> GrantRow:
    return GrantRow(
        row=0,
        agreement=draw(text_value),
        title=draw(text_value),
        grantor=draw(text_value),
        grantee=draw(text_value),
        rights=draw(text_value),
        territory=draw(text_value),
        start=draw(text_value),
        end=draw(optional_value),
        exclusivity=draw(text_value),
        language=draw(optional_value),
        status=draw(optional_value),
        extras=draw(st.dictionaries(st.sampled_from(["AvailID", "ContentID"]), text_value)),
    )


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(grant_rows(), max_size=8))
def test_write_csv_then_read_csv_gives_the_same_rows(rows: list[GrantRow]) -> None:
    stream = io.StringIO()
    assert write_csv(rows, stream, extra_columns=("AvailID", "ContentID")) == len(rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "round.csv"
        path.write_text(stream.getvalue(), encoding="utf-8")
        back = read_csv(path)
    assert back == [row._replace(row=number) for number, row in enumerate(rows, start=2)]


def test_write_csv_writes_only_the_header_for_no_rows() -> None:
    stream = io.StringIO()
    assert write_csv([], stream) == 0
    assert stream.getvalue() == HEADER + "\n"


def test_a_rows_fields_follow_the_csv_columns_then_the_name_columns() -> None:
    # The fast row maker hands a row its values positionally, in this order.
    assert GrantRow._fields == ("row", *CSV_COLUMNS, *NAME_COLUMNS, "extras")


# -- a file read again a title at a time ---------------------------------------------

_LINE_ENDS = st.sampled_from(["\n", "\r\n", "\r"])
_CELLS = st.sampled_from(["plain", "阿里影业 Pictures", 'a "quoted", cell', "two\nlines", ""])


@st.composite
def _csv_files(draw: st.DrawFn) -> str:
    """A deal CSV with its titles in any order: quoted and non-ASCII cells, line breaks
    inside cells, blank lines, bad rows (a missing value, too many values)."""
    end = draw(_LINE_ENDS)
    delimiter = draw(st.sampled_from([",", ";"]))
    lines = [delimiter.join([*CSV_COLUMNS, "note"])]
    for n in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["good", "good", "good", "blank", "no-title", "too-many"]))
        title = draw(st.sampled_from(["real", "oldboy", "parasite", "미스 그래니"]))
        cells = [f"D{n}", title, "showbox", "cj", "svod", "KR", "2020-01-01", "", "exclusive"]
        cells += ["", "", draw(_CELLS)]
        if kind == "blank":
            lines.append("")
            continue
        if kind == "no-title":
            cells[1] = ""
        if kind == "too-many":
            cells.append("stray")
        quoted = ['"' + cell.replace('"', '""') + '"' for cell in cells]
        lines.append(delimiter.join(quoted))
    bom = "\ufeff" if draw(st.booleans()) else ""
    return bom + end.join(lines) + (end if draw(st.booleans()) else "")


@settings(max_examples=200, deadline=None)
@given(_csv_files())
def test_a_file_read_a_title_at_a_time_gives_the_rows_and_errors_of_a_straight_read(
    text: str,
) -> None:
    # The same rows, with the row numbers, values and problems a straight read gives;
    # for a file with no bad row (the only kind imported), grouped by title in order of
    # first mention, each title's in file order.
    with tempfile.TemporaryDirectory() as place:
        path = Path(place) / "deal.csv"
        path.write_bytes(text.encode())
        straight: list[tuple[int, str]] = []
        rows = list(iter_csv(path, straight))
        grouped: list[tuple[int, str]] = []
        by_title = list(iter_csv_by_title(path, grouped))
    assert sorted(grouped) == sorted(straight)
    assert sorted(by_title, key=lambda row: row.row) == rows
    if not straight:
        first: dict[str, int] = {}
        for row in rows:
            first.setdefault(row.title, len(first))
        assert by_title == sorted(rows, key=lambda row: first[row.title])


def test_a_file_read_a_title_at_a_time_keeps_each_titles_rows_in_file_order(
    tmp_path: Path,
) -> None:
    lines = [HEADER] + [GOOD_LINE.replace(",real,", f",{title},") for title in "abacb"]
    path = write(tmp_path, "\n".join(lines) + "\n")
    rows = list(iter_csv_by_title(path, []))
    assert [(row.title, row.row) for row in rows] == [
        ("a", 2),
        ("a", 4),
        ("b", 3),
        ("b", 6),
        ("c", 5),
    ]


def test_a_file_changed_between_its_two_reads_is_refused_not_read_as_it_now_is(
    tmp_path: Path,
) -> None:
    lines = [HEADER] + [GOOD_LINE.replace(",real,", f",{title},") for title in "abab"]
    path = write(tmp_path, "\n".join(lines) + "\n")
    rows = iter_csv_by_title(path, [])
    assert next(rows).row == 2  # the file is indexed; its rows are being read
    with path.open("a", encoding="utf-8") as stream:
        stream.write(GOOD_LINE + "\n")
    with pytest.raises(BadInput, match=r"deal.csv changed while it was read: import it again"):
        list(rows)


def test_a_file_cut_short_between_its_two_reads_is_refused(tmp_path: Path) -> None:
    lines = [HEADER] + [GOOD_LINE.replace(",real,", f",{title},") for title in "abab"]
    path = write(tmp_path, "\n".join(lines) + "\n")
    rows = iter_csv_by_title(path, [])
    next(rows)
    path.write_text(HEADER + "\n", encoding="utf-8")
    with pytest.raises(BadInput, match="changed while it was read"):
        list(rows)


def test_a_file_is_read_a_title_at_a_time_where_there_is_no_pread_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "pread")
    test_a_file_read_a_title_at_a_time_keeps_each_titles_rows_in_file_order(tmp_path)


def test_a_file_gone_before_it_is_read_a_title_at_a_time_is_refused_in_one_line(
    tmp_path: Path,
) -> None:
    with pytest.raises(BadInput, match=r"^gone.csv: cannot read file \(No such file"):
        list(iter_csv_by_title(tmp_path / "gone.csv", []))
