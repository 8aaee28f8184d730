"""Territories: ISO 3166-1 countries, named groups, and territory expressions.

This module owns the meaning of "where" in the ledger. The unit is the ISO 3166-1
alpha-2 code taken from pycountry; named groups (WW, GREATER-CHINA, EU, EEA, the UN M49
regions) ship as data in ``ledger/data/territories.json``. A territory expression such as
``WW -CN -HK`` or ``ASIA excluding CN, JP`` is parsed into a `TerritoryExpr` and
normalised to a set of countries; `compact` turns a set back into its shortest readable
expression.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from importlib import resources
from typing import Any

import pycountry

from ledger.errors import BadInput

ALL_COUNTRIES: frozenset[str] = frozenset(c.alpha_2 for c in pycountry.countries)

# Words after which every item is an exclusion ("ASIA excluding CN, JP").
_EXCLUDING_WORDS = frozenset({"excluding", "except", "excl", "excl."})


@dataclass(frozen=True)
class TerritoryGroup:
    """A named set of countries shipped as data (WW, EU, EASTERN-ASIA...)."""

    id: str
    name: str
    kind: str
    countries: frozenset[str]
    aliases: tuple[str, ...] = ()


def _group_key(text: str) -> str:
    """Group ids are matched case-insensitively with spaces/underscores read as hyphens."""
    return re.sub(r"[\s_]+", "-", text.strip()).upper()


def _name_key(text: str) -> str:
    """A country name folded so that accents, case and punctuation do not matter."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", ascii_only.casefold()).split())


@dataclass(frozen=True)
class _Catalogue:
    """Everything loaded once from pycountry and territories.json, indexed for parsing.

    What only an unusual word needs (country names, withdrawn codes, suggestions for a
    misspelling) is built the first time one is met: most commands name codes and groups
    alone, and every command pays for what is built at start-up."""

    raw: Mapping[str, Any]
    groups: tuple[TerritoryGroup, ...]
    group_by_key: Mapping[str, str]
    alpha3: Mapping[str, str]
    replaced: Mapping[str, tuple[str, ...]]

    @cached_property
    def names(self) -> Mapping[str, frozenset[str]]:
        return _load_names(self.raw)

    @cached_property
    def obsolete(self) -> Mapping[str, tuple[str, tuple[str, ...]]]:
        return _load_obsolete(self.raw)

    @cached_property
    def suggestion_pool(self) -> Mapping[str, str]:
        pool: dict[str, str] = {code: code for code in ALL_COUNTRIES}
        pool.update(self.alpha3)
        pool.update(self.group_by_key)
        pool.update({key.upper(): _display_name(min(codes)) for key, codes in self.names.items()})
        return pool


def _display_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return str(getattr(country, "common_name", None) or getattr(country, "name", code))


def _load_groups(raw: list[dict[str, Any]]) -> tuple[TerritoryGroup, ...]:
    groups = []
    for entry in raw:
        codes = ALL_COUNTRIES if entry["countries"] == ["*"] else frozenset(entry["countries"])
        unknown = codes - ALL_COUNTRIES
        if unknown:
            raise ValueError(f"territories.json: group {entry['id']} has unknown {sorted(unknown)}")
        groups.append(
            TerritoryGroup(
                id=entry["id"],
                name=entry["name"],
                kind=entry["kind"],
                countries=codes,
                aliases=tuple(entry.get("aliases", ())),
            )
        )
    return tuple(groups)


def _iso_names() -> Iterator[tuple[str, str]]:
    """(name, code) for each of pycountry's names of each country: its name, official
    name and common name."""
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                yield value, country.alpha_2


def _load_names(raw: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    names: dict[str, set[str]] = {}
    for name, code in _iso_names():
        names.setdefault(_name_key(name), set()).add(code)
    for name, code in raw["country_names"].items():
        names.setdefault(_name_key(name), set()).add(code)
    # Listed ambiguous names replace whatever pycountry says: "Congo" is the ISO short
    # name of CG, but in a contract it is as likely to mean CD, so we make users choose.
    for name, codes in raw["ambiguous_names"].items():
        names[_name_key(name)] = set(codes)
    return {key: frozenset(codes) for key, codes in names.items()}


def _load_obsolete(raw: Mapping[str, Any]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Withdrawn codes (pycountry.historic_countries) with their successors.

    pycountry's alpha_4 ends in the single successor's code (BUMM: Burma -> MM); split
    countries (HH, XX) get their successors from the data file.
    """
    found: dict[str, tuple[list[str], list[str]]] = {}
    for old in pycountry.historic_countries:
        if old.alpha_2 in ALL_COUNTRIES:  # reassigned since (BY, GE, SK...): not obsolete
            continue
        labels, successors = found.setdefault(old.alpha_2, ([], []))
        withdrawn = getattr(old, "withdrawal_date", "")
        labels.append(f"{old.name}, withdrawn {withdrawn}" if withdrawn else old.name)
        tail = old.alpha_4[2:]
        if tail in ALL_COUNTRIES and tail not in successors:
            successors.append(tail)
    result: dict[str, tuple[str, tuple[str, ...]]] = {}
    for code, (labels, successors) in found.items():
        listed = raw["successors"].get(code)
        result[code] = ("; ".join(labels), tuple(listed if listed else successors))
    return result


@cache
def _catalogue() -> _Catalogue:
    text = resources.files("ledger.data").joinpath("territories.json").read_text("utf-8")
    raw = json.loads(text)
    groups = _load_groups(raw["groups"])
    group_by_key: dict[str, str] = {}
    for group in groups:
        for key in (group.id, *group.aliases):
            group_by_key[_group_key(key)] = group.id
    return _Catalogue(
        raw=raw,
        groups=groups,
        group_by_key=group_by_key,
        alpha3={c.alpha_3: c.alpha_2 for c in pycountry.countries},
        replaced={code: tuple(entry["use"]) for code, entry in raw["replaced_codes"].items()},
    )


@cache
def _group_sets() -> Mapping[str, frozenset[str]]:
    return {group.id: group.countries for group in _catalogue().groups}


def _countries_of(item: str) -> frozenset[str]:
    """The countries named by one normalised item (a country code or a group id)."""
    return _group_sets().get(item) or frozenset({item})


@dataclass(frozen=True)
class TerritoryExpr:
    """A parsed territory expression: the union of `includes` minus the union of `excludes`.

    Items are normalised alpha-2 codes or group ids, de-duplicated, in input order, so the
    expression reads back as the user wrote it; equality is on the items, not the
    countries (compare `countries` for that).
    """

    includes: tuple[str, ...]
    excludes: tuple[str, ...] = ()

    @cached_property
    def countries(self) -> frozenset[str]:
        included = frozenset().union(*(_countries_of(item) for item in self.includes))
        excluded = frozenset().union(*(_countries_of(item) for item in self.excludes))
        return included - excluded

    @cached_property
    def text(self) -> str:
        """The expression written out (`WW -CN`), made once: an import stores it twice a row."""
        return " ".join([*self.includes, *(f"-{item}" for item in self.excludes)])

    def __str__(self) -> str:
        return self.text


def _join_or(options: Iterable[str]) -> str:
    items = list(options)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def _unknown(words: list[str]) -> BadInput:
    """An error for words that name nothing, suggesting the closest thing they might mean.

    Each leading run of words is tried ("Hong Kongg" as a whole, then "Hong") and the
    best-scoring suggestion wins, so the message quotes what the user meant to write.
    """
    import difflib  # only for a word that names nothing: start-up counts

    pool = _catalogue().suggestion_pool
    best: tuple[float, str, str] | None = None
    for length in range(len(words), 0, -1):
        phrase = " ".join(words[:length])
        key = _name_key(phrase).upper() if len(phrase) > 3 else phrase.upper()
        for match in difflib.get_close_matches(key, list(pool), n=1, cutoff=0.6):
            score = difflib.SequenceMatcher(None, key, match).ratio()
            if best is None or score > best[0]:
                best = (score, phrase, pool[match])
    if best is None:
        return BadInput(f"unknown territory '{words[0]}'")
    return BadInput(f"unknown territory '{best[1]}' (did you mean {best[2]}?)")


def _resolve_code(text: str) -> str | None:
    """A code, group id or alpha-3 code; raises for withdrawn or wrong codes."""
    upper = text.upper()
    if upper in ALL_COUNTRIES:
        return upper
    catalogue = _catalogue()
    group = catalogue.group_by_key.get(_group_key(text))
    if group is not None:
        return group
    if upper in catalogue.alpha3:
        return catalogue.alpha3[upper]
    if upper in catalogue.replaced:
        use = catalogue.replaced[upper]
        raise BadInput(
            f"'{text}' is not an ISO 3166-1 country code (did you mean {_join_or(use)}?)"
        )
    if upper in catalogue.obsolete:
        label, successors = catalogue.obsolete[upper]
        hint = f": did you mean {_join_or(successors)}?" if successors else ""
        raise BadInput(f"obsolete territory code '{text}' ({label}){hint}")
    return None


def _resolve_name(text: str) -> str | None:
    codes = _catalogue().names.get(_name_key(text))
    if not codes:
        return None
    if len(codes) > 1:
        options = _join_or(f"{code} ({_display_name(code)})" for code in sorted(codes))
        raise BadInput(f"ambiguous territory '{text}': could be {options}")
    return next(iter(codes))


def _resolve_words(words: list[str]) -> tuple[str, int]:
    """Resolve the longest run of leading words that names something; (item, words used).

    Longest first so that "Hong Kong" or "South Korea" wins over a shorter reading.
    """
    for length in range(len(words), 0, -1):
        phrase = " ".join(words[:length])
        if length == 1:
            item = _resolve_code(phrase) or _resolve_name(phrase)
        else:
            item = _catalogue().group_by_key.get(_group_key(phrase)) or _resolve_name(phrase)
        if item is not None:
            return item, length
    raise _unknown(words)


@cache
def _names_with_commas() -> tuple[re.Pattern[str], Mapping[str, str]]:
    """A pattern finding the ISO 3166 names that hold a comma ("Korea, Republic of",
    "Virgin Islands, British"), where an item ends after them, and the code of each (by
    the name folded as `_name_key` folds it)."""
    codes = {name: code for name, code in _iso_names() if "," in name}
    alternatives = (
        r"\s*,\s*".join(r"\s+".join(map(re.escape, part.split())) for part in name.split(","))
        for name in sorted(codes, key=len, reverse=True)
    )
    ends = "|".join(re.escape(word) for word in sorted(_EXCLUDING_WORDS, key=len, reverse=True))
    pattern = re.compile(
        rf"(?<!\w)(?:{'|'.join(alternatives)})(?=\s*(?:$|,|-|(?:{ends})(?!\w)))",
        re.IGNORECASE,
    )
    return pattern, {_name_key(name): code for name, code in codes.items()}


def _without_name_commas(text: str) -> str:
    """`text` with each ISO name that holds a comma replaced by its code, so that
    "Korea, Republic of" is KR rather than the list "Korea" and "Republic of"."""
    if "," not in text:
        return text
    pattern, codes = _names_with_commas()
    return pattern.sub(lambda match: codes[_name_key(match.group())], text)


def _items(text: str) -> tuple[list[str], list[str]]:
    includes: list[str] = []
    excludes: list[str] = []
    excluding = False
    for segment in _without_name_commas(text).split(","):
        words = segment.split()
        position = 0
        while position < len(words):
            word = words[position]
            if word.casefold() in _EXCLUDING_WORDS:
                excluding = True
                position += 1
                continue
            negated = word.startswith("-")
            if word == "-":
                position += 1
                if position == len(words):
                    raise BadInput(f"'-' with nothing after it in territory '{text}'")
            # A run ends at the next "-X" or keyword: those start an item of their own.
            end = position + 1
            while (
                end < len(words)
                and not words[end].startswith("-")
                and words[end].casefold() not in _EXCLUDING_WORDS
            ):
                end += 1
            run = [words[position].removeprefix("-") if negated else words[position]]
            run += words[position + 1 : end]
            if not run[0]:
                raise BadInput(f"'-' with nothing after it in territory '{text}'")
            item, used = _resolve_words(run)
            target = excludes if (negated or excluding) else includes
            if item not in target:
                target.append(item)
            position += used
    return includes, excludes


def parse_territory(text: str) -> TerritoryExpr:
    """Parse `WW -CN -HK`, `KR, JP`, `ASIA excluding CN, JP`, `Hong Kong`, `CHN`...

    Raises BadInput for an empty expression, an unknown, obsolete or ambiguous item, or an
    expression that covers no country at all.
    """
    if not text or not text.strip():
        raise BadInput("empty territory expression")
    includes, excludes = _items(text)
    expr = TerritoryExpr(tuple(includes), tuple(excludes))
    if not expr.countries:
        raise BadInput(f"territory '{text.strip()}' covers no country")
    return expr


def parse_stored_territory(text: str) -> TerritoryExpr:
    """An expression as `TerritoryExpr.text` writes it, the way the ledger stores one:
    codes and group ids, each exclusion marked `-`. Read item by item, without the
    country-name lookups a person's wording may need (and `parse_territory`'s reading,
    errors included, for anything else)."""
    groups = _group_sets()
    includes: list[str] = []
    excludes: list[str] = []
    for word in text.split():
        excluded = word.startswith("-")
        item = word[1:] if excluded else word
        target = excludes if excluded else includes
        if not (item in ALL_COUNTRIES or item in groups) or item in target:
            return parse_territory(text)
        target.append(item)
    expr = TerritoryExpr(tuple(includes), tuple(excludes))
    return expr if expr.countries else parse_territory(text)


def groups_containing(country: str) -> frozenset[str]:
    """Every group id that contains `country`, plus the country itself (for index lookups)."""
    code = country.upper()
    if code not in ALL_COUNTRIES:
        raise _unknown([country])
    return _containing_index()[code]


@cache
def _containing_index() -> Mapping[str, frozenset[str]]:
    index: dict[str, set[str]] = {code: {code} for code in ALL_COUNTRIES}
    for gid, members in _group_sets().items():
        for code in members:
            index[code].add(gid)
    return {code: frozenset(ids) for code, ids in index.items()}


@cache
def _groups_largest_first() -> tuple[tuple[str, frozenset[str]], ...]:
    # Stable sort: among equal sizes the data file's order (broader kinds first) wins.
    return tuple(sorted(_group_sets().items(), key=lambda pair: -len(pair[1])))


@cache
def _exact_groups() -> Mapping[frozenset[str], str]:
    exact: dict[frozenset[str], str] = {}
    for gid, members in _group_sets().items():
        exact.setdefault(members, gid)
    return exact


def _cover(countries: frozenset[str]) -> tuple[str, ...]:
    """Greedy: the largest groups that fit inside `countries`, then the leftover codes."""
    remaining = countries
    chosen: list[str] = []
    for gid, members in _groups_largest_first():
        if len(members) > 1 and members <= remaining:
            chosen.append(gid)
            remaining = remaining - members
    return (*chosen, *sorted(remaining))


def compact(countries: Iterable[str]) -> str:
    """The shortest readable expression for a set of countries.

    A single group when one matches exactly; otherwise the fewest tokens among a plain
    sorted code list, groups plus codes, and one group plus extras minus exclusions
    (``WW -CN -HK``). Ties go to the plain list, which needs no knowledge of groups.
    """
    wanted = frozenset(countries)
    unknown = wanted - ALL_COUNTRIES
    if unknown:
        raise BadInput(f"not country codes: {' '.join(sorted(unknown))}")
    return _compact(wanted)


@lru_cache(maxsize=4096)
def _compact(wanted: frozenset[str]) -> str:
    if not wanted:
        return ""
    exact = _exact_groups().get(wanted)
    if exact is not None:
        return exact
    best: tuple[tuple[str, ...], tuple[str, ...]] = (tuple(sorted(wanted)), ())
    inside = _cover(wanted)
    if len(inside) < len(best[0]):
        best = (inside, ())
    for gid, members in _groups_largest_first():
        overlap = len(members & wanted)
        # A group is only worth subtracting from when it is mostly inside the set.
        if overlap * 2 <= len(members) or members <= wanted:
            continue
        extra = wanted - members
        minimum = 2 + (1 if extra else 0)
        if minimum >= len(best[0]) + len(best[1]):
            continue
        includes = (gid, *_cover(extra))
        excludes = _cover(members - wanted)
        if len(includes) + len(excludes) < len(best[0]) + len(best[1]):
            best = (includes, excludes)
    return TerritoryExpr(*best).text


def _group(group_id: str) -> TerritoryGroup:
    catalogue = _catalogue()
    gid = catalogue.group_by_key.get(_group_key(group_id))
    if gid is None:
        raise BadInput(f"unknown territory group '{group_id}'")
    return next(group for group in catalogue.groups if group.id == gid)


def list_groups() -> list[tuple[str, str, frozenset[str]]]:
    """(id, display name, countries) for every shipped group, in data order."""
    return [(group.id, group.name, group.countries) for group in _catalogue().groups]


def country_name(code: str) -> str:
    """The everyday English name of a country code ("South Korea" for KR)."""
    if code.upper() not in ALL_COUNTRIES:
        raise _unknown([code])
    return _display_name(code.upper())
