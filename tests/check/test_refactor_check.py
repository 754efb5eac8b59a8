"""inv refactor-check end to end on the orcha example: every gate's failure, and a pass."""

from __future__ import annotations

import sys
from xml.etree import ElementTree

import psycopg

from prodclone.local.server import LocalServer
from tests.check.conftest import (
    CheckProject,
    Result,
    kill_quietly,
    pid_in,
    process_gone,
    script,
)

STAGE_KEYS = [
    "reset",
    "boot",
    "baseline",
    "migrate",
    "references",
    "data",
    "fresh",
    "schema",
    "smoke",
    "deploy",
]

# Holds ACCESS EXCLUSIVE on documents for a while, as a slow backfill would.
SLOW_MIGRATION = """
ALTER TABLE documents ADD COLUMN reviewed boolean NOT NULL DEFAULT false;
DO $$ BEGIN PERFORM pg_sleep(1.5); END $$;
"""

# Rebuilds document_events with the same schema and forgets to copy its rows.
REBUILD_LOSING_ROWS = """
CREATE TABLE document_events_rebuilt (LIKE document_events INCLUDING DEFAULTS);
ALTER SEQUENCE document_events_id_seq OWNED BY document_events_rebuilt.id;
DROP TABLE document_events;
ALTER TABLE document_events_rebuilt RENAME TO document_events;
ALTER TABLE document_events ADD CONSTRAINT document_events_pkey PRIMARY KEY (id);
ALTER TABLE document_events ADD CONSTRAINT document_events_document_id_fkey
    FOREIGN KEY (document_id) REFERENCES documents (id) ON DELETE CASCADE;
CREATE INDEX document_events_document_id_idx ON document_events (document_id);
"""

# A smoke command that stops the app and waits until it has exited: a zombie until
# refactor-check reaps it, so the app is dead before the smoke command returns.
STOP_APP = """
import os, signal, time
from pathlib import Path
pid = int(Path({pid_file!r}).read_text())
os.kill(pid, signal.SIGTERM)
while Path(f"/proc/{{pid}}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
    time.sleep(0.05)
"""


def assert_failed_at(result: Result, key: str) -> None:
    """Non-zero exit, and the stage named as failed in all three reports."""
    assert result.code == 1, result.output
    assert "refactor-check failed at " in result.output and key in result.output
    assert result.json["passed"] is False
    assert key in result.json["failed_stages"]
    assert result.stage(key)["status"] == "failed"
    assert f"### {key}:" in result.markdown
    cases = ElementTree.fromstring(result.junit).iter("testcase")
    failed_cases = [case.get("name", "") for case in cases if case.find("failure") is not None]
    assert any(f". {key}: " in name for name in failed_cases), failed_cases


def app_pid(result: Result) -> int:
    return int(result.stage("smoke")["figures"]["app_pid"])


def test_passing_run_reports_locks_and_timings(checker: CheckProject, pg: LocalServer) -> None:
    checker.add_migration("0006_documents_reviewed.sql", SLOW_MIGRATION)
    checker.configure(check={"slow_statement_seconds": 0.5})
    result = checker.check()
    assert result.code == 0, result.output
    assert result.json["passed"] is True
    # Not a git repository: the deploy window has no running release to run.
    assert [stage["status"] for stage in result.json["stages"]] == ["passed"] * 9 + ["skipped"]
    assert "is not in a git repository" in result.stage("deploy")["summary"]
    for number, key in enumerate(STAGE_KEYS[:9], start=1):
        assert f"{number}. {key}: passed in " in result.output
    assert result.markdown.startswith("# refactor-check: PASSED")
    migrate = result.stage("migrate")["figures"]
    documents = [hold for hold in migrate["locks"] if hold["relation"] == "public.documents"]
    assert documents and documents[0]["mode"] == "AccessExclusiveLock"
    assert documents[0]["seconds"] >= 1.0
    assert any("pg_sleep" in statement["query"] for statement in migrate["slow_statements"])
    assert "| public.documents | AccessExclusiveLock |" in result.markdown
    assert "renamed to public.tenant" in result.markdown
    assert all(stage["seconds"] >= 0 for stage in result.json["stages"])
    assert "<failure" not in result.junit and result.junit.count("<testcase") == 10
    assert (result.report.stat().st_mode & 0o777) == 0o700  # app logs may quote prod's rows
    assert process_gone(app_pid(result))
    filled = "Start orcha against orcha_prod_clone"
    assert "UI smoke checklist" in result.output and filled in result.output
    assert f"- [ ] {filled}" in result.markdown
    assert result.json["ui_checklist"][0].startswith(filled)
    with psycopg.connect(pg.url("orcha_prod_clone")) as conn:
        assert conn.execute("SELECT count(*) FROM tenant").fetchone() == (30,)


def test_boot_failure(checker: CheckProject) -> None:
    failing_boot = f"{sys.executable} -c \"print('ERROR cannot start: no config'); exit(3)\""
    checker.configure(commands={"boot": failing_boot})
    result = checker.check()
    assert_failed_at(result, "boot")
    assert "exited with code 3" in result.stage("boot")["summary"]
    assert "ERROR cannot start: no config" in result.markdown
    assert result.stage("migrate")["status"] == "not run"


def test_migrate_failure(checker: CheckProject) -> None:
    checker.add_migration("0006_broken.sql", "ALTER TABLE no_such_table ADD COLUMN x int;\n")
    checker.configure()
    result = checker.check()
    assert_failed_at(result, "migrate")
    assert 'relation "no_such_table" does not exist' in result.markdown
    assert all(result.stage(key)["status"] == "not run" for key in STAGE_KEYS[4:])


def test_rows_lost_by_drop_and_recreate_fail_the_data_check_though_the_schema_matches(
    checker: CheckProject,
) -> None:
    checker.add_migration("0006_rebuild_events.sql", REBUILD_LOSING_ROWS)
    checker.configure()
    result = checker.check("--keep-going", "--skip-smoke")
    assert_failed_at(result, "data")
    assert result.stage("schema")["status"] == "passed"
    assert result.stage("smoke")["status"] == "skipped"
    assert result.stage("smoke")["summary"] == "--skip-smoke"
    assert not (result.report / "app.log").exists()
    events = next(
        table
        for table in result.stage("data")["figures"]["tables"]
        if table["table"] == "public.document_events"
    )
    assert events["problem"] is True
    assert events["oid_before"] != events["oid_after"]
    assert events["before"] == "6000" and events["after"] == "0"
    assert "dropped and recreated" in result.markdown


def test_drifted_production_fails_the_schema_gate(checker: CheckProject) -> None:
    checker.configure(commands={"migrate": script("migrate.py", "--pending", "flawed")})
    # --keep-going: the reference gate, before it, fails too (the draft's stale trigger).
    result = checker.check("--skip-smoke", "--keep-going")
    assert_failed_at(result, "schema")
    assert result.stage("data")["status"] == "passed"
    assert "idx_documents_legal_entity" in result.markdown
    assert "documents_tenant_id_idx" in result.markdown
    assert "$2" in result.markdown
    assert result.stage("smoke")["status"] == "skipped"


def test_app_never_ready_is_stopped_with_its_children(checker: CheckProject) -> None:
    child_pid = checker.root / "child.pid"
    serve = (
        f"sleep 300 & echo $! > {child_pid}; "
        f"{sys.executable} -c \"import time; print('warming up', flush=True); time.sleep(300)\""
    )
    checker.configure(commands={"serve": serve}, check={"serve_timeout": 2})
    result = checker.check()
    try:
        assert_failed_at(result, "smoke")
        assert "not ready after 2s" in result.stage("smoke")["summary"]
        assert "warming up" in result.markdown
        assert process_gone(app_pid(result))
        assert process_gone(int(child_pid.read_text()))
    finally:
        kill_quietly(int(child_pid.read_text()))


def test_app_that_exits_before_ready(checker: CheckProject) -> None:
    serve = "echo 'starting'; echo 'ERROR: column \"tenant_id\" does not exist'; exit 2"
    checker.configure(commands={"serve": serve})
    result = checker.check()
    assert_failed_at(result, "smoke")
    assert "exited with code 2 before it was ready" in result.stage("smoke")["summary"]
    assert "starting" in result.markdown
    assert 'app.log:2: ERROR: column "tenant_id" does not exist  [matched' in result.markdown
    assert result.stage("smoke")["figures"]["log_matches"] != []


def test_app_that_dies_during_the_smoke_commands(checker: CheckProject) -> None:
    serve_pid = checker.root / "serve.pid"
    serve = f"echo $$ > {serve_pid}; echo 'orcha listening on'; exec sleep 300"
    stop_app = checker.root / "stop_app.py"
    stop_app.write_text(STOP_APP.format(pid_file=str(serve_pid)))
    checker.configure(commands={"serve": serve, "smoke": [f"{sys.executable} {stop_app}"]})
    result = checker.check()
    try:
        assert_failed_at(result, "smoke")
        summary = result.stage("smoke")["summary"]
        assert summary == "the app exited with code -15 during the smoke commands"
    finally:
        kill_quietly(pid_in(serve_pid))


def test_smoke_command_failure(checker: CheckProject) -> None:
    unknown = checker.root / "unknown-tenant.json"
    unknown.write_text('{"filename": "x.pdf", "tenant_tax_id": "TAX-NOBODY", "total_cents": 1}')
    checker.configure(
        commands={"smoke": [script("app.py", "ingest", str(unknown))]},
        # Ready when the port answers: the app's own answer below proves it was up.
        check={"log_patterns": [], "serve_ready_line": "", "serve_ready_port": checker.port},
    )
    result = checker.check()
    assert_failed_at(result, "smoke")
    assert "1 of 1 smoke command(s) failed" in result.stage("smoke")["summary"]
    assert "HTTP 500: no tenant with tax id 'TAX-NOBODY'" in result.markdown
    assert process_gone(app_pid(result))


def test_log_pattern_in_the_app_log_fails_smoke(checker: CheckProject) -> None:
    serve = (
        "echo 'orcha listening on http://127.0.0.1'; "
        "echo 'ERROR: relation \"legal_entity\" does not exist at character 15'; sleep 300"
    )
    checker.configure(commands={"serve": serve, "smoke": ["true"]})
    result = checker.check()
    assert_failed_at(result, "smoke")
    assert "1 log line(s) matched" in result.stage("smoke")["summary"]
    assert 'app.log:2: ERROR: relation "legal_entity" does not exist' in result.markdown
    assert process_gone(app_pid(result))


def test_flawed_trigger_is_caught_by_the_reference_gate_and_smoke(checker: CheckProject) -> None:
    """Both databases share the stale trigger body: the schema gate is blind to it."""
    checker.configure(commands={"migrate": script("migrate.py", "--pending", "flawed")})
    result = checker.check("--keep-going")
    assert_failed_at(result, "references")
    assert_failed_at(result, "smoke")
    assert_failed_at(result, "schema")
    stale = (
        'public.document_status_event() line 7: column "legal_entity_id" not found in data '
        "type documents (trigger documents_status_event on public.documents); "
        "`legal_entity_id` was renamed to `tenant_id` by this migration"
    )
    references = result.stage("references")
    assert references["summary"] == (
        f"1 reference(s) in function bodies broken by this migration: {stale}"
    )
    assert f"  {stale}" in references["details"]
    # The payload key the event consumer reads is only a warning.
    assert any("string 'legal_entity_id'" in line for line in references["details"])
    matches = result.stage("smoke")["figures"]["log_matches"]
    assert any('record "new" has no field "legal_entity_id"' in line for line in matches)
    assert "refactor-check: FAILED at references, schema, smoke" in result.markdown
    assert process_gone(app_pid(result))


def test_a_stale_function_stops_the_run_at_the_reference_gate(checker: CheckProject) -> None:
    checker.configure(commands={"migrate": script("migrate.py", "--pending", "flawed")})
    result = checker.check()
    assert_failed_at(result, "references")
    assert all(result.stage(key)["status"] == "not run" for key in STAGE_KEYS[5:])
    assert "prodclone: refactor-check failed at references" in result.output


def test_interrupt_leaves_the_clone_and_says_where_it_stopped(
    checker: CheckProject, pg: LocalServer
) -> None:
    started, migrate_pid = checker.root / "migrate-started", checker.root / "migrate.pid"
    checker.configure(commands={"migrate": f"echo $$ > {migrate_pid}; touch {started}; sleep 60"})
    result = checker.check_interrupted_when(started)
    try:
        assert result.code == 130, result.output
        assert result.json["interrupted_at"] == "migrate"
        assert result.stage("migrate")["status"] == "interrupted"
        assert "interrupted during **migrate**" in result.markdown
        assert "<error" in result.junit
        assert process_gone(pid_in(migrate_pid))
        with psycopg.connect(pg.url("orcha_prod_clone")) as conn:
            legal_entity = conn.execute("SELECT to_regclass('legal_entity') IS NOT NULL")
            assert legal_entity.fetchone() == (True,)
    finally:
        kill_quietly(pid_in(migrate_pid))


def test_interrupt_during_smoke_stops_the_app(checker: CheckProject) -> None:
    started, smoke_pid = checker.root / "smoke-started", checker.root / "smoke.pid"
    worker_pid = checker.root / "worker.pid"
    # The app with a worker of its own: the whole process group must go, not just its shell.
    serve = f"sleep 300 & echo $! > {worker_pid}; {script('app.py', 'serve')}"
    checker.configure(
        commands={
            "serve": serve,
            "smoke": [f"echo $$ > {smoke_pid}; touch {started}; exec sleep 60"],
        },
        check={"log_patterns": []},
    )
    result = checker.check_interrupted_when(started)
    try:
        assert result.code == 130, result.output
        assert result.json["interrupted_at"] == "smoke"
        assert "interrupted during **smoke**" in result.markdown
        assert process_gone(app_pid(result))
        assert process_gone(pid_in(worker_pid))
        assert process_gone(pid_in(smoke_pid))
    finally:
        kill_quietly(pid_in(smoke_pid))
        kill_quietly(pid_in(worker_pid))


def test_second_interrupt_while_the_app_stops_still_stops_it(checker: CheckProject) -> None:
    """An app that ignores SIGINT and SIGTERM gets their grace periods; a second Ctrl-C
    must not orphan it."""
    serve_pid, got_term = checker.root / "serve.pid", checker.root / "got-term"
    serve = (
        f"echo $$ > {serve_pid}; trap '' INT; trap 'touch {got_term}' TERM; "
        "echo 'orcha listening on'; "
        "while true; do sleep 0.1; done"
    )
    started = checker.root / "smoke-started"
    checker.quick_stop()
    checker.configure(commands={"serve": serve, "smoke": [f"touch {started}; exec sleep 60"]})
    result = checker.check_interrupted_when(started, got_term)
    try:
        assert result.code == 130, result.output
        assert result.json["interrupted_at"] == "smoke"
        assert process_gone(pid_in(serve_pid))
    finally:
        kill_quietly(pid_in(serve_pid))


def test_expected_data_changes_let_a_purge_pass(checker: CheckProject) -> None:
    purge = "DELETE FROM document_events WHERE status = 'received';\n"
    checker.add_migration("0006_purge_events.sql", purge)
    checker.configure()
    assert_failed_at(checker.check("--skip-smoke"), "data")
    checker.configure(
        check={"expected_data_changes": ["_yoyo_migration", "_yoyo_log", "document_events"]},
    )
    result = checker.check("--skip-smoke")
    assert result.code == 0, result.output
    assert "expected: check.expected_data_changes" in result.markdown


def test_hanging_smoke_command_is_stopped_at_the_timeout(checker: CheckProject) -> None:
    smoke_pid = checker.root / "smoke.pid"
    checker.configure(
        # The one-second timeout is for the smoke command: a Python boot command could
        # take longer than that on a busy machine and fail first.
        commands={
            "boot": "true",
            "serve": "",
            "smoke": [f"echo $$ > {smoke_pid}; exec sleep 120"],
        },
        check={"command_timeout": 1},
    )
    result = checker.check()
    try:
        assert_failed_at(result, "smoke")
        assert "smoke 1 did not finish within" in result.markdown
        assert "check.command_timeout" in result.markdown
        assert process_gone(pid_in(smoke_pid))
    finally:
        kill_quietly(pid_in(smoke_pid))


def test_missed_rename_is_shown_in_the_terminal_as_a_rename(checker: CheckProject) -> None:
    checker.configure(commands={"migrate": script("migrate.py", "--pending", "flawed")})
    # --keep-going: the reference gate, before it, fails too (the draft's stale trigger).
    result = checker.check("--skip-smoke", "--keep-going")
    assert_failed_at(result, "schema")
    lines = result.output.splitlines()
    # The differences themselves, not only their count, and objects are counted.
    assert any("schema: failed in" in line and "4 objects differ" in line for line in lines)
    assert "    public.idx_documents_legal_entity: only in a" in lines
    assert "    public.documents_tenant_id_idx: only in b" in lines
    advice = [line for line in lines if line.startswith("  - index ")]
    assert advice == [
        "  - index public.idx_documents_legal_entity only in a and "
        "public.documents_tenant_id_idx only in b on public.documents: likely one object under "
        "two names. A migration step that looked for it by its expected name (IF EXISTS, a DO "
        "block, a catalog lookup) skipped it on production; rename by what the object is, not "
        "by its expected name."
    ]


def test_bookkeeping_tables_grow_and_gained_rows_are_listed(checker: CheckProject) -> None:
    """yoyo's history tables are known without being listed; gained rows fail only on request."""
    checker.add_migration(
        "0006_more_organizations.sql",
        "INSERT INTO organizations (name) VALUES ('Added by a migration');\n",
    )
    checker.configure(check={"expected_data_changes": []})
    result = checker.check("--skip-smoke")
    assert result.code == 0, result.output
    summary = result.stage("data")["summary"]
    assert "no rows lost" in summary
    assert "1 table(s) gained rows: public.organizations (+1)" in summary
    assert "bookkeeping table(s) grew: public._yoyo_log, public._yoyo_migration" in summary
    assert "gained rows: public.organizations (+1)" in result.output

    checker.configure(check={"expected_data_changes": [], "fail_on_gained_rows": True})
    result = checker.check("--skip-smoke")
    assert_failed_at(result, "data")
    assert "gained rows (check.fail_on_gained_rows)" in result.stage("data")["summary"]
    assert "**GAINED** " in result.markdown
    yoyo = [t for t in result.stage("data")["figures"]["tables"] if "_yoyo" in t["table"]]
    assert yoyo and not any(table["problem"] for table in yoyo)


def test_skipped_smoke_is_in_the_verdict(checker: CheckProject) -> None:
    checker.configure()
    result = checker.check("--skip-smoke")
    assert result.code == 0, result.output
    assert "refactor-check: PASSED (smoke skipped)" in result.output
    assert result.markdown.startswith("# refactor-check: PASSED (smoke skipped)\n")
    assert result.json["verdict"] == "PASSED (smoke skipped)"
    # The clone was migrated: there is something to click through.
    assert "UI smoke checklist" in result.output


def test_no_ui_checklist_before_the_clone_is_migrated(checker: CheckProject) -> None:
    checker.add_migration("0006_broken.sql", "ALTER TABLE no_such_table ADD COLUMN x int;\n")
    checker.configure()
    result = checker.check()
    assert_failed_at(result, "migrate")
    assert "UI smoke checklist" not in result.output
    assert "UI smoke checklist" not in result.markdown
    assert result.json["ui_checklist"] == []
