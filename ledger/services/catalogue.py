"""Listings of the ledger's cast: parties, titles with owners, agreements with counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

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


def parties(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(P).order_by(P.c.id))]


def titles(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        owners: dict[str, list[str]] = {}
        for o in conn.execute(select(OWN).order_by(OWN.c.title_id, OWN.c.position)):
            share = f":{o.share:g}%" if o.share is not None else ""
            owners.setdefault(o.title_id, []).append(f"{o.party_id}:{o.territory}{share}")
        return [
            {**r._mapping, "parent": r.parent_id, "owners": owners.get(r.id, [])}
            for r in conn.execute(select(T).order_by(T.c.id))
        ]


def agreements(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        members: dict[str, list[str]] = {}
        for m in conn.execute(select(AP).order_by(AP.c.agreement_ref, AP.c.party_id)):
            members.setdefault(m.agreement_ref, []).append(m.party_id)
        counts: dict[str, int] = dict(
            conn.execute(select(G.c.agreement_ref, func.count()).group_by(G.c.agreement_ref)).all()
        )
        return [
            {
                "ref": r.ref,
                "status": r.status,
                "parties": members.get(r.ref, []),
                "signed_on": r.signed_on,
                "terminated_on": r.terminated_on,
                "grants": counts.get(r.ref, 0),
                "note": r.note,
            }
            for r in conn.execute(select(A).order_by(A.c.ref))
        ]
