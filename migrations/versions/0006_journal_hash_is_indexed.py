"""the journal's hashes are indexed rather than constrained unique

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

An entry's hash covers its sequence number and the hash before it, so no two entries
share one: the chain says so, and `verify` checks the chain. The unique constraint added
nothing to that, and cost a bulk import dearly: hashes are random, and every new entry
was written into the middle of an index that outgrows the page cache at a million
entries (a sixth of the import's CPU at 1M grants). A plain index still finds an entry
by its hash (a retried write asks whether it landed) and, unlike a constraint, a bulk
import may set it aside and build it once at the end.

On SQLite the table is rebuilt (a constraint cannot be dropped in place), and its
append-only triggers, which go with the old table, are made again.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "the journal is append-only: record a new entry instead"


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("journal", schema=None) as batch_op:
        batch_op.drop_constraint("uq_journal_hash", type_="unique")
        batch_op.create_index("ix_journal_hash", ["hash"], unique=False)
    if sqlite:
        _sqlite_triggers()


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("journal", schema=None) as batch_op:
        batch_op.drop_index("ix_journal_hash")
        batch_op.create_unique_constraint("uq_journal_hash", ["hash"])
    if sqlite:
        _sqlite_triggers()


def _sqlite_triggers() -> None:
    """Those of revision 0002, which a rebuilt SQLite table has lost."""
    for action in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER IF EXISTS journal_no_{action.lower()}")
        op.execute(
            f"CREATE TRIGGER journal_no_{action.lower()} BEFORE {action} ON journal "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
