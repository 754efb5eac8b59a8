-- What the billing page shows per legal entity.

CREATE VIEW legal_entity_document_totals AS
SELECT le.id AS legal_entity_id,
       le.organization_id,
       le.name,
       count(d.id) AS documents,
       coalesce(sum(d.total_cents), 0) AS total_cents
FROM legal_entity le
LEFT JOIN documents d ON d.legal_entity_id = le.id
GROUP BY le.id, le.organization_id, le.name;
