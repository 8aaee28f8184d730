"""The collector is paused for bulk work and handed back as it was."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from ledger.services.collector import collector_paused


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_the_collector_is_off_inside_and_on_again_after(collector_on: None) -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_what_the_block_made_joins_the_oldest_generation_without_a_young_collection(
    collector_on: None,
) -> None:
    with collector_paused():
        made = [(str(n), (n,)) for n in range(1000)]
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert all(id(item) in oldest for item in made)


def test_a_cycle_made_in_the_block_is_still_freed_by_a_full_collection(
    collector_on: None,
) -> None:
    with collector_paused():
        cycle = _Cycle()
    alive = weakref.ref(cycle)
    del cycle
    gc.collect()
    assert alive() is None


def test_objects_the_program_froze_itself_stay_frozen(collector_on: None) -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector_paused():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
