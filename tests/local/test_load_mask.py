"""db.load-clone with masking rules: an older, unmasked dump, --mask, and the warning."""

from __future__ import annotations

import psycopg
import pytest

from prodclone.local.server import LocalServer
from tests.conftest import Project
from tests.local.test_load_clone import app_project, clone_of, make_dump  # noqa: F401


def _emails(pg: LocalServer, db: str) -> set[str]:
    with psycopg.connect(pg.url(db)) as conn:
        return {row[0] for row in conn.execute("SELECT email FROM customer").fetchall()}


def _databases(pg: LocalServer, prefix: str) -> list[str]:
    with pg.connect() as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY 1", (prefix + "%",)
        ).fetchall()
    return [row[0] for row in rows]


def test_mask_on_load_and_later_resets_stay_masked(
    app_project: Project,  # noqa: F811
    pg: LocalServer,
) -> None:
    dump = make_dump(pg, app_project.root / "dump")
    app_project.configure(
        {
            "app": app_project.app,  # type: ignore[attr-defined]
            "mask": {"rules": {"public.customer.email": "email"}},
        }
    )
    env = {"INVOKE_PRODCLONE_MASK_SECRET": "load-secret"}
    clone = clone_of(app_project)

    plain = app_project.run("db.load-clone", "--dump", str(dump), env=env)
    assert plain.returncode == 0, plain.stderr
    warning = (
        f"warning: {dump.name} is not masked, but prodclone.mask.rules exist: the clone holds "
        "its personal data as it is; load it with `inv db.load-clone --mask`"
    )
    assert warning in plain.stdout.splitlines()
    assert "user1@example.com" in _emails(pg, clone)

    masked = app_project.run("db.load-clone", "--dump", str(dump), "--mask", env=env)
    assert masked.returncode == 0, masked.stderr
    assert "restored in full" in masked.stdout
    assert "0 original values left" in masked.stdout
    assert warning not in masked.stdout
    emails = _emails(pg, clone)
    assert len(emails) == 500 and all(e.endswith("@example.invalid") for e in emails)

    # A later reset copies the masked template: still masked, no warning.
    reset = app_project.run("db.load-clone", "--dump", str(dump), env=env)
    assert reset.returncode == 0, reset.stderr
    assert "restored in full" not in reset.stdout
    assert warning not in reset.stdout
    assert _emails(pg, clone) == emails


@pytest.mark.parametrize(
    ("rule", "missing"),
    [
        ("public.customer.emial", "no column 'emial' in public.customer (did you mean 'email'?)"),
        ("public.customers.email", "no table public.customers (did you mean 'public.customer'?)"),
        ("public.audit_log", "no table public.audit_log"),
    ],
)
def test_a_rule_naming_what_the_dump_lacks_is_one_line_before_any_database(
    app_project: Project,  # noqa: F811
    pg: LocalServer,
    rule: str,
    missing: str,
) -> None:
    dump = make_dump(pg, app_project.root / "dump")
    strategy = "truncate" if rule.count(".") == 1 else "email"
    app_project.configure(
        {
            "app": app_project.app,  # type: ignore[attr-defined]
            "mask": {"rules": {"public.customer.email": "email", rule: strategy}},
        }
    )
    # Every database a command creates announces itself on stderr through this hook.
    hook = {"PRODCLONE_TEST_FAULT": "database-created:slow"}
    result = app_project.run("db.load-clone", "--dump", str(dump), "--mask", env=hook)
    assert result.returncode == 2  # as every settings error
    assert result.stderr.strip().splitlines() == [
        f"prodclone: prodclone.mask.rules {rule!r}: {dump.name} has {missing}; fix the key or "
        "remove the rule in invoke.yaml (prodclone: mask: rules:) or in INVOKE_PRODCLONE_MASK_RULES"
    ]
    assert "restoring" not in result.stdout
    assert _databases(pg, clone_of(app_project)) == []


def test_a_rule_that_does_not_fit_its_column_is_one_line_before_any_database(
    app_project: Project,  # noqa: F811
    pg: LocalServer,
) -> None:
    dump = make_dump(pg, app_project.root / "dump")
    app_project.configure(
        {
            "app": app_project.app,  # type: ignore[attr-defined]
            "mask": {"rules": {"public.customer.email": "email", "public.orders.total": "name"}},
        }
    )
    hook = {"PRODCLONE_TEST_FAULT": "database-created:slow"}
    result = app_project.run("db.load-clone", "--dump", str(dump), "--mask", env=hook)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"prodclone: prodclone.mask.rules 'public.orders.total': in {dump.name}, name needs a "
        "text column (it is numeric); fix it in invoke.yaml (prodclone: mask: rules:) or in "
        "INVOKE_PRODCLONE_MASK_RULES"
    ]
    assert "restoring" not in result.stdout
    assert _databases(pg, clone_of(app_project)) == []


def test_an_unknown_strategy_is_one_line_before_any_database(
    app_project: Project,  # noqa: F811
    pg: LocalServer,
) -> None:
    dump = make_dump(pg, app_project.root / "dump")
    app_project.configure(
        {
            "app": app_project.app,  # type: ignore[attr-defined]
            "mask": {"rules": {"public.customer.email": "emial"}},
        }
    )
    hook = {"PRODCLONE_TEST_FAULT": "database-created:slow"}
    result = app_project.run("db.load-clone", "--dump", str(dump), "--mask", env=hook)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "prodclone: prodclone.mask.rules 'public.customer.email': unknown strategy 'emial'; "
        "one of email, name, digits, text, null, redact, hash, keep, constant, sql, json, "
        "truncate; fix it in invoke.yaml (prodclone: mask: rules:) or in "
        "INVOKE_PRODCLONE_MASK_RULES"
    ]
    assert result.stdout == ""
    assert _databases(pg, clone_of(app_project)) == []


def test_mask_without_rules_is_refused(
    app_project: Project,  # noqa: F811
    pg: LocalServer,
) -> None:
    dump = make_dump(pg, app_project.root / "dump")
    result = app_project.run("db.load-clone", "--dump", str(dump), "--mask")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "prodclone: --mask needs rules: set prodclone.mask.rules in invoke.yaml (docs/masking.md)"
    ]
    assert _databases(pg, clone_of(app_project)) == []


def test_scan_pii_prints_a_ready_block(
    app_project: Project,  # noqa: F811
    pg: LocalServer,
) -> None:
    dump = make_dump(
        pg,
        app_project.root / "dump",
        extra_sql="""
        ALTER TABLE customer ADD COLUMN contact text, ADD COLUMN card text, ADD COLUMN label text;
        UPDATE customer SET contact = 'c' || id || '@mail.test', card = '4111 1111 1111 1111',
                            label = 'plain ' || id;
        """,
    )
    app_project.configure(
        {
            "app": app_project.app,  # type: ignore[attr-defined]
            "mask": {"rules": {"public.customer.email": "email"}},
        }
    )
    assert app_project.run("db.load-clone", "--dump", str(dump)).returncode == 0
    result = app_project.run("db.scan-pii")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    block = lines[lines.index("mask:") :]
    assert block == [
        "mask:",
        "  rules:",
        "    public.customer.contact: email  # values look like emails (200 of 200 sampled)",
        "    public.customer.card: digits  # values look like card numbers (200 of 200 sampled)",
    ]
    everything = app_project.run("db.scan-pii", "--all")
    assert "    public.customer.email: email  # name looks like email" in everything.stdout


def test_the_dump_record_decides_the_warning(
    app_project: Project,  # noqa: F811
    pg: LocalServer,
) -> None:
    from prodclone.mask.record import write_record
    from prodclone.mask.rules import parse_rules

    rules = {"public.customer.email": "email"}
    dump = make_dump(pg, app_project.root / "dump")
    app_project.configure({"app": app_project.app, "mask": {"rules": rules}})  # type: ignore[attr-defined]
    write_record(dump, True, parse_rules(rules).digest, ["public.customer.email"])
    same = app_project.run("db.load-clone", "--dump", str(dump))
    assert same.returncode == 0, same.stderr
    assert "warning:" not in same.stdout
    write_record(dump, True, "0" * 64, ["public.customer.email"])
    other = app_project.run("db.load-clone", "--dump", str(dump))
    assert (
        f"warning: {dump.name} was masked with other rules than prodclone.mask.rules now "
        "(a column added since may be unmasked); load it with `inv db.load-clone --mask`"
    ) in other.stdout.splitlines()
