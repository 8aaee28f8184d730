"""grant_territory carries each grant's days in force, for a covering "who holds CN" lookup

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

`holders --territory CN` over a million grants read every grant touching CN's groups by
rowid to test its window. Each territory term now carries the grant's days in force as
their widest span (`from_day` 0001-01-01 while the start is TBD, `to_day` 9999-12-31 while
there is no end), and one index answers "which grants touch CN on this day" alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIRST = "0001-01-01"
LAST = "9999-12-31"


def upgrade() -> None:
    with op.batch_alter_table("grant_territory", schema=None) as batch_op:
        batch_op.add_column(sa.Column("from_day", sa.Date(), nullable=False, server_default=FIRST))
        batch_op.add_column(sa.Column("to_day", sa.Date(), nullable=False, server_default=LAST))
    op.execute(
        f"""
        UPDATE grant_territory SET
            from_day = coalesce(
                (SELECT first_day FROM rights_grant WHERE rights_grant.id = grant_id), '{FIRST}'),
            to_day = coalesce(
                (SELECT last_day FROM rights_grant WHERE rights_grant.id = grant_id), '{LAST}')
        """
    )
    with op.batch_alter_table("grant_territory", schema=None) as batch_op:
        batch_op.drop_index("ix_grant_territory_code_lookup")
        batch_op.create_index(
            "ix_grant_territory_code_lookup",
            ["code", "excluded", "to_day", "from_day", "grant_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("grant_territory", schema=None) as batch_op:
        batch_op.drop_index("ix_grant_territory_code_lookup")
        batch_op.create_index(
            "ix_grant_territory_code_lookup", ["code", "excluded", "grant_id"], unique=False
        )
        batch_op.drop_column("to_day")
        batch_op.drop_column("from_day")
