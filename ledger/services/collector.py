"""Keeping Python's cyclic garbage collector out of bulk work."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a block that makes a great many objects that
    live on (an import's rows and views, a country-wide answer's tuples).

    Each collection walks every object still young, and the full ones every object there
    is: while a bulk job adds objects by the hundred thousand, that walking is pure cost
    (a seventh of an import's time). Reference counting still frees everything acyclic
    at once; a long job frees the cycles it makes with `sweep_young` now and then.

    When the block ends, what it made joins the oldest generation rather than waiting
    for a young collection to walk it (for a country-wide answer, a tenth of its time):
    it is looked at in the next full collection, with everything else that has lived
    long, and a cycle among it is freed then."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            _promote_all()
            gc.enable()


def _promote_all() -> None:
    """Move every object the collector tracks into its oldest generation: `gc.freeze`
    gathers them all into the permanent one and `gc.unfreeze` hands that over to the
    oldest. Not when the program froze objects itself: unfreezing would undo it."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


def sweep_young() -> None:
    """Free the reference cycles among the objects made since the last sweep, which a
    paused collector leaves, without walking the older ones again."""
    gc.collect(1)
