"""The migra fixtures (../shared/conformance/migra-fixtures) and what we owe on them.

1. schema-diff(a, b) finds differences for every fixture;
2. a against a, and b against b, each loaded twice, find none;
3. where a + expected.sql reaches b (their normalized pg_dump -s agree), none;
   where it does not, the difference is found (docs/schema-diff.md says why).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from psycopg import sql

from prodclone.local.server import LocalServer
from prodclone.pg.tools import find_tool
from prodclone.schema.dumptext import dump_schema, normalized_entries
from tests.conftest import SHARED
from tests.schema.helpers import Databases, LoadError, compare, databases

FIXTURES = SHARED / "conformance" / "migra-fixtures"
NAMES = (
    sorted(p.name for p in FIXTURES.iterdir() if (p / "a.sql").exists())
    if FIXTURES.exists()
    else []
)
# Loaded once in the whole cluster before the fixtures that grant to it.
ROLES = ("schemainspect_test_role",)

pytestmark = pytest.mark.skipif(
    not FIXTURES.exists(), reason=f"the shared conformance data is absent ({FIXTURES})"
)


@dataclass
class Loaded:
    """The databases of one fixture, or why it could not be loaded on this server."""

    dbs: dict[str, str] = field(default_factory=dict)
    skipped: str | None = None
    expected_failed: str | None = None


def _load_fixture(dbs: Databases, name: str) -> Loaded:
    folder = FIXTURES / name
    loaded = Loaded()
    try:
        for label, files in (
            ("a", ["a.sql"]),
            ("a2", ["a.sql"]),
            ("b", ["b.sql"]),
            ("b2", ["b.sql"]),
        ):
            loaded.dbs[label] = dbs.load_files(f"m_{name}_{label}", *(folder / f for f in files))
    except LoadError as exc:
        if name == "collations" and "icu" in str(exc).lower():
            loaded.skipped = f"this server build has no ICU, which {name} needs: {exc}"
            return loaded
        raise
    try:
        loaded.dbs["ae"] = dbs.load_files(f"m_{name}_ae", folder / "a.sql", folder / "expected.sql")
    except LoadError as exc:
        loaded.expected_failed = str(exc).splitlines()[0]
    return loaded


@pytest.fixture(scope="module")
def fixtures(pg: LocalServer) -> Iterator[dict[str, Loaded]]:
    with pg.connect() as conn:
        for role in ROLES:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
    with databases(pg, "conf") as dbs, ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(_load_fixture, dbs, name) for name in NAMES}
        yield {name: future.result() for name, future in futures.items()}


def _loaded(fixtures: dict[str, Loaded], name: str) -> dict[str, str]:
    loaded = fixtures[name]
    if loaded.skipped:
        pytest.skip(loaded.skipped)
    return loaded.dbs


@pytest.mark.parametrize("name", NAMES)
def test_a_and_b_differ(pg: LocalServer, fixtures: dict[str, Loaded], name: str) -> None:
    dbs = _loaded(fixtures, name)
    result = compare(pg, dbs["a"], dbs["b"])
    assert result.exit_code == 1, result.summary()
    assert result.differences


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("side", ["a", "b"])
def test_same_side_loaded_twice_is_identical(
    pg: LocalServer, fixtures: dict[str, Loaded], name: str, side: str
) -> None:
    dbs = _loaded(fixtures, name)
    result = compare(pg, dbs[side], dbs[f"{side}2"])
    assert result.differences == [], result.summary()
    assert result.exit_code == 0


@pytest.mark.parametrize("name", NAMES)
def test_a_plus_expected_against_b(pg: LocalServer, fixtures: dict[str, Loaded], name: str) -> None:
    dbs = _loaded(fixtures, name)
    if fixtures[name].expected_failed:
        pytest.skip(f"migra's expected.sql does not apply here: {fixtures[name].expected_failed}")
    pg_dump = find_tool("pg_dump", pg.major_version(), pg.extra_bin_dirs)
    texts = [
        {k: e.text for k, e in normalized_entries(dump_schema(pg_dump, pg.url(db), False)).items()}
        for db in (dbs["ae"], dbs["b"])
    ]
    result = compare(pg, dbs["ae"], dbs["b"])
    if texts[0] == texts[1]:
        # The same schema reached by two routes is the same schema.
        assert result.differences == [], result.summary()
    else:
        # migra's script does not reach b here; we must see what the text diff sees.
        assert result.exit_code == 1, result.summary()
