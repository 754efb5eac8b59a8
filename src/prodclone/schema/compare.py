"""Compare two databases' schemas: the gate of the refactor check."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from prodclone.errors import ProdcloneError
from prodclone.pg.conninfo import mask
from prodclone.pg.tools import ClientTool, find_tool
from prodclone.schema.catalog import read_catalog
from prodclone.schema.crosscheck import dump_differences
from prodclone.schema.diff import compare_and_fold
from prodclone.schema.dumptext import dump_schema, normalized_entries
from prodclone.schema.errors import SchemaDiffError
from prodclone.schema.ignore import apply_rules, parse_rules
from prodclone.schema.kinds import ALL_KINDS
from prodclone.schema.kinds.fallback import OTHER_OBJECTS
from prodclone.schema.model import Catalog, Difference
from prodclone.schema.result import DiffOptions, DiffResult, KindCount

T = TypeVar("T")
RULES_SOURCE = "--ignore / prodclone.schema_diff.ignore"


def compare_databases(
    url_a: str,
    url_b: str,
    options: DiffOptions,
    labels: tuple[str, str] | None = None,
) -> DiffResult:
    """Compare the schemas at `url_a` and `url_b`; raise SchemaDiffError (exit 2) if it cannot.

    Both sides are read at once, each in one REPEATABLE READ READ ONLY
    transaction, while pg_dump -s of both runs beside them for the cross-check.
    """
    rules = parse_rules(options.ignore, RULES_SOURCE)
    label_a, label_b = labels or (mask(url_a), mask(url_b))
    # The pool is left (every thread done) before the stack closes the connections.
    with ExitStack() as stack, ThreadPoolExecutor(max_workers=4) as pool:
        # Probing for pg_dump runs subprocesses: start it beside the connections.
        newest_pg_dump = (
            pool.submit(find_tool, "pg_dump", 0, options.extra_bin_dirs)
            if options.cross_check
            else None
        )
        conn_a, conn_b = _both(pool, lambda url: stack.enter_context(_connect(url)), url_a, url_b)
        major_a, major_b = conn_a.info.server_version // 10000, conn_b.info.server_version // 10000
        if major_a != major_b and not options.allow_version_mismatch:
            raise SchemaDiffError(
                f"a ({label_a}) runs PostgreSQL {major_a} and b ({label_b}) PostgreSQL "
                f"{major_b}; schemas read back differently across versions. Compare on the "
                "same major version, or pass --allow-version-mismatch"
            )
        catalogs = [
            pool.submit(_read, conn, label)
            for conn, label in ((conn_a, label_a), (conn_b, label_b))
        ]
        dumps: list[Future[str]] = []
        if newest_pg_dump is not None:
            tool = _pg_dump_for(newest_pg_dump, max(major_a, major_b), options.extra_bin_dirs)
            dumps = [pool.submit(dump_schema, tool, url, options.owners) for url in (url_a, url_b)]
        catalog_a, catalog_b = (future.result() for future in catalogs)
        dump_texts = [future.result() for future in dumps]
    kinds = [kind.name for kind in ALL_KINDS]
    shown, folded = compare_and_fold(catalog_a, catalog_b, kinds)
    differences = apply_rules(shown, rules, options.owners)
    # Identical dumps need no reading: the usual case when the gate passes.
    if dump_texts and dump_texts[0] != dump_texts[1]:
        entries = [normalized_entries(text) for text in dump_texts]
        # What was folded into a missing table explains its dump entries too (INDEX ATTACH).
        from_dump = dump_differences(entries[0], entries[1], differences + folded)
        differences += apply_rules(from_dump, rules, options.owners)
    ordered = sorted(differences, key=_report_order)
    return DiffResult(
        a_label=label_a,
        b_label=label_b,
        server_version=catalog_a.server_version,
        differences=[d for d in ordered if d.hidden_by is None],
        hidden=[d for d in ordered if d.hidden_by is not None],
        coverage=_coverage(catalog_a, catalog_b),
        not_modelled=sorted(
            catalog_a.of_kind(OTHER_OBJECTS.name).keys()
            | catalog_b.of_kind(OTHER_OBJECTS.name).keys()
        ),
        cross_checked=options.cross_check,
    )


_KIND_ORDER = {kind.name: index for index, kind in enumerate(ALL_KINDS)}


def _report_order(difference: Difference) -> tuple[int, tuple[str, str, str, str]]:
    return (_KIND_ORDER.get(difference.kind, len(_KIND_ORDER)), difference.sort_key())


def _pg_dump_for(
    newest: Future[ClientTool], server_major: int, extra_dirs: tuple[Path, ...]
) -> ClientTool:
    """The newest pg_dump, which must be at least as new as the servers."""
    try:
        tool = newest.result()
        if tool.major < server_major:
            # Asked again with the real minimum, for find_tool's own advice.
            tool = find_tool("pg_dump", server_major, extra_dirs)
    except ProdcloneError as exc:
        raise SchemaDiffError(str(exc)) from None
    return tool


def _both(pool: ThreadPoolExecutor, work: Callable[[str], T], a: str, b: str) -> tuple[T, T]:
    first, second = pool.submit(work, a), pool.submit(work, b)
    return first.result(), second.result()


@contextmanager
def _connect(url: str) -> Iterator[psycopg.Connection[Any]]:
    try:
        conn = psycopg.connect(url, connect_timeout=10)
    except psycopg.Error as exc:
        # The first line says what failed; libpq's later lines are hints.
        lines = str(exc).strip().splitlines()
        reason = lines[0].strip() if lines else "no answer"
        raise SchemaDiffError(f"cannot connect to {mask(url)}: {reason}") from None
    try:
        yield conn
    finally:
        conn.close()


def _read(conn: psycopg.Connection[Any], label: str) -> Catalog:
    try:
        return read_catalog(conn)
    except psycopg.Error as exc:
        lines = str(exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        raise SchemaDiffError(f"cannot read the catalog of {label}: {reason}") from None


def _coverage(a: Catalog, b: Catalog) -> dict[str, KindCount]:
    return {
        kind.name: KindCount(len(a.of_kind(kind.name)), len(b.of_kind(kind.name)))
        for kind in ALL_KINDS
    }
