"""The conflict check as the ledger reports it: engine results named and explained."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.domain.conflicts import Conflict, GrantView
from ledger.domain.rights import RIGHTS
from ledger.domain.territories import compact

KIND_PHRASES = {
    "exclusive-overlap": "overlaps an exclusive or sole grant",
    "no-rights-in": "the grantor holds no rights in",
    "no-exclusive-rights-in": "the grantor holds no exclusive rights in",
    "holdback": "falls inside a holdback",
}


@dataclass(frozen=True)
class ReportedConflict:
    """One conflict as `check` prints it (and as CLI.md's JSON shape lists it)."""

    kind: str
    severity: str
    grant: str | None
    agreement: str | None
    grantee: str | None
    rights: tuple[str, ...]
    territories: tuple[str, ...]
    start: date | None
    end: date | None
    message: str
    line: int | None = None

    @property
    def territory(self) -> str:
        return compact(frozenset(self.territories))

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "severity": self.severity,
            "grant": self.grant,
            "agreement": self.agreement,
            "grantee": self.grantee,
            "rights": list(self.rights),
            "territories": list(self.territories),
            "territory": self.territory,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "message": self.message,
        }
        if self.line is not None:
            data["line"] = self.line
        return data


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _span(first: date | None, last: date | None) -> str:
    start = f"from {first}" if first and first != date.min else "from the start"
    end = f"through {last}" if last and last != date.max else "with no end"
    return f"{start} {end}"


def _describe_other(other: GrantView) -> str:
    pending = "" if other.status == "signed" else f", pending ({other.status})"
    if other.grantor == other.grantee:
        holder = f"{other.grantor}'s own reservation"
    else:
        holder = f"{other.grantor} -> {other.grantee} ({other.exclusivity})"
    return f"{other.id} under {other.agreement}{pending}: {holder}"


def explain(conflict: Conflict, proposed: GrantView, line: int | None = None) -> ReportedConflict:
    """Name the other grant and the overlapping slice in a sentence a lawyer would write."""
    slice_ = conflict.slice
    rights = RIGHTS.compact(slice_.rights)
    territories = tuple(sorted(slice_.countries))
    where = f"{', '.join(rights)} in {compact(slice_.countries)} {_span(slice_.first, slice_.last)}"
    other = conflict.other
    who = proposed.grantor
    if conflict.kind == "exclusive-overlap":
        assert other is not None
        message = f"Collides with {_describe_other(other)} on {where}."
    elif conflict.kind == "holdback":
        assert other is not None
        message = f"Falls inside a holdback of {_describe_other(other)} on {where}."
    elif conflict.kind == "no-rights-in":
        message = f"{who} holds no rights to grant {where}"
        message += (
            f"; only the pending {other.id} under {other.agreement} would give them."
            if other is not None
            else "."
        )
    else:
        message = f"{who} holds no {proposed.exclusivity} rights to grant {where}"
        message += (
            f"; only the pending {other.id} under {other.agreement} would give them."
            if other is not None
            else " (what it holds is weaker)."
        )
    return ReportedConflict(
        kind=conflict.kind,
        severity=conflict.severity,
        grant=other.id if other is not None else None,
        agreement=other.agreement if other is not None else None,
        grantee=other.grantee if other is not None else None,
        rights=rights,
        territories=territories,
        start=slice_.first if slice_.first != date.min else None,
        end=slice_.last if slice_.last != date.max else None,
        message=message,
        line=line,
    )


@dataclass(frozen=True)
class CheckResult:
    conflicts: tuple[ReportedConflict, ...]

    @property
    def clear(self) -> bool:
        return not any(c.severity == "block" for c in self.conflicts)

    @property
    def blocking(self) -> tuple[ReportedConflict, ...]:
        return tuple(c for c in self.conflicts if c.severity == "block")

    def as_json(self) -> dict[str, Any]:
        return {"clear": self.clear, "conflicts": [c.as_json() for c in self.conflicts]}


def merge(results: Sequence[CheckResult]) -> CheckResult:
    return CheckResult(tuple(c for r in results for c in r.conflicts))
