"""agreements are indexed by status

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

`holders` marks the grants of draft, MOU and terminated agreements; it reads those
agreements once rather than joining every holding to its agreement. With this index
that read is proportional to the agreements not signed, not to all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agreement", schema=None) as batch_op:
        batch_op.create_index("ix_agreement_status", ["status", "ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("agreement", schema=None) as batch_op:
        batch_op.drop_index("ix_agreement_status")
