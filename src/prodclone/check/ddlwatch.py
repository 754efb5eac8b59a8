"""Every lock and rewrite a migration's DDL takes, seen from inside its own session.

Sampling pg_locks from a second connection misses a short hold (a quick rename
takes ACCESS EXCLUSIVE for a millisecond). Event triggers run in the migration's
own session and transaction: at each DDL command's start and end they log the
command tag, the objects it touched and the relation locks the transaction then
holds (read from pg_locks, so the modes are PostgreSQL's own, subcommand by
subcommand), a table_rewrite event names each table whose storage is replaced, and
a deferred constraint trigger stamps the moment the transaction commits, when the
locks are released. Everything lives in one schema of its own, installed just
before the migration and dropped right after it; the functions are SECURITY
DEFINER and swallow their own errors, so a migration run as another role, or one
the watch cannot follow, behaves exactly as without it.

What the log cannot see (a rolled-back transaction's rows vanish with it; VACUUM
FULL and CLUSTER fire no DDL event) the lock sampler still covers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime

import pglast
import pglast.parser
import psycopg
from pglast import ast, enums
from psycopg import sql

SCHEMA = "prodclone_watch"
# Modes of SHARE or stronger: each blocks writes; ACCESS EXCLUSIVE blocks reads too.
STRONG_MODES = ("ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")
MODE_NAMES = {
    "ShareLock": "SHARE",
    "ShareRowExclusiveLock": "SHARE ROW EXCLUSIVE",
    "ExclusiveLock": "EXCLUSIVE",
    "AccessExclusiveLock": "ACCESS EXCLUSIVE",
}
_TRIGGERS = ("start", "end", "rewrite", "drop")
# pg_event_trigger_table_rewrite_reason() bits (PostgreSQL's AT_REWRITE_* flags).
REWRITE_REASONS = {
    1: "persistence changed",
    2: "a default that must be computed per row",
    4: "a column's type changed",
    8: "access method changed",
}
# Constraints whose addition reads every row (unless NOT VALID), and why.
_SCANNING_CONSTRAINTS = {
    enums.ConstrType.CONSTR_CHECK: "a CHECK constraint added without NOT VALID scans every row",
    enums.ConstrType.CONSTR_FOREIGN: "a foreign key added without NOT VALID scans every row",
    enums.ConstrType.CONSTR_PRIMARY: "a primary key builds its index from every row",
    enums.ConstrType.CONSTR_UNIQUE: "a unique constraint builds its index from every row",
}


def scan_reason(statement: str) -> str:
    """Why `statement` reads the whole table while holding its lock ("" if it does not).

    Read from PostgreSQL's own parse tree: SET NOT NULL, VALIDATE CONSTRAINT, a
    constraint added without NOT VALID, an index built without CONCURRENTLY.
    """
    try:
        parsed = pglast.parse_sql(statement)
    except pglast.parser.ParseError:
        return ""
    for raw in parsed:
        node = raw.stmt
        if isinstance(node, ast.IndexStmt) and not node.concurrent:
            return "an index build reads every row"
        if not isinstance(node, ast.AlterTableStmt):
            continue
        for command in node.cmds or ():
            if command.subtype == enums.AlterTableType.AT_SetNotNull:
                return "SET NOT NULL scans every row"
            if command.subtype == enums.AlterTableType.AT_ValidateConstraint:
                return "VALIDATE CONSTRAINT scans every row"
            constraint = command.def_
            if (
                command.subtype == enums.AlterTableType.AT_AddConstraint
                and isinstance(constraint, ast.Constraint)
                and not constraint.skip_validation
                and constraint.contype in _SCANNING_CONSTRAINTS
            ):
                return _SCANNING_CONSTRAINTS[constraint.contype]
    return ""


_INSTALL = """
CREATE SCHEMA {schema};
COMMENT ON SCHEMA {schema} IS 'prodclone: the migration watch, dropped after the migration';
CREATE TABLE {schema}.events (
    id bigserial PRIMARY KEY,
    xid xid8 NOT NULL,
    kind text NOT NULL,
    tag text NOT NULL,
    relid oid,
    identity text,
    detail text,
    at timestamptz NOT NULL,
    query text
);
CREATE TABLE {schema}.locks (event_id bigint NOT NULL, relid oid NOT NULL, mode text NOT NULL);
CREATE TABLE {schema}.ends (xid xid8 PRIMARY KEY, at timestamptz NOT NULL);

CREATE FUNCTION {schema}.snapshot(event bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO {schema}.locks
    SELECT event, l.relation, l.mode FROM pg_locks l
    WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
$$;

CREATE FUNCTION {schema}.on_start() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO {schema}.events (xid, kind, tag, at, query)
    VALUES (pg_current_xact_id(), 'start', tg_tag, clock_timestamp(), current_query());
EXCEPTION WHEN OTHERS THEN NULL;
END $$;

CREATE FUNCTION {schema}.on_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    event bigint;
BEGIN
    -- The objects first: they belong to the command this end row closes.
    INSERT INTO {schema}.events (xid, kind, tag, relid, identity, at)
    SELECT pg_current_xact_id(), 'object', c.command_tag,
           CASE WHEN c.classid = 'pg_class'::regclass THEN c.objid END,
           c.object_identity, clock_timestamp()
    FROM pg_event_trigger_ddl_commands() c;
    INSERT INTO {schema}.events (xid, kind, tag, at)
    VALUES (pg_current_xact_id(), 'end', tg_tag, clock_timestamp()) RETURNING id INTO event;
    PERFORM {schema}.snapshot(event);
EXCEPTION WHEN OTHERS THEN NULL;
END $$;

CREATE FUNCTION {schema}.on_rewrite() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO {schema}.events (xid, kind, tag, relid, detail, at)
    VALUES (pg_current_xact_id(), 'rewrite', tg_tag, pg_event_trigger_table_rewrite_oid(),
            pg_event_trigger_table_rewrite_reason()::text, clock_timestamp());
EXCEPTION WHEN OTHERS THEN NULL;
END $$;

CREATE FUNCTION {schema}.on_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO {schema}.events (xid, kind, tag, relid, identity, at)
    SELECT pg_current_xact_id(), 'drop', tg_tag, d.objid, d.object_identity, clock_timestamp()
    FROM pg_event_trigger_dropped_objects() d
    WHERE d.classid = 'pg_class'::regclass AND d.object_type IN ('table', 'partitioned table');
EXCEPTION WHEN OTHERS THEN NULL;
END $$;

-- Fires as the transaction commits: the moment its locks are released.
CREATE FUNCTION {schema}.on_commit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    event bigint;
BEGIN
    INSERT INTO {schema}.ends (xid, at) VALUES (pg_current_xact_id(), clock_timestamp())
    ON CONFLICT (xid) DO UPDATE SET at = excluded.at;
    INSERT INTO {schema}.events (xid, kind, tag, at)
    VALUES (pg_current_xact_id(), 'commit', 'COMMIT', clock_timestamp()) RETURNING id INTO event;
    PERFORM {schema}.snapshot(event);
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT ON {schema}.events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.kind = 'start')
    EXECUTE FUNCTION {schema}.on_commit();

CREATE EVENT TRIGGER prodclone_watch_start ON ddl_command_start
    EXECUTE FUNCTION {schema}.on_start();
CREATE EVENT TRIGGER prodclone_watch_end ON ddl_command_end
    EXECUTE FUNCTION {schema}.on_end();
CREATE EVENT TRIGGER prodclone_watch_rewrite ON table_rewrite
    EXECUTE FUNCTION {schema}.on_rewrite();
CREATE EVENT TRIGGER prodclone_watch_drop ON sql_drop
    EXECUTE FUNCTION {schema}.on_drop();
"""


@dataclass
class Event:
    id: int
    xid: int
    kind: str
    tag: str
    relid: int | None
    identity: str | None
    detail: str | None
    at: datetime
    query: str | None
    locks: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class HeldLock:
    """One lock a statement took on a table that existed before the migration."""

    statement: str
    table: str
    mode: str
    seconds: float | None  # None: the transaction's end was not recorded (rolled back)
    rows: int
    size_bytes: int
    relid: int = 0

    @property
    def mode_name(self) -> str:
        return MODE_NAMES.get(self.mode, self.mode)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["mode"] = self.mode_name
        data["seconds"] = None if self.seconds is None else round(self.seconds, 4)
        return data


@dataclass
class HeavyWork:
    """A table rewrite or a full scan, with what it cost."""

    kind: str  # "rewrite" or "scan"
    statement: str
    table: str
    why: str
    seconds: float
    rows: int
    size_bytes: int

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "seconds": round(self.seconds, 4)}


@dataclass
class WatchReport:
    locks: list[HeldLock] = field(default_factory=list)
    work: list[HeavyWork] = field(default_factory=list)
    events: int = 0
    error: str = ""
    raw_events: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class KnownTable:
    name: str
    rows: int
    size_bytes: int


def install(conn: psycopg.Connection) -> None:
    """The schema, its log tables, functions and event triggers, in one transaction."""
    remove(conn)
    with conn.transaction():
        conn.execute(sql.SQL(_INSTALL).format(schema=sql.Identifier(SCHEMA)))


def remove(conn: psycopg.Connection) -> None:
    """Event triggers first (dropping the schema would fire them), then the schema."""
    with conn.transaction():
        for name in _TRIGGERS:
            conn.execute(
                sql.SQL("DROP EVENT TRIGGER IF EXISTS {}").format(
                    sql.Identifier(f"prodclone_watch_{name}")
                )
            )
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))


def read_events(conn: psycopg.Connection) -> list[Event]:
    schema = sql.Identifier(SCHEMA)
    rows = conn.execute(
        sql.SQL(
            "SELECT id, xid::text::bigint, kind, tag, relid::bigint, identity, detail, at, query "
            "FROM {}.events ORDER BY id"
        ).format(schema)
    ).fetchall()
    events = {row[0]: Event(*row) for row in rows}
    for event_id, relid, mode in conn.execute(
        sql.SQL("SELECT event_id, relid::bigint, mode FROM {}.locks ORDER BY event_id").format(
            schema
        )
    ):
        if event_id in events:
            events[event_id].locks.append((relid, mode))
    ends: dict[int, datetime] = dict(
        conn.execute(sql.SQL("SELECT xid::text::bigint, at FROM {}.ends").format(schema)).fetchall()
    )
    ordered = list(events.values())
    for event in ordered:
        end = ends.get(event.xid)
        if event.kind == "start":
            event.detail = end.isoformat() if end else None
    return ordered


@contextmanager
def watching(conn: psycopg.Connection) -> Iterator[WatchReport]:
    """Install the watch, yield a report filled in when the block ends, always remove it.

    `conn` is an autocommit connection to the clone, kept for the whole migration.
    """
    report = WatchReport()
    try:
        install(conn)
    except psycopg.Error as exc:
        # Event triggers need a superuser (an external server's user may not be one):
        # the migration runs unwatched, and the sampler's figures stand alone.
        report.error = "the migration watch could not be installed: " + " ".join(str(exc).split())
        yield report
        return
    try:
        yield report
    finally:
        try:
            report.raw_events = read_events(conn)
            report.events = len(report.raw_events)
        except psycopg.Error as exc:
            report.error = " ".join(str(exc).split())
        finally:
            remove(conn)


def analyse(report: WatchReport, tables: dict[int, KnownTable], current: dict[int, str]) -> None:
    """Fill `report` from the logged events; `tables` are the pre-migration tables by OID,
    `current` their names now (a renamed table shows both)."""
    events = report.raw_events
    splitter = _Statements()
    ends: dict[int, datetime] = {}
    for event in events:
        if event.kind == "start" and event.detail:
            ends[event.xid] = datetime.fromisoformat(event.detail)
    starts: dict[int, list[Event]] = {}
    seen: dict[int, dict[int, int]] = {}
    rewrites: dict[int, list[Event]] = {}
    objects: list[Event] = []
    for event in events:
        if event.kind == "start":
            starts.setdefault(event.xid, []).append(event)
            objects = []
        elif event.kind == "object":
            objects.append(event)
        elif event.kind == "rewrite":
            rewrites.setdefault(event.xid, []).append(event)
        elif event.kind in ("end", "commit"):
            stack = starts.get(event.xid, [])
            start = stack.pop() if event.kind == "end" and stack else None
            statement = (
                splitter.statement(start, event.tag, objects)
                if start is not None
                else "a statement that is not DDL (LOCK TABLE, say), before COMMIT"
            )
            begun = start.at if start is not None else event.at
            end = ends.get(event.xid)
            # The strongest mode the transaction holds on each table so far: a weaker one
            # (a rewrite's index rebuild takes SHARE under ACCESS EXCLUSIVE) adds nothing.
            held = seen.setdefault(event.xid, {})
            for relid, mode in _strongest_first(event.locks):
                if held.get(relid, -1) >= STRONG_MODES.index(mode):
                    continue
                held[relid] = STRONG_MODES.index(mode)
                known = tables.get(relid)
                if known is None:
                    continue  # a table the migration created
                report.locks.append(
                    HeldLock(
                        statement,
                        _shown_name(relid, known, current),
                        mode,
                        (end - begun).total_seconds() if end else None,
                        known.rows,
                        known.size_bytes,
                        relid,
                    )
                )
            if event.kind == "end" and start is not None:
                targets = [o.relid for o in objects if o.relid]
                _heavy_work(report, event, start, statement, rewrites, tables, current, targets)
            objects = []


def _heavy_work(
    report: WatchReport,
    end: Event,
    start: Event,
    statement: str,
    rewrites: dict[int, list[Event]],
    tables: dict[int, KnownTable],
    current: dict[int, str],
    targets: list[int],
) -> None:
    for rewrite in rewrites.pop(end.xid, []):
        known = tables.get(rewrite.relid or 0)
        if known is None:
            continue
        reasons = [text for bit, text in REWRITE_REASONS.items() if int(rewrite.detail or 0) & bit]
        report.work.append(
            HeavyWork(
                "rewrite",
                statement,
                _shown_name(rewrite.relid or 0, known, current),
                "table rewritten: " + (", ".join(reasons) or "storage replaced"),
                (end.at - rewrite.at).total_seconds(),
                known.rows,
                known.size_bytes,
            )
        )
    why = scan_reason(statement)
    if not why:
        return
    # The table the statement names: the transaction's locks also hold the tables its
    # earlier statements took.
    for relid in targets or [relid for relid, _mode in end.locks]:
        known = tables.get(relid)
        if known is None:
            continue
        report.work.append(
            HeavyWork(
                "scan",
                statement,
                _shown_name(relid, known, current),
                why,
                (end.at - start.at).total_seconds(),
                known.rows,
                known.size_bytes,
            )
        )
        break


def _strongest_first(locks: list[tuple[int, str]]) -> list[tuple[int, str]]:
    rank = {mode: index for index, mode in enumerate(reversed(STRONG_MODES))}
    return sorted(set(locks), key=lambda lock: (rank.get(lock[1], 99), lock[0]))


def _shown_name(relid: int, known: KnownTable, current: dict[int, str]) -> str:
    now = current.get(relid)
    if now and now != known.name:
        return f"{known.name} (now {now})"
    return known.name


class _Statements:
    """The statement an event came from, out of the query string that ran it.

    A migration tool may send a whole file as one query string; it is split with
    PostgreSQL's own parser and the statements are matched in order by command tag.
    """

    def __init__(self) -> None:
        self._split: dict[str, list[str]] = {}
        self._used: dict[str, int] = {}

    def statement(self, start: Event, tag: str, objects: list[Event]) -> str:
        query = (start.query or "").strip()
        parts = self._parts(query)
        shown = ", ".join(sorted({o.identity for o in objects if o.identity}))
        if len(parts) == 1:
            return _one_line(parts[0])
        words = tag.split()
        position = self._used.get(query, 0)
        # The object's own name must appear too: a DDL command a DO block runs has the
        # same tag as a later statement of the file, but not (usually) its object.
        names = {o.identity.rsplit(".", 1)[-1].strip('"').lower() for o in objects if o.identity}
        for index in range(position, len(parts)):
            text = parts[index].lower()
            if [word.upper() for word in parts[index].split()[: len(words)]] == words and (
                not names or any(name in text for name in names)
            ):
                self._used[query] = index + 1
                return _one_line(parts[index])
        # Run by a DO block or a function: the command and what it touched.
        return f"{tag} {shown}".strip() + " (run inside another statement)"

    def _parts(self, query: str) -> list[str]:
        if query not in self._split:
            try:
                self._split[query] = [part.strip() for part in pglast.split(query)]
            except Exception:  # not parseable by this grammar: keep it whole
                self._split[query] = [query]
        return self._split[query] or [query]


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + " ..."
