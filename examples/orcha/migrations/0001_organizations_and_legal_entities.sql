-- Organizations, the legal entities they bill through, and the entity kind enum.

CREATE TYPE legal_entity_kind AS ENUM ('company', 'sole_trader', 'public_body');

CREATE TABLE organizations (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE legal_entity (
    id bigserial PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id),
    name text NOT NULL,
    kind legal_entity_kind NOT NULL DEFAULT 'company',
    tax_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, tax_id)
);

CREATE INDEX legal_entity_organization_id_idx ON legal_entity (organization_id);
