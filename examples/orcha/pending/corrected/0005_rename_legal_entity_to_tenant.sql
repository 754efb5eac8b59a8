-- Rename legal_entity to tenant: table, sequence, enum, column, every constraint and index,
-- the trigger function's body and payload key, and the view.
--
-- Constraints and indexes are found by what they are (table, kind, columns), not by the
-- name a fresh database gives them: production's names can differ (a hotfix renamed an
-- index, an older PostgreSQL named a foreign key "$2"), and a rename guarded by IF EXISTS
-- would skip those silently.

ALTER TABLE legal_entity RENAME TO tenant;
ALTER SEQUENCE legal_entity_id_seq RENAME TO tenant_id_seq;
ALTER TYPE legal_entity_kind RENAME TO tenant_kind;
ALTER TABLE documents RENAME COLUMN legal_entity_id TO tenant_id;

CREATE FUNCTION pg_temp.rename_constraint(tbl regclass, kind "char", new_name text,
                                          referenced regclass DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    names text[];
BEGIN
    SELECT array_agg(conname) INTO names FROM pg_constraint
    WHERE conrelid = tbl AND contype = kind AND (referenced IS NULL OR confrelid = referenced);
    IF coalesce(array_length(names, 1), 0) <> 1 THEN
        RAISE EXCEPTION 'expected one % constraint on % to rename to %, found %',
            kind, tbl, new_name, coalesce(names::text, 'none');
    END IF;
    IF names[1] <> new_name THEN
        EXECUTE format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I', tbl, names[1], new_name);
    END IF;
END;
$$;

CREATE FUNCTION pg_temp.rename_index(tbl regclass, col name, new_name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    names text[];
BEGIN
    SELECT array_agg(ic.relname) INTO names
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
    WHERE i.indrelid = tbl AND i.indnatts = 1 AND a.attname = col
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid);
    IF coalesce(array_length(names, 1), 0) <> 1 THEN
        RAISE EXCEPTION 'expected one index on %(%) to rename to %, found %',
            tbl, col, new_name, coalesce(names::text, 'none');
    END IF;
    IF names[1] <> new_name THEN
        EXECUTE format('ALTER INDEX %I RENAME TO %I', names[1], new_name);
    END IF;
END;
$$;

DO $$
BEGIN
    PERFORM pg_temp.rename_constraint('tenant', 'p', 'tenant_pkey');
    PERFORM pg_temp.rename_constraint('tenant', 'u', 'tenant_organization_id_tax_id_key');
    PERFORM pg_temp.rename_constraint('tenant', 'f', 'tenant_organization_id_fkey', 'organizations');
    PERFORM pg_temp.rename_constraint('documents', 'f', 'documents_tenant_id_fkey', 'tenant');
    PERFORM pg_temp.rename_index('tenant', 'organization_id', 'tenant_organization_id_idx');
    PERFORM pg_temp.rename_index('documents', 'tenant_id', 'documents_tenant_id_idx');
END;
$$;

-- The event consumer decodes `tenant_id` from the payload from now on.
CREATE OR REPLACE FUNCTION document_status_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO document_events (document_id, status, payload)
    VALUES (
        NEW.id,
        NEW.status,
        jsonb_build_object('tenant_id', NEW.tenant_id, 'status', NEW.status)
    );
    PERFORM pg_notify('document_events', NEW.id::text);
    RETURN NEW;
END;
$$;

DROP VIEW legal_entity_document_totals;
CREATE VIEW tenant_document_totals AS
SELECT t.id AS tenant_id,
       t.organization_id,
       t.name,
       count(d.id) AS documents,
       coalesce(sum(d.total_cents), 0) AS total_cents
FROM tenant t
LEFT JOIN documents d ON d.tenant_id = t.id
GROUP BY t.id, t.organization_id, t.name;
