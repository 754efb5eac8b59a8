-- Rename legal_entity to tenant: the FIRST DRAFT, written and tested against a local database.
--
-- It is deliberately flawed (`inv demo` shows what catches it):
--   * it renames indexes and constraints by the names a fresh database has, guarded with
--     IF EXISTS, so on production, whose names drifted (a hotfix renamed an index, an old
--     PostgreSQL named a foreign key "$2"), those renames are skipped without a word;
--   * it forgets the trigger function, whose body still reads NEW.legal_entity_id.

ALTER TABLE legal_entity RENAME TO tenant;
ALTER SEQUENCE legal_entity_id_seq RENAME TO tenant_id_seq;
ALTER TYPE legal_entity_kind RENAME TO tenant_kind;
ALTER TABLE documents RENAME COLUMN legal_entity_id TO tenant_id;

ALTER INDEX IF EXISTS legal_entity_pkey RENAME TO tenant_pkey;
ALTER INDEX IF EXISTS legal_entity_organization_id_tax_id_key RENAME TO tenant_organization_id_tax_id_key;
ALTER INDEX IF EXISTS legal_entity_organization_id_idx RENAME TO tenant_organization_id_idx;
ALTER INDEX IF EXISTS documents_legal_entity_id_idx RENAME TO documents_tenant_id_idx;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'legal_entity_organization_id_fkey') THEN
        ALTER TABLE tenant RENAME CONSTRAINT legal_entity_organization_id_fkey TO tenant_organization_id_fkey;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'documents_legal_entity_id_fkey') THEN
        ALTER TABLE documents RENAME CONSTRAINT documents_legal_entity_id_fkey TO documents_tenant_id_fkey;
    END IF;
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
