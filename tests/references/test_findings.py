"""Stale names in function bodies after a migration: found, placed and explained."""

from __future__ import annotations

from prodclone.local.server import LocalServer
from tests.conftest import dedent
from tests.references.helpers import migrate_and_check

DOCUMENTS = dedent(
    """
    CREATE TABLE legal_entity (id bigserial PRIMARY KEY, name text NOT NULL);
    CREATE TABLE documents (
        id bigserial PRIMARY KEY,
        legal_entity_id bigint NOT NULL REFERENCES legal_entity (id),
        status text NOT NULL DEFAULT 'received'
    );
    CREATE TABLE document_events (id bigserial, document_id bigint, payload jsonb);
    """
)

TRIGGER = dedent(
    """
    CREATE FUNCTION document_status_event() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO document_events (document_id, payload)
        VALUES (NEW.id,
                jsonb_build_object('legal_entity_id', NEW.legal_entity_id));
        RETURN NEW;
    END;
    $$;
    CREATE TRIGGER documents_status_event AFTER INSERT OR UPDATE ON documents
        FOR EACH ROW EXECUTE FUNCTION document_status_event();
    """
)

RENAME = dedent(
    """
    ALTER TABLE legal_entity RENAME TO tenant;
    ALTER TABLE documents RENAME COLUMN legal_entity_id TO tenant_id;
    """
)


def test_stale_trigger_new_column_is_found_with_its_new_name(
    pg: LocalServer, fresh_db: str
) -> None:
    report, lines = migrate_and_check(pg, fresh_db, DOCUMENTS + TRIGGER, RENAME)
    assert report.exit_code == 1
    assert (
        '  public.document_status_event() line 5: column "legal_entity_id" not found in '
        "data type documents (trigger documents_status_event on public.documents); "
        "`legal_entity_id` was renamed to `tenant_id` by this migration"
    ) in lines


def test_payload_key_equal_to_a_renamed_column_is_a_warning(pg: LocalServer, fresh_db: str) -> None:
    fixed_trigger = TRIGGER.replace("NEW.legal_entity_id", "NEW.tenant_id")
    migration = RENAME + fixed_trigger.split("CREATE TRIGGER")[0].replace(
        "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"
    )
    report, lines = migrate_and_check(pg, fresh_db, DOCUMENTS + TRIGGER, migration)
    assert report.exit_code == 0, lines
    assert report.findings == []
    assert (
        "  public.document_status_event() line 5: string 'legal_entity_id' names what this "
        "migration renamed to `tenant_id` (a payload key its readers expect?)"
    ) in lines


def test_stale_sql_function_is_found(pg: LocalServer, fresh_db: str) -> None:
    function = dedent(
        """
        CREATE FUNCTION entity_documents(entity bigint) RETURNS SETOF bigint
        LANGUAGE sql STABLE AS $$
            SELECT id
            FROM documents
            WHERE legal_entity_id = entity
        $$;
        """
    )
    report, lines = migrate_and_check(pg, fresh_db, DOCUMENTS + function, RENAME)
    assert report.exit_code == 1
    assert (
        '  public.entity_documents(entity bigint) line 4: column "legal_entity_id" does not '
        "exist; `legal_entity_id` was renamed to `tenant_id` by this migration"
    ) in lines


def test_stale_plpgsql_query_is_found(pg: LocalServer, fresh_db: str) -> None:
    function = dedent(
        """
        CREATE FUNCTION entity_name(wanted bigint) RETURNS text LANGUAGE plpgsql AS $$
        DECLARE
            found_name text;
        BEGIN
            SELECT name INTO found_name
            FROM legal_entity
            WHERE id = wanted;
            RETURN found_name;
        END;
        $$;
        """
    )
    report, lines = migrate_and_check(pg, fresh_db, DOCUMENTS + function, RENAME)
    assert report.exit_code == 1
    assert (
        '  public.entity_name(wanted bigint) line 5: relation "legal_entity" does not exist; '
        "`legal_entity` was renamed to `tenant` by this migration"
    ) in lines


def test_function_called_that_the_migration_renamed_is_found(
    pg: LocalServer, fresh_db: str
) -> None:
    functions = dedent(
        """
        CREATE FUNCTION entity_label(id bigint) RETURNS text LANGUAGE sql AS $$
            SELECT 'entity ' || id
        $$;
        CREATE FUNCTION describe(id bigint) RETURNS text LANGUAGE plpgsql AS $$
        BEGIN
            RETURN entity_label(id);
        END;
        $$;
        """
    )
    migration = "ALTER FUNCTION entity_label(bigint) RENAME TO tenant_label;"
    report, lines = migrate_and_check(pg, fresh_db, DOCUMENTS + functions, migration)
    assert report.exit_code == 1
    assert (
        "  public.describe(id bigint) line 3: function entity_label(bigint) does not exist; "
        "`entity_label` was renamed to `tenant_label` by this migration"
    ) in lines


def test_dynamic_sql_is_listed_as_not_checked(pg: LocalServer, fresh_db: str) -> None:
    function = dedent(
        """
        CREATE FUNCTION count_rows(tbl text) RETURNS bigint LANGUAGE plpgsql AS $$
        DECLARE
            n bigint;
        BEGIN
            EXECUTE format('SELECT count(*) FROM %I', tbl) INTO n;
            RETURN n;
        END;
        $$;
        """
    )
    report, lines = migrate_and_check(pg, fresh_db, DOCUMENTS + function, RENAME)
    assert report.exit_code == 0
    assert "  public.count_rows(tbl text) line 5: EXECUTE of a string built at run time" in lines
    assert lines[0].endswith("0 broken reference(s); 1 not checked")


def test_breakage_production_already_had_does_not_fail(pg: LocalServer, fresh_db: str) -> None:
    function = dedent(
        """
        CREATE FUNCTION old_report() RETURNS bigint LANGUAGE plpgsql AS $$
        BEGIN
            RETURN (SELECT count(*) FROM invoices_2019);
        END;
        $$;
        """
    )
    report, lines = migrate_and_check(pg, fresh_db, DOCUMENTS + function, RENAME)
    assert report.exit_code == 0
    assert report.findings == []
    index = lines.index("Broken before the migration too (production's own, not failing):")
    assert lines[index + 1] == (
        '  public.old_report() line 3: relation "invoices_2019" does not exist'
    )


def test_a_correct_migration_passes(pg: LocalServer, fresh_db: str) -> None:
    fixed = TRIGGER.split("CREATE TRIGGER")[0].replace(
        "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"
    )
    fixed = fixed.replace("legal_entity_id", "tenant_id")
    report, lines = migrate_and_check(pg, fresh_db, DOCUMENTS + TRIGGER, RENAME + fixed)
    assert report.exit_code == 0, lines
    assert lines == [
        f"references in {fresh_db}: 1 function(s) checked (1 PL/pgSQL, 0 SQL, "
        "1 statement(s) and expression(s)); 0 broken reference(s); 0 not checked"
    ]
