"""What a grant says, as plain values: its scope, window, exclusivity and holdbacks.

A `GrantSpec` is what a user proposes (`grant add`, `check`, a line of an import file);
the service layer turns it into a journal entry and, resolved against the title's
release events, into the `GrantView` the conflict engine reads. Window bounds are kept
in their contractual form (a date, a release event plus an offset, or a term after the
start) and stored as text (`2027-06-30`, `theatrical+90d`, `term:10y`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, get_args

from ledger.domain.dates import (
    EventRef,
    Term,
    end_for_term,
    is_term,
    parse_date_or_event,
    parse_term,
)
from ledger.domain.records import quick_init
from ledger.domain.rights import RIGHTS, parse_rights
from ledger.domain.territories import TerritoryExpr, parse_territory
from ledger.errors import BadInput

GRANT_PREFIX = "G"
"""What a grant's label (`G12`) puts before its id."""

Exclusivity = Literal["exclusive", "sole", "non-exclusive"]
EXCLUSIVITIES: tuple[str, ...] = get_args(Exclusivity)
AgreementStatus = Literal["draft", "mou", "signed", "terminated"]
AGREEMENT_STATUSES: tuple[str, ...] = get_args(AgreementStatus)

Bound = date | EventRef
EndBound = date | EventRef | Term | None


def parse_exclusivity(text: str) -> Exclusivity:
    word = text.strip().lower().replace("_", "-").replace(" ", "-")
    if word in ("nonexclusive", "non-excl"):
        word = "non-exclusive"
    for choice in get_args(Exclusivity):
        if word == choice:
            return choice  # type: ignore[no-any-return]
    raise BadInput(f"unknown exclusivity {text!r} (use exclusive, sole or non-exclusive)")


def bound_text(bound: EndBound) -> str | None:
    """The stored form of a window bound."""
    if bound is None:
        return None
    if isinstance(bound, date):
        return bound.isoformat()
    if isinstance(bound, Term):
        return f"term:{bound.text}"
    return bound.text


def parse_bound(text: str) -> Bound:
    """A start or an `until`: a date or a release event with an offset."""
    if not text.strip():
        raise BadInput("a start or until date is required")
    return parse_date_or_event(text)


def read_bound(text: str) -> Bound:
    """A start or an `until` as a person or a file writes it: `parse_bound`, but a term
    there (`10y`, `P10Y`) is refused, not taken for a release event named `p10y`.

    `parse_bound` stays the reader of what the journal holds, so that entries recorded
    before this check replay as they were recorded."""
    if is_term(text):
        raise BadInput(
            f"'{text.strip()}' is a term, not a day: a start or until is a date or a "
            "release event (theatrical+90d)"
        )
    return parse_bound(text)


def read_end(text: str | None) -> EndBound:
    """An end as a person or a file writes it: `parse_end`, or a term (`10y`, `P10Y`) in
    place of a last day, as DOMAIN.md allows ("a term may be given instead of an end").

    `parse_end` stays the reader of what the journal holds (a term stored as `term:10y`)."""
    if text is not None and is_term(text):
        return parse_term(text)
    return parse_end(text)


def parse_end(text: str | None) -> EndBound:
    """An end: a date, a release event, `term:10y`, or empty/`open` for perpetuity."""
    if text is None or not text.strip() or text.strip().lower() in ("open", "perpetuity"):
        return None
    text = text.strip()
    if text.startswith("term:"):
        return parse_term(text[len("term:") :])
    return parse_bound(text)


@dataclass(frozen=True)
class HoldbackSpec:
    """`rights` may not be exploited in `territory` from the grant's start to `until`."""

    rights: frozenset[str]
    territory: TerritoryExpr
    until: Bound

    @classmethod
    def parse(cls, text: str) -> HoldbackSpec:
        """`RIGHTS@TERRITORY@UNTIL`, e.g. `svod@CN@theatrical+90d`."""
        parts = text.split("@")
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise BadInput(
                f"bad holdback {text!r}: use RIGHTS@TERRITORY@UNTIL, e.g. svod@CN@theatrical+90d"
            )
        rights, territory, until = parts
        return cls(parse_rights(rights), parse_territory(territory), read_bound(until))

    def as_payload(self) -> dict[str, object]:
        return {
            "rights": list(RIGHTS.compact(self.rights)),
            "territory": self.territory.text,
            "until": bound_text(self.until),
        }


@quick_init
@dataclass(frozen=True)
class GrantSpec:
    """A proposed or recorded licence line, before it is resolved against release events."""

    agreement: str
    title: str
    grantor: str
    grantee: str
    rights: frozenset[str]
    territory: TerritoryExpr
    start: Bound
    end: EndBound
    exclusivity: Exclusivity
    languages: frozenset[str] | None = None
    holdbacks: tuple[HoldbackSpec, ...] = ()
    notice_on: date | None = None
    external_refs: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.start, date) and isinstance(self.end, date) and self.end < self.start:
            raise BadInput(f"end {self.end} is before start {self.start}")
        for holdback in self.holdbacks:
            if (
                isinstance(self.start, date)
                and isinstance(holdback.until, date)
                and holdback.until < self.start
            ):
                raise BadInput(
                    f"holdback until {holdback.until} is before the grant's start {self.start}"
                )
        if self.grantor == self.grantee and self.holdbacks:
            raise BadInput("a reservation (grantor == grantee) carries no holdbacks")

    @property
    def is_reservation(self) -> bool:
        return self.grantor == self.grantee

    def as_payload(self) -> dict[str, object]:
        return {
            "agreement": self.agreement,
            "title": self.title,
            "grantor": self.grantor,
            "grantee": self.grantee,
            "rights": list(RIGHTS.compact(self.rights)),
            "territory": self.territory.text,
            "languages": sorted(self.languages) if self.languages is not None else None,
            "start": bound_text(self.start),
            "end": bound_text(self.end),
            "exclusivity": self.exclusivity,
            "holdbacks": [h.as_payload() for h in self.holdbacks],
            "notice_on": self.notice_on.isoformat() if self.notice_on else None,
            "external_refs": dict(sorted(self.external_refs.items())),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> GrantSpec:
        def text(key: str) -> str:
            value = payload[key]
            assert isinstance(value, str)
            return value

        def strings(key: str) -> list[str]:
            value = payload.get(key)
            return [str(v) for v in value] if isinstance(value, list) else []

        holdbacks = payload.get("holdbacks") or []
        assert isinstance(holdbacks, list)
        languages = payload.get("languages")
        notice = payload.get("notice_on")
        refs = payload.get("external_refs") or {}
        assert isinstance(refs, dict)
        end = payload.get("end")
        return cls(
            agreement=text("agreement"),
            title=text("title"),
            grantor=text("grantor"),
            grantee=text("grantee"),
            rights=parse_rights(strings("rights")),
            territory=parse_territory(text("territory")),
            start=parse_bound(text("start")),
            end=parse_end(end if isinstance(end, str) else None),
            exclusivity=parse_exclusivity(text("exclusivity")),
            languages=frozenset(strings("languages")) if languages is not None else None,
            holdbacks=tuple(
                HoldbackSpec(
                    parse_rights(list(h["rights"])),
                    parse_territory(h["territory"]),
                    parse_bound(h["until"]),
                )
                for h in holdbacks
            ),
            notice_on=date.fromisoformat(notice) if isinstance(notice, str) else None,
            external_refs={str(k): str(v) for k, v in refs.items()},
        )


@dataclass(frozen=True)
class EventDate:
    """A dated release event of a title in some countries."""

    kind: str
    countries: frozenset[str]
    on: date


def _event_dates(
    ref: EventRef, countries: frozenset[str], events: Iterable[EventDate]
) -> list[date]:
    """The event's date in each country of `countries`; empty when any country lacks one."""
    per_country: dict[str, date] = {}
    for event in events:
        if event.kind != ref.kind:
            continue
        for country in event.countries & countries:
            known = per_country.get(country)
            per_country[country] = event.on if known is None else min(known, event.on)
    if set(per_country) != set(countries):
        return []
    return [ref.resolve(d) for d in per_country.values()]


def resolve_start(
    start: Bound, countries: frozenset[str], events: Iterable[EventDate]
) -> date | None:
    """The first day in force; None while a release event is unknown (TBD)."""
    if isinstance(start, date):
        return start
    # Conservative where countries release on different days: the earliest start.
    days = _event_dates(start, countries, events)
    return min(days) if days else None


def resolve_last_day(
    end: EndBound, first_day: date | None, countries: frozenset[str], events: Iterable[EventDate]
) -> date | None:
    """The last day in force as granted; None when open or not yet known (TBD)."""
    if end is None or isinstance(end, date):
        return end
    if isinstance(end, Term):
        return end_for_term(first_day, end) if first_day is not None else None
    # Conservative where countries release on different days: the latest end.
    days = _event_dates(end, countries, events)
    return max(days) if days else None


def earliest(*days: date | None) -> date | None:
    """The earliest of the known days (None means open, so it never wins)."""
    known = [d for d in days if d is not None]
    return min(known) if known else None
