"""orcha, a tiny document-ingestion app: the code under test once `tenant` replaces `legal_entity`.

    python examples/orcha/app.py boot              # start-up checks, then exit (0 = healthy)
    python examples/orcha/app.py serve             # HTTP app on 127.0.0.1:$ORCHA_HTTP_PORT
    python examples/orcha/app.py ingest FIXTURE    # post a document, wait for a terminal state

Errors are logged one per line as `ERROR ...`, the way the smoke stage scans for them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from psycopg.rows import dict_row

sys.path.insert(0, str(Path(__file__).resolve().parent))
from orcha_db import connect, database_name, extra_folders

HERE = Path(__file__).resolve().parent
TERMINAL = ("done", "failed")
PAGE_SIZE = 20


def port() -> int:
    return int(os.environ.get("ORCHA_HTTP_PORT", "8765"))


def log(message: str) -> None:
    print(message, flush=True)


# -- boot -------------------------------------------------------------------------------


def known_migrations() -> set[str]:
    ids = {path.stem for path in (HERE / "migrations").glob("*.sql")}
    ids |= {path.stem for path in (HERE / "pending").glob("*/*.sql")}
    for folder in extra_folders():
        ids |= {path.stem for path in folder.glob("*.sql")}
    return ids


def boot() -> int:
    """What the app checks at start-up: it reaches its database and knows every migration."""
    try:
        with connect() as conn:
            applied = {row[0] for row in conn.execute("SELECT migration_id FROM _yoyo_migration")}
            organizations = conn.execute("SELECT count(*) FROM organizations").fetchone()
    except psycopg.Error as exc:
        log(f"ERROR boot failed: {' '.join(str(exc).split())}")
        return 1
    unknown = sorted(applied - known_migrations())
    if unknown:
        log(f"ERROR boot failed: the database has migrations this code does not know: {unknown}")
        return 1
    count = organizations[0] if organizations else 0
    log(f"orcha boot: {database_name()} ok ({len(applied)} migrations, {count} organizations)")
    return 0


# -- serve ------------------------------------------------------------------------------


def ingest_document(body: dict[str, Any]) -> dict[str, Any]:
    """Store a document for its tenant and run it through processing to a terminal state."""
    with connect(autocommit=False) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT id, organization_id FROM tenant WHERE tax_id = %s", (body["tenant_tax_id"],)
        )
        tenant = cur.fetchone()
        if tenant is None:
            raise LookupError(f"no tenant with tax id {body['tenant_tax_id']!r}")
        cur.execute(
            "INSERT INTO documents (organization_id, tenant_id, filename, total_cents, payload) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (
                tenant["organization_id"],
                tenant["id"],
                body["filename"],
                body.get("total_cents"),
                json.dumps(body.get("payload", {})),
            ),
        )
        row = cur.fetchone()
        assert row is not None
        document_id = row["id"]
        for status in ("processing", "done"):
            cur.execute(
                "UPDATE documents SET status = %s, processed_at = now() WHERE id = %s",
                (status, document_id),
            )
        conn.commit()
    check_events(document_id)
    return {"id": document_id, "status": "done"}


def check_events(document_id: int) -> None:
    """The notification consumer's side: every event's payload must decode."""
    with connect() as conn:
        rows = conn.execute(
            "SELECT payload FROM document_events WHERE document_id = %s ORDER BY id",
            (document_id,),
        ).fetchall()
    for (payload,) in rows:
        if "tenant_id" not in payload:
            raise KeyError(f"event payload has no 'tenant_id' (keys: {sorted(payload)})")


def fetch_rows(query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with connect() as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return list(cur.fetchall())


def list_documents(page: int) -> list[dict[str, Any]]:
    return fetch_rows(
        "SELECT d.id, d.filename, d.status::text AS status, t.name AS tenant "
        "FROM documents d JOIN tenant t ON t.id = d.tenant_id "
        "ORDER BY d.id DESC LIMIT %s OFFSET %s",
        (PAGE_SIZE, PAGE_SIZE * max(page - 1, 0)),
    )


def get_document(document_id: int) -> dict[str, Any] | None:
    rows = fetch_rows(
        "SELECT d.id, d.filename, d.status::text AS status, d.tenant_id, t.name AS tenant "
        "FROM documents d JOIN tenant t ON t.id = d.tenant_id WHERE d.id = %s",
        (document_id,),
    )
    return rows[0] if rows else None


def list_tenants() -> list[dict[str, Any]]:
    return fetch_rows(
        "SELECT tenant_id, name, documents, total_cents FROM tenant_document_totals "
        "ORDER BY tenant_id LIMIT 50"
    )


def list_organizations() -> list[dict[str, Any]]:
    return fetch_rows(
        "SELECT o.id, o.name, count(t.id) AS tenants FROM organizations o "
        "LEFT JOIN tenant t ON t.organization_id = o.id GROUP BY o.id ORDER BY o.id LIMIT 50"
    )


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log(f"orcha serve: {self.command} {self.path} {args[1] if len(args) > 1 else ''}")

    def reply(self, status: HTTPStatus, body: Any) -> None:
        data = json.dumps(body, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def fail(self, exc: Exception) -> None:
        log(f"ERROR {self.command} {self.path}: {type(exc).__name__}: {' '.join(str(exc).split())}")
        self.reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": str(exc).splitlines()[0]})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        try:
            if url.path == "/health":
                self.reply(HTTPStatus.OK, {"status": "ok", "database": database_name()})
            elif url.path == "/documents":
                page = int(parse_qs(url.query).get("page", ["1"])[0])
                self.reply(HTTPStatus.OK, list_documents(page))
            elif url.path.startswith("/documents/"):
                document = get_document(int(url.path.rsplit("/", 1)[1]))
                if document is None:
                    self.reply(HTTPStatus.NOT_FOUND, {"error": "no such document"})
                else:
                    self.reply(HTTPStatus.OK, document)
            elif url.path == "/tenants":
                self.reply(HTTPStatus.OK, list_tenants())
            elif url.path == "/organizations":
                self.reply(HTTPStatus.OK, list_organizations())
            else:
                self.reply(HTTPStatus.NOT_FOUND, {"error": "not found"})
        except Exception as exc:  # an app logs and answers 500, it does not die
            self.fail(exc)

    def do_POST(self) -> None:
        try:
            if urlsplit(self.path).path != "/ingest":
                self.reply(HTTPStatus.NOT_FOUND, {"error": "not found"})
                return
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length).decode("utf-8"))
            self.reply(HTTPStatus.CREATED, ingest_document(body))
        except Exception as exc:
            self.fail(exc)


def serve() -> int:
    if boot() != 0:
        return 1
    server = ThreadingHTTPServer(("127.0.0.1", port()), Handler)
    log(f"orcha listening on http://127.0.0.1:{port()} (database {database_name()})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


# -- ingest (the smoke command) ---------------------------------------------------------


def call(method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port()}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def ingest(fixture: Path, deadline_seconds: float = 30.0) -> int:
    """Post a fixture through the running app; pass when it reaches `done`."""
    body = json.loads(fixture.read_text())
    try:
        status, answer = call("POST", "/ingest", body)
    except OSError as exc:
        log(f"ERROR ingest {fixture.name}: the app at port {port()} does not answer ({exc})")
        return 1
    if status != HTTPStatus.CREATED:
        log(f"ERROR ingest {fixture.name}: HTTP {status}: {answer.get('error', answer)}")
        return 1
    document_id = answer["id"]
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        status, document = call("GET", f"/documents/{document_id}")
        if status == HTTPStatus.OK and document["status"] in TERMINAL:
            log(f"orcha ingest: {fixture.name} -> document {document_id}: {document['status']}")
            return 0 if document["status"] == "done" else 1
        time.sleep(0.2)
    log(f"ERROR ingest {fixture.name}: document {document_id} never reached a terminal state")
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("boot", help="start-up checks against the database, then exit")
    commands.add_parser("serve", help="serve HTTP on 127.0.0.1:$ORCHA_HTTP_PORT")
    ingest_parser = commands.add_parser("ingest", help="ingest a fixture through the app")
    ingest_parser.add_argument("fixture", type=Path)
    args = parser.parse_args()
    if args.command == "boot":
        return boot()
    if args.command == "serve":
        return serve()
    return ingest(args.fixture)


if __name__ == "__main__":
    sys.exit(main())
