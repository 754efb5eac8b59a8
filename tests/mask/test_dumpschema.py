"""A dump's tables and columns, read from a real pg_dump archive, and the rules checked
against them."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from prodclone.errors import SettingsError
from prodclone.local.embedded import bin_dir
from prodclone.local.masking import read_dump_tables
from prodclone.local.server import LocalServer
from prodclone.mask.dumpcheck import check_rules_in_dump
from prodclone.mask.dumpschema import BUILTIN_TYPES, DumpTables, tables_in_script
from prodclone.mask.rules import parse_rules
from prodclone.pg.tools import find_tool
from tests.conftest import run_sql

SHAPES = """
CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    email text NOT NULL UNIQUE, "Full Name" text, profile jsonb);
CREATE TABLE parent (id int, a text);
CREATE TABLE orders (id serial PRIMARY KEY, user_email text REFERENCES users (email));
CREATE TABLE child (b text) INHERITS (parent);
CREATE TABLE grandchild (c text) INHERITS (child);
CREATE TABLE meas (id int, logdate date, secret text) PARTITION BY RANGE (logdate);
CREATE TABLE meas_2024 PARTITION OF meas FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TYPE addr AS (street text, city text);
CREATE TABLE typed OF addr;
CREATE SCHEMA "Other";
CREATE TABLE "Other"."Weird;Name" (x text CHECK (x <> ''),
                                   v text GENERATED ALWAYS AS (upper(x)) STORED);
CREATE UNLOGGED TABLE scratch (z text);
CREATE TYPE mood AS ENUM ('fine', 'grumpy');
CREATE TABLE kinds (a smallint NOT NULL, b numeric(10, 2), c boolean, d character varying(30),
                    e character(2), f timestamptz, g uuid, h text[], i mood, j date,
                    k double precision, l bytea, m json, n inet);
CREATE VIEW user_emails AS SELECT email FROM users;
CREATE MATERIALIZED VIEW user_count AS SELECT count(*) AS n FROM users;
CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN 'CREATE TABLE public.fake (x text);';
END $$;
"""


@pytest.fixture(scope="module")
def shapes(pg: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> DumpTables:
    dump = tmp_path_factory.mktemp("dumpschema") / "prod-shapes.dump"
    with pg.connect() as conn:
        conn.execute('DROP DATABASE IF EXISTS "dumpschema_src" WITH (FORCE)')
        conn.execute('CREATE DATABASE "dumpschema_src"')
    try:
        run_sql(pg, "dumpschema_src", SHAPES)
        subprocess.run(
            [str(bin_dir() / "pg_dump"), "-Fc", "-f", str(dump), pg.url("dumpschema_src")],
            check=True,
        )
    finally:
        with pg.connect() as conn:
            conn.execute('DROP DATABASE IF EXISTS "dumpschema_src" WITH (FORCE)')
    return read_dump_tables(dump, find_tool("pg_restore", 0, (bin_dir(),)))


def test_every_table_with_its_columns(shapes: DumpTables) -> None:
    assert shapes.complete
    found = {
        f"{s}.{t}": sorted(c) if c is not None else None for (s, t), c in shapes.columns.items()
    }
    assert found == {
        "public.users": ["Full Name", "email", "id", "profile"],
        "public.parent": ["a", "id"],
        "public.orders": ["id", "user_email"],
        # A child lists only its own columns; the inherited ones come from its parents.
        "public.child": ["a", "b", "id"],
        "public.grandchild": ["a", "b", "c", "id"],
        "public.meas": ["id", "logdate", "secret"],
        "public.meas_2024": ["id", "logdate", "secret"],
        # A typed table's columns are its type's.
        "public.typed": ["city", "street"],
        "Other.Weird;Name": ["v", "x"],
        "public.scratch": ["z"],
        "public.kinds": list("abcdefghijklmn"),
    }


@pytest.mark.parametrize(
    "rules",
    [
        {
            "public.users.email": "email",
            "public.users.Full Name": "name",
            "public.orders.user_email": "email",
        },
        {"public.users.email": "email", "public.orders": "truncate"},
        {"public.grandchild.a": "text", "public.typed.city": "name"},
        {"public.meas_2024.secret": "redact", "public.meas": "truncate"},
        {"Other.Weird;Name.x": "text", "public.scratch": "keep", "Other.Weird;Name.v": "keep"},
        # Types of the database's own (an enum here) are left to the database's check.
        {"public.kinds.i": "email", "public.kinds.d": "email", "public.kinds.e": "digits"},
        {
            "public.kinds.a": "digits",
            "public.kinds.b": "digits",
            "public.kinds.m": {"json": {"$.a": "text"}},
        },
        {"public.kinds.g": "null", "public.kinds.l": {"constant": "x"}, "public.kinds.n": "keep"},
    ],
)
def test_rules_on_what_the_dump_holds_pass(shapes: DumpTables, rules: dict[str, Any]) -> None:
    check_rules_in_dump(parse_rules(rules), shapes, "prod-shapes.dump")


@pytest.mark.parametrize(
    ("rules", "line"),
    [
        (
            {"public.users.emial": "email"},
            "'public.users.emial': prod-shapes.dump has no column 'emial' in public.users "
            "(did you mean 'email'?); fix the key or remove the rule in invoke.yaml",
        ),
        (
            {"public.user.email": "email"},
            "'public.user.email': prod-shapes.dump has no table public.user "
            "(did you mean 'public.users'?); fix the key or remove the rule",
        ),
        (
            {"public.user_emails.email": "email"},  # a view: nothing to mask in a dump
            "'public.user_emails.email': prod-shapes.dump has public.user_emails as a view: "
            "masking changes tables only; fix the key or remove the rule",
        ),
        (
            {"public.user_count": "truncate"},
            "'public.user_count': prod-shapes.dump has public.user_count as a materialized view:",
        ),
        (
            {"public.fake.x": "text"},  # only inside a function's body
            "'public.fake.x': prod-shapes.dump has no table public.fake;",
        ),
        (
            {"other.users.email": "email"},
            "'other.users.email': prod-shapes.dump has no table other.users "
            "(did you mean 'public.users'?);",
        ),
        (
            {"public.users.profile": "digits"},
            "'public.users.profile': in prod-shapes.dump, digits needs a text or number column "
            "(it is jsonb); fix it in invoke.yaml",
        ),
        (
            {"public.users.email": "null"},
            "'public.users.email': in prod-shapes.dump, null on a NOT NULL column;",
        ),
        (
            {"Other.Weird;Name.v": "text"},
            "'Other.Weird;Name.v': in prod-shapes.dump, a generated column cannot be set;",
        ),
        (
            {"public.grandchild.id": "email"},  # inherited, with its type
            "'public.grandchild.id': in prod-shapes.dump, email needs a text column "
            "(it is integer);",
        ),
        (
            {"public.typed.city": {"json": {"$.a": "text"}}},  # a typed table's column
            "'public.typed.city': in prod-shapes.dump, json rules need a json or jsonb column "
            "(it is text);",
        ),
        (
            {"public.kinds.h": "name"},
            "'public.kinds.h': in prod-shapes.dump, name needs a text column (it is text[]);",
        ),
        (
            {"public.kinds.f": "digits"},
            "'public.kinds.f': in prod-shapes.dump, digits needs a text or number column "
            "(it is timestamp with time zone);",
        ),
        (
            {"public.users.email": "email"},
            "prodclone.mask.rules: in prod-shapes.dump, public.orders.user_email references "
            "public.users.email (foreign key orders_user_email_fkey): give both the same rule, "
            "or their masked values no longer join; fix it in invoke.yaml",
        ),
        (
            {"public.users.email": "email", "public.orders.user_email": "hash"},
            "public.orders.user_email references public.users.email (foreign key "
            "orders_user_email_fkey): give both the same rule",
        ),
        (
            {"public.audit": "truncate"},
            "'public.audit': prod-shapes.dump has no table public.audit;",
        ),
        (
            {"public.users.email": "email", "public.typed.town": "name"},
            "'public.typed.town': prod-shapes.dump has no column 'town' in public.typed;",
        ),
    ],
)
def test_a_rule_naming_what_the_dump_lacks_is_one_line(
    shapes: DumpTables, rules: dict[str, Any], line: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        check_rules_in_dump(parse_rules(rules), shapes, "prod-shapes.dump")
    message = str(caught.value)
    assert line in message
    assert "\n" not in message
    assert message.endswith("or in INVOKE_PRODCLONE_MASK_RULES")


def test_builtin_types_are_named_and_grouped_as_the_server_does(pg: LocalServer) -> None:
    """The dump check decides with the same categories and names as the database check."""
    with pg.connect() as conn:
        for name, (category, shown) in BUILTIN_TYPES.items():
            row = conn.execute(
                "SELECT typcategory, format_type(oid, NULL) FROM pg_type "
                "WHERE typname = %s AND typnamespace = 'pg_catalog'::regnamespace",
                (name,),
            ).fetchone()
            assert row == (category, shown), name


def test_with_options_keeps_the_inherited_type() -> None:
    script = """
    CREATE TABLE public.meas (id integer, secret text, at date) PARTITION BY RANGE (at);
    CREATE TABLE public.meas_1 PARTITION OF public.meas (secret WITH OPTIONS NOT NULL)
        FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    """
    tables = tables_in_script(script)
    assert tables.complete
    check_rules_in_dump(parse_rules({"public.meas_1.secret": "text"}), tables, "prod-x.dump")
    with pytest.raises(SettingsError, match="null on a NOT NULL column"):
        check_rules_in_dump(parse_rules({"public.meas_1.secret": "null"}), tables, "prod-x.dump")
    with pytest.raises(SettingsError, match=r"email needs a text column \(it is integer\)"):
        check_rules_in_dump(parse_rules({"public.meas_1.id": "email"}), tables, "prod-x.dump")


def test_what_cannot_be_read_for_sure_is_left_to_the_database(tmp_path: Path) -> None:
    script = """
    CREATE TABLE public.users (id integer, email text);
    CREATE TABLE public.child (b text) INHERITS (public.elsewhere);
    CREATE TABLE public.typed OF public.unknown_type;
    CREATE TABLE public.future (x text) WITH SYNTAX NOBODY KNOWS;
    """
    tables = tables_in_script(script)
    assert not tables.complete
    # The parent and the type are not in the script: those columns are not known.
    assert tables.columns[("public", "child")] is None
    assert tables.columns[("public", "typed")] is None
    rules = {
        "public.future.x": "text",  # perhaps in the statement that could not be read
        "public.child.anything": "text",
        "public.typed.anything": "text",
    }
    check_rules_in_dump(parse_rules(rules), tables, "prod-x.dump")
    # What was read is still sure: a column the users table lacks is refused.
    with pytest.raises(SettingsError, match=r"no column 'mail' in public\.users"):
        check_rules_in_dump(parse_rules({"public.users.mail": "email"}), tables, "prod-x.dump")
