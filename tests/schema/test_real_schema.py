"""A real production schema (Danbooru) survives a dump and restore with zero differences."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg import sql

from prodclone.local.server import LocalServer
from prodclone.schema import render_text
from tests.conftest import SHARED, run_sql
from tests.schema.helpers import Databases, compare, databases, dump_and_restore

STRUCTURE = SHARED / "conformance" / "real-schemas" / "danbooru" / "structure.sql"

pytestmark = pytest.mark.skipif(
    not STRUCTURE.exists(), reason=f"the shared Danbooru schema is absent ({STRUCTURE})"
)


def _without_pgcrypto(tmp: Path) -> Path:
    # The embedded build has no pgcrypto, and nothing in the schema calls it.
    lines = [line for line in STRUCTURE.read_text().splitlines() if "pgcrypto" not in line]
    target = tmp / "structure.sql"
    target.write_text("\n".join(lines) + "\n")
    return target


@pytest.fixture(scope="module")
def danbooru(
    pg: LocalServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Databases, str, str]]:
    tmp = tmp_path_factory.mktemp("danbooru")
    with databases(pg, "dan") as dbs:
        original = dbs.load_files("orig", _without_pgcrypto(tmp))
        restored = dbs.create(label="restored")
        dump_and_restore(pg, original, restored, tmp / "orig.dump")
        yield dbs, original, restored


def test_dump_and_restore_reads_back_identical(
    pg: LocalServer, danbooru: tuple[Databases, str, str]
) -> None:
    _, original, restored = danbooru
    result = compare(pg, original, restored)
    assert result.differences == [], render_text(result)
    assert result.hidden_count == 0
    assert result.coverage["index"].a > 400 and result.coverage["table"].a > 60


def test_a_renamed_index_in_the_real_schema_is_found(
    pg: LocalServer, danbooru: tuple[Databases, str, str]
) -> None:
    dbs, original, _ = danbooru
    drifted = dbs.create(label="drifted")
    with pg.connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(drifted)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(drifted), sql.Identifier(original)
            )
        )
    run_sql(pg, drifted, "ALTER INDEX public.index_posts_on_source_trgm RENAME TO posts_src;")
    result = compare(pg, drifted, original)
    assert [(d.kind, d.name, d.change) for d in result.differences] == [
        ("index", "public.index_posts_on_source_trgm", "only in b"),
        ("index", "public.posts_src", "only in a"),
    ]
