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
    at once; a long job frees the cycles it makes with `sweep_young` now and then, and
    the collector looks at everything again when the block ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def sweep_young() -> None:
    """Free the reference cycles among the objects made since the last sweep, which a
    paused collector leaves, without walking the older ones again."""
    gc.collect(1)
