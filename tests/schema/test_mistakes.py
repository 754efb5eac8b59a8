"""The corpus of migration mistakes: each one must be found (exit 1), and named."""

from __future__ import annotations

from pathlib import Path

from prodclone.local.server import LocalServer
from prodclone.schema import DiffResult, render_text
from tests.schema.helpers import Databases, compare, dump_and_restore

ORDERS = """
CREATE TABLE customers (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    status text NOT NULL DEFAULT 'new',
    total numeric(12, 2) NOT NULL CHECK (total >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_created_at_idx ON orders (created_at);
"""


def found(pg: LocalServer, dbs: Databases, sql_a: str, sql_b: str) -> tuple[DiffResult, str]:
    a = dbs.create(sql_a, "a")
    b = dbs.create(sql_b, "b")
    result = compare(pg, a, b)
    text = render_text(result)
    assert result.exit_code == 1, text
    return result, text


def kinds_and_names(result: DiffResult) -> set[tuple[str, str]]:
    return {(d.kind, d.name) for d in result.differences}


def attributes(result: DiffResult) -> set[tuple[str, str, str | None]]:
    return {(d.kind, d.name, d.attribute) for d in result.differences}


RENAMED = """
CREATE TABLE orders (id serial PRIMARY KEY, total int CHECK (total > 0), created_at date);
CREATE INDEX orders_created_at_idx ON orders (created_at);
ALTER TABLE orders RENAME TO purchases;
ALTER TABLE purchases RENAME CONSTRAINT orders_id_not_null TO purchases_id_not_null;
ALTER INDEX orders_pkey RENAME TO purchases_pkey;
"""
FRESH = """
CREATE TABLE purchases (id serial PRIMARY KEY, total int CHECK (total > 0), created_at date);
CREATE INDEX purchases_created_at_idx ON purchases (created_at);
"""
RENAME_INDEX = "ALTER INDEX orders_created_at_idx RENAME TO purchases_created_at_idx;"
RENAME_SEQUENCE = "ALTER SEQUENCE orders_id_seq RENAME TO purchases_id_seq;"
RENAME_CHECK = (
    "ALTER TABLE purchases RENAME CONSTRAINT orders_total_check TO purchases_total_check;"
)


def test_missed_constraint_rename_after_table_rename(pg: LocalServer, dbs: Databases) -> None:
    result, _ = found(pg, dbs, RENAMED + RENAME_INDEX + RENAME_SEQUENCE, FRESH)
    assert kinds_and_names(result) == {
        ("constraint", "public.purchases.orders_total_check"),
        ("constraint", "public.purchases.purchases_total_check"),
    }


def test_missed_index_rename_after_table_rename(pg: LocalServer, dbs: Databases) -> None:
    result, _ = found(pg, dbs, RENAMED + RENAME_CHECK + RENAME_SEQUENCE, FRESH)
    assert kinds_and_names(result) == {
        ("index", "public.orders_created_at_idx"),
        ("index", "public.purchases_created_at_idx"),
    }


def test_missed_sequence_rename_after_table_rename(pg: LocalServer, dbs: Databases) -> None:
    result, text = found(pg, dbs, RENAMED + RENAME_CHECK + RENAME_INDEX, FRESH)
    assert ("sequence", "public.orders_id_seq") in kinds_and_names(result)
    assert ("sequence", "public.purchases_id_seq") in kinds_and_names(result)
    assert ("column", "public.purchases.id", "default") in attributes(result)
    assert "public.orders_id_seq" in text


def test_wrong_default(pg: LocalServer, dbs: Databases) -> None:
    wrong = ORDERS + "ALTER TABLE orders ALTER COLUMN status SET DEFAULT 'open';"
    result, text = found(pg, dbs, wrong, ORDERS)
    assert attributes(result) == {("column", "public.orders.status", "default")}
    assert "default: a \"'open'::text\" | b \"'new'::text\"" in text


def test_stale_trigger_function_body(pg: LocalServer, dbs: Databases) -> None:
    function = """
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_at := {value};
    RETURN NEW;
END $$;
CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch();
"""
    result, text = found(
        pg,
        dbs,
        ORDERS + function.format(value="now()"),
        ORDERS + function.format(value="clock_timestamp()"),
    )
    assert attributes(result) == {("function", "public.touch()", "body")}
    assert "-    NEW.created_at := now();" in text
    assert "+    NEW.created_at := clock_timestamp();" in text


def test_enum_value_renamed(pg: LocalServer, dbs: Databases) -> None:
    result, text = found(
        pg,
        dbs,
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');",
        "CREATE TYPE mood AS ENUM ('sad', 'fine', 'happy');",
    )
    assert attributes(result) == {("enum", "public.mood", "labels")}
    assert "only in a: ok" in text and "only in b: fine" in text


def test_enum_values_reordered(pg: LocalServer, dbs: Databases) -> None:
    result, text = found(
        pg,
        dbs,
        "CREATE TYPE mood AS ENUM ('sad', 'happy', 'ok');",
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');",
    )
    assert attributes(result) == {("enum", "public.mood", "labels")}
    assert "order: a [sad, happy, ok]" in text


def test_changed_check(pg: LocalServer, dbs: Databases) -> None:
    changed = ORDERS.replace("CHECK (total >= 0)", "CHECK (total > 0)")
    result, _ = found(pg, dbs, changed, ORDERS)
    assert attributes(result) == {("constraint", "public.orders.orders_total_check", "definition")}


def test_changed_foreign_key_action(pg: LocalServer, dbs: Databases) -> None:
    changed = ORDERS.replace("ON DELETE RESTRICT", "ON DELETE CASCADE")
    result, text = found(pg, dbs, changed, ORDERS)
    assert attributes(result) == {
        ("constraint", "public.orders.orders_customer_id_fkey", "definition")
    }
    assert "ON DELETE CASCADE" in text


def test_changed_partial_index_predicate(pg: LocalServer, dbs: Databases) -> None:
    index = "CREATE INDEX orders_open_idx ON orders (created_at) WHERE status = '{}';"
    result, _ = found(pg, dbs, ORDERS + index.format("new"), ORDERS + index.format("open"))
    assert attributes(result) == {
        ("index", "public.orders_open_idx", "definition"),
        ("index", "public.orders_open_idx", "predicate"),
    }


def test_objects_are_counted_not_attributes(pg: LocalServer, dbs: Databases) -> None:
    index = "CREATE INDEX orders_open_idx ON orders (created_at) WHERE status = '{}';"
    result, text = found(pg, dbs, ORDERS + index.format("new"), ORDERS + index.format("open"))
    assert len(result.differences) == 2  # the definition and the predicate
    assert "\nindex (1)\n" in text
    assert result.summary().startswith("schema-diff: 1 object differs (1 index); ")


def test_changed_view_column(pg: LocalServer, dbs: Databases) -> None:
    view = "CREATE VIEW order_totals AS SELECT id, total AS {} FROM orders;"
    result, _ = found(pg, dbs, ORDERS + view.format("amount"), ORDERS + view.format("total"))
    assert ("view", "public.order_totals", "definition") in attributes(result)
    assert ("column", "public.order_totals.amount") in kinds_and_names(result)
    assert ("column", "public.order_totals.total") in kinds_and_names(result)


def test_changed_function_setting(pg: LocalServer, dbs: Databases) -> None:
    function = "CREATE FUNCTION one() RETURNS int LANGUAGE sql {} AS 'SELECT 1';"
    result, text = found(
        pg,
        dbs,
        function.format("SET search_path = public"),
        function.format("SET search_path = pg_catalog, public"),
    )
    assert attributes(result) == {("function", "public.one()", "settings")}
    assert "only in a: search_path=public" in text


def test_changed_sequence_increment(pg: LocalServer, dbs: Databases) -> None:
    result, text = found(
        pg,
        dbs,
        ORDERS + "ALTER SEQUENCE orders_id_seq INCREMENT BY 10;",
        ORDERS,
    )
    assert attributes(result) == {("sequence", "public.orders_id_seq", "increment")}
    assert "increment: a 10 | b 1" in text


def test_missing_grant(pg: LocalServer, dbs: Databases, reader_role: str) -> None:
    grant = f"GRANT SELECT ON orders TO {reader_role};"
    result, text = found(pg, dbs, ORDERS, ORDERS + grant)
    assert attributes(result) == {("table", "public.orders", "privileges")}
    assert f"only in b: {reader_role}:SELECT" in text


def test_missing_grant_among_grants_in_another_order(
    pg: LocalServer, dbs: Databases, reader_role: str
) -> None:
    both = ORDERS + f"GRANT SELECT ON orders TO {reader_role}; GRANT SELECT ON orders TO sd_owner;"
    other_order = (
        ORDERS + f"GRANT SELECT ON orders TO sd_owner; GRANT SELECT ON orders TO {reader_role};"
    )
    result, text = found(pg, dbs, both + f"GRANT DELETE ON orders TO {reader_role};", other_order)
    assert attributes(result) == {("table", "public.orders", "privileges")}
    assert f"only in a: {reader_role}:DELETE" in text
    assert "pg_dump" not in text


def test_disabled_trigger(pg: LocalServer, dbs: Databases) -> None:
    trigger = """
CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER orders_noop BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION noop();
"""
    disable = "ALTER TABLE orders DISABLE TRIGGER orders_noop;"
    result, text = found(pg, dbs, ORDERS + trigger + disable, ORDERS + trigger)
    assert attributes(result) == {("trigger", "public.orders.orders_noop", "enabled")}
    assert "enabled: a 'disabled' | b 'enabled'" in text


def test_leftover_table(pg: LocalServer, dbs: Databases) -> None:
    leftover = "CREATE TABLE orders_old (id bigint PRIMARY KEY, note text);"
    result, text = found(pg, dbs, ORDERS + leftover, ORDERS)
    # One line for the table: its columns, key and index fold into it.
    assert kinds_and_names(result) == {("table", "public.orders_old")}
    assert "public.orders_old: only in a" in text


def test_column_order(pg: LocalServer, dbs: Databases) -> None:
    result, text = found(
        pg,
        dbs,
        "CREATE TABLE t (id int, gone int, b text, a text); ALTER TABLE t DROP gone;",
        "CREATE TABLE t (id int, a text, b text, extra int);",
    )
    assert attributes(result) == {
        ("column", "public.t.a", "position"),
        ("column", "public.t.b", "position"),
        ("column", "public.t.extra", None),
    }
    # Positions are ranks among the live columns both sides have, not attribute numbers.
    assert "  public.t.a\n    position: a 3 | b 2\n" in text


def test_serial_against_identity(pg: LocalServer, dbs: Databases) -> None:
    result, _ = found(
        pg,
        dbs,
        "CREATE TABLE t (id serial);",
        "CREATE TABLE t (id int GENERATED BY DEFAULT AS IDENTITY);",
    )
    assert attributes(result) == {
        ("column", "public.t.id", "default"),
        ("column", "public.t.id", "identity"),
        ("sequence", "public.t_id_seq", "owned_by"),
    }


def test_function_body_whitespace(pg: LocalServer, dbs: Databases) -> None:
    # The body is stored as written: a change in it is a change, even in spacing.
    function = "CREATE FUNCTION one() RETURNS int LANGUAGE sql AS 'SELECT {}1';"
    result, _ = found(pg, dbs, function.format("  "), function.format(" "))
    assert attributes(result) == {("function", "public.one()", "body")}


DOTTED = """CREATE SCHEMA a; CREATE SCHEMA "a.b";
CREATE TABLE a."b.c" (id int PRIMARY KEY, note text);
"""


def test_dotted_names_are_two_objects(pg: LocalServer, dbs: Databases) -> None:
    # `a."b.c"` and `"a.b".c` would both read `a.b.c` unquoted: one would hide the other.
    result, text = found(pg, dbs, DOTTED + 'CREATE TABLE "a.b".c (id int, "Note" text);', DOTTED)
    assert kinds_and_names(result) == {("table", '"a.b".c')}
    assert '  "a.b".c: only in a' in text
    assert result.coverage["table"].a == 2 and result.coverage["column"].a == 4


def test_dotted_names_compared_each_with_its_own(pg: LocalServer, dbs: Databases) -> None:
    other = 'CREATE TABLE "a.b".c (id int, "Note" {});'
    result, text = found(pg, dbs, DOTTED + other.format("text"), DOTTED + other.format("int"))
    assert attributes(result) == {("column", '"a.b".c."Note"', "type")}
    assert "type: a 'text' | b 'integer'" in text


EVENTS = "CREATE TABLE ev (id int, day date, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);"
EV_2024 = "CREATE TABLE ev_2024 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"
EV_2025 = "CREATE TABLE ev_2025 PARTITION OF ev FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"
NOTES = """CREATE TABLE note (id int, ev_id int, ev_day date,
    CONSTRAINT note_ev_fk FOREIGN KEY (ev_id, ev_day) REFERENCES ev {});"""


def test_changed_foreign_key_to_partitioned_table(pg: LocalServer, dbs: Databases) -> None:
    result, text = found(
        pg,
        dbs,
        EVENTS + NOTES.format("ON DELETE CASCADE") + EV_2025 + EV_2024,
        EVENTS + EV_2024 + EV_2025 + NOTES.format(""),
    )
    # The key and its copy for each partition, each known by what it is, not its number.
    assert attributes(result) == {
        ("constraint", "public.note.note_ev_fk", "definition"),
        ("constraint", "public.note.note_ev_fk (copy for public.ev_2024)", "definition"),
        ("constraint", "public.note.note_ev_fk (copy for public.ev_2025)", "definition"),
    }
    assert "note_ev_fk_1" not in text


def test_partition_only_on_one_side_takes_its_foreign_key_copy(
    pg: LocalServer, dbs: Databases
) -> None:
    result, _ = found(
        pg,
        dbs,
        EVENTS + NOTES.format("") + EV_2025 + EV_2024,
        EVENTS + EV_2024 + NOTES.format(""),
    )
    assert kinds_and_names(result) == {
        ("table", "public.ev_2025"),
        ("constraint", "public.note.note_ev_fk (copy for public.ev_2025)"),
    }


CHOICES = """
CREATE DOMAIN shop_status AS varchar(10) CHECK (VALUE IN ({choices}));
CREATE TABLE shop_order (id int, status varchar(10)
    CONSTRAINT shop_order_status_check CHECK (status IN ({choices})));
CREATE INDEX shop_order_open_idx ON shop_order (id) WHERE status IN ({choices});
"""


def test_changed_in_list_against_a_restored_database(
    pg: LocalServer, dbs: Databases, tmp_path: Path
) -> None:
    # b went through pg_dump | pg_restore (its casts moved) and has another list.
    source = dbs.create(CHOICES.format(choices="'new', 'paid', 'void'"), "src")
    restored = dbs.create(label="restored")
    dump_and_restore(pg, source, restored, tmp_path / "src.dump")
    a = dbs.create(CHOICES.format(choices="'new', 'paid'"), "a")
    result = compare(pg, a, restored)
    assert result.exit_code == 1
    assert attributes(result) == {
        ("domain", "public.shop_status", "constraints"),
        ("constraint", "public.shop_order.shop_order_status_check", "definition"),
        ("index", "public.shop_order_open_idx", "definition"),
        ("index", "public.shop_order_open_idx", "predicate"),
    }
    assert "'void'" in render_text(result)
