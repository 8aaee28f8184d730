"""Dates, terms, release-event references and inclusive windows (DOMAIN.md, "Windows")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.dates import (
    EventRef,
    Term,
    Window,
    add_offset,
    end_for_term,
    parse_date,
    parse_date_or_event,
    parse_event_ref,
    parse_term,
    parse_timestamp,
)
from ledger.errors import BadInput

D = date.fromisoformat

# --- parse_date -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2027-06-30",
        "20270630",
        "2027/06/30",
        "30 June 2027",
        "June 30, 2027",
        "30 Jun 2027",
        "30 Jun. 2027",
        "2027 June 30",
        "30th June 2027",
        "june 30 2027",
        "  2027-06-30 ",
        "2027-06-30T00:00:00",
        "2027-06-30 23:59:59",
        "2027-06-30T23:59:59Z",
        "2027-06-30T10:15:00.250+09:00",
    ],
)
def test_iso_and_month_name_dates_are_accepted(text: str) -> None:
    assert parse_date(text) == D("2027-06-30")


@pytest.mark.parametrize("text", ["01/02/2027", "1.2.2027", "02-01-2027", "12/31/2027", "1/2/27"])
def test_numeric_day_or_month_first_dates_are_rejected_as_ambiguous(text: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_date(text)
    assert str(caught.value) == (
        f"ambiguous date '{text}': use ISO 8601 (YYYY-MM-DD) or a month name (1 February 2027)"
    )


@pytest.mark.parametrize(
    "text",
    [
        "2027-02-30",
        "2027-13-01",
        "31 April 2027",
        "2026-02-29",
        "2027-02-30T00:00",
        "2027-06-30T25:00",
    ],
)
def test_impossible_dates_are_rejected(text: str) -> None:
    with pytest.raises(BadInput, match=f"invalid date '{text}'"):
        parse_date(text)


@pytest.mark.parametrize("text", ["", "tomorrow", "June 2027", "30 Foo 2027", "30 June 27"])
def test_things_that_are_not_dates_are_rejected(text: str) -> None:
    with pytest.raises(BadInput, match="not a date"):
        parse_date(text)


def test_leap_day_is_a_date_in_leap_years() -> None:
    assert parse_date("29 February 2028") == D("2028-02-29")


# --- parse_timestamp ---------------------------------------------------------------------


def test_naive_timestamp_is_utc() -> None:
    assert parse_timestamp("2027-06-30T10:00") == datetime(2027, 6, 30, 10, tzinfo=UTC)


def test_timestamp_keeps_its_offset() -> None:
    moment = parse_timestamp("2027-06-30T10:00+09:00")
    assert moment.utcoffset() == timedelta(hours=9)
    assert parse_timestamp("2027-06-30T01:00Z") == datetime(2027, 6, 30, 1, tzinfo=UTC)


def test_a_bare_date_as_timestamp_means_the_end_of_that_day_utc() -> None:
    moment = parse_timestamp("2027-06-30")
    assert moment.tzinfo is not None
    assert moment.date() == D("2027-06-30")
    assert moment + timedelta(microseconds=1) == datetime(2027, 7, 1, tzinfo=UTC)
    assert parse_timestamp("30 June 2027") == moment


def test_ambiguous_timestamp_is_rejected() -> None:
    with pytest.raises(BadInput, match="ambiguous date"):
        parse_timestamp("01/02/2027")


# --- terms ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("10y", Term(years=10)),
        ("18m", Term(months=18)),
        ("90d", Term(days=90)),
        ("2w", Term(days=14)),
        ("P10Y", Term(years=10)),
        ("P18M", Term(months=18)),
        ("P90D", Term(days=90)),
        ("P1Y6M", Term(years=1, months=6)),
        ("P2W", Term(days=14)),
        ("1y6m", Term(years=1, months=6)),
        ("10 years", Term(years=10)),
    ],
)
def test_terms_parse_in_short_and_iso_forms(text: str, term: Term) -> None:
    assert parse_term(text) == term


@pytest.mark.parametrize("text", ["", "10", "y", "P", "PT1H", "-3d", "10x", "0d", "P0D"])
def test_bad_or_zero_terms_are_rejected(text: str) -> None:
    with pytest.raises(BadInput):
        parse_term(text)


def test_a_term_or_offset_of_a_thousand_years_or_more_is_a_typing_slip() -> None:
    assert parse_term("999y").years == 999
    with pytest.raises(BadInput, match="longer than 1000 years"):
        parse_term("9000y")
    with pytest.raises(BadInput, match="longer than 1000 years"):
        parse_event_ref("theatrical+400000d")


def test_a_window_that_would_end_past_the_calendar_is_bad_input_not_a_crash() -> None:
    with pytest.raises(BadInput, match="a term of 1y from 9999-06-01 runs past 9999-12-31"):
        end_for_term(D("9999-06-01"), parse_term("1y"))
    with pytest.raises(BadInput, match="9999-12-01 \\+ 90d runs past 9999-12-31"):
        add_offset(D("9999-12-01"), parse_term("90d"))
    with pytest.raises(BadInput, match="runs past"):
        EventRef("theatrical", parse_term("1y"), negative=True).resolve(D("0001-06-01"))


def test_term_text_is_canonical() -> None:
    assert parse_term("P1Y6M").text == "1y6m"
    assert parse_term("2w").text == "14d"
    assert Term().text == "0d"


def test_negative_terms_cannot_be_built() -> None:
    with pytest.raises(BadInput):
        Term(days=-1)


@pytest.mark.parametrize(
    ("start", "term", "end"),
    [
        ("2017-06-28", "10y", "2027-06-27"),
        ("2021-03-01", "1m", "2021-03-31"),
        ("2020-01-31", "1m", "2020-02-29"),  # no 31 February: through the month's last day
        ("2021-01-31", "1m", "2021-02-28"),
        ("2020-02-29", "1y", "2021-02-28"),  # leap day start, no 29 February next year
        ("2020-02-29", "4y", "2024-02-28"),  # corresponding date exists: day before it
        ("2020-01-01", "90d", "2020-03-30"),
        ("2021-01-01", "90d", "2021-03-31"),
        ("2020-01-01", "1d", "2020-01-01"),
        ("2020-01-01", "2w", "2020-01-14"),
        ("2017-07-01", "10y", "2027-06-30"),
        ("2020-08-31", "18m", "2022-02-28"),
        ("2021-01-01", "1y6m10d", "2022-07-10"),  # months first, then ten more days
    ],
)
def test_end_for_term_follows_the_corresponding_date_rule(start: str, term: str, end: str) -> None:
    assert end_for_term(D(start), parse_term(term)) == D(end)


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 1, 1)), st.integers(1, 5000))
def test_a_term_of_n_days_covers_exactly_n_days(start: date, days: int) -> None:
    end = end_for_term(start, Term(days=days))
    assert (end - start).days + 1 == days


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 1, 1)), st.integers(1, 240))
def test_consecutive_month_terms_neither_gap_nor_overlap_when_days_correspond(
    start: date, months: int
) -> None:
    if start.day <= 28:
        end = end_for_term(start, Term(months=months))
        following = end + timedelta(days=1)
        assert following.day == start.day


def test_zero_term_has_no_end() -> None:
    with pytest.raises(BadInput):
        end_for_term(D("2020-01-01"), Term())


def test_add_offset_is_plain_date_arithmetic_without_minus_one() -> None:
    assert add_offset(D("2027-05-01"), Term(days=90)) == D("2027-07-30")
    assert add_offset(D("2027-05-01"), Term(days=30), negative=True) == D("2027-04-01")
    assert add_offset(D("2020-01-31"), Term(months=1)) == D("2020-02-29")


# --- release events ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("theatrical+90d", EventRef("theatrical", Term(days=90))),
        ("est", EventRef("est")),
        ("est+0d", EventRef("est")),
        ("broadcast+6m", EventRef("broadcast", Term(months=6))),
        ("theatrical-30d", EventRef("theatrical", Term(days=30), negative=True)),
        ("pay-tv-30d", EventRef("pay-tv", Term(days=30), negative=True)),
        ("pay-tv", EventRef("pay-tv")),
        ("season-2", EventRef("season-2")),
        ("Theatrical + P3M", EventRef("theatrical", Term(months=3))),
    ],
)
def test_event_references_parse_with_signed_offsets(text: str, ref: EventRef) -> None:
    assert parse_event_ref(text) == ref


def test_event_reference_text_round_trips() -> None:
    for text in ("theatrical+90d", "theatrical-30d", "est", "broadcast+1y6m"):
        assert parse_event_ref(text).text == text


def test_event_reference_resolves_against_the_event_day() -> None:
    assert parse_event_ref("theatrical+90d").resolve(D("2027-05-01")) == D("2027-07-30")
    assert parse_event_ref("theatrical-30d").resolve(D("2027-05-01")) == D("2027-04-01")


@pytest.mark.parametrize("text", ["", "+90d", "theatrical+", "theatrical+90", "Théâtre", "9d"])
def test_bad_event_references_are_rejected(text: str) -> None:
    with pytest.raises(BadInput):
        parse_event_ref(text)


def test_parse_date_or_event_tells_dates_from_events() -> None:
    assert parse_date_or_event("2027-01-01") == D("2027-01-01")
    assert parse_date_or_event("1 January 2027") == D("2027-01-01")
    assert parse_date_or_event("theatrical+90d") == EventRef("theatrical", Term(days=90))
    with pytest.raises(BadInput, match="ambiguous date"):
        parse_date_or_event("01/02/2027")
    with pytest.raises(BadInput, match="not a date"):
        parse_date_or_event("June 2027")


# --- windows ----------------------------------------------------------------------------


def test_windows_include_both_ends() -> None:
    window = Window(D("2017-07-01"), D("2027-06-30"))
    assert window.contains(D("2017-07-01"))
    assert window.contains(D("2027-06-30"))
    assert not window.contains(D("2027-07-01"))
    assert not window.contains(D("2017-06-30"))


def test_windows_sharing_one_day_overlap() -> None:
    first = Window(D("2020-01-01"), D("2020-06-30"))
    assert first.overlaps(Window(D("2020-06-30"), D("2020-12-31")))
    assert not first.overlaps(Window(D("2020-07-01"), D("2020-12-31")))
    assert first.intersection(Window(D("2020-06-30"), None)) == Window(
        D("2020-06-30"), D("2020-06-30")
    )


def test_open_ended_windows_run_forever() -> None:
    perpetuity = Window(D("2020-01-01"))
    assert perpetuity.contains(D("2999-12-31"))
    assert perpetuity.overlaps(Window(D("2500-01-01"), D("2500-01-02")))
    assert perpetuity.intersection(Window(D("2019-01-01"))) == Window(D("2020-01-01"))
    assert perpetuity.text == "2020-01-01.."


def test_disjoint_windows_have_no_intersection() -> None:
    assert Window(D("2020-01-01"), D("2020-01-31")).intersection(Window(D("2021-01-01"))) is None


def test_a_one_day_window_is_allowed_but_an_end_before_start_is_not() -> None:
    assert Window(D("2020-01-01"), D("2020-01-01")).contains(D("2020-01-01"))
    with pytest.raises(BadInput, match=r"^end 2020-01-01 is before start 2021-01-01$"):
        Window(D("2021-01-01"), D("2020-01-01"))


window_strategy = st.builds(
    lambda start, length: Window(start, None if length is None else start + timedelta(length)),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 1, 1)),
    st.none() | st.integers(0, 4000),
)


@given(window_strategy, window_strategy, st.dates(date(1999, 1, 1), date(2060, 1, 1)))
def test_intersection_contains_exactly_the_days_both_windows_contain(
    a: Window, b: Window, day: date
) -> None:
    both = a.intersection(b)
    assert (both is not None and both.contains(day)) == (a.contains(day) and b.contains(day))
    assert a.overlaps(b) == b.overlaps(a) == (both is not None)
