"""Click parameter types that turn bad input into one clear line and exit code 2."""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from ledger.domain.dates import Term, parse_date, parse_term
from ledger.domain.grants import Exclusivity, parse_exclusivity
from ledger.domain.rights import parse_rights
from ledger.domain.territories import TerritoryExpr, parse_territory
from ledger.errors import BadInput


class _Parsed(click.ParamType):  # type: ignore[type-arg]
    """A parameter parsed by a ledger function; its BadInput becomes a usage error."""

    def parse(self, value: str) -> Any:
        raise NotImplementedError

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self.parse(value)
        except BadInput as exc:
            self.fail(str(exc), param, ctx)


class DateType(_Parsed):
    name = "date"

    def parse(self, value: str) -> date:
        return parse_date(value)


class TermType(_Parsed):
    name = "term"

    def parse(self, value: str) -> Term:
        return parse_term(value)


class TerritoryType(_Parsed):
    name = "territory"

    def parse(self, value: str) -> TerritoryExpr:
        return parse_territory(value)


class RightsType(_Parsed):
    name = "rights"

    def parse(self, value: str) -> frozenset[str]:
        return parse_rights(value)


class ExclusivityType(_Parsed):
    name = "exclusivity"

    def parse(self, value: str) -> Exclusivity:
        return parse_exclusivity(value)


class WithinType(_Parsed):
    """`90d`, `12w`, `3m`: a horizon in days (months count 30 days, years 365)."""

    name = "within"

    def parse(self, value: str) -> int:
        if value.strip().isdigit():
            return int(value)
        term = parse_term(value)
        return term.years * 365 + term.months * 30 + term.days


DATE = DateType()
TERM = TermType()
TERRITORY = TerritoryType()
RIGHTS = RightsType()
EXCLUSIVITY = ExclusivityType()
WITHIN = WithinType()
