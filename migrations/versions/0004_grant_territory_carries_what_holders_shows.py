"""grant_territory carries what a holding shows, and its lookup index covers holders

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

`holders --territory CN` over a million grants read each of the 70,000 grants it shows
from its own place in `rights_grant`, and its agreement besides. Each territory term now
carries the grant's title, agreement, parties, rights, territory, exclusivity and start
as written, and the lookup index holds them all, so the answer is one range of one index.
Existing ledgers are backfilled from their grants.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLUG = 120
CARRIED = (
    ("title_id", sa.String(SLUG)),
    ("agreement_ref", sa.String(SLUG)),
    ("grantor_id", sa.String(SLUG)),
    ("grantee_id", sa.String(SLUG)),
    ("rights", sa.Text()),
    ("territory", sa.Text()),
    ("exclusivity", sa.String(16)),
    ("start", sa.String(60)),
)
KEY = ("code", "excluded", "to_day", "from_day", "grant_id")


def upgrade() -> None:
    with op.batch_alter_table("grant_territory", schema=None) as batch_op:
        batch_op.drop_index("ix_grant_territory_code_lookup")
        for name, kind in CARRIED:
            batch_op.add_column(sa.Column(name, kind, nullable=False, server_default=""))
    names = ", ".join(f'"{name}"' for name, _ in CARRIED)
    op.execute(
        f"UPDATE grant_territory SET ({names}) = "
        f"(SELECT {names} FROM rights_grant WHERE rights_grant.id = grant_territory.grant_id)"
    )
    with op.batch_alter_table("grant_territory", schema=None) as batch_op:
        batch_op.create_index(
            "ix_grant_territory_code_lookup", [*KEY, *(name for name, _ in CARRIED)], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("grant_territory", schema=None) as batch_op:
        batch_op.drop_index("ix_grant_territory_code_lookup")
        for name, _ in reversed(CARRIED):
            batch_op.drop_column(name)
        batch_op.create_index("ix_grant_territory_code_lookup", list(KEY), unique=False)
