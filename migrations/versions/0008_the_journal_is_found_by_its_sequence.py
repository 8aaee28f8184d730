"""the journal is found by its sequence number, not by its hashes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

The one lookup of an entry by its hash (a write whose connection was lost while
committing asks whether its last entry landed) now asks the journal's key instead: the
entry at that sequence number, and whether its hash is the write's. The index on the
hashes goes: 78 MiB at a million entries, random keys that a bulk import had to sort
and build at the end, and that every small write updated at a random place.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_journal_hash", table_name="journal")


def downgrade() -> None:
    op.create_index("ix_journal_hash", "journal", ["hash"], unique=False)
