"""indexes hold only what is looked up

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Grants are looked up by their notice date and their last day only within a range of
days (`expiries`), which never matches a grant without one: their indexes now leave
such grants out (a catalogue of a million grants has notice dates on few or none, and
no last day on the open-ended ones), so a bulk import builds them from what they hold.
The journal is never looked up by the time an entry was recorded (`--recorded-as-of`
replays the entries in order up to a moment, reading them all), so that index goes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAYS = ("notice_on", "last_day")


def _where(column: str) -> dict[str, sa.TextClause]:
    condition = sa.text(f"{column} IS NOT NULL")
    return {"sqlite_where": condition, "postgresql_where": condition}


def upgrade() -> None:
    op.drop_index("ix_journal_recorded_at", table_name="journal")
    for column in DAYS:
        name = f"ix_rights_grant_{column}"
        op.drop_index(name, table_name="rights_grant")
        op.create_index(name, "rights_grant", [column], unique=False, **_where(column))


def downgrade() -> None:
    for column in DAYS:
        name = f"ix_rights_grant_{column}"
        op.drop_index(name, table_name="rights_grant")
        op.create_index(name, "rights_grant", [column], unique=False)
    op.create_index("ix_journal_recorded_at", "journal", ["recorded_at"], unique=False)
