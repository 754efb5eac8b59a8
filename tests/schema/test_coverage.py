"""Completeness: kinds the model does not cover, the pg_dump cross-check, ignore rules."""

from __future__ import annotations

import pytest

from prodclone.local.server import LocalServer
from prodclone.schema import SchemaDiffError, render_text
from tests.schema.helpers import Databases, compare

TABLE = "CREATE TABLE t (a int, b int, c int);"


def test_object_of_a_kind_not_modelled_is_listed_by_identity(
    pg: LocalServer, dbs: Databases
) -> None:
    a = dbs.create(TABLE + "CREATE STATISTICS t_ab ON a, b FROM t;", "a")
    b = dbs.create(TABLE, "b")
    result = compare(pg, a, b)
    assert [(d.kind, d.name, d.change) for d in result.differences] == [
        ("not modelled", "public.t_ab (statistics object)", "only in a")
    ]
    assert "public.t_ab (statistics object): only in a" in render_text(result)


def test_difference_only_the_text_diff_sees_is_reported(pg: LocalServer, dbs: Databases) -> None:
    # Same identity on both sides, so the catalog model alone sees nothing.
    a = dbs.create(TABLE + "CREATE STATISTICS t_s ON a, b FROM t;", "a")
    b = dbs.create(TABLE + "CREATE STATISTICS t_s ON a, c FROM t;", "b")
    result = compare(pg, a, b)
    assert result.exit_code == 1
    assert [(d.kind, d.name) for d in result.differences] == [("pg_dump", "STATISTICS public.t_s")]
    text = render_text(result)
    assert "seen only by the pg_dump -s cross-check" in text
    assert "-CREATE STATISTICS public.t_s ON a, b FROM public.t;" in text
    assert "+CREATE STATISTICS public.t_s ON a, c FROM public.t;" in text
    without = compare(pg, a, b, cross_check=False)
    assert without.exit_code == 0


def test_extension_members_are_not_compared_one_by_one(pg: LocalServer, dbs: Databases) -> None:
    a = dbs.create("CREATE EXTENSION pg_trgm;", "a")
    b = dbs.create("", "b")
    result = compare(pg, a, b)
    assert [(d.kind, d.name) for d in result.differences] == [("extension", "pg_trgm")]


def test_rds_rules_hide_rds_roles_and_extensions(pg: LocalServer, dbs: Databases) -> None:
    with pg.connect() as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'rds_superuser'").fetchone():
            conn.execute("CREATE ROLE rds_superuser")
    a = dbs.create(TABLE + "GRANT SELECT ON t TO rds_superuser;", "a")
    b = dbs.create(TABLE, "b")
    plain = compare(pg, a, b)
    assert [(d.kind, d.attribute) for d in plain.differences] == [("table", "privileges")]
    hidden = compare(pg, a, b, ignore=("rds",))
    # The grant is hidden in the catalog comparison and in the text cross-check alike.
    assert hidden.differences == [], render_text(hidden)
    assert hidden.hidden_count == 1
    assert hidden.hidden[0].hidden_by == "role:rds*"


def test_attribute_rule_hides_only_that_attribute(pg: LocalServer, dbs: Databases) -> None:
    a = dbs.create(TABLE + "COMMENT ON TABLE t IS 'old';ALTER TABLE t ALTER a SET DEFAULT 1;", "a")
    b = dbs.create(TABLE, "b")
    result = compare(pg, a, b, ignore=("table:public.*:comment",))
    assert [(d.kind, d.attribute) for d in result.differences] == [("column", "default")]
    assert [(d.kind, d.attribute) for d in result.hidden] == [("table", "comment")]


def test_rules_match_names_quoted_or_written_plain(pg: LocalServer, dbs: Databases) -> None:
    a = dbs.create('CREATE TABLE "Orders_old" (id int); CREATE TABLE "Tmp" (id int);', "a")
    b = dbs.create("", "b")
    result = compare(pg, a, b, ignore=('table:public."Orders*', "table:public.Tmp"))
    assert result.differences == [], render_text(result)
    assert sorted(d.name for d in result.hidden) == ['public."Orders_old"', 'public."Tmp"']


def test_unsupported_rule_is_refused(pg: LocalServer, dbs: Databases) -> None:
    a = dbs.create(TABLE, "a")
    with pytest.raises(SchemaDiffError) as raised:
        compare(pg, a, a, ignore=("table",))
    assert raised.value.exit_code == 2


def test_many_kinds_read_back_identically(pg: LocalServer, dbs: Databases) -> None:
    everything = """
CREATE SCHEMA app;
CREATE COLLATION app.c_like (provider = libc, locale = 'C');
CREATE TYPE app.mood AS ENUM ('sad', 'happy');
CREATE DOMAIN app.positive AS int CHECK (VALUE > 0) DEFAULT 1 NOT NULL;
CREATE TYPE app.pair AS (x int, y text COLLATE app.c_like);
CREATE TYPE app.floatrange AS RANGE (subtype = float8);
CREATE TABLE app.parent (id int GENERATED ALWAYS AS IDENTITY, day date NOT NULL,
    total numeric, doubled numeric GENERATED ALWAYS AS (total * 2) STORED,
    PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
CREATE TABLE app.parent_2025 PARTITION OF app.parent
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE UNLOGGED TABLE app.scratch (id int) WITH (fillfactor = 70);
ALTER TABLE app.scratch ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.scratch REPLICA IDENTITY FULL;
CREATE POLICY own ON app.scratch USING (id > 0);
CREATE RULE no_delete AS ON DELETE TO app.scratch DO INSTEAD NOTHING;
CREATE SEQUENCE app.counter INCREMENT 5 MINVALUE 10 CACHE 3 CYCLE;
CREATE MATERIALIZED VIEW app.totals AS SELECT day, sum(total) FROM app.parent GROUP BY day;
CREATE FUNCTION app.f(x int DEFAULT 1) RETURNS int LANGUAGE sql STABLE STRICT
    SET work_mem = '8MB' BEGIN ATOMIC SELECT x + 1; END;
CREATE PROCEDURE app.p() LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN NULL; END $$;
CREATE AGGREGATE app.total_of(int) (sfunc = int4pl, stype = int, initcond = '0');
CREATE FUNCTION app.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE PUBLICATION pub FOR TABLE app.parent WITH (publish = 'insert');
ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO PUBLIC;
COMMENT ON COLUMN app.parent.total IS 'money';
"""
    a = dbs.create(everything, "a")
    b = dbs.create(everything, "b")
    result = compare(pg, a, b)
    assert result.differences == [], render_text(result)
    covered = {kind for kind, count in result.coverage.items() if count.a}
    assert covered >= {
        "schema",
        "collation",
        "enum",
        "domain",
        "composite type",
        "range type",
        "table",
        "column",
        "constraint",
        "index",
        "sequence",
        "materialized view",
        "function",
        "aggregate",
        "policy",
        "rule",
        "publication",
        "default privileges",
    }
