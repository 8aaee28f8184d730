"""The one family of errors the ledger raises; the CLI maps each to an exit code."""

from __future__ import annotations


class LedgerError(Exception):
    """A request the ledger could not carry out (exit code 1)."""

    exit_code = 1


class BadInput(LedgerError):
    """The request itself is malformed: unknown territory or right, bad date, bad file (exit 2)."""

    exit_code = 2


class NotFound(LedgerError):
    """A named party, title, agreement or grant does not exist."""


class Refused(LedgerError):
    """The ledger refuses the write: a blocking conflict, a read-only database, a bad state."""


class SchemaOutOfDate(LedgerError):
    """The database schema is behind this version of the tool; run `rights-ledger db upgrade`."""
