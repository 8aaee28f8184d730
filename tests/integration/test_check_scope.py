"""A check reads only the grants near the deal: the answer is the one all of them give."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from click.testing import Result

from ledger.domain.conflicts import check_grant
from ledger.domain.grants import GrantSpec
from ledger.domain.rights import parse_rights
from ledger.domain.territories import parse_territory
from ledger.services.checks import ReportedConflict, explain
from ledger.services.ledger import Ledger, check_specs
from ledger.services.views import TitleScope, proposed_view
from tests.conftest import grant_add

Run = Callable[..., Result]
GENERATE = Path(__file__).parents[2] / "benchmarks" / "generate.py"
OWNER = "northstar-studios"
RIGHTS = ("svod", "pay-tv", "est", "theatrical", "avod", "festival", "home-video", "derivative")
TERRITORIES = ("CN", "KR", "WW -CN", "FR", "EU", "GREATER-CHINA", "WW", "US, CA")
EXCLUSIVITIES = ("exclusive", "sole", "non-exclusive")


def _proposals(titles: list[str], licensees: list[str], count: int) -> list[GrantSpec]:
    rng = random.Random(11)
    proposals = []
    for n in range(count):
        year = rng.randint(2008, 2031)
        # Some start on the last day of an era (the catalogue's windows end on 31 Dec).
        start = date(year, 12, 31) if n % 4 == 0 else date(year, rng.randint(1, 12), 1)
        proposals.append(
            GrantSpec(
                agreement="PROPOSED",
                title=rng.choice(titles),
                # The owner, or a licensee sublicensing (its chain of title is read too).
                grantor=rng.choice([OWNER, OWNER, *licensees]),
                grantee=f"newcomer-{n % 3}",
                rights=parse_rights(rng.choice(RIGHTS)),
                territory=parse_territory(rng.choice(TERRITORIES)),
                start=start,
                end=None if n % 17 == 0 else date(year + rng.randint(1, 5), 12, 31),
                exclusivity=rng.choice(EXCLUSIVITIES),  # type: ignore[arg-type]
            )
        )
    return proposals


def test_a_check_that_reads_only_the_grants_near_the_deal_finds_what_all_of_them_find(
    run: Run, ledger: Ledger, tmp_path: Path
) -> None:
    catalogue = tmp_path / "catalogue.csv"
    subprocess.run(
        [sys.executable, str(GENERATE), "--grants", "1200", "--titles", "3",
         "--output", str(catalogue)],
        check=True, capture_output=True,
    )  # fmt: skip
    run("import", str(catalogue), "--owner", OWNER)
    # A grant that holds back far beyond its own window and rights: always read.
    run("party", "add", "holder", "--name", "Holder")
    run("agreement", "add", "HOLDBACK-DEAL", "--parties", f"{OWNER},holder", "--status", "signed")
    run(
        *grant_add(
            "HOLDBACK-DEAL", OWNER, "holder", "pay-tv", "KR", "2012-01-01", "2012-12-31",
            "exclusive", "--holdback", "svod@WW@2030-12-31", title="title-000000",
        )
    )  # fmt: skip
    lines = catalogue.read_text().splitlines()[1:]
    titles = sorted({line.split(",")[1] for line in lines})
    licensees = sorted({line.split(",")[3] for line in lines} - {OWNER})[:6]

    conflicted = 0
    with ledger.engine.connect() as conn:
        for spec in _proposals(titles, licensees, 150):
            whole = TitleScope.load(conn, spec.title)
            near = TitleScope.load(conn, spec.title, for_specs=[spec])
            assert near.own.size < whole.own.size
            proposed = proposed_view(spec, whole.events, "proposed")
            expected = check_grant(proposed, whole.around(proposed), whole.owners)
            assert check_grant(proposed, near.around(proposed), near.owners) == expected
            conflicted += bool(expected)
        # Several lines on one title: the grants near any of them are read.
        deal = _proposals(titles[:1], licensees, 6)
        whole = TitleScope.load(conn, titles[0])
        reported: list[ReportedConflict] = []
        for index, spec in enumerate(deal):
            proposed = proposed_view(spec, whole.events, "proposed", seq=10**12 + index)
            for conflict in check_grant(proposed, whole.around(proposed), whole.owners):
                reported.append(explain(conflict, proposed))
            whole.add_line(index, proposed)
        assert check_specs(conn, deal).conflicts == tuple(reported)
    assert 20 <= conflicted <= 140  # the proposals meet real neighbours, some clear
