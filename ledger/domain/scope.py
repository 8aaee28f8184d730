"""Region algebra over the four dimensions of a licence: rights, countries, days, languages.

A `Box` is a product of a set of right leaves, a set of ISO country codes, an inclusive day
interval (``date.min``/``date.max`` stand for an open or unknown bound) and a `LanguageSet`.
A `Region` is a finite union of pairwise-disjoint boxes. The conflict engine judges a deal
cell by cell (one right leaf, country, day and language); this module lets it do so on whole
sets and intervals instead of enumerating cells.

Regions are kept small: operations coalesce boxes that differ in a single dimension (same
countries, days and languages: join the rights; abutting windows: join the days; ...), so
that repeated subtraction does not fragment a region into thousands of slivers. A large
region is re-coalesced only once it has doubled since it was last coalesced, which keeps
long runs of operations linear; `Region.coalesced()` tidies one fully for display.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import ClassVar

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class LanguageSet:
    """A finite set of languages, or all languages except a finite set (`all_except=True`)."""

    languages: frozenset[str] = frozenset()
    all_except: bool = False

    ALL: ClassVar[LanguageSet]
    NONE: ClassVar[LanguageSet]

    @staticmethod
    def of(languages: Iterable[str] | None) -> LanguageSet:
        """The languages of a grant: `None` (no language set on the grant) means all."""
        if languages is None:
            return LanguageSet.ALL
        return LanguageSet(frozenset(languages))

    @property
    def is_empty(self) -> bool:
        return not self.all_except and not self.languages

    @property
    def is_all(self) -> bool:
        return self.all_except and not self.languages

    def __contains__(self, language: object) -> bool:
        return (language in self.languages) != self.all_except

    def complement(self) -> LanguageSet:
        return LanguageSet(self.languages, not self.all_except)

    def intersect(self, other: LanguageSet) -> LanguageSet:
        if self.all_except:
            if other.all_except:
                return LanguageSet(self.languages | other.languages, True)
            return LanguageSet(other.languages - self.languages)
        if other.all_except:
            return LanguageSet(self.languages - other.languages)
        return LanguageSet(self.languages & other.languages)

    def union(self, other: LanguageSet) -> LanguageSet:
        if self.all_except:
            if other.all_except:
                return LanguageSet(self.languages & other.languages, True)
            return LanguageSet(self.languages - other.languages, True)
        if other.all_except:
            return LanguageSet(other.languages - self.languages, True)
        return LanguageSet(self.languages | other.languages)

    def subtract(self, other: LanguageSet) -> LanguageSet:
        return self.intersect(other.complement())

    def overlaps(self, other: LanguageSet) -> bool:
        if self.all_except:
            # A finite set of excluded languages never exhausts an all-except set.
            return other.all_except or not other.languages <= self.languages
        if other.all_except:
            return not self.languages <= other.languages
        return not self.languages.isdisjoint(other.languages)

    def __str__(self) -> str:
        if self.is_all:
            return "all languages"
        listed = ", ".join(sorted(self.languages))
        return f"all languages except {listed}" if self.all_except else listed or "no language"


LanguageSet.ALL = LanguageSet(frozenset(), all_except=True)
LanguageSet.NONE = LanguageSet(frozenset())


@dataclass(frozen=True, slots=True)
class Box:
    """rights x countries x [first, last] (inclusive days) x languages."""

    rights: frozenset[str]
    countries: frozenset[str]
    first: date = date.min
    last: date = date.max
    languages: LanguageSet = LanguageSet.ALL

    @staticmethod
    def of(
        rights: Iterable[str],
        countries: Iterable[str],
        first: date | None = None,
        last: date | None = None,
        languages: Iterable[str] | LanguageSet | None = None,
    ) -> Box:
        """A box from loose values: `None` days are open, `None` languages are all."""
        langs = languages if isinstance(languages, LanguageSet) else LanguageSet.of(languages)
        return Box(
            frozenset(rights),
            frozenset(countries),
            date.min if first is None else first,
            date.max if last is None else last,
            langs,
        )

    @property
    def days(self) -> tuple[date, date]:
        return (self.first, self.last)

    @property
    def is_empty(self) -> bool:
        return (
            not self.rights
            or not self.countries
            or self.first > self.last
            or self.languages.is_empty
        )

    def overlaps(self, other: Box) -> bool:
        return (
            self.first <= other.last
            and other.first <= self.last
            and not self.rights.isdisjoint(other.rights)
            and not self.countries.isdisjoint(other.countries)
            and self.first <= self.last
            and other.first <= other.last
            and self.languages.overlaps(other.languages)
        )

    def contains(self, right: str, country: str, day: date, language: str) -> bool:
        return (
            right in self.rights
            and country in self.countries
            and self.first <= day <= self.last
            and language in self.languages
        )

    def intersect(self, other: Box) -> Box | None:
        """The common part, or None when the boxes do not overlap."""
        if not self.overlaps(other):
            return None
        return Box(
            self.rights & other.rights,
            self.countries & other.countries,
            max(self.first, other.first),
            min(self.last, other.last),
            self.languages.intersect(other.languages),
        )

    def subtract(self, other: Box) -> list[Box]:
        """`self` minus `other` as disjoint boxes, split by rights, countries, days, languages."""
        if not self.overlaps(other):
            return [] if self.is_empty else [self]
        pieces: list[Box] = []
        rest_rights = self.rights - other.rights
        if rest_rights:
            pieces.append(Box(rest_rights, self.countries, self.first, self.last, self.languages))
        rights = self.rights & other.rights
        rest_countries = self.countries - other.countries
        if rest_countries:
            pieces.append(Box(rights, rest_countries, self.first, self.last, self.languages))
        countries = self.countries & other.countries
        if self.first < other.first:
            pieces.append(
                Box(rights, countries, self.first, other.first - _ONE_DAY, self.languages)
            )
        if other.last < self.last:
            pieces.append(Box(rights, countries, other.last + _ONE_DAY, self.last, self.languages))
        first, last = max(self.first, other.first), min(self.last, other.last)
        rest_languages = self.languages.subtract(other.languages)
        if not rest_languages.is_empty:
            pieces.append(Box(rights, countries, first, last, rest_languages))
        return pieces


@dataclass(frozen=True, slots=True)
class Region:
    """A union of pairwise-disjoint, non-empty boxes.

    Build regions with `Region.of(...)`, which establishes the invariant; the raw
    constructor trusts its caller.
    """

    boxes: tuple[Box, ...] = ()
    # The box count when the region was last fully coalesced. Coalescing is redone once a
    # region has doubled past it (or is small), so long runs of operations on a fragmented
    # region stay linear instead of re-coalescing everything at every step.
    tidy: int = field(default=0, compare=False, repr=False)

    EMPTY: ClassVar[Region]

    @staticmethod
    def of(*parts: Box | Region) -> Region:
        region = Region.EMPTY
        for part in parts:
            region = region.union(part)
        return region

    @property
    def is_empty(self) -> bool:
        return not self.boxes

    def __bool__(self) -> bool:
        return bool(self.boxes)

    def coalesced(self) -> Region:
        """The same cells in as few boxes as joining along single dimensions gives."""
        boxes = _coalesce(list(self.boxes))
        return Region(boxes, len(boxes))

    def intersect(self, other: Box | Region) -> Region:
        others = _boxes_of(other)
        if len(self.boxes) == 1 and len(others) == 1:
            common = self.boxes[0].intersect(others[0])
            return Region.EMPTY if common is None else Region((common,), 1)
        pieces = [
            common
            for mine in self.boxes
            for theirs in others
            if (common := mine.intersect(theirs)) is not None
        ]
        return _settle(pieces, self.tidy)

    def subtract(self, *others: Box | Region) -> Region:
        """`self` minus every part given (the parts may overlap one another)."""
        pieces = list(self.boxes)
        tidy = self.tidy
        changed = False
        for other in others:
            for theirs in _boxes_of(other):
                if not pieces:
                    return Region.EMPTY
                next_pieces: list[Box] = []
                for mine in pieces:
                    if mine.overlaps(theirs):
                        next_pieces.extend(mine.subtract(theirs))
                        changed = True
                    else:
                        next_pieces.append(mine)
                pieces = next_pieces
                if len(pieces) > 2 * max(tidy, _SMALL):
                    pieces = list(_coalesce(pieces))
                    tidy = len(pieces)
        if not changed:
            return self
        return _settle(pieces, tidy)

    def union(self, other: Box | Region) -> Region:
        added = Region(_boxes_of(other)).subtract(self) if self.boxes else _as_region(other)
        if not added.boxes:
            return self
        return _settle([*self.boxes, *added.boxes], self.tidy)

    def overlaps(self, other: Box | Region) -> bool:
        others = _boxes_of(other)
        return any(mine.overlaps(theirs) for mine in self.boxes for theirs in others)

    def covers(self, other: Box | Region) -> bool:
        return Region(_boxes_of(other)).subtract(self).is_empty

    def equivalent(self, other: Box | Region) -> bool:
        """Same cells (the box decomposition may differ)."""
        return self.covers(other) and _as_region(other).covers(self)

    def contains(self, right: str, country: str, day: date, language: str) -> bool:
        return any(box.contains(right, country, day, language) for box in self.boxes)

    def rights(self) -> frozenset[str]:
        if len(self.boxes) == 1:
            return self.boxes[0].rights
        return frozenset().union(*(box.rights for box in self.boxes))

    def countries(self) -> frozenset[str]:
        if len(self.boxes) == 1:
            return self.boxes[0].countries
        return frozenset().union(*(box.countries for box in self.boxes))

    def languages(self) -> LanguageSet:
        result = LanguageSet.NONE
        for box in self.boxes:
            result = result.union(box.languages)
        return result

    def first_day(self) -> date:
        if not self.boxes:
            raise ValueError("an empty region has no first day")
        return min(box.first for box in self.boxes)

    def last_day(self) -> date:
        if not self.boxes:
            raise ValueError("an empty region has no last day")
        return max(box.last for box in self.boxes)


Region.EMPTY = Region(())


_SMALL = 16


def _settle(pieces: list[Box], tidy: int) -> Region:
    if len(pieces) <= _SMALL or len(pieces) > 2 * tidy:
        boxes = _coalesce(pieces)
        return Region(boxes, len(boxes))
    return Region(tuple(pieces), tidy)


def _boxes_of(part: Box | Region) -> tuple[Box, ...]:
    if isinstance(part, Region):
        return part.boxes
    return () if part.is_empty else (part,)


def _as_region(part: Box | Region) -> Region:
    return part if isinstance(part, Region) else Region(_boxes_of(part))


# --- coalescing -------------------------------------------------------------------------
# Disjoint boxes that agree on every dimension but one are joined along that dimension.
# The union of such a group is exactly the joined box, so disjointness is preserved.


def _join_sets(
    boxes: list[Box],
    key: Callable[[Box], Hashable],
    join: Callable[[list[Box]], Box],
) -> list[Box]:
    groups: dict[Hashable, list[Box]] = {}
    for box in boxes:
        groups.setdefault(key(box), []).append(box)
    if len(groups) == len(boxes):
        return boxes
    return [group[0] if len(group) == 1 else join(group) for group in groups.values()]


def _join_rights(group: list[Box]) -> Box:
    b = group[0]
    rights = frozenset().union(*(box.rights for box in group))
    return Box(rights, b.countries, b.first, b.last, b.languages)


def _join_countries(group: list[Box]) -> Box:
    b = group[0]
    countries = frozenset().union(*(box.countries for box in group))
    return Box(b.rights, countries, b.first, b.last, b.languages)


def _join_languages(group: list[Box]) -> Box:
    b = group[0]
    languages = LanguageSet.NONE
    for box in group:
        languages = languages.union(box.languages)
    return Box(b.rights, b.countries, b.first, b.last, languages)


def _join_days(boxes: list[Box]) -> list[Box]:
    groups: dict[tuple[frozenset[str], frozenset[str], LanguageSet], list[Box]] = {}
    for box in boxes:
        groups.setdefault((box.rights, box.countries, box.languages), []).append(box)
    if len(groups) == len(boxes):
        return boxes
    result: list[Box] = []
    for group in groups.values():
        group.sort(key=lambda box: box.first)
        current = group[0]
        for box in group[1:]:
            if current.last != date.max and current.last + _ONE_DAY >= box.first:
                current = Box(
                    current.rights,
                    current.countries,
                    current.first,
                    max(current.last, box.last),
                    current.languages,
                )
            else:
                result.append(current)
                current = box
        result.append(current)
    return result


def _coalesce(boxes: list[Box]) -> tuple[Box, ...]:
    while len(boxes) > 1:
        before = len(boxes)
        boxes = _join_sets(
            boxes, lambda b: (b.countries, b.first, b.last, b.languages), _join_rights
        )
        boxes = _join_sets(
            boxes, lambda b: (b.rights, b.first, b.last, b.languages), _join_countries
        )
        boxes = _join_days(boxes)
        boxes = _join_sets(
            boxes, lambda b: (b.rights, b.countries, b.first, b.last), _join_languages
        )
        if len(boxes) == before:
            break
    return tuple(boxes)
