-- Documents (invoices, receipts) ingested for a legal entity, and their processing states.

CREATE TYPE document_status AS ENUM ('received', 'processing', 'done', 'failed');

CREATE TABLE documents (
    id bigserial PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id),
    legal_entity_id bigint NOT NULL REFERENCES legal_entity (id),
    filename text NOT NULL,
    status document_status NOT NULL DEFAULT 'received',
    total_cents bigint,
    payload jsonb NOT NULL DEFAULT '{}'::jsonb,
    received_at timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz
);

CREATE INDEX documents_legal_entity_id_idx ON documents (legal_entity_id);
CREATE INDEX documents_organization_id_received_at_idx ON documents (organization_id, received_at DESC);
