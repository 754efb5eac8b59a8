"""Primary-key ranges: the sample a large table's columns are fingerprinted on.

Chosen once, at the baseline. Start keys are spread over the table by a block sample
(`TABLESAMPLE SYSTEM` with a fixed seed: a few hundred pages, not the table), and each
range runs from its start key over about the same number of rows in key order: for an
integer key, as many keys as the sample's density there says hold them; for any other
key, up to the key an index probe finds that many rows on. The bounds are kept in the
baseline; the rows are read through the primary key's index, and after the migration
the same bounds are read again, so they hold the same rows: a row changed, added or
deleted inside a range is seen, a row outside every range is not.

Reading a few percent of a table by index ranges costs a fraction of a scan, where
hashing every value of a large table costs several scans.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import psycopg
from psycopg import sql

# Start keys: enough ranges to spread the sample over the whole key space, few enough
# that the OR of their bounds stays a cheap bitmap of index scans.
RANGES = 64
# The sample's size: this share of the table's rows, at least MIN_SAMPLE_ROWS (a
# column-wide mistake shows in any of them), and never more than MAX_SHARE of a table
# that is large on disk but holds few rows.
SAMPLE_SHARE = 0.02
MIN_SAMPLE_ROWS = 10_000
MAX_SHARE = 0.25
# The block sample reads about this many pages to find the start keys.
PAGES_READ = 4 * RANGES
# Any fixed seed: the same pages, hence the same ranges, for the same table.
SEED = 0

# One key, each of its columns in its text form (read back as an untyped literal, so
# that a key retyped int -> bigint still compares by number).
Key = tuple[str, ...]


@dataclass(frozen=True)
class KeyRange:
    low: Key
    high: Key | None  # None: up to the table's last key


@dataclass(frozen=True)
class Sample:
    """Where a sampled table was read at the baseline, and what it held then."""

    key_attnums: tuple[int, ...]
    key_types: tuple[str, ...]  # as format_type shows them, at the baseline
    ranges: tuple[KeyRange, ...]
    estimated_rows: int  # the whole table's rows, from the block sample
    baseline_rows: int = 0  # rows inside the ranges at the baseline

    def estimate(self, rows: int) -> int:
        """The table's row count, scaled from what its ranges hold now."""
        if self.baseline_rows == 0:
            return self.estimated_rows
        return round(self.estimated_rows * rows / self.baseline_rows)

    def describe(self, rows: int) -> str:
        share = 100 * rows / self.estimated_rows if self.estimated_rows else 100.0
        return (
            f"{rows} rows in {len(self.ranges)} primary-key ranges, "
            f"{share:.1f}% of ~{self.estimated_rows}"
        )


def choose(
    conn: psycopg.Connection,
    table: sql.Identifier,
    key: list[sql.Identifier],
    size_bytes: int,
    *,
    integer: bool,
) -> Sample | None:
    """Ranges for a table whose primary key is `key`; None when the block sample finds no row.

    `integer`: the key is one integer column, whose ranges are sized from the block
    sample alone (see _integer_ends). The caller fills in the key's attnums and types
    and, after reading the ranges, `baseline_rows`.
    """
    block = conn.execute("SELECT current_setting('block_size')::int").fetchone()
    pages = max(1, size_bytes // (int(block[0]) if block else 8192))
    percent = min(100.0, 100.0 * PAGES_READ / pages)
    order = sql.SQL(", ").join(key)
    found = conn.execute(
        sql.SQL(
            "SELECT {}, (ctid::text::point)[0] FROM {} TABLESAMPLE SYSTEM ({}) REPEATABLE ({}) "
            "ORDER BY {}"
        ).format(_as_text(key), table, sql.Literal(percent), sql.Literal(SEED), order)
    ).fetchall()
    if not found:
        return None
    keys = [tuple(row[0]) for row in found]
    # Rows per page seen, times the table's pages: how many pages the sample happened to
    # pick does not skew it (an empty page is not seen: a bloated table is overestimated).
    seen = len({row[1] for row in found})
    estimated = len(keys) if percent >= 100 else max(len(keys), round(len(keys) / seen * pages))
    count = min(RANGES, len(keys))
    positions = [index * len(keys) // count for index in range(count)]
    starts = [keys[position] for position in positions]
    wanted = min(max(math.ceil(SAMPLE_SHARE * estimated), MIN_SAMPLE_ROWS), estimated * MAX_SHARE)
    per_range = max(1, math.ceil(wanted / count))
    if integer:
        values = [int(found_key[0]) for found_key in keys]
        ends = _integer_ends(values, positions, per_range, estimated / len(values))
        bounds = zip(starts, ends, strict=True)
        return Sample((), (), tuple(KeyRange(low, (str(high),)) for low, high in bounds), estimated)
    # Each range's last key, per_range keys on from its start: one statement of index
    # probes (a NULL: the table ends first, the range runs to its end).
    probes = [
        sql.SQL("(SELECT {} FROM {} WHERE {} >= {} ORDER BY {} OFFSET {} LIMIT 1)").format(
            _as_text(key), table, _row(key), _literals(start), order, sql.Literal(per_range - 1)
        )
        for start in starts
    ]
    found_ends = conn.execute(sql.SQL("SELECT {}").format(sql.SQL(", ").join(probes))).fetchone()
    assert found_ends is not None
    ranges = tuple(
        KeyRange(start, tuple(end) if end is not None else None)
        for start, end in zip(starts, found_ends, strict=True)
    )
    return Sample((), (), ranges, estimated)


def _integer_ends(
    values: list[int], positions: list[int], per_range: int, scale: float
) -> list[int]:
    """Each range's last key for an integer key, from the block sample's sorted `values`.

    Between a start and the next one, the sample shows how many rows a unit of the key
    holds there (sampled keys between them, times `scale` table rows per sampled row,
    over the keys' distance), so the range spans the keys that hold about `per_range`
    rows: no index probe, and dense or sparse parts of the key are each sized by their
    own density. A range stops before the next one starts (so that a badly guessed
    density cannot read more than its share of the table), the last one at the largest
    sampled key (which the key's type can hold).
    """
    ends = []
    for number, position in enumerate(positions):
        last = number + 1 == len(positions)
        following = len(values) - 1 if last else positions[number + 1]
        sampled = max(1, following - position)
        span = max(1, values[following] - values[position])
        step = max(1, round(per_range * span / (sampled * scale)))
        limit = values[-1] if last else values[following] - 1
        ends.append(min(values[position] + step - 1, limit))
    return ends


def predicate(key: list[sql.Identifier], ranges: tuple[KeyRange, ...]) -> sql.Composable:
    """A WHERE clause true for the rows inside any of `ranges` (each row counts once)."""
    parts: list[sql.Composable] = []
    for bounds in ranges:
        low = sql.SQL("{} >= {}").format(_row(key), _literals(bounds.low))
        if bounds.high is None:
            parts.append(low)
        else:
            high = sql.SQL("{} <= {}").format(_row(key), _literals(bounds.high))
            parts.append(sql.SQL("({} AND {})").format(low, high))
    return sql.SQL(" OR ").join(parts)


def _row(key: list[sql.Identifier]) -> sql.Composable:
    """The key as one comparable value: a column, or a row of columns (btree row compare)."""
    if len(key) == 1:
        return key[0]
    return sql.SQL("({})").format(sql.SQL(", ").join(key))


def _literals(values: Key) -> sql.Composable:
    if len(values) == 1:
        return sql.Literal(values[0])
    return sql.SQL("({})").format(sql.SQL(", ").join(sql.Literal(value) for value in values))


def _as_text(key: list[sql.Identifier]) -> sql.Composable:
    return sql.SQL("ARRAY[{}]").format(
        sql.SQL(", ").join(sql.SQL("{}::text").format(column) for column in key)
    )
