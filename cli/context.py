"""What every command shares: the database URL, the actor, and the error mapping."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NoReturn

import click
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from ledger.domain.dates import parse_timestamp
from ledger.errors import BadInput, LedgerError
from ledger.persistence.database import make_engine
from ledger.services.ledger import Ledger


@dataclass
class Env:
    db: str | None
    actor: str | None
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.db)
        return self._engine

    def close(self) -> None:
        """Close the database connections the command opened."""
        if self._engine is not None:
            self._engine.dispose()

    def ledger(self, recorded_as_of: str | None = None) -> Ledger:
        """The ledger (migrated on first use for SQLite), or as it stood at a moment."""
        current = Ledger(self.engine, self.actor)
        if recorded_as_of is None:
            return current
        try:
            moment = parse_timestamp(recorded_as_of)
        except BadInput as exc:
            raise click.BadParameter(str(exc), param_hint="--recorded-as-of") from None
        # Replaying is rare: load it, and the journal's timestamps, only then.
        from ledger.persistence.journal import timestamp_text
        from ledger.services.audit import as_recorded

        return Ledger(as_recorded(self.engine, timestamp_text(moment)), self.actor)


def today() -> date:
    """The one place the CLI reads the calendar; the ledger takes `as_of` as a parameter."""
    return datetime.now(UTC).date()


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"rights-ledger: {message}", err=True)
    sys.exit(code)


def database_error_message(exc: DBAPIError) -> str:
    """One line for a database error that reached the CLI (no traceback, no SQL)."""
    from ledger.services.unit_of_work import refusal_for  # the write side, loaded on error

    refusal = refusal_for(exc)
    if refusal is not None:
        return str(refusal)
    lines = str(exc.orig).strip().splitlines() if exc.orig is not None else []
    first = lines[0] if lines else type(exc).__name__
    if isinstance(exc, OperationalError) and _cannot_connect(exc):
        return f"cannot reach the database: {first}"
    return f"database error: {first}"


def _cannot_connect(exc: OperationalError) -> bool:
    sqlite_error = getattr(exc.orig, "sqlite_errorname", None)
    if sqlite_error is not None:
        return bool(sqlite_error == "SQLITE_CANTOPEN")
    # psycopg: libpq's own failures (refused, unknown host, bad password) carry no SQLSTATE.
    state = getattr(exc.orig, "sqlstate", None)
    return exc.connection_invalidated or state is None or str(state).startswith("08")


class LedgerGroup(click.Group):
    """A group that turns every expected failure into one line on stderr and an exit code.

    Its commands are named as `module:attribute` and imported when first used, so that a
    `check` does not pay for loading spreadsheet and audit code at start-up.
    """

    def __init__(self, *args: Any, lazy: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module_name, attribute = self.lazy[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            # Outside standalone mode Click returns an Exit's code instead of exiting.
            code = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(2)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            fail(f"{exc.format_message()}{hint}", 2)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort:
            fail("aborted", 1)
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code)
        except LedgerError as exc:
            fail(str(exc), exc.exit_code)
        except DBAPIError as exc:
            fail(database_error_message(exc), 1)
        except BrokenPipeError:
            sys.exit(0)
        sys.exit(code if isinstance(code, int) else 0)
