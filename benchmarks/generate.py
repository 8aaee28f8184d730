"""Generate a realistic synthetic catalogue of grants as an import CSV (see CLI.md).

One studio owns every title worldwide (`--owner`, the owner to give `import`). For each
title it licenses the rights tree in *lanes* (theatrical, home video, free TV, pay TV,
SVOD, AVOD/FVOD, EST/TVOD, ancillary, licensing, derivative); each lane's 20 years are
cut into eras, and each era's world into territory pieces, from single countries to
`WW -X`. A piece goes exclusive, sole or non-exclusive (non-exclusive pieces may go to
several licensees), a few to the owner's own reservation; exclusive and sole licensees
sublicense parts of their pieces down the chain. Festival, marketing and e-commerce are
licensed non-exclusively, freely. Pieces of one lane and era are disjoint, so the
catalogue imports without a single conflict, by construction, while every check still
has real work to do (neighbouring pieces, abutting windows, chains of title).

Rows are grouped by title (the order of an export); `--interleave K` mixes the rows of
K titles at a time, and `--shuffle` puts every line in random order (a sublicence may
then come before its licence), to try an import on a file that is not grouped.
`--deal-per-grant` gives every grant an agreement of its own (as a contracts system
exports its lines), and `--terms` writes a window's end as a term (`5y`, `9y4m`) where it
is one: the import then creates an agreement a row and works out every such end.

    python benchmarks/generate.py --grants 100000 --output /tmp/catalogue-100k.csv
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from itertools import pairwise
from pathlib import Path

from ledger.domain.territories import parse_territory
from ledger.io.csv_format import CSV_COLUMNS

# The import format of CLI.md, as the ledger itself reads and writes it.
COLUMNS = CSV_COLUMNS
FIRST_YEAR = 2010
YEARS = 20

# Lanes licensed exclusively, solely or not, in disjoint pieces; and sub-rights a
# licensee may sublicense on its own.
EXCLUSIVE_LANES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("theatrical;non-theatrical;other-theatrical", ("theatrical", "non-theatrical")),
    ("home-video", ("video-rental", "video-sell-through")),
    ("free-tv", ("free-tv",)),
    ("pay-tv;pay-per-view", ("pay-tv", "pay-per-view")),
    ("svod", ("svod",)),
    ("avod;fvod", ("avod", "fvod")),
    ("est;poest;tvod;nvod", ("est", "tvod")),
    ("ancillary", ("inflight", "hotels", "ships")),
    ("licensing", ("merchandising", "brand-licensing")),
    ("derivative", ("remake", "format", "music")),
)
OPEN_LANES = ("festival", "marketing", "e-commerce", "promotion;online-ticketing")

# Ways to cut the world for one lane and era: each a list of disjoint pieces.
PARTITIONS: tuple[tuple[str, ...], ...] = (
    ("WW",),
    ("CN", "WW -CN"),
    ("GREATER-CHINA", "WW -GREATER-CHINA"),
    ("CN", "HK, MO, TW", "KR", "JP", "ASIA -GREATER-CHINA -KR -JP", "WW -ASIA"),
    ("US, CA", "EU", "GB", "WW -US -CA -EU -GB"),
    ("NORTHERN-AMERICA", "LATIN-AMERICA", "EUROPE", "ASIA", "AFRICA", "OCEANIA"),
    ("KR", "WW -KR"),
    ("DACH", "FR", "BENELUX", "ES, PT", "IT"),
    ("CN", "SOUTH-EASTERN-ASIA", "IN", "AUSTRALIA-AND-NEW-ZEALAND"),
    ("WW -CN -KR -JP",),
)
SINGLES = (
    "FR",
    "DE",
    "IT",
    "ES",
    "BR",
    "MX",
    "IN",
    "AU",
    "JP",
    "KR",
    "CN",
    "TH",
    "VN",
    "TR",
    "PL",
    "SE",
    "NL",
    "AR",
    "ZA",
    "EG",
    "SA",
    "AE",
    "ID",
    "PH",
    "MY",
    "SG",
    "TW",
    "HK",
)
LANGUAGES = {"CN": "zh", "KR": "ko", "JP": "ja", "FR": "fr", "DE": "de", "ES": "es"}
KINDS = ("pictures", "media", "entertainment", "films", "tv", "streaming", "distribution")
PLACES = (
    "alibaba",
    "iqiyi",
    "tencent",
    "youku",
    "cj",
    "lotte",
    "toho",
    "kadokawa",
    "gaumont",
    "pathe",
    "constantin",
    "leonine",
    "medusa",
    "filmax",
    "globo",
    "televisa",
    "zee",
    "roadshow",
    "sky",
    "canal",
    "rai",
    "mediaset",
    "atresmedia",
    "viaplay",
    "nordisk",
    "paramount",
    "lionsgate",
    "a24",
    "neon",
    "mubi",
    "bbc",
    "itv",
    "star",
    "hotstar",
)


@dataclass(frozen=True)
class Row:
    agreement: str
    title: str
    grantor: str
    grantee: str
    rights: str
    territory: str
    start: date
    end: date | None
    exclusivity: str
    language: str = ""

    def cells(self, status: str, terms: bool = False) -> list[str]:
        end = self.end.isoformat() if self.end else ""
        if terms and self.end is not None:
            end = term_text(self.start, self.end) or end
        return [
            self.agreement,
            self.title,
            self.grantor,
            self.grantee,
            self.rights,
            self.territory,
            self.start.isoformat(),
            end,
            self.exclusivity,
            self.language,
            status,
        ]


def term_text(start: date, end: date) -> str | None:
    """The window as a term of years and months (`5y`, `9y4m`, `6m`) when it is one: from
    the first of a month through the last day of a later one."""
    after = end + timedelta(days=1)
    if start.day != 1 or after.day != 1:
        return None
    years, months = divmod((after.year - start.year) * 12 + after.month - start.month, 12)
    return (f"{years}y" if years else "") + (f"{months}m" if months else "")


@cache
def countries(expression: str) -> tuple[str, ...]:
    return tuple(sorted(parse_territory(expression).countries))


def licensees(count: int) -> list[str]:
    names = [f"{place}-{kind}" for place in PLACES for kind in KINDS]
    names += [f"licensee-{n:04d}" for n in range(max(0, count - len(names)))]
    return names[:count]


def agreement_status(ref: str, rng_seed: int) -> str:
    """Most deals are signed; a few are MOUs or drafts (pending)."""
    roll = random.Random(f"{rng_seed}:{ref}").random()
    return "signed" if roll < 0.94 else "mou" if roll < 0.97 else "draft"


def eras(rng: random.Random) -> list[tuple[date, date | None]]:
    """Abutting windows over the 20 years, some left out; the last may be open."""
    cuts = sorted(rng.sample(range(1, YEARS * 12), rng.randint(0, 3)))
    months = [0, *cuts, YEARS * 12]
    windows: list[tuple[date, date | None]] = []
    for first, after in pairwise(months):
        start = date(FIRST_YEAR + first // 12, first % 12 + 1, 1)
        end = date(FIRST_YEAR + after // 12, after % 12 + 1, 1) - timedelta(days=1)
        if rng.random() < 0.15:
            continue  # not licensed in this era
        windows.append((start, end))
    last_day = date(FIRST_YEAR + YEARS, 1, 1) - timedelta(days=1)
    if windows and windows[-1][1] == last_day and rng.random() < 0.2:
        windows[-1] = (windows[-1][0], None)
    return windows


class Catalogue:
    def __init__(
        self, grants: int, titles: int, owner: str, seed: int, deal_per_grant: bool = False
    ) -> None:
        self.grants = grants
        self.titles = titles
        self.owner = owner
        self.seed = seed
        self.rng = random.Random(seed)
        self.parties = licensees(max(50, min(2000, titles // 5)))
        self.deal_per_grant = deal_per_grant
        self.deals = 0

    def agreement(self, grantor: str, grantee: str, title_index: int) -> str:
        """One agreement per pair of parties and block of 1,000 titles (an output deal), or
        with `deal_per_grant` one a grant (a contracts system's line-by-line export)."""
        if self.deal_per_grant:
            self.deals += 1
            return f"deal-{self.deals:08d}"
        return f"{grantor}--{grantee}--{title_index // 1000:03d}"

    def partners(self, holder: str) -> list[str]:
        """The few sublicensees a licensee works with."""
        rng = random.Random(f"{self.seed}:{holder}")
        return [p for p in rng.sample(self.parties, 5) if p != holder]

    def budgets(self) -> list[int]:
        weights = [self.rng.uniform(0.4, 1.6) for _ in range(self.titles)]
        total = sum(weights)
        budgets = [int(self.grants * w / total) for w in weights]
        for i in range(self.grants - sum(budgets)):
            budgets[i % self.titles] += 1
        return budgets

    def title_rows(self, index: int, budget: int) -> list[Row]:
        rng = self.rng
        title = f"title-{index:06d}"
        rows: list[Row] = []
        lanes = list(EXCLUSIVE_LANES)
        rng.shuffle(lanes)
        for rights, sub_rights in lanes:
            for start, end in eras(rng):
                partition = rng.choice(PARTITIONS)
                if rng.random() < 0.15:
                    partition = tuple(rng.sample(SINGLES, rng.randint(2, 6)))
                for piece in partition:
                    rows.extend(
                        self.piece_rows(index, title, rights, sub_rights, piece, start, end)
                    )
        rows = rows[:budget]
        while len(rows) < budget:
            rows.append(self.open_row(index, title))
        return rows

    def piece_rows(
        self,
        index: int,
        title: str,
        rights: str,
        sub_rights: tuple[str, ...],
        piece: str,
        start: date,
        end: date | None,
    ) -> Iterator[Row]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.03:
            yield Row(
                self.agreement(self.owner, self.owner, index),
                title,
                self.owner,
                self.owner,
                rights,
                piece,
                start,
                end,
                "exclusive",
            )
            return
        if roll < 0.21:
            for grantee in rng.sample(self.parties, rng.randint(1, 3)):
                language = LANGUAGES.get(piece, "") if rng.random() < 0.3 else ""
                yield Row(
                    self.agreement(self.owner, grantee, index),
                    title,
                    self.owner,
                    grantee,
                    rights,
                    piece,
                    start,
                    end,
                    "non-exclusive",
                    language,
                )
            return
        exclusivity = "exclusive" if roll < 0.7 else "sole"
        holder = rng.choice(self.parties)
        ref = self.agreement(self.owner, holder, index)
        yield Row(ref, title, self.owner, holder, rights, piece, start, end, exclusivity)
        if rng.random() < 0.25 and agreement_status(ref, self.seed) == "signed":
            yield from self.sublicenses(
                index, title, holder, sub_rights, piece, start, end, exclusivity
            )

    def sublicenses(
        self,
        index: int,
        title: str,
        holder: str,
        sub_rights: tuple[str, ...],
        piece: str,
        start: date,
        end: date | None,
        strength: str,
    ) -> Iterator[Row]:
        """The holder licenses single countries of its piece down the chain."""
        rng = self.rng
        inside = countries(piece)
        last = start + timedelta(days=365 * rng.randint(1, 5))
        sub_end = last if end is None else min(end, last)
        for country in rng.sample(inside, min(len(inside), rng.randint(1, 3))):
            grantee = rng.choice(self.partners(holder))
            exclusivity = strength if rng.random() < 0.5 else "non-exclusive"
            yield Row(
                self.agreement(holder, grantee, index),
                title,
                holder,
                grantee,
                rng.choice(sub_rights),
                country,
                start,
                sub_end,
                exclusivity,
            )

    def open_row(self, index: int, title: str) -> Row:
        rng = self.rng
        grantee = rng.choice(self.parties)
        first = rng.randrange(YEARS * 12 - 12)
        start = date(FIRST_YEAR + first // 12, first % 12 + 1, 1)
        end = start + timedelta(days=365 * rng.randint(1, 5))
        territory = rng.choice(("WW", rng.choice(SINGLES), rng.choice(PARTITIONS)[0]))
        return Row(
            self.agreement(self.owner, grantee, index),
            title,
            self.owner,
            grantee,
            rng.choice(OPEN_LANES),
            territory,
            start,
            end,
            "non-exclusive",
        )

    def rows(self, interleave: int = 1) -> Iterator[Row]:
        budgets = self.budgets()
        for block in range(0, self.titles, interleave):
            last = min(block + interleave, self.titles)
            group = [self.title_rows(i, budgets[i]) for i in range(block, last)]
            if interleave == 1:
                yield from group[0]
                continue
            # Round-robin across the block's titles: each title's own order is kept.
            longest = max((len(g) for g in group), default=0)
            for position in range(longest):
                for rows in group:
                    if position < len(rows):
                        yield rows[position]


def write(
    path: Path,
    grants: int,
    titles: int,
    owner: str,
    seed: int,
    interleave: int = 1,
    shuffle: bool = False,
    deal_per_grant: bool = False,
    terms: bool = False,
) -> int:
    catalogue = Catalogue(grants, titles, owner, seed, deal_per_grant)
    lines: Iterable[list[str]] = (
        row.cells(agreement_status(row.agreement, seed), terms)
        for row in catalogue.rows(interleave)
    )
    if shuffle:
        lines = list(lines)
        random.Random(seed).shuffle(lines)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(COLUMNS)
        for line in lines:
            writer.writerow(line)
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--grants", type=int, default=10_000)
    parser.add_argument("--titles", type=int, help="default: one title per 100 grants")
    parser.add_argument("--owner", default="northstar-studios")
    parser.add_argument("--seed", type=int, default=2016)
    parser.add_argument("--interleave", type=int, default=1, help="mix the rows of K titles")
    parser.add_argument(
        "--shuffle", action="store_true", help="every line in random order (sublicences too)"
    )
    parser.add_argument(
        "--deal-per-grant", action="store_true", help="an agreement of its own for every grant"
    )
    parser.add_argument(
        "--terms", action="store_true", help="ends as terms (5y, 9y4m) where a window is one"
    )
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    titles = args.titles or max(1, args.grants // 100)
    count = write(
        args.output,
        args.grants,
        titles,
        args.owner,
        args.seed,
        args.interleave,
        args.shuffle,
        args.deal_per_grant,
        args.terms,
    )
    print(f"wrote {count} grants on {titles} titles to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
