-- Every status change of a document becomes an event (read by the notification consumer);
-- the trigger function builds the event payload the consumer decodes.

CREATE TABLE document_events (
    id bigserial PRIMARY KEY,
    document_id bigint NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    status document_status NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX document_events_document_id_idx ON document_events (document_id);

CREATE FUNCTION document_status_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO document_events (document_id, status, payload)
    VALUES (
        NEW.id,
        NEW.status,
        jsonb_build_object('legal_entity_id', NEW.legal_entity_id, 'status', NEW.status)
    );
    PERFORM pg_notify('document_events', NEW.id::text);
    RETURN NEW;
END;
$$;

CREATE TRIGGER documents_status_event
    AFTER INSERT OR UPDATE OF status ON documents
    FOR EACH ROW EXECUTE FUNCTION document_status_event();
