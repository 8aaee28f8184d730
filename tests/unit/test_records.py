"""`quick_init`: a frozen dataclass made by it is the one its own `__init__` would make."""

from __future__ import annotations

import dataclasses
from dataclasses import FrozenInstanceError, dataclass, field
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.conflicts import GrantView
from ledger.domain.grants import GrantSpec
from ledger.domain.records import quick_init
from ledger.domain.territories import parse_territory
from ledger.errors import BadInput


def counted(name: str) -> type:
    """A fresh frozen dataclass with a default, a default factory and a `__post_init__`."""

    @dataclass(frozen=True)
    class Counted:
        name: str
        count: int = 3
        tags: dict[str, str] = field(default_factory=dict)

        def __post_init__(self) -> None:
            if self.count < 0:
                raise ValueError("negative count")

    Counted.__name__ = Counted.__qualname__ = name
    return Counted


Plain = counted("Plain")
Quick = quick_init(counted("Quick"))


@given(
    st.text(),
    st.none() | st.integers(min_value=0),
    st.none() | st.dictionaries(st.text(), st.text()),
)
def test_a_quick_instance_has_the_fields_the_dataclass_init_gives(
    name: str, count: int | None, tags: dict[str, str] | None
) -> None:
    given_args = {"count": count, "tags": tags}
    kwargs = {key: value for key, value in given_args.items() if value is not None}
    assert vars(Quick(name, **kwargs)) == vars(Plain(name, **kwargs))  # type: ignore[arg-type]


def test_a_default_factory_makes_a_fresh_value_for_each_instance() -> None:
    first, second = Quick("a"), Quick("b")
    assert first.tags == {} and first.tags is not second.tags


def test_post_init_still_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match="negative count"):
        Quick("a", -1)


def test_a_quick_instance_stays_frozen_comparable_and_replaceable() -> None:
    made = Quick("a", 1)
    with pytest.raises(FrozenInstanceError):
        made.count = 2  # type: ignore[misc]
    assert made == Quick("a", 1) != Quick("a", 2)
    assert dataclasses.replace(made, count=5) == Quick("a", 5)
    assert repr(made) == "Quick(name='a', count=1, tags={})"


def test_a_grant_whose_end_is_before_its_start_is_still_refused() -> None:
    with pytest.raises(BadInput, match="is before start"):
        GrantSpec(
            "A",
            "t",
            "g",
            "h",
            frozenset({"svod"}),
            parse_territory("CN"),
            date(2020, 1, 2),
            date(2020, 1, 1),
            "exclusive",
        )


def test_the_import_hot_classes_take_keywords_and_positions_alike_and_hash_alike() -> None:
    rights, countries, day = frozenset({"svod"}), frozenset({"CN"}), date(2020, 1, 1)
    by_position = GrantView(
        "G1", "A", "signed", "g", "h", rights, countries, None, day, None, "sole"
    )
    by_keyword = GrantView(
        id="G1",
        agreement="A",
        status="signed",
        grantor="g",
        grantee="h",
        rights=rights,
        countries=countries,
        languages=None,
        start=day,
        end=None,
        exclusivity="sole",
    )
    assert by_position == by_keyword and hash(by_position) == hash(by_keyword)
    assert by_keyword.holdbacks == () and by_keyword.recorded_seq == 0


def test_quick_init_refuses_a_class_that_is_not_frozen() -> None:
    @dataclass
    class Loose:
        name: str

    with pytest.raises(TypeError, match="frozen dataclasses"):
        quick_init(Loose)
