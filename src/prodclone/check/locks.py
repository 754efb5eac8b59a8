"""Watch a migration from a second connection: blocking locks held and slow statements.

What a deploy of the migration will do to production traffic, measured on
production-sized data: for each table, the longest stretch a lock that blocks
writes (or, for ACCESS EXCLUSIVE, reads too) was held, and every statement that
ran longer than a threshold. Sampling sees holds to within one interval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime

import psycopg

# Modes that conflict with ROW EXCLUSIVE, the lock every INSERT/UPDATE/DELETE takes.
BLOCKING_MODES = ("AccessExclusiveLock", "ExclusiveLock", "ShareRowExclusiveLock", "ShareLock")

_SAMPLE = """
SELECT l.pid, l.relation::bigint, l.mode,
       coalesce(n.nspname || '.' || c.relname, 'relation ' || l.relation::text),
       coalesce(c.relkind::text, '')
FROM pg_locks l
LEFT JOIN pg_class c ON c.oid = l.relation
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.locktype = 'relation' AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.pid <> pg_backend_pid()
  AND l.mode = ANY(%s)
"""

_NAMES = """
SELECT c.oid::bigint, n.nspname || '.' || c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = ANY(%s::oid[])
"""

# Client statements only: autovacuum, which a fresh restore sets off, is not the migration.
_ACTIVE = """
SELECT pid, query_start, clock_timestamp() - query_start, query
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND backend_type = 'client backend'
  AND state = 'active' AND query_start IS NOT NULL
"""


@dataclass
class LockHold:
    relation: str
    kind: str
    mode: str
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "seconds": round(self.seconds, 3)}


@dataclass
class SlowStatement:
    pid: int
    started: datetime
    seconds: float
    query: str

    def as_dict(self) -> dict[str, object]:
        return {
            **asdict(self),
            "started": self.started.isoformat(),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class LockReport:
    interval: float
    samples: int = 0
    holds: list[LockHold] = field(default_factory=list)
    slow: list[SlowStatement] = field(default_factory=list)
    error: str = ""

    def longest(self) -> LockHold | None:
        return max(self.holds, key=lambda hold: hold.seconds, default=None)


class LockSampler:
    """Polls pg_locks and pg_stat_activity of one database in a background thread."""

    def __init__(self, url: str, interval: float, slow_seconds: float) -> None:
        self._url = url
        self._interval = interval
        self._slow_seconds = slow_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lock-sampler", daemon=True)
        self.report = LockReport(interval=interval)
        # (pid, relation, mode) -> monotonic time first seen in the current stretch
        self._open: dict[tuple[int, int, str], float] = {}
        # (relation, mode) -> its longest hold: a table can be held in two modes in turn.
        self._longest: dict[tuple[int, str], LockHold] = {}
        self._slow: dict[tuple[int, datetime], SlowStatement] = {}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> LockReport:
        self._stop.set()
        self._thread.join(timeout=10)
        self.report.holds = sorted(
            self._longest.values(), key=lambda hold: (-hold.seconds, hold.relation)
        )
        self.report.slow = sorted(
            (s for s in self._slow.values() if s.seconds >= self._slow_seconds),
            key=lambda s: s.started,
        )
        return self.report

    def _run(self) -> None:
        try:
            with psycopg.connect(self._url, autocommit=True, connect_timeout=10) as conn:
                conn.execute("SET application_name = 'prodclone lock sampler'")
                while not self._stop.is_set():
                    self._sample(conn)
                    self._stop.wait(self._interval)
                self._sample(conn)
                self._name_after_migration(conn)
        except psycopg.Error as exc:
            # The migration may drop our connection (or the database); keep what we saw.
            self.report.error = " ".join(str(exc).split())

    def _sample(self, conn: psycopg.Connection) -> None:
        now = time.monotonic()
        seen: set[tuple[int, int, str]] = set()
        for pid, relation, mode, name, kind in conn.execute(_SAMPLE, (list(BLOCKING_MODES),)):
            key = (pid, relation, mode)
            seen.add(key)
            first = self._open.setdefault(key, now)
            # A hold seen once lasted at least part of one interval.
            held = max(now - first, self._interval / 2)
            best = self._longest.get((relation, mode))
            if best is None or held > best.seconds:
                self._longest[(relation, mode)] = LockHold(name, kind, mode, held)
        for key in list(self._open):
            if key not in seen:
                del self._open[key]
        for pid, started, running, query in conn.execute(_ACTIVE):
            seconds = running.total_seconds()
            statement = self._slow.get((pid, started))
            if statement is None:
                self._slow[(pid, started)] = SlowStatement(pid, started, seconds, _one_line(query))
            else:
                statement.seconds = max(statement.seconds, seconds)
        self.report.samples += 1

    def _name_after_migration(self, conn: psycopg.Connection) -> None:
        """A table the migration renamed was sampled under its old name: show both."""
        oids = list({oid for oid, _mode in self._longest})
        current: dict[int, str] = dict(conn.execute(_NAMES, (oids,)).fetchall())
        for (oid, _mode), hold in self._longest.items():
            name = current.get(oid)
            if name and name != hold.relation:
                was = "" if hold.relation.startswith("relation ") else f" (was {hold.relation})"
                hold.relation = name + was


def _one_line(query: str, limit: int = 300) -> str:
    text = " ".join(query.split())
    return text if len(text) <= limit else text[:limit] + " ..."


@contextmanager
def sampling(url: str, interval: float, slow_seconds: float) -> Iterator[LockSampler]:
    sampler = LockSampler(url, interval, slow_seconds)
    sampler.start()
    try:
        yield sampler
    finally:
        sampler.stop()
