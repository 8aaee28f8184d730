"""a territory term carries what a holding shows as one text

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

`holders --territory CN` at a million grants reads 70,000 terms from the lookup index,
and SQLite's driver took a third of the answer's time making a Python value of each of
their nine columns. A term now carries what a holding shows of its grant as one text
(`holding`: title, grant label, grantor, holder, rights, territory, exclusivity, start as
written and agreement, each after a unit separator, the three of a kind between record
separators), which the lookup index holds beside the title and territory it is sorted
and filtered by; the six columns it replaces go. Existing ledgers are filled from their
grants.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLUG = 120
REPLACED = (
    ("agreement_ref", sa.String(SLUG)),
    ("grantor_id", sa.String(SLUG)),
    ("grantee_id", sa.String(SLUG)),
    ("rights", sa.Text()),
    ("exclusivity", sa.String(16)),
    ("start", sa.String(60)),
)
KEY = ("code", "excluded", "to_day", "from_day", "grant_id")
CARRIED_BEFORE = (
    "title_id",
    "agreement_ref",
    "grantor_id",
    "grantee_id",
    "rights",
    "territory",
    "exclusivity",
    "start",
)
"""What the lookup index held after its key before this revision (0004's order)."""
HOLDING_FORMAT = "\x1f%s\x1fG%s\x1f%s\x1f%s\x1f%s\x1e%s\x1e%s\x1f%s\x1f%s"
"""`ledger.persistence.schema.HOLDING_FORMAT` as this revision writes it."""
HOLDING_VALUES = (
    "title_id",
    "id",
    "grantor_id",
    "grantee_id",
    "rights",
    "territory",
    "exclusivity",
    "start",
    "agreement_ref",
)


def _formatted() -> str:
    """SQLite's `printf`, PostgreSQL's `format`: the same `%s` each."""
    return "printf" if op.get_bind().dialect.name == "sqlite" else "format"


def upgrade() -> None:
    with op.batch_alter_table("grant_territory", schema=None) as batch_op:
        batch_op.drop_index("ix_grant_territory_code_lookup")
        batch_op.add_column(sa.Column("holding", sa.Text(), nullable=False, server_default=""))
    values = ", ".join(f'rights_grant."{name}"' for name in HOLDING_VALUES)
    op.get_bind().execute(
        sa.text(
            f"UPDATE grant_territory SET holding = (SELECT {_formatted()}(:format, {values})"
            " FROM rights_grant WHERE rights_grant.id = grant_territory.grant_id)"
        ),
        {"format": HOLDING_FORMAT},
    )
    with op.batch_alter_table("grant_territory", schema=None) as batch_op:
        for name, _ in REPLACED:
            batch_op.drop_column(name)
        batch_op.create_index(
            "ix_grant_territory_code_lookup",
            [*KEY, "title_id", "territory", "holding"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("grant_territory", schema=None) as batch_op:
        batch_op.drop_index("ix_grant_territory_code_lookup")
        for name, kind in REPLACED:
            batch_op.add_column(sa.Column(name, kind, nullable=False, server_default=""))
    names = ", ".join(f'"{name}"' for name, _ in REPLACED)
    op.execute(
        f"UPDATE grant_territory SET ({names}) = "
        f"(SELECT {names} FROM rights_grant WHERE rights_grant.id = grant_territory.grant_id)"
    )
    with op.batch_alter_table("grant_territory", schema=None) as batch_op:
        batch_op.drop_column("holding")
        batch_op.create_index(
            "ix_grant_territory_code_lookup", [*KEY, *CARRIED_BEFORE], unique=False
        )
