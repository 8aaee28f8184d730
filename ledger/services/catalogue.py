"""Listings of the ledger's cast: parties, titles with owners, agreements with counts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import Engine, func, select

from ledger.persistence.database import streamed
from ledger.persistence.schema import (
    Agreement,
    AgreementParty,
    Ownership,
    Party,
    RightsGrant,
    Title,
)

A = Agreement.__table__
AP = AgreementParty.__table__
G = RightsGrant.__table__
OWN = Ownership.__table__
P = Party.__table__
T = Title.__table__


def parties(engine: Engine) -> Iterator[dict[str, Any]]:
    with engine.connect() as conn:
        for row in streamed(conn, select(P).order_by(P.c.id)):
            yield dict(row._mapping)


def titles(engine: Engine) -> Iterator[dict[str, Any]]:
    with engine.connect() as conn:
        owners = _Groups(
            streamed(
                conn,
                select(OWN.c.title_id, OWN.c.party_id, OWN.c.territory, OWN.c.share).order_by(
                    OWN.c.title_id, OWN.c.position
                ),
            )
        )
        for row in streamed(conn, select(T).order_by(T.c.id)):
            yield {
                **row._mapping,
                "parent": row.parent_id,
                "owners": [
                    f"{party}:{territory}" + (f":{share:g}%" if share is not None else "")
                    for _title, party, territory, share in owners.of(row.id)
                ],
            }


def agreements(engine: Engine) -> Iterator[dict[str, Any]]:
    with engine.connect() as conn:
        members = _Groups(
            streamed(
                conn,
                select(AP.c.agreement_ref, AP.c.party_id).order_by(
                    AP.c.agreement_ref, AP.c.party_id
                ),
            )
        )
        counts = _Groups(
            streamed(
                conn,
                select(G.c.agreement_ref, func.count())
                .group_by(G.c.agreement_ref)
                .order_by(G.c.agreement_ref),
            )
        )
        for row in streamed(conn, select(A).order_by(A.c.ref)):
            yield {
                "ref": row.ref,
                "status": row.status,
                "parties": [party for _ref, party in members.of(row.ref)],
                "signed_on": row.signed_on,
                "terminated_on": row.terminated_on,
                "grants": sum(count for _ref, count in counts.of(row.ref)),
                "note": row.note,
            }


class _Groups:
    """The rows of a query ordered by their first column, handed out a key at a time,
    beside a listing in the same order (a title's owners, an agreement's parties): each
    listing streams, however many titles or agreements the ledger has.

    Every key of these rows is one of the listing's (a foreign key), and both come in the
    database's own order, so the rows for a key are next whenever they exist at all."""

    def __init__(self, rows: Iterable[Any]) -> None:
        self._groups = groupby(rows, key=itemgetter(0))
        self._next = next(self._groups, None)

    def of(self, key: object) -> list[Any]:
        """The rows for `key`, the next key in order (none when it has none)."""
        if self._next is None or self._next[0] != key:
            return []
        rows = list(self._next[1])
        self._next = next(self._groups, None)
        return rows
