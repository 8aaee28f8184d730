"""File rows made ready to record: parsed, checked, and written out as the ledger keeps them.

An import takes a file's rows a chunk at a time (`chunks`) and turns each into a grant:
its `GrantSpec` (`spec_from_row`), its check against the title's grants and the lines
before it (`RowChecker`), its journal payload and its `rights_grant` row (`Checked`).
What is left to the import is what needs the ledger's connection: creating the parties,
titles and agreements the rows name, numbering and hashing the journal, writing.

A large CSV file is made ready in a second process (`Preparing`), on a machine's second
core, while the first records what it is handed. A title already in the ledger has its
grants there, out of the second process's reach: its rows are handed over parsed, and
checked by the import itself (`Parsed`). Either way each row is checked by the same
`RowChecker`, with the same numbering, so the result is the same whichever did the work.
"""

from __future__ import annotations

import marshal
import multiprocessing
import os
import pickle
import signal
import sys
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import islice
from multiprocessing.connection import Connection as Pipe
from typing import Any, NamedTuple, cast

from ledger.domain.conflicts import Conflict, check_grant, plainly_clear
from ledger.domain.grants import (
    Bound,
    EndBound,
    Exclusivity,
    GrantSpec,
    bound_text,
    parse_exclusivity,
    read_bound,
    read_end,
)
from ledger.domain.languages import parse_languages
from ledger.domain.rights import RIGHTS, parse_rights
from ledger.domain.territories import TerritoryExpr, parse_territory
from ledger.errors import BadInput, LedgerError
from ledger.io.csv_format import RowFile
from ledger.io.rows import GrantRow
from ledger.persistence.journal import canonical_json, json_string
from ledger.persistence.projection import grant_values
from ledger.services.checks import ReportedConflict, explain
from ledger.services.collector import sweep_young
from ledger.services.ledger import added_despite
from ledger.services.views import LINE_SEQ, TitleScope, grant_label, proposed_view

STATUSES = ("draft", "mou", "signed")

# A catalogue repeats the same few hundred territories, rights lists and dates.
_territory = lru_cache(maxsize=4096)(parse_territory)
_exclusivity = lru_cache(maxsize=64)(parse_exclusivity)


@lru_cache(maxsize=4096)
def _rights(text: str) -> frozenset[str]:
    return parse_rights(text.replace(",", ";").split(";"))


@lru_cache(maxsize=32768)
def _bound(text: str) -> Bound:
    return read_bound(text)


@lru_cache(maxsize=32768)
def _end(text: str) -> EndBound:
    return read_end(text)


@lru_cache(maxsize=1024)
def _languages(text: str) -> frozenset[str] | None:
    return parse_languages(text.replace(";", ",")) if text.strip() else None


def spec_from_row(row: GrantRow) -> tuple[GrantSpec, str]:
    """The grant a row describes, and its agreement's status (signed unless the row gives
    one); BadInput names the problem."""
    if not row.start.strip():
        raise BadInput("no start date")
    status = (row.status or "signed").strip().lower()
    if status not in STATUSES:
        raise BadInput(f"unknown status {row.status!r} (use draft, mou or signed)")
    exclusivity: Exclusivity = _exclusivity(row.exclusivity)
    territory: TerritoryExpr = _territory(row.territory)
    spec = GrantSpec(
        agreement=row.agreement.strip(),
        title=row.title.strip(),
        grantor=row.grantor.strip(),
        grantee=row.grantee.strip(),
        rights=_rights(row.rights),
        territory=territory,
        start=_bound(row.start),
        end=_end(row.end),
        exclusivity=exclusivity,
        languages=_languages(row.language),
        external_refs=dict(row.extras),
    )
    return spec, status


Naming = tuple[int, str, str, str, str, str, str, str, str, str, str]
"""What a row names, as an import creates what the ledger lacks of it: its row; its
agreement, title, grantor and grantee; the agreement's status, should the row create it;
the title's, grantor's and grantee's names as written; the row's `WorkType` and
`ReleaseYear` (EMA columns, or CSV columns of those names), or "". A plain tuple: one
goes from the second process to the first for every row."""


def naming_of(row: GrantRow, spec: GrantSpec, status: str) -> Naming:
    extras = row.extras
    return (
        row.row,
        spec.agreement,
        spec.title,
        spec.grantor,
        spec.grantee,
        status,
        row.title_name,
        row.grantor_name,
        row.grantee_name,
        extras.get("WorkType", "") if extras else "",
        extras.get("ReleaseYear", "") if extras else "",
    )


class Parsed(NamedTuple):
    """A row parsed, to be checked by the import itself."""

    naming: Naming
    row: GrantRow
    spec: GrantSpec
    status: str


Ready = tuple[Naming, int, str, str | None, tuple[Any, ...], int, tuple[ReportedConflict, ...], int]
"""A `Checked` as a plain tuple, as it goes from the second process to the first (a
named tuple costs twice as much to send)."""


class Checked(NamedTuple):
    """A row checked, as the import records it."""

    naming: Naming
    grant_id: int
    body: str
    """The canonical JSON of its grant.added payload."""
    reason: str | None
    """The entry's reason: the import's, when the row was recorded despite conflicts."""
    values: tuple[Any, ...]
    """Its `rights_grant` row but the last column, the journal entry's number
    (`Projector.add_grant`)."""
    blocking: int
    """Blocking conflicts found."""
    conflicts: tuple[ReportedConflict, ...]
    """Conflicts found and explained (while the checker had explained fewer than its
    `shown`)."""
    unexplained: int
    """Conflicts found beyond those."""

    def plain(self) -> Ready:
        """The same as a plain tuple."""
        return cast(Ready, tuple(self))


class Failed(NamedTuple):
    """A row whose check could not be made: `problem` refuses the import."""

    naming: Naming
    problem: str


Item = Parsed | Failed | Ready
"""A row made ready: each starts with its `Naming`."""
Names = tuple[set[str], set[str], set[str]]
"""The parties, titles and agreements some rows name."""
Chunk = tuple[int, list[tuple[int, str]], Names, Sequence[Item]]
"""Rows read together: how many, the (row, problem) of those that are bad, what the
others name, and the others, in check order."""


def chunks(
    rows: Iterator[GrantRow], read_errors: list[tuple[int, str]], size: int
) -> Iterator[tuple[int, list[tuple[int, str]], Names, list[Parsed]]]:
    """`rows` a chunk of `size` at a time, parsed. `read_errors` is where the reader of
    `rows` adds the rows it could not read: each chunk takes those added while it was
    read."""
    while chunk := list(islice(rows, size)):
        errors = read_errors[:]
        read_errors.clear()
        parsed: list[Parsed] = []
        for row in chunk:
            try:
                spec, status = spec_from_row(row)
            except BadInput as exc:
                errors.append((row.row, str(exc)))
                continue
            parsed.append(Parsed(naming_of(row, spec, status), row, spec, status))
        yield len(chunk), errors, _names([item.spec for item in parsed]), parsed


def _names(specs: list[GrantSpec]) -> Names:
    parties = {spec.grantor for spec in specs}
    parties.update([spec.grantee for spec in specs])
    return parties, {spec.title for spec in specs}, {spec.agreement for spec in specs}


class Shapes:
    """Payloads an import writes out by hand, checked against `canonical_json` once for
    each shape (an agreement's, or which optional parts a grant's has)."""

    def __init__(self) -> None:
        self._checked: set[object] = set()

    def checked(self, shape: object, body: str, payload: Callable[[], object]) -> str:
        """`body`, a payload's canonical JSON written out by hand; the first of each
        `shape` is compared with `canonical_json(payload())`, and must agree."""
        if shape not in self._checked:
            if body != canonical_json(payload()):
                raise AssertionError(f"an import's hand-written payload drifted ({shape})")
            self._checked.add(shape)
        return body


class RowChecker:
    """Checks an import's rows in check order, each against its title's grants and the
    lines before it, and writes each out as it will be recorded (`Checked`).

    Row `index` (counted from 0 over the rows parsed) becomes grant `first_id + index`:
    the import records every row in that order, or none. `scope_of` gives the title of
    a spec, as first met; the last `open_titles` met are kept at hand (rows come a title
    at a time). The first `shown` conflicts found are explained."""

    def __init__(
        self,
        source: str,
        first_id: int,
        allowed: str | None,
        sqlite: bool,
        scope_of: Callable[[GrantSpec], TitleScope],
        shown: int,
        open_titles: int,
    ) -> None:
        self.source = source
        self.first_id = first_id
        self.allowed = allowed
        self.sqlite = sqlite
        self.scope_of = scope_of
        self.room = shown
        self.open_titles = open_titles
        self.scopes: OrderedDict[str, TitleScope] = OrderedDict()
        self.shapes = Shapes()

    def scope(self, spec: GrantSpec) -> TitleScope:
        scope = self.scopes.get(spec.title)
        if scope is not None:
            self.scopes.move_to_end(spec.title)
            return scope
        scope = self.scopes[spec.title] = self.scope_of(spec)
        if len(self.scopes) > self.open_titles:
            self.scopes.popitem(last=False)
        return scope

    def check(self, index: int, parsed: Parsed) -> Checked:
        naming, row, spec, status = parsed
        scope = self.scope(spec)
        try:
            proposed = proposed_view(spec, scope.events, f"row {row.row}", status, LINE_SEQ + index)
        except BadInput as problem:  # a window past the calendar, once its days are known
            raise BadInput(f"{self.source} row {row.row}: {problem}") from None
        found: list[Conflict] = []
        if not plainly_clear(proposed, scope.deciding(proposed), scope.owners):
            found = check_grant(proposed, scope.around(proposed), scope.owners)
        scope.add_line(index, proposed)
        grant_id = self.first_id + index
        # Recorded despite conflicts as `grant add --allow-conflicts` records a grant
        # (`Ledger.add_grant`): the conflicts in its payload, the reason on the entry.
        reason = self.allowed if found else None
        if reason is None:
            body = self._body(grant_id, spec)
        else:
            recorded = (explain(self._as_recorded(c), proposed, row.row) for c in found)
            body = canonical_json(added_despite({"id": grant_id, **spec.as_payload()}, recorded))
        values = grant_values(grant_id, spec, proposed.start, proposed.end, reason, self.sqlite)
        if not found:
            return Checked(naming, grant_id, body, None, values, 0, (), 0)
        explained = found[: self.room]
        self.room -= len(explained)
        return Checked(
            naming,
            grant_id,
            body,
            reason,
            values,
            sum(conflict.severity == "block" for conflict in found),
            tuple(explain(conflict, proposed, row.row) for conflict in explained),
            len(found) - len(explained),
        )

    def _as_recorded(self, conflict: Conflict) -> Conflict:
        """`conflict`, naming a row of this file that it meets by the grant the row is
        recorded as (`G12`), not by its row number: what the journal keeps."""
        other = conflict.other
        if other is None or other.recorded_seq < LINE_SEQ:
            return conflict
        grant_id = self.first_id + other.recorded_seq - LINE_SEQ
        return replace(conflict, other=replace(other, id=grant_label(grant_id)))

    def _body(self, grant_id: int, spec: GrantSpec) -> str:
        """`canonical_json({"id": grant_id, **spec.as_payload()})`, written out from cached
        pieces; each shape of row is built both ways once, and must agree. (A file row
        carries no holdbacks and no notice date: one that did would not agree.)"""
        shape = (
            bool(spec.external_refs),
            spec.languages is None,
            spec.end is None,
            bool(spec.holdbacks),
            spec.notice_on is None,
        )
        return self.shapes.checked(
            shape, _row_body(grant_id, spec), lambda: {"id": grant_id, **spec.as_payload()}
        )


@lru_cache(maxsize=4096)
def _rights_json(rights: frozenset[str]) -> str:
    return canonical_json(list(RIGHTS.compact(rights)))


@lru_cache(maxsize=1024)
def _languages_json(languages: frozenset[str] | None) -> str:
    return canonical_json(sorted(languages) if languages is not None else None)


@lru_cache(maxsize=32768)
def _bound_json(bound: EndBound) -> str:
    return canonical_json(bound_text(bound))


def _row_body(grant_id: int, spec: GrantSpec) -> str:
    """The canonical JSON of a file row's grant.added payload (no holdbacks, no notice
    date): its keys in sorted order, each value as `canonical_json` writes it."""
    refs = spec.external_refs
    return "".join(
        (
            '{"agreement":',
            json_string(spec.agreement),
            ',"end":',
            _bound_json(spec.end),
            ',"exclusivity":',
            json_string(spec.exclusivity),
            ',"external_refs":',
            canonical_json(refs) if refs else "{}",
            ',"grantee":',
            json_string(spec.grantee),
            ',"grantor":',
            json_string(spec.grantor),
            ',"holdbacks":[],"id":',
            str(grant_id),
            ',"languages":',
            _languages_json(spec.languages),
            ',"notice_on":null,"rights":',
            _rights_json(spec.rights),
            ',"start":',
            _bound_json(spec.start),
            ',"territory":',
            json_string(spec.territory.text),
            ',"title":',
            json_string(spec.title),
            "}",
        )
    )


# -- the second process ----------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What the second process is asked to do: make `rows` ready, as the import would."""

    rows: RowFile
    source: str
    first_id: int
    allowed: str | None
    sqlite: bool
    owner: str | None
    owner_from_grantor: bool
    recorded_titles: frozenset[str]
    """The titles the ledger had before the import: their rows are handed over parsed."""
    chunk: int
    shown: int
    open_titles: int
    sweep_every: int


def can_prepare_apart() -> bool:
    """Whether a second process may make rows ready: a second core to run it (of those
    this process may run on), and a way to start it as a copy of this one (whatever this
    one was given, nothing to send)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return (len(usable) if usable is not None else os.cpu_count() or 1) > 1


# What the second process sends, each a message of bytes, the first naming its kind.
CHUNK = b"C"
"""A chunk made ready, in marshal's format (a few times quicker to write than pickle's):
(count, errors, names, ready, others), where `ready` holds each row checked without a
conflict, and None in place of the others: the rows of recorded titles (`Parsed`), those
that `Failed`, those that met a conflict, pickled in `others` with their places."""
PICKLED = b"P"
"""A chunk made ready, pickled (days in a grant's row are dates but on SQLite)."""
SORTING = b"S"
"""The file must be read again a title at a time before its first row is checked."""
END = b"E"
BAD = b"B"
"""The file cannot be read: a `BadInput`, its message after."""
BROKEN = b"X"
"""The second process failed: its traceback after."""


class Preparing:
    """The import's side of the second process: `chunks()` gives what it made ready, in
    check order. Started as a copy of this process (fork), before this one starts a
    thread, so it holds no lock another thread had; it touches no database.

    The pipe between the two holds a chunk or so: the second process works ahead of the
    import by what the import reads ahead, and stops, its pipe broken, if the import
    dies."""

    def __init__(self, plan: Plan, sorting: Callable[[], None] | None) -> None:
        self.sorting = sorting
        self.source = plan.source
        context = multiprocessing.get_context("fork")
        self._pipe, sending = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_prepare, args=(plan, sending), name="import-reader", daemon=True
        )
        # What this process has written but not flushed would be written by both.
        sys.stdout.flush()
        sys.stderr.flush()
        self._process.start()
        sending.close()

    def chunks(self) -> Iterator[Chunk]:
        while True:
            try:
                message = self._pipe.recv_bytes()
            except EOFError:
                raise LedgerError(
                    f"{self.source}: the process reading the file stopped unexpectedly; "
                    "nothing was imported"
                ) from None
            kind, value = message[:1], message[1:]
            if kind == CHUNK:
                count, errors, names, ready, others = marshal.loads(value)
                if others:
                    for place, item in pickle.loads(others):
                        ready[place] = item
                yield count, errors, names, ready
            elif kind == PICKLED:
                yield pickle.loads(value)
            elif kind == SORTING:
                if self.sorting is not None:
                    self.sorting()
            elif kind == END:
                return
            elif kind == BAD:
                raise BadInput(value.decode())
            else:
                raise RuntimeError(f"the process reading {self.source} failed:\n{value.decode()}")

    def stop(self) -> None:
        """End the second process (at once, if it is still working) and wait for it."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._pipe.close()


def _prepare(plan: Plan, pipe: Pipe) -> None:
    """The second process: send each chunk of `plan.rows` made ready, then END (or what
    stopped it). An interrupt (Ctrl-C at a terminal reaches both processes) is the
    import's to handle: it ends this one."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for chunk in _ready(plan, lambda: pipe.send_bytes(SORTING)):
            pipe.send_bytes(_message(chunk, plan.sqlite))
        pipe.send_bytes(END)
    except BadInput as problem:
        pipe.send_bytes(BAD + str(problem).encode())
    except BrokenPipeError:
        pass  # the import is gone: nobody to tell
    except Exception:
        pipe.send_bytes(BROKEN + traceback.format_exc().encode())
    finally:
        pipe.close()


def _message(chunk: Chunk, sqlite: bool) -> bytes:
    if not sqlite:
        return PICKLED + pickle.dumps(chunk, pickle.HIGHEST_PROTOCOL)
    count, errors, names, items = chunk
    ready: list[Item | None] = list(items)
    others = []
    for place, item in enumerate(items):
        if type(item) is not tuple:  # a named tuple: Parsed, Failed, Checked
            ready[place] = None
            others.append((place, item))
    pickled = pickle.dumps(others, pickle.HIGHEST_PROTOCOL) if others else b""
    return CHUNK + marshal.dumps((count, errors, names, ready, pickled))


def _ready(plan: Plan, sorting: Callable[[], None]) -> Iterator[Chunk]:
    """`plan.rows` a chunk at a time, each row of a title new to the ledger checked:
    a plain tuple (`Ready`) when it met no conflict."""
    owner, from_grantor = plan.owner, plan.owner_from_grantor and plan.owner is None
    recorded = plan.recorded_titles

    def fresh(spec: GrantSpec) -> TitleScope:
        # Created by this import, owned worldwide by the owner `_Import._record_missing`
        # gives it: the import's, or the grantor of the title's first row.
        return TitleScope.fresh(spec.grantor if from_grantor or owner is None else owner)

    checker = RowChecker(
        plan.source,
        plan.first_id,
        plan.allowed,
        plan.sqlite,
        fresh,
        plan.shown,
        plan.open_titles,
    )
    read_errors: list[tuple[int, str]] = []
    index = 0
    for number, (count, errors, names, items) in enumerate(
        chunks(plan.rows.in_check_order(read_errors, sorting), read_errors, plan.chunk), 1
    ):
        if number % plan.sweep_every == 0:
            sweep_young()
        ready: list[Item] = []
        for item in items:
            # A title the ledger has, or that nobody owns (the import will refuse it).
            if item.spec.title in recorded or not (owner or from_grantor):
                ready.append(item)
            else:
                try:
                    checked = checker.check(index, item)
                except BadInput as problem:
                    ready.append(Failed(item.naming, str(problem)))
                else:
                    # A conflict is pickled (a ReportedConflict is no plain value).
                    ready.append(
                        checked if checked.conflicts or checked.unexplained else checked.plain()
                    )
            index += 1
        yield count, errors, names, ready
