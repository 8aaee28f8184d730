"""The seed deals of the motivating article, recorded through the ledger's own use cases.

Alibaba Pictures' MOU for *Real* (sole distribution in mainland China, plus marketing,
brand licensing and e-commerce support), its tie-in with Paramount/Skydance on *Mission:
Impossible - Rogue Nation* (online ticketing, promotion, merchandising in China), and the
Korea-China co-production *20 Once Again*, a remake of *Miss Granny*.

The article gives no dates, terms or company names for the producers: every date and
term below is a plausible choice, listed in `ASSUMPTIONS` so the demo can say so.
"""

from __future__ import annotations

from datetime import date

from ledger.domain.dates import parse_term
from ledger.domain.grants import GrantSpec, HoldbackSpec, parse_bound
from ledger.domain.rights import parse_rights
from ledger.domain.territories import parse_territory
from ledger.services.ledger import Ledger, OwnerShare

# The demo answers its questions as of this fixed day, so its output never changes.
AS_OF = date(2027, 5, 1)

ASSUMPTIONS = (
    "The article gives no dates or terms; the demo assumes:",
    "- Real's Korean producer (called real-producer here) owns it worldwide;",
    "- the Alibaba MOU runs 10 years from Real's release on 2017-06-28 (to 2027-06-27),"
    " and is signed on 2017-03-15;",
    "- theatrical release in China on 2017-09-01, with no SVOD there for 90 days after it;",
    "- the producer reserves festival screenings worldwide for itself;",
    "- the Rogue Nation tie-in runs 2015-07-01 to 2017-06-30;",
    "- Miss Granny's remake rights in China went to China Film Co. exclusively from 2014;",
    "- 20 Once Again is owned 60/40: CJ E&M outside China, China Film Co. in China.",
    f"Questions are asked as of {AS_OF} (a fixed demo date).",
)


def _spec(
    agreement: str,
    title: str,
    grantor: str,
    grantee: str,
    rights: str,
    territory: str,
    start: str,
    exclusivity: str,
    end: str | None = None,
    term: str | None = None,
    holdbacks: tuple[str, ...] = (),
) -> GrantSpec:
    return GrantSpec(
        agreement=agreement,
        title=title,
        grantor=grantor,
        grantee=grantee,
        rights=parse_rights(rights),
        territory=parse_territory(territory),
        start=parse_bound(start),
        end=parse_term(term) if term else (parse_bound(end) if end else None),
        exclusivity=exclusivity,  # type: ignore[arg-type]
        holdbacks=tuple(HoldbackSpec.parse(h) for h in holdbacks),
    )


def build(ledger: Ledger) -> None:
    """Record the seed deals into an empty ledger."""
    for party, name, country in (
        ("real-producer", "Real's Korean producer", "KR"),
        ("alibaba-pictures", "Alibaba Pictures", "CN"),
        ("paramount", "Paramount Pictures", "US"),
        ("skydance", "Skydance Media", "US"),
        ("cj-enm", "CJ E&M", "KR"),
        ("china-film", "China Film Co.", "CN"),
        ("iqiyi", "iQIYI", "CN"),
    ):
        ledger.add_party(party, name, country)

    ledger.add_title(
        "real",
        "Real",
        year=2017,
        origin="KR",
        owners=[OwnerShare("real-producer")],
        original_name="리얼",
    )
    ledger.add_title(
        "rogue-nation",
        "Mission: Impossible - Rogue Nation",
        year=2015,
        origin="US",
        owners=[OwnerShare("paramount", "WW", 50), OwnerShare("skydance", "WW", 50)],
    )
    ledger.add_title(
        "miss-granny",
        "Miss Granny",
        year=2014,
        origin="KR",
        owners=[OwnerShare("cj-enm")],
        original_name="수상한 그녀",
    )
    ledger.add_title(
        "20-once-again",
        "20 Once Again",
        year=2015,
        origin="CN",
        parent="miss-granny",
        owners=[OwnerShare("cj-enm", "WW -CN", 60), OwnerShare("china-film", "CN", 40)],
        original_name="重返20岁",
    )
    ledger.record_event("real", "theatrical", "CN", date(2017, 9, 1))

    ledger.add_agreement(
        "ALI-REAL-2016",
        ["real-producer", "alibaba-pictures"],
        "mou",
        note="MOU: stake in Real; sole distribution in mainland China",
    )
    ledger.add_grant(
        _spec(
            "ALI-REAL-2016",
            "real",
            "real-producer",
            "alibaba-pictures",
            "distribution",
            "CN",
            "2017-06-28",
            "sole",
            term="10y",
            holdbacks=("svod@CN@theatrical+90d",),
        )
    )
    ledger.add_grant(
        _spec(
            "ALI-REAL-2016",
            "real",
            "real-producer",
            "alibaba-pictures",
            "marketing,brand-licensing,e-commerce",
            "CN",
            "2017-06-28",
            "sole",
            term="10y",
        )
    )
    ledger.add_agreement(
        "REAL-RESERVED",
        ["real-producer"],
        "signed",
        date(2016, 11, 1),
        note="the producer's own festival screenings",
    )
    ledger.add_grant(
        _spec(
            "REAL-RESERVED",
            "real",
            "real-producer",
            "real-producer",
            "festival",
            "WW",
            "2016-11-01",
            "non-exclusive",
        )
    )
    ledger.sign_agreement("ALI-REAL-2016", date(2017, 3, 15))

    ledger.add_agreement(
        "PAR-ALI-RN-2015",
        ["paramount", "alibaba-pictures"],
        "signed",
        date(2015, 6, 1),
        note="online ticketing, promotion and merchandising",
    )
    ledger.add_grant(
        _spec(
            "PAR-ALI-RN-2015",
            "rogue-nation",
            "paramount",
            "alibaba-pictures",
            "online-ticketing,promotion,merchandising",
            "CN",
            "2015-07-01",
            "exclusive",
            end="2017-06-30",
        )
    )

    ledger.add_agreement(
        "CJ-CFC-REMAKE-2014",
        ["cj-enm", "china-film"],
        "signed",
        date(2014, 1, 1),
        note="remake rights to Miss Granny in China",
    )
    ledger.add_grant(
        _spec(
            "CJ-CFC-REMAKE-2014",
            "miss-granny",
            "cj-enm",
            "china-film",
            "remake",
            "CN",
            "2014-01-01",
            "exclusive",
        )
    )


def colliding_deal() -> GrantSpec:
    """iQIYI asks for exclusive SVOD in China on Real while Alibaba's sole licence runs."""
    return _spec(
        "IQIYI-REAL-DRAFT",
        "real",
        "real-producer",
        "iqiyi",
        "svod",
        "CN",
        "2027-01-01",
        "exclusive",
        term="2y",
    )
