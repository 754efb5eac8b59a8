"""`inv db.clone-prod` with masking rules: the dump that leaves holds no original value.

The fake tunnel leads to the embedded server, so the "throwaway instance" is a
database there: each test copies the source (`prod`) into one of its own and
names it as the database to dump, so the masking changes that copy and never
the source data other tests compare against.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from prodclone.local.embedded import bin_dir
from prodclone.local.server import LocalServer
from prodclone.pg.tools import find_tool
from tests.aws.conftest import Cloud, aws_settings
from tests.conftest import Project, run_sql
from tests.scratch import ScratchDatabases

RULES = {
    "public.customers.email": "email",
    "public.customers.name": "name",
}
SECRET_ENV = {"INVOKE_PRODCLONE_MASK_SECRET": "moto-test-secret"}


@pytest.fixture
def throwaway(scratch_db: ScratchDatabases, prod_db: str) -> str:
    return scratch_db.create("throwaway", template=prod_db)


def _values(pg: LocalServer, db: str, query: str) -> set[str]:
    with psycopg.connect(pg.url(db)) as conn:
        return {str(row[0]) for row in conn.execute(query).fetchall()}


def test_masked_dump_holds_no_original_value(
    project: Project, cloud: Cloud, pg: LocalServer, prod_db: str, throwaway: str, fresh_db: str
) -> None:
    # A column added since the rules were written: it must be named in a warning.
    run_sql(pg, throwaway, "ALTER TABLE customers ADD COLUMN mobile_phone text")
    project.configure({**aws_settings(database=throwaway), "mask": {"rules": RULES}})
    emails = _values(pg, prod_db, "SELECT email FROM customers")
    names = _values(pg, prod_db, "SELECT name FROM customers")
    result = project.run("db.clone-prod", "--yes", env={**cloud.env, **SECRET_ENV})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "mask       2 rule(s) applied on the instance before pg_dump" in out
    assert "masked public.customers: 3000 rows, 2 column(s) (email, name)" in out
    assert "0 original values left" in out
    assert (
        "warning: public.customers.mobile_phone looks personal (name looks like phone) "
        "and has no rule" in out
    )
    # Masking ran before pg_dump started.
    assert out.index("masked public.customers") < out.index("==> pg_dump")
    dump = next((project.root / "dump").glob("prod-*.dump"))
    record = dump.with_name(dump.name + ".mask.json")
    assert record.stat().st_mode & 0o777 == 0o600
    body = json.loads(record.read_text())
    assert body["masked"] is True and body["rules_sha256"]
    assert "moto-test-secret" not in result.stdout + result.stderr + record.read_text()
    # The dump's own text: none of the original emails or names.
    pg_restore = find_tool("pg_restore", 18, pg.extra_bin_dirs)
    text = subprocess.run(
        [str(pg_restore.path), "--data-only", "-f", "-", str(dump)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "@example.invalid" in text
    assert not [e for e in emails if e in text]
    assert not [n for n in names if f"\t{n}\t" in text]
    # Restored: none either, and the orders still join their customers.
    subprocess.run(
        [str(pg_restore.path), "--no-owner", "--dbname", pg.url(fresh_db), str(dump)],
        capture_output=True,
        check=True,
    )
    assert not _values(pg, fresh_db, "SELECT email FROM customers") & emails
    assert not _values(pg, fresh_db, "SELECT name FROM customers") & names
    joined = _values(
        pg, fresh_db, "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id"
    )
    assert joined == {"20000"}
    # The source was never touched.
    assert _values(pg, prod_db, "SELECT email FROM customers") == emails
    assert cloud.instances() == [] and cloud.snapshots() == []


def test_a_rule_naming_no_column_stops_before_the_dump(
    project: Project, cloud: Cloud, pg: LocalServer, throwaway: str
) -> None:
    """With no local dump to check the rules against, the instance's check is the one that
    stops a bad rule: before anything is masked or dumped, and the instance still goes."""
    project.configure(
        {**aws_settings(database=throwaway), "mask": {"rules": {"public.customers.emial": "email"}}}
    )
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert result.returncode == 2  # as every settings error
    assert (
        "  mask       no local dump to check the rules against yet: the instance checks them"
        in result.stdout.splitlines()
    )
    errors = [line for line in result.stderr.splitlines() if line.startswith("prodclone:")]
    assert errors == [
        f"prodclone: prodclone.mask.rules 'public.customers.emial': no such column in database "
        f"{throwaway!r}; fix the key or remove the rule in invoke.yaml (prodclone: mask: rules:) "
        "or in INVOKE_PRODCLONE_MASK_RULES"
    ]
    assert "Traceback" not in result.stderr
    assert not list((project.root / "dump").glob("prod-*"))
    assert any(call["action"] == "DeleteDBInstance" for call in cloud.calls())
    assert cloud.instances() == [] and cloud.snapshots() == []


def _local_dump(pg: LocalServer, project: Project, source: str) -> Path:
    """A dump of `source` where db.clone-prod leaves its dumps, as an earlier run would."""
    folder = project.root / "dump"
    folder.mkdir(mode=0o700, exist_ok=True)
    dump = folder / "prod-20261101T080000Z.dump"
    subprocess.run([str(bin_dir() / "pg_dump"), "-Fc", "-f", str(dump), pg.url(source)], check=True)
    stamp = datetime(2026, 11, 1, 8, 0, tzinfo=UTC).timestamp()
    os.utime(dump, (stamp, stamp))
    return dump


def test_a_rule_the_newest_dump_lacks_stops_before_any_aws_call(
    project: Project, cloud: Cloud, pg: LocalServer, prod_db: str, throwaway: str
) -> None:
    dump = _local_dump(pg, project, prod_db)
    project.configure(
        {**aws_settings(database=throwaway), "mask": {"rules": {"public.customers.emial": "email"}}}
    )
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"prodclone: prodclone.mask.rules 'public.customers.emial': the newest local dump "
        f"({dump.name} of 2026-11-01) has no column 'emial' in public.customers (did you mean "
        "'email'?); fix the key or remove the rule in invoke.yaml (prodclone: mask: rules:) or "
        "in INVOKE_PRODCLONE_MASK_RULES; if production changed after that dump, run again with "
        "--skip-dump-check and the throwaway instance checks the rules"
    ]
    assert cloud.calls() == []
    assert cloud.instances() == [] and cloud.snapshots() == []


def test_a_column_newer_than_the_newest_dump(
    project: Project, cloud: Cloud, pg: LocalServer, prod_db: str, throwaway: str
) -> None:
    """Production gained a column after the newest local dump; its rule is right. The dump
    check refuses it, --skip-dump-check leaves it to the instance, which masks it."""
    _local_dump(pg, project, prod_db)
    run_sql(
        pg, throwaway, "ALTER TABLE customers ADD COLUMN mobile text DEFAULT '+44 20 7946 0000'"
    )
    rules = {**RULES, "public.customers.mobile": "digits"}
    project.configure({**aws_settings(database=throwaway), "mask": {"rules": rules}})
    env = {**cloud.env, **SECRET_ENV}
    refused = project.run("db.clone-prod", "--yes", env=env)
    assert refused.returncode == 2
    assert "has no column 'mobile' in public.customers" in refused.stderr
    assert cloud.calls() == []

    result = project.run("db.clone-prod", "--yes", "--skip-dump-check", env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert (
        "  mask       rules not checked against a local dump (--skip-dump-check): the instance "
        "checks them"
    ) in lines
    assert "masked public.customers: 3000 rows, 3 column(s) (email, name, mobile)" in result.stdout
    dump = max((project.root / "dump").glob("prod-2*.dump"), key=lambda p: p.stat().st_mtime)
    pg_restore = find_tool("pg_restore", 18, pg.extra_bin_dirs)
    text = subprocess.run(
        [str(pg_restore.path), "--data-only", "-f", "-", str(dump)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "+44 20 7946 0000" not in text
    assert cloud.instances() == [] and cloud.snapshots() == []


def test_rules_the_newest_dump_holds_are_said_so_in_the_plan(
    project: Project, cloud: Cloud, pg: LocalServer, prod_db: str
) -> None:
    dump = _local_dump(pg, project, prod_db)
    project.configure({**aws_settings(), "mask": {"rules": RULES}})
    result = project.run("db.clone-prod", "--dry-run", env=cloud.env)
    assert result.returncode == 0, result.stderr
    assert (
        f"  mask       rules checked against the newest local dump ({dump.name} of 2026-11-01): "
        "they fit"
    ) in result.stdout.splitlines()
    assert "dry run: nothing was created" in result.stdout


def test_an_unknown_strategy_stops_before_anything_is_created(
    project: Project, cloud: Cloud
) -> None:
    project.configure({**aws_settings(), "mask": {"rules": {"public.customers.email": "emial"}}})
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "prodclone: prodclone.mask.rules 'public.customers.email': unknown strategy 'emial'; "
        "one of email, name, digits, text, null, redact, hash, keep, constant, sql, json, "
        "truncate; fix it in invoke.yaml (prodclone: mask: rules:) or in "
        "INVOKE_PRODCLONE_MASK_RULES"
    ]
    assert cloud.instances() == [] and cloud.snapshots() == []
    assert not cloud.call_log.exists() or "CreateDBSnapshot" not in cloud.call_log.read_text()


def test_masking_off_on_the_instance_writes_an_unmasked_dump_that_warns_on_load(
    project: Project, cloud: Cloud, pg: LocalServer, prod_db: str, throwaway: str
) -> None:
    app = f"app_{uuid.uuid4().hex[:8]}"  # a clone of its own: the load below makes one
    project.configure(
        {
            **aws_settings(database=throwaway),
            "app": app,
            "mask": {"rules": RULES, "in_aws": False},
        }
    )
    emails = _values(pg, prod_db, "SELECT email FROM customers")
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "  mask       off on the instance (prodclone.mask.in_aws: false): unmasked dump" in lines
    assert (
        "    masking is off on the instance (prodclone.mask.in_aws: false): "
        "this dump holds unmasked data"
    ) in lines
    # Not checked against a dump: the rules are not applied on the instance.
    assert "rules checked against" not in result.stdout
    dump = next((project.root / "dump").glob("prod-*.dump"))
    body = json.loads(dump.with_name(dump.name + ".mask.json").read_text())
    assert body["masked"] is False and body["rules_sha256"] == ""
    assert _values(pg, throwaway, "SELECT email FROM customers") == emails
    loaded = project.run("db.load-clone", "--dump", str(dump))
    assert loaded.returncode == 0, loaded.stderr
    assert (
        f"warning: {dump.name} is not masked, but prodclone.mask.rules exist: the clone holds "
        "its personal data as it is; load it with `inv db.load-clone --mask`"
    ) in loaded.stdout.splitlines()
    assert cloud.instances() == [] and cloud.snapshots() == []
    assert project.run("db.drop-clone", "--all", "--yes").returncode == 0


def test_the_secret_is_refused_in_invoke_yaml(project: Project, cloud: Cloud) -> None:
    project.configure({**aws_settings(), "mask": {"rules": RULES, "secret": "in-a-file"}})
    result = project.run("db.clone-prod", "--yes", env=cloud.env)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "prodclone: prodclone.mask.secret must not be written in a file (invoke.yaml): "
        "remove it there and set it only with INVOKE_PRODCLONE_MASK_SECRET"
    ]
    assert cloud.instances() == [] and cloud.snapshots() == []
