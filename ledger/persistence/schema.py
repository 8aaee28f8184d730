"""The relational schema: the journal (the record) and the state derived from it.

The journal is the only source of truth; every other table is a projection of it that
the service layer keeps in step inside the same transaction. Indexes are laid out for a
ledger of a million grants: "which grants of this title" (conflict checks), "which
grants touch CN" (holders, through `grant_territory`) and "which grants end soon"
(expiries, on `last_day`) are index lookups.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ledger.domain.grants import GRANT_PREFIX

# Fixed before the first migration so that constraint names are stable across backends.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SLUG = 120
FIRST_DAY = date.min
"""`grant_territory.from_day` of a grant whose first day is not known yet."""
LAST_DAY = date.max
"""`grant_territory.to_day` of a grant with no end."""


HOLDING_SEPARATOR = "\x1f"
"""Before each value of a term's `holding`: the unit separator, a control character,
which no rights, territory, exclusivity or start holds and no name either (the commands
take slugs and references without whitespace, an import refuses one with a control
character); the agreement's reference comes last."""
KIND_SEPARATOR = "\x1e"
"""Between the rights, territory and exclusivity of a `holding`, which stay one value: a
grant's kind, which many grants share."""
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
"""The columns of `rights_grant` a term's `holding` is written from, in `HOLDING_FORMAT`'s
order."""
HOLDING_FORMAT = (
    HOLDING_SEPARATOR.join(("", "%s", f"{GRANT_PREFIX}%s", "%s", "%s", ""))
    + KIND_SEPARATOR.join(("%s", "%s", "%s"))
    + HOLDING_SEPARATOR.join(("", "%s", "%s"))
)
"""A term's `holding` from `HOLDING_VALUES`, as SQLite's `printf` and PostgreSQL's
`format` both write it: title, grant (as labelled), grantor, holder, kind, start as
written, agreement, each after a `HOLDING_SEPARATOR`."""
HOLDERS_LOOKUP = (
    "code",
    "excluded",
    "to_day",
    "from_day",
    "grant_id",
    "title_id",
    "territory",
    "holding",
)
"""The columns of `grant_territory`'s lookup index: what it is searched by, then all that
a holding shows."""


def _index_of_present(column: str, table: str) -> Index:
    """The index `ix_{table}_{column}` of the rows that have a value in `column`.

    Partial on PostgreSQL too: migration 0007 makes it so. The model names the condition
    for SQLite alone, where a bulk import drops the index and builds it again from here.
    A `postgresql_where` would have SQLAlchemy load its PostgreSQL dialect to check the
    argument, in every command, on SQLite too: a tenth of a second of a `check`'s
    process."""
    return Index(f"ix_{table}_{column}", column, sqlite_where=text(f"{column} IS NOT NULL"))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class JournalEntry(Base):
    """One append-only, hash-chained record of a change."""

    __tablename__ = "journal"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    recorded_at: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Party(Base):
    __tablename__ = "party"

    id: Mapped[str] = mapped_column(String(SLUG), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    country: Mapped[str | None] = mapped_column(String(2))


class Title(Base):
    __tablename__ = "title"

    id: Mapped[str] = mapped_column(String(SLUG), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    original_name: Mapped[str | None] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    year: Mapped[int | None] = mapped_column(Integer)
    origin: Mapped[str | None] = mapped_column(String(2))
    eidr: Mapped[str | None] = mapped_column(String(40), unique=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("title.id"), index=True)


class Ownership(Base):
    """The original rights of a title: which party owns which territories."""

    __tablename__ = "ownership"

    title_id: Mapped[str] = mapped_column(ForeignKey("title.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    party_id: Mapped[str] = mapped_column(ForeignKey("party.id"), index=True)
    territory: Mapped[str] = mapped_column(Text)
    share: Mapped[float | None] = mapped_column(Numeric(5, 2, asdecimal=False))


class ReleaseEvent(Base):
    __tablename__ = "release_event"

    # The journal entry that recorded it: a stable key on every replay of the journal.
    recorded_seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title_id: Mapped[str] = mapped_column(ForeignKey("title.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    territory: Mapped[str] = mapped_column(Text)
    on: Mapped[date] = mapped_column(Date)


class Agreement(Base):
    __tablename__ = "agreement"

    ref: Mapped[str] = mapped_column(String(SLUG), primary_key=True)
    status: Mapped[str] = mapped_column(String(12))
    # The status a terminated agreement had before, which sets a conflict's severity.
    standing: Mapped[str] = mapped_column(String(12))
    signed_on: Mapped[date | None] = mapped_column(Date)
    terminated_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)

    # "Which agreements are not signed" (a holders answer marks their grants pending)
    # is one short range of this index, however many agreements are signed.
    __table_args__ = (Index("ix_agreement_status", "status", "ref"),)


class AgreementParty(Base):
    __tablename__ = "agreement_party"

    agreement_ref: Mapped[str] = mapped_column(ForeignKey("agreement.ref"), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("party.id"), primary_key=True, index=True)


class RightsGrant(Base):
    """One licence line. `first_day`/`last_day` are the resolved window in force."""

    __tablename__ = "rights_grant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    agreement_ref: Mapped[str] = mapped_column(ForeignKey("agreement.ref"), index=True)
    title_id: Mapped[str] = mapped_column(ForeignKey("title.id"), index=True)
    grantor_id: Mapped[str] = mapped_column(ForeignKey("party.id"), index=True)
    grantee_id: Mapped[str] = mapped_column(ForeignKey("party.id"), index=True)
    rights: Mapped[str] = mapped_column(Text)
    territory: Mapped[str] = mapped_column(Text)
    languages: Mapped[str | None] = mapped_column(Text)
    start: Mapped[str] = mapped_column(String(60))
    end: Mapped[str | None] = mapped_column(String(60))
    exclusivity: Mapped[str] = mapped_column(String(16))
    notice_on: Mapped[date | None] = mapped_column(Date)
    terminated_on: Mapped[date | None] = mapped_column(Date)
    first_day: Mapped[date | None] = mapped_column(Date)
    last_day: Mapped[date | None] = mapped_column(Date)
    conflict_reason: Mapped[str | None] = mapped_column(Text)
    external_refs: Mapped[str | None] = mapped_column(Text)
    recorded_seq: Mapped[int] = mapped_column(Integer)

    # Looked up within a range of days (expiries), which no grant without one is in.
    __table_args__ = (
        _index_of_present("notice_on", "rights_grant"),
        _index_of_present("last_day", "rights_grant"),
    )


class GrantTerritory(Base):
    """The terms of a grant's territory expression: the ledger's answer to "who holds CN
    on this day" without reading a grant.

    Each term carries the grant's days in force as their widest span (`from_day`
    `FIRST_DAY` while its start is TBD, `to_day` `LAST_DAY` while it has no end) and the
    grant's title and territory, and what a holding shows of it as one text (`holding`,
    `HOLDING_FORMAT`), kept in step with the grant by the projector. The lookup index
    holds them all, so a country-wide question at a million grants reads one contiguous
    stretch of one index instead of a grant row at a random place for each holding, and
    takes one text a holding from it instead of a value each of its columns, which took
    a third of the answer's time."""

    __tablename__ = "grant_territory"

    grant_id: Mapped[int] = mapped_column(ForeignKey("rights_grant.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    excluded: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    from_day: Mapped[date] = mapped_column(Date, server_default=FIRST_DAY.isoformat())
    to_day: Mapped[date] = mapped_column(Date, server_default=LAST_DAY.isoformat())
    title_id: Mapped[str] = mapped_column(String(SLUG), server_default="")
    territory: Mapped[str] = mapped_column(Text, server_default="")
    holding: Mapped[str] = mapped_column(Text, server_default="")

    __table_args__ = (Index("ix_grant_territory_code_lookup", *HOLDERS_LOOKUP),)


class Holdback(Base):
    __tablename__ = "holdback"

    grant_id: Mapped[int] = mapped_column(ForeignKey("rights_grant.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    rights: Mapped[str] = mapped_column(Text)
    territory: Mapped[str] = mapped_column(Text)
    until: Mapped[str] = mapped_column(String(60))
    last_day: Mapped[date | None] = mapped_column(Date, index=True)
