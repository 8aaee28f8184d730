"""Avails XML: the MovieLabs samples, every schema version, and untrusted input."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.errors import BadInput
from ledger.io.ema import read_ema
from ledger.io.ema_xml import read_ema_xml
from ledger.io.rows import GrantRow, RowErrors

# CI checks the repository out beside `shared/`, so look next to the clone.
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ema-avails"
needs_samples = pytest.mark.skipif(
    not (SAMPLES / "Avails_noErrors_v2.4.xml").is_file(),
    reason=f"MovieLabs Avails XML samples not found at {SAMPLES}",
)


def write(path: Path, avails: str, version: str = "2.4") -> Path:
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<avails:AvailList xmlns:avails="http://www.movielabs.com/schema/avails/v{version}/avails"'
        ' xmlns:md="http://www.movielabs.com/schema/md/v2.7/md">\n'
        f"{avails}</avails:AvailList>\n",
        encoding="utf-8",
    )
    return path


def avail(
    transactions: str, asset: str = "", licensor: str = "Showbox", entry: str = "Full Extract"
) -> str:
    asset = asset or (
        '<avails:Asset contentID="md:cid:showbox:real"><avails:WorkType>Movie</avails:WorkType>'
        "<avails:Metadata><avails:TitleDisplayUnlimited>Real</avails:TitleDisplayUnlimited>"
        "<avails:TitleInternalAlias>Real</avails:TitleInternalAlias>"
        "<avails:ReleaseDate>2017-06-28</avails:ReleaseDate></avails:Metadata></avails:Asset>"
    )
    return (
        "<avails:Avail><avails:ALID>md:alid:showbox:real</avails:ALID>"
        f"<avails:Disposition><avails:EntryType>{entry}</avails:EntryType></avails:Disposition>"
        f"<avails:Licensor><md:DisplayName>{licensor}</md:DisplayName></avails:Licensor>"
        "<avails:AvailType>single</avails:AvailType><avails:ShortDescription/>"
        f"{asset}{transactions}</avails:Avail>\n"
    )


def transaction(body: str, transaction_id: str = "T1") -> str:
    return f'<avails:Transaction TransactionID="{transaction_id}">{body}</avails:Transaction>\n'


US_EST = (
    "<avails:LicenseType>EST</avails:LicenseType>"
    "<avails:Territory><md:country>US</md:country></avails:Territory>"
    "<avails:Start>2017-07-01T00:00:00</avails:Start>"
    "<avails:EndCondition>Open</avails:EndCondition>"
)


@needs_samples
def test_an_avails_xml_file_imports_the_grants_it_describes() -> None:
    rows = read_ema_xml(SAMPLES / "Avails_noErrors_v2.4.xml", licensee="Sofa Spud")
    assert len(rows) == 24
    by_id = {row.extras["AvailID"]: row for row in rows}
    # Lines 42-62: EST of The Bravados in the US from 1917-09-24, open-ended, in HD.
    bravados = by_id["1431081"]
    assert bravados.row == 42
    assert (bravados.title, bravados.title_name) == ("the-bravados-1958", "The Bravados")
    assert (bravados.grantor, bravados.grantor_name) == ("20th-century-fox", "20th Century Fox")
    assert (bravados.grantee, bravados.grantee_name) == ("sofa-spud", "Sofa Spud")
    assert (bravados.rights, bravados.territory, bravados.start, bravados.end) == (
        "est",
        "US",
        "1917-09-24",
        "",
    )
    assert (bravados.exclusivity, bravados.status) == ("non-exclusive", "signed")
    assert bravados.language == "ar;cmn;cs;da;de;el"
    assert bravados.extras["ContentID"] == "md:cid:eidr-s:8FF3-1C20-84F5-F247-8BCD-E"
    assert bravados.extras["ALID"] == "md:pseudoalid:wprid.fox.com:001143"
    assert (bravados.extras["FormatProfile"], bravados.extras["AltID"]) == ("HD", "001143")
    # Lines 207-229: a dated window under contract 16623, es-419 recorded as Spanish.
    sith = by_id["573991-427591-6477-16623-338899-409927-US-EHVL-EN-HD"]
    assert (sith.agreement, sith.title, sith.start, sith.end) == (
        "16623",
        "star-wars-revenge-of-the-sith-2005",
        "2017-05-05",
        "2017-12-11",
    )
    assert (sith.language, sith.extras["AllowedLanguagesRaw"]) == ("en;es", "en, es-419")
    # Lines 714-726: an episode is its own title; its series and season go to extras.
    episode = by_id["6c1169aa-6038-11e8-9c2d-fa7ae01bbebc"]
    assert (episode.title, episode.title_name, episode.rights) == (
        "jake-and-the-neverland-pirates-s1-e1",
        "Hide The Hideout! /The Old Shell Game",
        "svod",
    )
    assert episode.extras["SeasonContentID"] == "md:cid:disney.com:jake-s01"
    assert episode.extras["EpisodeContentID"] == "md:cid:disney.com:jake-s01e01"
    season = by_id["49cf2ab2-44f4-11e8-842f-0ed5f89f718b"]
    assert (season.title, season.title_name) == (
        "jake-and-the-neverland-pirates-s1",
        "Jake and the Neverland Pirates Season 1",
    )


@needs_samples
def test_an_avails_xml_file_and_its_spreadsheet_twin_describe_the_same_grants() -> None:
    # MovieLabs publish the same avails as v2.4 XML and as a v1.8 workbook.
    def grant(row: GrantRow) -> GrantRow:
        return row._replace(row=0, extras={})

    xml = read_ema_xml(SAMPLES / "Avails_noErrors_v2.4.xml")
    workbook = read_ema(SAMPLES / "Avails_noErrors_v2.3_v1.8.xlsx")
    assert [grant(row) for row in xml] == [grant(row) for row in workbook]


def test_every_schema_version_reads_alike_whatever_its_namespace(tmp_path: Path) -> None:
    body = avail(transaction(US_EST + "<avails:StoreLanguage>en</avails:StoreLanguage>"))
    rows = [
        read_ema_xml(write(tmp_path / f"v{version}.xml", body, version))
        for version in ("2.1", "2.2.2", "2.5", "2.7")
    ]
    assert all(version == rows[0] for version in rows)
    [row] = rows[0]
    assert (row.title, row.rights, row.territory, row.start, row.end) == (
        "real-2017",
        "est",
        "US",
        "2017-07-01",
        "",
    )
    assert row.extras["AssetLanguage"] == "en"


def test_licensee_exclusivity_exclusions_and_languages_of_later_versions(tmp_path: Path) -> None:
    body = avail(
        transaction(
            "<avails:Licensee><md:DisplayName>iQIYI</md:DisplayName></avails:Licensee>"
            "<avails:LicenseType>SVOD</avails:LicenseType>"
            "<avails:Territory><md:country>WW</md:country></avails:Territory>"
            "<avails:TerritoryExcluded><md:country>CN</md:country></avails:TerritoryExcluded>"
            "<avails:TerritoryExcluded><md:country>HK</md:country></avails:TerritoryExcluded>"
            "<avails:Start>2018-01-01T00:00:00</avails:Start>"
            "<avails:End>2020-12-31T23:59:59</avails:End>"
            '<avails:AllowedLanguage asset="subdub">ko</avails:AllowedLanguage>'
            "<avails:AllowedLanguage>zh</avails:AllowedLanguage>"
            "<avails:FormatProfile>HD</avails:FormatProfile>"
            '<avails:Term termName="Exclusive"><avails:Boolean>true</avails:Boolean></avails:Term>'
            '<avails:Term termName="ExclusiveAttributes"><avails:Text>Sole</avails:Text>'
            "</avails:Term>"
        )
    )
    [row] = read_ema_xml(write(tmp_path / "v2.7.xml", body, "2.7"), licensee="ignored")
    assert (row.grantee, row.grantee_name, row.agreement) == ("iqiyi", "iQIYI", "T1")
    assert (row.territory, row.start, row.end) == ("WW -CN -HK", "2018-01-01", "2020-12-31")
    assert (row.exclusivity, row.language) == ("sole", "ko;zh")


def test_conditions_with_a_lag_become_event_relative_windows(tmp_path: Path) -> None:
    body = avail(
        transaction(
            "<avails:LicenseType>VOD</avails:LicenseType>"
            "<avails:Territory><md:country>KR</md:country></avails:Territory>"
            '<avails:StartCondition lag="P30D">Theatrical</avails:StartCondition>'
            '<avails:EndCondition lag="P1Y">Theatrical</avails:EndCondition>'
        )
    )
    [row] = read_ema_xml(write(tmp_path / "lag.xml", body))
    assert (row.rights, row.start, row.end, row.grantee) == (
        "tvod",
        "theatrical+30d",
        "theatrical+1y",
        "unnamed-licensee",
    )


def test_each_asset_of_an_avail_is_licensed_under_each_transaction(tmp_path: Path) -> None:
    def asset(name: str) -> str:
        return (
            f'<avails:Asset contentID="{name}"><avails:WorkType>Movie</avails:WorkType>'
            f"<avails:Metadata><avails:TitleInternalAlias>{name}</avails:TitleInternalAlias>"
            "</avails:Metadata></avails:Asset>"
        )

    body = avail(
        transaction(US_EST, "T1") + transaction(US_EST.replace("EST", "SVOD"), "T2"),
        asset=asset("Real") + asset("Miss Granny"),
    )
    rows = read_ema_xml(write(tmp_path / "two.xml", body))
    assert [(row.title, row.rights) for row in rows] == [
        ("real", "est"),
        ("miss-granny", "est"),
        ("real", "svod"),
        ("miss-granny", "svod"),
    ]


def test_a_volume_is_its_own_title_not_the_season_it_is_part_of(tmp_path: Path) -> None:
    # Shaped like MovieLabs' Avails_Volume_no-err_v2.4.xml.
    series = (
        "<avails:SeasonMetadata><avails:SeasonNumber><md:Number>1</md:Number>"
        "</avails:SeasonNumber><avails:SeriesMetadata><avails:SeriesTitleInternalAlias>"
        "Killer Rabbits from Space</avails:SeriesTitleInternalAlias></avails:SeriesMetadata>"
        "</avails:SeasonMetadata>"
    )
    volume = (
        '<avails:Asset contentID="md:cid:sofaspud.com:krfs-s01.2">'
        "<avails:WorkType>Volume</avails:WorkType><avails:VolumeMetadata>"
        "<avails:VolumeNumber><md:Number>2</md:Number></avails:VolumeNumber>"
        f"{series}</avails:VolumeMetadata></avails:Asset>"
    )
    [row] = read_ema_xml(write(tmp_path / "volume.xml", avail(transaction(US_EST), volume)))
    assert (row.title, row.title_name) == (
        "killer-rabbits-from-space-s1-v2",
        "Killer Rabbits from Space Season 1 Volume 2",
    )


def test_supplemental_material_is_a_title_of_its_own_not_the_film(tmp_path: Path) -> None:
    bonus = (
        '<avails:Asset contentID="md:cid:showbox:real-bonus">'
        "<avails:WorkType>Supplemental</avails:WorkType>"
        "<avails:Metadata><avails:TitleInternalAlias>Real</avails:TitleInternalAlias>"
        "<avails:ReleaseDate>2017-06-28</avails:ReleaseDate></avails:Metadata></avails:Asset>"
    )
    path = write(tmp_path / "a.xml", avail(transaction(US_EST)) + avail(transaction(US_EST), bonus))
    film, extra = read_ema_xml(path)
    assert (film.title, film.title_name) == ("real-2017", "Real")
    assert (extra.title, extra.title_name) == ("real-2017-supplemental", "Real (Supplemental)")


def test_a_withdrawn_avail_is_no_grant_and_its_line_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.xml",
        avail(transaction(US_EST))
        + avail(transaction(US_EST, "T2"), entry="Full Delete")
        + avail(transaction(US_EST, "T3"), entry="Delete"),
    )
    rows = read_ema_xml(path)
    assert [row.extras["AvailID"] for row in rows] == ["T1"]
    # The lines of their transactions (each avail's takes a line, and its end another).
    assert rows.withdrawn == ["5", "7"]


def test_every_unmappable_transaction_is_reported_with_its_line_and_place(
    tmp_path: Path,
) -> None:
    good = transaction(US_EST)
    no_territory = transaction(US_EST.replace("<md:country>US</md:country>", ""), "T2")
    body = avail(good + no_territory) + avail(good, licensor="") + avail("")
    with pytest.raises(RowErrors) as caught:
        read_ema_xml(write(tmp_path / "bad.xml", body))
    # Each transaction and each avail's close ends a line: the first avail's transactions
    # are on lines 3 and 4, the second avail on line 6, the third on line 8.
    assert caught.value.errors == [
        (4, "Avail 1, Transaction 2: missing 'Territory'"),
        (6, "Avail 2, Transaction 1: missing 'DisplayName' (the licensor)"),
        (8, "Avail 3: no <Transaction>"),
    ]


def test_malformed_xml_is_bad_input_that_says_where(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text("<AvailList>\n  <Avail>\n</AvailList>\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"^broken\.xml: not well-formed XML: .*\(line 3, column"):
        read_ema_xml(path)
    path.write_bytes(b"PK\x03\x04 a zip, not XML")
    with pytest.raises(BadInput, match=r"^broken\.xml: not well-formed XML"):
        read_ema_xml(path)


def test_an_xml_file_that_is_not_avails_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "manifest.xml"
    path.write_text('<manifest:MediaManifest xmlns:manifest="urn:x"/>', encoding="utf-8")
    with pytest.raises(BadInput, match=r"^manifest\.xml: not an Avails XML file .*MediaManifest"):
        read_ema_xml(path)
    with pytest.raises(BadInput, match=r"^empty\.xml: an Avails XML file with no <Avail>"):
        read_ema_xml(write(tmp_path / "empty.xml", ""))


def test_entity_declarations_are_refused_before_anything_expands(tmp_path: Path) -> None:
    laughs = (
        '<?xml version="1.0"?>\n<!DOCTYPE AvailList [\n <!ENTITY lol "lol">\n'
        ' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n]>\n'
        "<AvailList><Avail>&lol2;</Avail></AvailList>\n"
    )
    path = tmp_path / "laughs.xml"
    path.write_text(laughs, encoding="utf-8")
    with pytest.raises(BadInput, match=r"^laughs\.xml: line 2: a DOCTYPE or ENTITY declaration"):
        read_ema_xml(path)
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE AvailList SYSTEM "file:///etc/passwd">\n<AvailList/>',
        encoding="utf-8",
    )
    with pytest.raises(BadInput, match="DOCTYPE or ENTITY"):
        read_ema_xml(path)
