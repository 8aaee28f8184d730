"""Calendar days, terms, release-event references and inclusive windows.

This module owns how the ledger reads and reckons time: which date strings are accepted
(ISO 8601 and forms with a month name; never an ambiguous ``01/02/2027``), how a term such
as ``10y`` becomes an end date under the contract-law "corresponding date" rule, how
``theatrical+90d`` is written, and what it means for two windows to overlap. Windows are
inclusive at both ends, as contracts read ("from 1 July 2017 through 30 June 2027").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from dateutil.relativedelta import relativedelta

from ledger.errors import BadInput

_DATE_HELP = "use ISO 8601 (YYYY-MM-DD) or a month name (1 February 2027)"

_MONTHS: dict[str, int] = {}
for _number, _name in enumerate(
    [
        "january", "february", "march", "april", "may", "june",
        "july", "august", "september", "october", "november", "december",
    ],
    start=1,
):  # fmt: skip
    _MONTHS[_name] = _number
    _MONTHS[_name[:3]] = _number
_MONTHS["sept"] = 9

_YEAR_FIRST = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_BASIC_ISO = re.compile(r"(\d{4})(\d{2})(\d{2})")
# An ISO 8601 date and time (`2017-05-05T00:00:00`, `2017-12-11 23:59:59Z`, as
# spreadsheets and Avails write them): the ledger counts whole days, the day as written.
_ISO_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
# Day-or-month-first numeric dates: 01/02/2027 is 1 February in London, 2 January in LA.
_NUMERIC_DAY_OR_MONTH_FIRST = re.compile(r"\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_WORD = re.compile(r"[a-z]+|\d+")


def _build(text: str, year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError as error:
        raise BadInput(f"invalid date '{text}': {error}") from None


def _from_month_name(text: str) -> date | None:
    """`30 June 2027`, `June 30, 2027`, `30th Jun. 2027`, `2027 June 30`; None if not that shape."""
    tokens = _WORD.findall(re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text.casefold()))
    if len(tokens) != 3:
        return None
    months = [i for i, token in enumerate(tokens) if token in _MONTHS]
    if len(months) != 1 or not all(tokens[i].isdigit() for i in range(3) if i != months[0]):
        return None
    where = months[0]
    month = _MONTHS[tokens[where]]
    numbers = [tokens[i] for i in range(3) if i != where]
    if where == 1:  # 30 June 2027 or 2027 June 30: the four-digit number is the year
        day_text, year_text = (numbers[1], numbers[0]) if len(numbers[0]) == 4 else numbers
    elif where == 0:  # June 30, 2027
        day_text, year_text = numbers
    else:
        return None
    if len(year_text) != 4 or len(day_text) > 2:
        return None
    return _build(text, int(year_text), month, int(day_text))


def parse_date(text: str) -> date:
    """A calendar day from ISO 8601 (`2027-06-30`, `20270630`, or a date and time of day,
    `2027-06-30T23:59:59`, whose day is taken) or a month-name form."""
    stripped = text.strip()
    for pattern in (_YEAR_FIRST, _BASIC_ISO):
        match = pattern.fullmatch(stripped)
        if match:
            year, month, day = (int(part) for part in match.groups())
            return _build(stripped, year, month, day)
    if _ISO_DATE_TIME.fullmatch(stripped):
        try:
            return datetime.fromisoformat(stripped.upper()).date()
        except ValueError as error:
            raise BadInput(f"invalid date '{stripped}': {error}") from None
    if _NUMERIC_DAY_OR_MONTH_FIRST.fullmatch(stripped):
        raise BadInput(f"ambiguous date '{stripped}': {_DATE_HELP}")
    named = _from_month_name(stripped)
    if named is not None:
        return named
    raise BadInput(f"not a date '{stripped}': {_DATE_HELP}")


def parse_timestamp(text: str) -> datetime:
    """A timezone-aware moment for `--recorded-as-of`; naive input is read as UTC.

    A bare date means the end of that day (UTC), so "as of 2027-06-30" includes everything
    recorded on the 30th, in line with the ledger's inclusive days.
    """
    stripped = text.strip()
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError:
        day = parse_date(stripped)
        return datetime.combine(day, time.max, tzinfo=UTC)
    if re.fullmatch(r"\d{4}-?\d{2}-?\d{2}", stripped):
        return datetime.combine(moment.date(), time.max, tzinfo=UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Term:
    """A contract term or an event offset: years, months and days (weeks become days).

    Never negative: the direction of an event offset lives on `EventRef.negative`.
    """

    years: int = 0
    months: int = 0
    days: int = 0

    def __post_init__(self) -> None:
        if min(self.years, self.months, self.days) < 0:
            raise BadInput(
                f"term parts must not be negative: {self.years}y{self.months}m{self.days}d"
            )

    @property
    def is_zero(self) -> bool:
        return self.years == self.months == self.days == 0

    @property
    def text(self) -> str:
        """Canonical short form: `10y`, `1y6m`, `90d`, and `0d` for no time at all."""
        parts = [(self.years, "y"), (self.months, "m"), (self.days, "d")]
        return "".join(f"{n}{unit}" for n, unit in parts if n) or "0d"

    def __str__(self) -> str:
        return self.text


_SHORT_TERM = re.compile(
    r"(?:(\d+)\s*(?:y|yr|yrs|years?))?\s*"
    r"(?:(\d+)\s*(?:m|mo|mos|months?))?\s*"
    r"(?:(\d+)\s*(?:w|wk|wks|weeks?))?\s*"
    r"(?:(\d+)\s*(?:d|days?))?"
)
_ISO_TERM = re.compile(r"p(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)w)?(?:(\d+)d)?")


LONGEST_TERM_YEARS = 1000
"""The longest term or event offset written (a thousand years): a longer one is a typing
slip, and most would run past the calendar's last day."""
LONGEST_TERM_DAYS = LONGEST_TERM_YEARS * 366


def _parse_unsigned_term(text: str) -> Term:
    """`10y`, `18m`, `90d`, `2w`, `1y6m`, `10 years`, ISO `P10Y`, `P1Y6M`, `P2W`; may be zero."""
    folded = text.strip().casefold()
    match = _ISO_TERM.fullmatch(folded) or _SHORT_TERM.fullmatch(folded)
    if not folded or folded == "p" or match is None or not any(match.groups()):
        raise BadInput(f"not a term '{text.strip()}': use e.g. 10y, 18m, 90d, 2w or P1Y6M")
    years, months, weeks, days = (int(part or 0) for part in match.groups())
    term = Term(years=years, months=months, days=weeks * 7 + days)
    if term.years * 366 + term.months * 31 + term.days > LONGEST_TERM_DAYS:
        raise BadInput(
            f"'{text.strip()}' is longer than {LONGEST_TERM_YEARS} years "
            "(a licence in perpetuity has an open end)"
        )
    return term


def is_term(text: str) -> bool:
    """Whether `text` is written as a term (`10y`, `18m`, `2 weeks`, `P10Y`), zero or not."""
    try:
        _parse_unsigned_term(text)
    except BadInput:
        return False
    return True


def parse_term(text: str) -> Term:
    """A licence term (`10y`, `18m`, `90d`, `2w`, `P10Y`, `P1Y6M`); it must be at least a day."""
    term = _parse_unsigned_term(text)
    if term.is_zero:
        raise BadInput(f"term '{text.strip()}' is zero: a term runs at least one day")
    return term


@lru_cache(maxsize=65536)
def end_for_term(start: date, term: Term) -> date:
    """The last day in force of a term starting on `start` (DOMAIN.md, "Windows").

    Days and weeks run N days: start + N - 1. Months and years run through the day
    before the corresponding date, or through the month's last day where the end month
    has no corresponding date (31 January + 1 month ends 29 February in a leap year).
    A mixed term (1y6m10d) runs its years and months first, then its days from the next
    day on, so its end is the years-and-months end plus the days.

    Remembered: a catalogue repeats the same starts and terms, and `relativedelta` is
    slow (in a 200k-row import whose ends are terms, a tenth of the importing thread).
    """
    if term.is_zero:
        raise BadInput("a term must run at least one day")
    try:
        if term.years or term.months:
            anniversary = start + relativedelta(years=term.years, months=term.months)
            end = anniversary - timedelta(days=1) if anniversary.day == start.day else anniversary
            return end + timedelta(days=term.days)
        return start + timedelta(days=term.days - 1)
    except (OverflowError, ValueError):
        raise _past_the_calendar(f"a term of {term.text} from {start}") from None


def _past_the_calendar(what: str) -> BadInput:
    return BadInput(f"{what} runs past {date.max}, the last day of the calendar")


def add_offset(day: date, offset: Term, *, negative: bool = False) -> date:
    """Plain date arithmetic for event offsets: theatrical on 1 May + 90d is 30 July.

    No minus-one here: an offset names a day relative to the event, it is not a term.
    """
    delta = relativedelta(years=offset.years, months=offset.months, days=offset.days)
    try:
        return day - delta if negative else day + delta
    except (OverflowError, ValueError):
        sign = "-" if negative else "+"
        raise _past_the_calendar(f"{day} {sign} {offset.text}") from None


@dataclass(frozen=True)
class EventRef:
    """A date tied to a release event of the title in the territory: `theatrical+90d`."""

    kind: str
    offset: Term = Term()
    negative: bool = False

    @property
    def text(self) -> str:
        """`theatrical+90d`, `theatrical-30d`, or just `est` when there is no offset."""
        if self.offset.is_zero:
            return self.kind
        return f"{self.kind}{'-' if self.negative else '+'}{self.offset.text}"

    def resolve(self, event_day: date) -> date:
        """The actual day once the event's date is known."""
        return add_offset(event_day, self.offset, negative=self.negative)

    def __str__(self) -> str:
        return self.text


# The kind is matched lazily so that `pay-tv-30d` reads as pay-tv minus 30 days.
_EVENT_REF = re.compile(r"([a-z][a-z0-9-]*?)(?:\s*([+-])\s*((?:\d+\s*[a-z]+\s*)+|p\d[0-9a-z]*))?")


def parse_event_ref(text: str) -> EventRef:
    """`theatrical+90d`, `est`, `est+0d`, `broadcast+6m`, `theatrical-30d`."""
    folded = text.strip().casefold()
    match = _EVENT_REF.fullmatch(folded)
    if match is None or folded.endswith("-"):
        raise BadInput(
            f"not a release event '{text.strip()}': use an event name with an optional "
            "offset, e.g. theatrical+90d"
        )
    kind, sign, offset_text = match.groups()
    offset = _parse_unsigned_term(offset_text) if offset_text else Term()
    return EventRef(kind=kind, offset=offset, negative=sign == "-" and not offset.is_zero)


def parse_date_or_event(text: str) -> date | EventRef:
    """A calendar day, or a release-event reference when the text is not a date."""
    try:
        return parse_date(text)
    except BadInput:
        folded = text.strip().casefold()
        first_word = re.match(r"[a-z]+", folded)
        looks_like_event = first_word is not None and first_word.group() not in _MONTHS
        if not looks_like_event or _EVENT_REF.fullmatch(folded) is None:
            raise
    return parse_event_ref(text)


@dataclass(frozen=True)
class Window:
    """Calendar days from `start` through `end`, both inclusive; `end=None` is open-ended."""

    start: date
    end: date | None = None

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise BadInput(f"end {self.end.isoformat()} is before start {self.start.isoformat()}")

    def contains(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    def overlaps(self, other: Window) -> bool:
        """True when the two windows share at least one day."""
        return self.intersection(other) is not None

    def intersection(self, other: Window) -> Window | None:
        start = max(self.start, other.start)
        ends = [end for end in (self.end, other.end) if end is not None]
        end = min(ends) if ends else None
        if end is not None and end < start:
            return None
        return Window(start, end)

    @property
    def text(self) -> str:
        """`2017-07-01..2027-06-30`, or `2017-07-01..` when open-ended."""
        return f"{self.start.isoformat()}..{self.end.isoformat() if self.end else ''}"

    def __str__(self) -> str:
        return self.text
