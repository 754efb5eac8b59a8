"""Ask PostgreSQL itself: prepare a statement (never run it) or validate a SQL function."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import pq, sql

# Errors that mean "this name is not in the catalog": the check's findings.
REFERENCE_ERRORS = {
    "42703": "column",  # undefined_column
    "42P01": "relation",  # undefined_table (and a missing FROM-clause entry)
    "42883": "function",  # undefined_function (operators too)
    "42704": "type",  # undefined_object
    "3F000": "schema",  # invalid_schema_name
}
Done = Callable[[list["Outcome"]], None]
# Statements per pipeline: small enough that neither side's socket buffer fills up.
PIPELINE_BATCH = 100
_QUOTED = re.compile(r'"((?:[^"]|"")+)"')
_BARE_COLUMN = re.compile(r"column (\S+) does not exist")
_FUNCTION = re.compile(r"(?:function|procedure) (\S+?)\(")


@dataclass(frozen=True)
class Outcome:
    """A prepared statement's result columns, or the error PostgreSQL gave."""

    code: str = ""
    message: str = ""
    position: int = 0  # 1-based character in the statement, 0 when not given
    columns: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.code

    @property
    def missing(self) -> str:
        """The name the error is about, as PostgreSQL wrote it."""
        if self.code == "42883":
            match = _FUNCTION.search(self.message)
            return match.group(1) if match else self.message
        quoted = _QUOTED.search(self.message)
        if quoted:
            return quoted.group(1).replace('""', '"')
        bare = _BARE_COLUMN.search(self.message)
        return bare.group(1) if bare else self.message


def _field(result: pq.abc.PGresult, code: int) -> str:
    value = result.error_field(code)
    return value.decode("utf-8", "replace") if value else ""


class Server:
    """One connection, read-only, messages in English so names can be read out of them."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.pgconn = conn.pgconn
        # Statements are prepared outside any transaction; a failed one must not leave
        # an aborted transaction behind.
        conn.autocommit = True
        conn.execute("SET default_transaction_read_only = on")
        # Preparing takes the same light locks a query does: a table someone holds
        # exclusively is reported as not checked rather than waited for.
        conn.execute("SET lock_timeout = '5s'")
        # What CREATE FUNCTION would check: a database or role may have turned it off.
        conn.execute("SET check_function_bodies = on")
        with contextlib.suppress(psycopg.Error):
            # Only a superuser may change lc_messages; the names are quoted either way.
            conn.execute("SET lc_messages = 'C'")
        row = conn.execute("SHOW search_path").fetchone()
        self.default_search_path = str(row[0]) if row else ""
        self._search_path = self.default_search_path
        self._types: dict[str, Outcome] = {}
        self._in_flight: tuple[int, Done] | None = None

    def close(self) -> None:
        """The connection's settings as they were, for whoever uses it next."""
        self.drain()
        if not self.conn.closed:
            self.conn.execute(
                "RESET default_transaction_read_only; RESET lock_timeout;"
                " RESET check_function_bodies; RESET lc_messages"
            )
            self.use_search_path(None)

    def own_schema_first(self, schema: str) -> str:
        """The default search_path with `schema` in front, as a caller of its functions may set."""
        quoted = sql.Identifier(schema).as_string(self.conn)
        return f"{quoted}, {self.default_search_path}"

    def prepare_in(self, search_path: str, query: str, param_types: list[int]) -> Outcome:
        """`prepare` under another search_path, which is then set back."""
        previous = self._search_path
        self.use_search_path(search_path)
        try:
            return self.prepare(query, param_types)
        finally:
            self.use_search_path(previous)

    def use_search_path(self, value: str | None) -> None:
        self.drain()
        wanted = self.default_search_path if value is None else value
        if wanted != self._search_path:
            self.conn.execute("SELECT set_config('search_path', %s, false)", (wanted,))
            self._search_path = wanted

    def prepare(self, query: str, param_types: list[int], describe: bool = False) -> Outcome:
        """Parse and analyse `query` as the unnamed statement; nothing is executed.

        `describe` also reads its result columns (one more round trip).
        """
        self.drain()
        result = self.pgconn.prepare(b"", query.encode(), param_types or None)
        if result.status != pq.ExecStatus.COMMAND_OK:
            return self._error(result)
        if not describe:
            return Outcome()
        described = self.pgconn.describe_prepared(b"")
        columns = {
            described.fname(index).decode(): described.ftype(index)  # type: ignore[union-attr]
            for index in range(described.nfields)
        }
        return Outcome(columns=columns)

    def prepare_many(self, statements: list[tuple[str, list[int]]]) -> list[Outcome]:
        """`prepare` for each statement, sent in pipelines: one round trip per batch."""
        self.drain()
        outcomes: list[Outcome] = []
        for start in range(0, len(statements), PIPELINE_BATCH):
            batch = statements[start : start + PIPELINE_BATCH]
            self._send(batch)
            outcomes += self._read(len(batch))
        return outcomes

    def submit(self, statements: list[tuple[str, list[int]]], done: Done) -> None:
        """`prepare_many` without waiting: `done` gets the outcomes once they are read.

        They are read before the connection's next use (or at `drain`), so the server
        prepares one function's statements while the next function is parsed here.
        """
        if len(statements) > PIPELINE_BATCH:
            done(self.prepare_many(statements))
            return
        self.drain()
        if statements:
            self._send(statements)
        self._in_flight = (len(statements), done)

    def drain(self) -> None:
        """Read what `submit` sent and hand it over."""
        if self._in_flight is None:
            return
        count, done = self._in_flight
        self._in_flight = None
        done(self._read(count) if count else [])

    def _send(self, statements: list[tuple[str, list[int]]]) -> None:
        pgconn = self.pgconn
        pgconn.enter_pipeline_mode()
        for query, param_types in statements:
            pgconn.send_prepare(b"", query.encode(), param_types or None)
            pgconn.pipeline_sync()  # each its own: one failure aborts no other

    def _read(self, count: int) -> list[Outcome]:
        pgconn = self.pgconn
        outcomes = []
        try:
            for _ in range(count):
                result = pgconn.get_result()
                if result is None:
                    raise psycopg.OperationalError("the server ended a pipeline early")
                ok = result.status == pq.ExecStatus.COMMAND_OK
                outcomes.append(Outcome() if ok else self._error(result))
                # Then the end of its results (None), then its sync point.
                while result is None or result.status != pq.ExecStatus.PIPELINE_SYNC:
                    result = pgconn.get_result()
        finally:
            pgconn.exit_pipeline_mode()
        return outcomes

    def type_of(self, expression: str) -> Outcome:
        """A type name (or `(NULL::t).c`) resolved once per search_path: the OID in columns."""
        key = f"{self._search_path}\0{expression}"
        if key not in self._types:
            self._types[key] = self.prepare(f"SELECT {expression} AS t", [], describe=True)
        return self._types[key]

    def validate_sql_function(self, oid: int, search_path: str | None) -> Outcome:
        """What CREATE FUNCTION with check_function_bodies would say of a SQL function now."""
        self.drain()
        self.use_search_path(search_path)
        try:
            self.conn.execute(
                sql.SQL("SELECT {}(%s::oid)").format(sql.Identifier("fmgr_sql_validator")),
                (oid,),
            )
        except psycopg.Error as exc:
            diag = exc.diag
            return Outcome(
                code=exc.sqlstate or "",
                message=diag.message_primary or str(exc),
                position=int(diag.internal_position or 0),
            )
        return Outcome()

    @staticmethod
    def _error(result: pq.abc.PGresult) -> Outcome:
        position = _field(result, pq.DiagnosticField.STATEMENT_POSITION)
        return Outcome(
            code=_field(result, pq.DiagnosticField.SQLSTATE),
            message=_field(result, pq.DiagnosticField.MESSAGE_PRIMARY),
            position=int(position) if position.isdigit() else 0,
        )
