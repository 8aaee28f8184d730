"""EMA Avails spreadsheets: the MovieLabs samples, the mapping rules, and a round trip."""

from __future__ import annotations

import re
import tempfile
import warnings
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.territories import parse_territory
from ledger.errors import BadInput
from ledger.io.ema import read_ema, split_territory, write_ema
from ledger.io.rows import GrantRow, RowErrors

# CI checks the repository out beside `shared/`, so look next to the clone.
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ema-avails"
SAMPLE_FILES = sorted(SAMPLES.glob("*.xlsx")) if SAMPLES.is_dir() else []
needs_samples = pytest.mark.skipif(
    not SAMPLE_FILES, reason=f"MovieLabs EMA samples not found at {SAMPLES}"
)
# Grant rows, without the avails each sample withdraws (`WITHDRAWN`).
EXPECTED_ROWS = {
    "All_v1.8.xlsx": 64,
    "Avails_noErrors_v2.3_v1.8.xlsx": 24,
    "Movies_v1.7.2.xlsx": 26,
    "Movies_v1.7.2_Bundle.xlsx": 4,
    "Movies_v1.7.3.xlsx": 6,
    "Movies_v1.8.xlsx": 26,
    "Movies_v1.9.xlsx": 26,
    "TV_v1.7.3.xlsx": 8,
    "TV_v1.8.xlsx": 38,
    "TV_v1.9.xlsx": 38,
}
# Rows whose EntryType is `Full Delete`: The Last Dance taken back in DE.
WITHDRAWN = {
    "All_v1.8.xlsx": ["30 (sheet 'Template-Movies')"],
    "Movies_v1.7.2.xlsx": ["30"],
    "Movies_v1.8.xlsx": ["30"],
}


def sample(name: str) -> list[GrantRow]:
    with warnings.catch_warnings():
        # TV_v1.7.3.xlsx has no default style; openpyxl says so, harmlessly.
        warnings.simplefilter("ignore", UserWarning)
        return read_ema(SAMPLES / name)


@needs_samples
@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_every_sample_spreadsheet_reads_into_plausible_rows(path: Path) -> None:
    rows = sample(path.name)
    assert len(rows) == EXPECTED_ROWS[path.name]
    assert rows.withdrawn == WITHDRAWN.get(path.name, [])
    for row in rows:
        assert row.row >= 4
        assert row.title and row.grantor and row.rights and row.territory
        assert row.exclusivity in {"exclusive", "sole", "non-exclusive"}
        assert row.status == "signed"
        assert row.start == "" or row.start[:4].isdigit() or "+" in row.start or "-" in row.start


@needs_samples
def test_the_first_movie_avail_of_v1_8_is_an_exclusive_est_in_the_us() -> None:
    first = sample("Movies_v1.8.xlsx")[0]
    assert (first.row, first.territory, first.rights, first.exclusivity) == (
        4,
        "US",
        "est",
        "exclusive",
    )
    assert (first.title, first.title_name) == (
        "the-view-from-a-mountain-2006",
        "The View from a Mountain",
    )
    assert (first.grantor, first.grantor_name) == ("rockstar-films", "Rockstar Films")
    assert (first.start, first.end) == ("2013-06-14", "")
    assert first.extras["FormatProfile"] == "HD"
    assert first.extras["ContentID"] == "10.5240/:1489-49A2-3956-4B2D-ZZ44-7"


@needs_samples
def test_a_preorder_ends_at_the_est_start() -> None:
    preorder = sample("Movies_v1.9.xlsx")[2]
    assert (preorder.rights, preorder.territory, preorder.start, preorder.end) == (
        "poest",
        "CA",
        "2013-04-14",
        "est+0d",
    )


@needs_samples
def test_worldwide_with_exclusions_and_lagged_conditions_of_v1_7_3() -> None:
    first, second = sample("Movies_v1.7.3.xlsx")[:2]
    assert first.territory == "WW -CA -US"
    assert (first.grantee, first.grantee_name) == ("sofa-spud", "Sofa Spud")
    assert first.language == "es;fr"
    assert (first.start, first.end) == ("2018-01-20", "2019-06-20")
    assert second.territory == "WW -US"
    # -PT12H and -P5DT10H round outwards to whole days: the window is never narrowed.
    assert (second.start, second.end) == ("theatrical-1d", "broadcast-5d")
    assert second.extras["StartLagExact"] == "-PT12H"


@needs_samples
def test_tv_avails_name_the_season_or_episode_as_the_title() -> None:
    rows = sample("TV_v1.9.xlsx")
    season, episode = rows[0], rows[4]
    assert (season.title, season.title_name) == ("the-detectives-s1", "The Detectives Season 1")
    assert season.extras["WorkType"] == "Season"
    assert episode.title == "the-detectives-s1-e1"
    assert episode.title_name == "The Time and Place"
    assert episode.extras["SeriesTitleInternalAlias"] == "Detectives, The"
    assert not any(v.startswith("//") for row in rows for v in row.extras.values())


def test_a_season_or_episode_number_written_in_words_or_with_zeros_names_one_title(
    tmp_path: Path,
) -> None:
    head = [
        ["Avail", "AvailTrans", "AvailTrans", "AvailTrans", "AvailTrans"] + ["AvailAsset"] * 4,
        [
            "DisplayName",
            "Territory",
            "LicenseType",
            "Start",
            "End",
            "WorkType",
            "SeriesTitleInternalAlias",
            "SeasonNumber",
            "EpisodeNumber",
        ],
        ["//REQ"] * 9,
    ]
    written = [
        ("1", "1"),
        ("01", "01"),
        ("Season 1", "Episode 1"),
        ("S1", "S01E01"),
        ("1", "Special"),
    ]
    path = make_workbook(
        tmp_path / "tv.xlsx",
        [
            *head,
            *(
                ["Showbox", "KR", "SVOD", "2017-07-01", "Open", "Episode", "Signal", s, e]
                for s, e in written
            ),
        ],
    )
    titles = [row.title for row in read_ema(path)]
    assert titles == ["signal-s1-e1"] * 4 + ["signal-s1-especial"]


@needs_samples
def test_a_licensee_can_be_supplied_when_the_file_leaves_it_out() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        [row, *_] = read_ema(SAMPLES / "Movies_v1.9.xlsx", licensee="Sofa Spud")
    assert (row.grantee, row.grantee_name) == ("sofa-spud", "Sofa Spud")


@needs_samples
def test_a_workbook_with_several_ema_sheets_says_which_sheet_a_row_is_on() -> None:
    rows = sample("All_v1.8.xlsx")
    assert {row.extras["Sheet"] for row in rows} == {"Template-Movies", "Template-TV"}


def make_workbook(path: Path, rows: list[list[Any]], title: str = "Movies") -> Path:
    workbook = openpyxl.Workbook()
    sheet: Any = workbook.active
    sheet.title = title
    for values in rows:
        sheet.append(values)
    workbook.save(path)
    return path


EMA_HEAD: list[list[Any]] = [
    [
        "Avail",
        "Avail",
        "AvailTrans",
        "AvailTrans",
        "AvailTrans",
        "AvailTrans",
        "AvailTrans",
        "AvailTrans",
        "AvailMetadata",
        "AvailMetadata",
    ],
    [
        "DisplayName",
        "Licensee",
        "Territory",
        "TerritoryExclusion",
        "LicenseType",
        "Start",
        "End",
        "Exclusive",
        "TitleInternalAlias",
        "ReleaseYear",
    ],
    [1.9, "//Opt", "//REQ", "//Opt", "//REQ", "//REQ", "//REQ", "//Opt", "//REQ", "//Opt"],
]


def test_a_spreadsheet_without_ema_columns_is_the_wrong_sheet(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "Movies.xlsx", [["title", "territory"], ["Real", "CN"]])
    with pytest.raises(BadInput, match=r"Movies.xlsx: wrong sheet: .*found sheets: Movies"):
        read_ema(path)


def test_a_file_that_is_not_xlsx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deal.xlsx"
    path.write_text("agreement,title\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"deal\.xlsx: not an xlsx file"):
        read_ema(path)
    csv_path = tmp_path / "deal.csv"
    csv_path.write_text("agreement,title\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"deal\.csv: not an xlsx file"):
        read_ema(csv_path)


def test_excel_serials_iso_text_and_open_ends_are_read(tmp_path: Path) -> None:
    path = make_workbook(
        tmp_path / "a.xlsx",
        [
            *EMA_HEAD,
            ["Showbox", "Alibaba Pictures", "CN", None, "SVOD", 42917, "Open", "Y", "Real", 2017],
            [
                "Showbox",
                "Alibaba Pictures",
                "Worldwide",
                "CN; HK",
                "AVOD",
                "2017-07-01T00:00:00",
                None,
                "no",
                "Real",
                2017,
            ],
        ],
    )
    first, second = read_ema(path)
    assert (first.start, first.end, first.exclusivity) == ("2017-07-01", "", "exclusive")
    assert (first.agreement, first.grantee) == ("EMA-showbox-alibaba-pictures", "alibaba-pictures")
    assert (second.territory, second.start, second.exclusivity) == (
        "WW -CN -HK",
        "2017-07-01",
        "non-exclusive",
    )


def test_library_and_pre_release_are_transactional_vod_and_written_back_as_written(
    tmp_path: Path,
) -> None:
    path = make_workbook(
        tmp_path / "titles.xlsx",
        [
            *EMA_HEAD,
            ["Showbox", "iQIYI", "CN", None, "Library", "2018-01-01", "Open", "N", "Real", 2017],
            [
                "Showbox",
                "iQIYI",
                "KR",
                None,
                "Pre-Release",
                "2017-06-01",
                "2017-06-28",
                "Y",
                "Real",
                2017,
            ],
            ["Showbox", "iQIYI", "JP", None, "SVOD", "2018-01-01", "Open", "N", "Real", 2017],
        ],
    )
    library, pre_release, svod = read_ema(path)
    assert (library.rights, pre_release.rights, svod.rights) == ("tvod", "tvod", "svod")
    assert library.extras["LicenseType"] == "Library"
    assert pre_release.extras["LicenseType"] == "Pre-Release"
    assert "LicenseType" not in svod.extras
    exported = tmp_path / "export.xlsx"
    write_ema([library, pre_release, svod], exported)
    sheet = openpyxl.load_workbook(exported).worksheets[0]
    names = [cell.value for cell in sheet[2]]
    column = names.index("LicenseType")
    assert [row[column] for row in sheet.iter_rows(min_row=4, values_only=True)] == [
        "Library",
        "Pre-Release",
        "SVOD",
    ]
    assert [row.extras.get("LicenseType") for row in read_ema(exported)] == [
        "Library",
        "Pre-Release",
        None,
    ]


def test_an_immediate_start_is_tbd_until_its_event_is_recorded_and_is_written_back(
    tmp_path: Path,
) -> None:
    path = make_workbook(
        tmp_path / "now.xlsx",
        [*EMA_HEAD, ["Showbox", None, "CN", None, "SVOD", "Immediate", "Open", "Y", "Real", 2017]],
    )
    [row] = read_ema(path)
    assert (row.start, row.end) == ("immediate+0d", "")
    exported = tmp_path / "export.xlsx"
    write_ema([row._replace(start="immediate")], exported)  # as the ledger writes it
    sheet = openpyxl.load_workbook(exported).worksheets[0]
    names = [cell.value for cell in sheet[2]]
    [values] = sheet.iter_rows(min_row=4, values_only=True)
    assert values[names.index("Start")] == "Immediate"
    assert [back.start for back in read_ema(exported)] == ["immediate+0d"]


def test_a_sheet_saved_without_its_version_row_keeps_its_first_avail(tmp_path: Path) -> None:
    avails = [
        ["Showbox", None, "CN", None, "SVOD", "2017-07-01", "Open", "Y", "Real", 2017],
        ["Showbox", None, "KR", None, "EST", "2017-07-01", "Open", "N", "Real", 2017],
    ]
    with_groups = make_workbook(tmp_path / "groups.xlsx", [*EMA_HEAD[:2], *avails])
    names_only = make_workbook(tmp_path / "names.xlsx", [EMA_HEAD[1], *avails])
    assert [(r.row, r.territory) for r in read_ema(with_groups)] == [(3, "CN"), (4, "KR")]
    assert [(r.row, r.territory) for r in read_ema(names_only)] == [(2, "CN"), (3, "KR")]


def test_a_sheet_that_declares_itself_smaller_than_it_is_is_read_whole(tmp_path: Path) -> None:
    rows = [
        ["Showbox", None, c, None, "SVOD", "2017-07-01", "Open", "N", "Real", 2017]
        for c in ("CN", "KR", "JP")
    ]
    whole = make_workbook(tmp_path / "whole.xlsx", [*EMA_HEAD, *rows])
    small = tmp_path / "small.xlsx"
    with zipfile.ZipFile(whole) as source, zipfile.ZipFile(small, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.startswith("xl/worksheets/"):
                data = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:J4"', data)
            target.writestr(item, data)
    assert [r.territory for r in read_ema(small)] == ["CN", "KR", "JP"]


def test_allowed_languages_any_or_all_mean_every_language(tmp_path: Path) -> None:
    head = [[*EMA_HEAD[0], "AvailTrans"], [*EMA_HEAD[1], "AllowedLanguages"], [*EMA_HEAD[2], ""]]
    path = make_workbook(
        tmp_path / "langs.xlsx",
        [
            *head,
            *(
                ["Showbox", None, c, None, "SVOD", "2017-07-01", "Open", "N", "Real", 2017, w]
                for c, w in (("CN", "any"), ("KR", "All"), ("JP", "ko, ja"))
            ),
        ],
    )
    assert [(r.language, r.extras.get("AllowedLanguagesRaw")) for r in read_ema(path)] == [
        ("", "any"),
        ("", "All"),
        ("ko;ja", None),
    ]


def test_an_open_window_with_a_duration_ends_when_the_duration_runs_out(tmp_path: Path) -> None:
    head = [[*EMA_HEAD[0], "AvailTrans"], [*EMA_HEAD[1], "WindowDuration"], [*EMA_HEAD[2], ""]]
    path = make_workbook(
        tmp_path / "duration.xlsx",
        [
            *head,
            *(
                ["Showbox", None, "CN", None, "SVOD", start, end, "N", "Real", 2017, lasts]
                for start, end, lasts in (
                    ("2017-07-01", "Open", "P180D"),
                    ("ESTStart", None, "P2Y"),
                    ("2017-07-01", "2017-12-31", "P180D"),
                    ("2017-07-01", "Open", "PT12H"),
                )
            ),
        ],
    )
    ends = [row.end for row in read_ema(path)]
    # A date End governs; a duration the ledger cannot count (hours) leaves the end open.
    assert ends == ["180d", "2y", "2017-12-31", ""]
    # The ledger's own export of a term end that waits on its start: an open End and the
    # duration, read back as the same term.
    waiting = read_ema(path)[1]._replace(start="est", end="term:2y")
    exported = tmp_path / "export.xlsx"
    write_ema([waiting], exported)
    sheet = openpyxl.load_workbook(exported).worksheets[0]
    names = [cell.value for cell in sheet[2]]
    [values] = sheet.iter_rows(min_row=4, values_only=True)
    assert (values[names.index("End")], values[names.index("WindowDuration")]) == ("Open", "P2Y")
    assert [(row.start, row.end) for row in read_ema(exported)] == [("est+0d", "2y")]


def test_a_lag_that_takes_a_date_out_of_the_calendar_is_a_bad_row(tmp_path: Path) -> None:
    head = [[*EMA_HEAD[0], "AvailTrans"], [*EMA_HEAD[1], "EndLag"], [*EMA_HEAD[2], ""]]
    path = make_workbook(
        tmp_path / "lag.xlsx",
        [
            *head,
            [
                "Showbox",
                None,
                "CN",
                None,
                "SVOD",
                "2017-07-01",
                "9999-12-31",
                "N",
                "Real",
                2017,
                "P1D",
            ],
        ],
    )
    with pytest.raises(RowErrors, match="row 4: 'EndLag' is 'P1D': it takes 9999-12-31 out"):
        read_ema(path)


def test_a_damaged_workbook_is_bad_input_that_says_so(tmp_path: Path) -> None:
    whole = make_workbook(
        tmp_path / "whole.xlsx",
        [*EMA_HEAD, ["Showbox", None, "CN", None, "SVOD", "2017-07-01", "Open", "N", "Real", 2017]],
    )
    damaged = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(whole) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.startswith("xl/worksheets/"):
                data = data[: len(data) // 2]  # the sheet cut off half way
            target.writestr(item, data)
    with pytest.raises(BadInput, match=r"damaged\.xlsx: a damaged workbook"):
        read_ema(damaged)


def test_every_unmappable_row_is_reported_with_its_number(tmp_path: Path) -> None:
    path = make_workbook(
        tmp_path / "bad.xlsx",
        [
            *EMA_HEAD,
            ["Showbox", None, None, None, "SVOD", "2017-07-01", "Open", None, "Real", None],
            ["Showbox", None, "CN", None, "SVOD", "2017-07-01", "Open", None, "Real", None],
            [None] * 10,
            ["Showbox", None, "CN", None, "SVOD", "01/07/2017", "Open", None, "Real", None],
            ["Showbox", None, "CN", None, "SVOD", "2017-02-30", "Open", "maybe", "Real", None],
        ],
    )
    with pytest.raises(RowErrors) as caught:
        read_ema(path)
    rows = [row for row, _ in caught.value.errors]
    assert rows == [4, 7, 8]
    assert "missing 'Territory'" in caught.value.errors[0][1]
    assert "'Start' is '01/07/2017'" in caught.value.errors[1][1]
    assert str(caught.value).startswith("bad.xlsx: 3 bad rows: row 4: missing 'Territory'")


def test_a_v1_6_sheet_is_read_by_its_older_column_names(tmp_path: Path) -> None:
    # v1.6 names, as MovieLabs' translator maps them (mddf-lib RowToXmlHelperV1_6): the
    # allowed languages were `HoldbackExclusionLanguage`, the asset language
    # `StoreLanguage`, the edit id `ProductID`; there was no ALID column yet.
    columns = [
        ("Avail", "DisplayName", "Showbox"),
        ("AvailTrans", "Territory", "KR"),
        ("AvailTrans", "LicenseType", "EST"),
        ("AvailTrans", "Start", "2014-03-01"),
        ("AvailTrans", "End", "Open"),
        ("AvailMetadata", "TitleInternalAlias", "Mountain, The"),
        ("AvailTrans", "StoreLanguage", "ko"),
        ("AvailTrans", "HoldbackExclusionLanguage", "ko, en"),
        ("AvailAsset", "ProductID", "10.5240/1489-49A2-3956-4B2D-FE16-5"),
        ("AvailTrans", "FormatProfile", "HD"),
    ]
    groups, names, values = (list(part) for part in zip(*columns, strict=True))
    path = make_workbook(tmp_path / "Movies_v1.6.xlsx", [groups, names, ["1.6"], values])
    [row] = read_ema(path)
    assert (row.title, row.territory, row.rights, row.language) == (
        "the-mountain",
        "KR",
        "est",
        "ko;en",
    )
    assert row.extras["AssetLanguage"] == "ko"
    assert row.extras["EditID"] == "10.5240/1489-49A2-3956-4B2D-FE16-5"


def test_a_sheet_without_the_group_row_has_its_avails_from_row_3(tmp_path: Path) -> None:
    names, notes = EMA_HEAD[1], ["//REQ"] * len(EMA_HEAD[1])
    good = ["Showbox", None, "CN", None, "SVOD", "2017-07-01", "Open", "Y", "Real", 2017]
    bad = ["Showbox", None, None, None, "SVOD", "2017-07-01", "Open", "Y", "Real", 2017]
    [row] = read_ema(make_workbook(tmp_path / "flat.xlsx", [names, notes, good]))
    assert (row.row, row.title, row.territory, row.exclusivity) == (
        3,
        "real-2017",
        "CN",
        "exclusive",
    )
    with pytest.raises(RowErrors) as caught:
        read_ema(make_workbook(tmp_path / "flat-bad.xlsx", [names, notes, good, bad]))
    assert caught.value.errors == [(4, "missing 'Territory'")]


def test_column_names_under_a_title_and_note_rows_under_them_are_found(tmp_path: Path) -> None:
    # Google's EMA validator looks for the names in the first ten rows and skips every
    # `//` row after them (`EMAResourceValidator.findHeaderRowIndexes`): some senders put
    # a title above the template, and older ones described each column in a note row.
    groups, names = EMA_HEAD[:2]
    described = ["//Licensor", "//Optional", "ISO 3166 country code", None, "EST, VOD, SVOD"]
    avail = ["Showbox", None, "CN", None, "SVOD", "2017-07-01", "Open", "N", "Real", 2017]
    note_among_avails = ["//checked", None, "KR", None, "EST", "2017-07-01", "Open"]
    rows = [["Showbox avails, July 2017"], [], groups, names, ["1.6"], described, avail]
    path = make_workbook(tmp_path / "titled.xlsx", [*rows, note_among_avails])
    with pytest.raises(RowErrors) as caught:
        read_ema(path)
    # A note among the avails is read, never dropped unread: here it lacks its licensor.
    assert caught.value.errors == [(8, "missing 'DisplayName' (the licensor)")]
    [row] = read_ema(make_workbook(tmp_path / "titled-ok.xlsx", rows))
    assert (row.row, row.title, row.territory, row.rights) == (7, "real-2017", "CN", "svod")


def test_a_territory_expression_splits_into_included_and_excluded_items() -> None:
    assert split_territory("WW -CN -HK") == (["WW"], ["CN", "HK"])
    assert split_territory("KR, JP") == (["KR", "JP"], [])
    assert split_territory("ASIA excluding CN, JP") == (["ASIA"], ["CN", "JP"])
    assert split_territory("Hong Kong, South Korea") == (["Hong Kong", "South Korea"], [])


def test_write_ema_follows_the_template_layout(tmp_path: Path) -> None:
    grant = GrantRow(
        row=1,
        agreement="ALI-REAL-2016",
        title="real",
        grantor="showbox",
        grantee="alibaba-pictures",
        rights="SVOD",
        territory="WW -CN -HK",
        start="2017-07-01",
        end="est+30d",
        exclusivity="sole",
        title_name="Real",
        grantor_name="Showbox",
        grantee_name="Alibaba Pictures",
    )
    path = tmp_path / "out.xlsx"
    assert write_ema([grant], path) == 1
    sheet: Any = openpyxl.load_workbook(path).active
    names = [cell.value for cell in sheet[2]]
    data: dict[Any, Any] = dict(zip(names, (cell.value for cell in sheet[4]), strict=True))
    assert sheet["A1"].value == "Avail" and sheet["A3"].value == "1.9"
    assert data["Territory"] == "ZZ" and data["TerritoryExclusion"] == "CN, HK"
    assert data["Start"].date() == date(2017, 7, 1)
    assert (data["End"], data["EndLag"]) == ("ESTStart", "P30D")
    assert (data["Exclusive"], data["ExclusiveAttributes"]) == (True, "Sole")
    assert (data["DisplayName"], data["Licensee"]) == ("Showbox", "Alibaba Pictures")


codes = st.sampled_from(["CN", "HK", "KR", "JP", "US", "FR", "GREATER-CHINA", "ASIA"])
names = (
    st.text(alphabet="abcdefghij ABCDEF", min_size=1, max_size=12)
    .map(str.strip)
    .filter(lambda s: bool(s) and not s.lower().endswith((" the", " a", " an")))
)
slugs = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,4})?", fullmatch=True)
edges = st.one_of(
    st.dates(min_value=date(1990, 1, 1), max_value=date(2060, 12, 31)).map(date.isoformat),
    st.builds(
        lambda e, n, u: f"{e}+{n}{u}",
        st.sampled_from(["est", "theatrical", "broadcast", "festival"]),
        st.integers(1, 400),
        st.sampled_from("dmy"),
    ),
)


@st.composite
def territories(draw: st.DrawFn) -> str:
    includes = draw(
        st.one_of(st.just(["WW"]), st.lists(codes, min_size=1, max_size=3, unique=True))
    )
    excludes = draw(st.lists(codes.filter(lambda c: c not in includes), max_size=3, unique=True))
    return " ".join(includes) + "".join(f" -{c}" for c in excludes)


@st.composite
def grants(draw: st.DrawFn) -> GrantRow:
    return GrantRow(
        row=0,
        agreement=draw(slugs),
        title=draw(slugs),
        grantor=draw(slugs),
        grantee=draw(slugs),
        rights=draw(st.sampled_from(["svod", "est", "tvod", "svod;avod", "pay-tv"])),
        territory=draw(territories()),
        start=draw(edges),  # a grant has a start: a day, or an event's (`Immediate` too)
        end=draw(st.one_of(st.just(""), edges)),
        exclusivity=draw(st.sampled_from(["exclusive", "sole", "non-exclusive"])),
        language=draw(st.sampled_from(["", "zh", "ko;zh"])),
        status=draw(st.sampled_from(["draft", "mou", "signed"])),
        title_name=draw(names),
        grantor_name=draw(names),
        grantee_name=draw(names),
        extras=draw(
            st.dictionaries(
                st.sampled_from(["ContentID", "FormatProfile", "AltID"]), slugs, max_size=2
            )
        ),
    )


def _countries(territory: str) -> frozenset[str] | str:
    """The countries of an expression the ledger reads; the text of one it cannot."""
    try:
        return parse_territory(territory).countries
    except BadInput:
        return territory


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(grants(), max_size=6))
def test_write_ema_then_read_ema_gives_the_same_grants(rows: list[GrantRow]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.xlsx"
        assert write_ema(rows, path) == len(rows)
        back = read_ema(path)
    assert len(back) == len(rows)
    for number, (original, read) in enumerate(zip(rows, back, strict=True), start=1):
        # The export gives every grant an AvailID (the exporter may pass the grant id), and
        # names countries rather than groups: the territory comes back as the same countries.
        expected_extras = {**original.extras, "AvailID": f"{original.agreement}-{number}"}
        assert _countries(read.territory) == _countries(original.territory)
        assert read._replace(row=0, territory="") == original._replace(
            extras=expected_extras, territory=""
        )


def test_extra_columns_survive_a_round_trip(tmp_path: Path) -> None:
    grant = GrantRow(
        row=1,
        agreement="A1",
        title="real",
        grantor="showbox",
        grantee="ali",
        rights="SVOD",
        territory="KR JP",
        start="",
        end="",
        exclusivity="non-exclusive",
        extras={"AvailID": "G7", "Notes": "from the MOU"},
    )
    path = tmp_path / "x.xlsx"
    write_ema([grant], path, extra_columns=["Notes"])
    [back] = read_ema(path)
    assert back.extras == {"AvailID": "G7", "Notes": "from the MOU"}
    assert back.territory == "JP KR" and back.row == 4
