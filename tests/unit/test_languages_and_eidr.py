"""Language lists (ISO 639) and EIDR ids (ISO 7064 Mod 37,36 check character)."""

from __future__ import annotations

import pytest

from ledger.domain.eidr import eidr_check_character, normalise_eidr
from ledger.domain.languages import parse_languages
from ledger.errors import BadInput

# --- languages --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("ko,zh", {"ko", "zh"}),
        ("kor", {"ko"}),
        ("Korean", {"ko"}),
        ("KO", {"ko"}),  # a code, not pycountry's language named "Ko"
        ("chi", {"zh"}),  # ISO 639-2/B bibliographic code
        ("fre; en", {"fr", "en"}),
        ("Japanese, Korean", {"ja", "ko"}),
        ("Mandarin Chinese", {"cmn"}),  # no two-letter code: ISO 639-3
        ("Mandarin", {"cmn"}),
        ("Cantonese", {"yue"}),
        ("yue", {"yue"}),
    ],
)
def test_languages_normalise_to_iso_639_1_where_it_exists_else_639_3(
    text: str, codes: set[str]
) -> None:
    assert parse_languages(text) == codes


@pytest.mark.parametrize("text", ["zh-Hans", "pt-BR", "zh_Hant"])
def test_script_and_region_subtags_are_refused_not_dropped(text: str) -> None:
    with pytest.raises(BadInput, match="script or region subtag"):
        parse_languages(text)


def test_unknown_language_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(
        BadInput, match=r"^unknown language 'Korian' \(did you mean Korean \(ko\)\?\)$"
    ):
        parse_languages("ko, Korian")
    with pytest.raises(BadInput, match=r"^unknown language 'xx'$"):
        parse_languages("xx")


@pytest.mark.parametrize("text", ["", " , ; "])
def test_empty_language_list_is_an_error(text: str) -> None:
    with pytest.raises(BadInput, match="no languages given"):
        parse_languages(text)


# --- EIDR -------------------------------------------------------------------------------

# Real ids found in public sources: EIDR documentation (Ghostbusters title id), public
# metadata samples and open-source code that looks titles up in the registry.
REAL_EIDRS = [
    "10.5240/7791-8534-2C23-9030-8610-5",
    "10.5240/7EC7-228A-510A-053E-CBB8-J",
    "10.5240/B752-5B47-DBBE-E5D4-5A3F-N",
    "10.5240/2B3B-1E0E-9314-2C6E-A453-3",
    "10.5240/DF48-AB62-4486-C185-9E1B-4",
]


@pytest.mark.parametrize("eidr", REAL_EIDRS)
def test_real_eidr_ids_pass_their_check_character(eidr: str) -> None:
    assert normalise_eidr(eidr) == eidr


@pytest.mark.parametrize("eidr", REAL_EIDRS)
def test_changing_any_one_character_of_a_real_eidr_is_caught(eidr: str) -> None:
    suffix_start = len("10.5240/")
    for position in range(suffix_start, len(eidr)):
        original = eidr[position]
        if original == "-":
            continue
        alphabet = (
            "0123456789ABCDEF"
            if position < len(eidr) - 1
            else "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        )
        for replacement in alphabet:
            if replacement != original:
                mutated = eidr[:position] + replacement + eidr[position + 1 :]
                with pytest.raises(BadInput):
                    normalise_eidr(mutated)


def test_swapping_two_adjacent_digits_is_caught() -> None:
    eidr = "10.5240/7791-8534-2C23-9030-8610-5"
    swapped = "10.5240/7791-8534-C223-9030-8610-5"
    assert normalise_eidr(eidr)
    with pytest.raises(BadInput, match="fails its check character"):
        normalise_eidr(swapped)


def test_eidr_is_upper_cased_and_doi_wrappers_are_removed() -> None:
    assert normalise_eidr(" 10.5240/7ec7-228a-510a-053e-cbb8-j ") == REAL_EIDRS[1]
    assert normalise_eidr("doi:10.5240/7EC7-228A-510A-053E-CBB8-J") == REAL_EIDRS[1]
    assert normalise_eidr("https://doi.org/10.5240/7EC7-228A-510A-053E-CBB8-J") == REAL_EIDRS[1]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "7791-8534-2C23-9030-8610-5",  # no prefix
        "10.5241/7791-8534-2C23-9030-8610-5",  # another registrant
        "10.5240/7791-8534-2C23-9030-8610",  # no check character
        "10.5240/7791-8534-2G23-9030-8610-5",  # G is not hex
        "10.5240/779185342C23903086105",  # hyphens are part of the format
    ],
)
def test_malformed_eidr_ids_are_rejected(text: str) -> None:
    with pytest.raises(BadInput, match="not an EIDR id"):
        normalise_eidr(text)


def test_check_character_uses_the_full_base_36_alphabet() -> None:
    assert eidr_check_character("7EC7228A510A053ECBB8") == "J"
    assert eidr_check_character("779185342C2390308610") == "5"
