"""Fill a migrated orcha database with realistic "production" rows, optionally with drift.

    python examples/orcha/generate.py --rows 20000 --drift

`--rows` is the number of documents (organizations, tenants and events scale with it;
about 0.7 KB per document on disk, indexes included). `--drift` then applies what
production accumulated outside the migrations: a hotfix that renamed an index, and a
foreign key carrying the name an older PostgreSQL generated ("$2").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from orcha_db import connect, database_name

ORGANIZATIONS = """
INSERT INTO organizations (name, created_at)
SELECT 'Organization ' || g || ' ' || initcap(substr(md5(g::text), 1, 8)),
       now() - (g %% 900) * interval '1 day'
FROM generate_series(1, %(organizations)s) AS g
"""

LEGAL_ENTITIES = """
INSERT INTO legal_entity (organization_id, name, kind, tax_id, created_at)
SELECT 1 + (g %% %(organizations)s),
       initcap(substr(md5('le' || g), 1, 10)) || (ARRAY[' GmbH', ' Ltd', ' SA', ' BV'])[1 + g %% 4],
       (ARRAY['company', 'sole_trader', 'public_body']::legal_entity_kind[])[1 + (g %% 7 = 0)::int
            + (g %% 29 = 0)::int],
       'TAX-' || lpad(g::text, 9, '0'),
       now() - (g %% 800) * interval '1 day'
FROM generate_series(1, %(entities)s) AS g
"""

# Triggers are off while bulk loading (session_replication_role), so the events the
# trigger would have written are generated alongside, as production has them.
DOCUMENTS = """
INSERT INTO documents (organization_id, legal_entity_id, filename, status, total_cents, payload,
                       received_at, processed_at)
SELECT le.organization_id, le.id,
       'invoice-' || g || '.pdf',
       CASE WHEN g %% 97 = 0 THEN 'failed' WHEN g %% 53 = 0 THEN 'processing' ELSE 'done' END
           ::document_status,
       (g::bigint * 7919) %% 2500000,
       jsonb_build_object(
           'supplier', initcap(substr(md5('s' || g), 1, 12)),
           'invoice_number', 'INV-' || lpad(g::text, 8, '0'),
           'currency', (ARRAY['EUR', 'USD', 'GBP'])[1 + g %% 3],
           'lines', jsonb_build_array(
               jsonb_build_object('text', substr(md5('a' || g), 1, 24), 'cents', g %% 10000),
               jsonb_build_object('text', substr(md5('b' || g), 1, 24), 'cents', g %% 7000))),
       now() - (g %% 700) * interval '1 day' - (g %% 86400) * interval '1 second',
       now() - (g %% 700) * interval '1 day'
FROM generate_series(1, %(documents)s) AS g
JOIN legal_entity le ON le.id = 1 + (g %% %(entities)s)
"""

EVENTS = """
INSERT INTO document_events (document_id, status, payload, created_at)
SELECT d.id, s.status,
       jsonb_build_object('legal_entity_id', d.legal_entity_id, 'status', s.status),
       d.received_at + s.step * interval '1 minute'
FROM documents d
CROSS JOIN LATERAL (VALUES (0, 'received'::document_status), (1, d.status)) AS s(step, status)
"""

DRIFT = """
-- 2024 hotfix, applied by hand during an incident: the index got the team's old naming.
ALTER INDEX documents_legal_entity_id_idx RENAME TO idx_documents_legal_entity;
-- The foreign key as PostgreSQL 7 named it, carried over by every upgrade since.
ALTER TABLE documents RENAME CONSTRAINT documents_legal_entity_id_fkey TO "$2";
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000, help="number of documents")
    parser.add_argument("--drift", action="store_true", help="apply production's drift")
    args = parser.parse_args()
    sizes = {
        "documents": max(args.rows, 1),
        "organizations": max(args.rows // 2000, 3),
        "entities": max(args.rows // 100, 5),
    }
    started = time.monotonic()
    with connect(autocommit=False) as conn:
        conn.execute("SET session_replication_role = replica")
        for statement in (ORGANIZATIONS, LEGAL_ENTITIES, DOCUMENTS, EVENTS):
            conn.execute(statement, sizes)
        if args.drift:
            conn.execute(DRIFT)
        conn.commit()
    with connect() as conn:
        conn.execute("ANALYZE")
    print(
        f"orcha generate: {database_name()}: {sizes['documents']} documents, "
        f"{sizes['entities']} legal entities, {sizes['organizations']} organizations"
        f"{', drifted like production' if args.drift else ''} "
        f"in {time.monotonic() - started:.1f}s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
