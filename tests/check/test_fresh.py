"""The fresh stage: an app that migrates another database, reuse of an unchanged build,
and the migrate command's long output folded in the terminal."""

from __future__ import annotations

import sys

from prodclone.local.server import LocalServer
from tests.check.conftest import CheckProject, script
from tests.conftest import run_sql


def test_app_that_ignores_database_url_is_named_not_production(
    checker: CheckProject, fresh_db: str
) -> None:
    """The app's own setting wins over DATABASE_URL: every migrate goes to one database."""
    checker.configure(
        local={"db_env": {"ORCHA_LOCAL_DB_NAME_OVERRIDE": fresh_db}},
        commands={"boot": ""},
    )
    result = checker.check("--skip-smoke")
    assert result.code == 1, result.output
    assert result.json["failed_stages"] == ["fresh"]
    summary = result.stage("fresh")["summary"]
    assert "left orcha_fresh empty" in summary
    assert "DATABASE_URL" in summary and "prodclone.local.db_env" in summary
    assert "How app commands find their database" in summary
    assert "\n" not in summary
    assert "7. fresh: failed in " in result.output and summary in result.output
    assert result.stage("schema")["status"] == "not run"
    assert "changed nothing in the clone either" in result.markdown
    # db.fresh on its own says the same, in one line.
    done = checker.project.run("db.fresh")
    assert done.returncode == 1
    assert "left orcha_fresh empty" in done.stderr and "Traceback" not in done.stderr


def runs(checker: CheckProject) -> int:
    log = checker.root / "runs.txt"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_fresh_build_is_reused_while_its_inputs_are_unchanged(checker: CheckProject) -> None:
    migration = "ALTER TABLE organizations ADD COLUMN country text;\n"
    checker.add_migration("0006_country.sql", migration)
    # Counts the migrate command's runs: one on the clone, one per fresh build.
    counted = f"echo run >> runs.txt && {script('migrate.py', '--pending', 'corrected')}"
    inputs = {"migrate": counted, "fresh_inputs": ["more-migrations/*.sql"]}
    checker.configure(commands=inputs)
    built = checker.check("--skip-smoke", report=checker.root / "r1")
    assert built.code == 0, built.output
    assert built.stage("fresh")["figures"]["reused"] is False and runs(checker) == 2
    reused = checker.check("--skip-smoke", report=checker.root / "r2")
    assert reused.code == 0, reused.output
    assert runs(checker) == 3  # the clone only
    assert reused.stage("fresh")["figures"]["reused"] is True
    assert "orcha_fresh reused" in reused.stage("fresh")["summary"]
    assert reused.stage("schema")["status"] == "passed"

    # A changed input rebuilds it.
    checker.add_migration("0006_country.sql", migration + "-- reviewed\n")
    changed = checker.check("--skip-smoke", report=checker.root / "r3")
    assert changed.code == 0, changed.output
    assert changed.stage("fresh")["figures"]["reused"] is False and runs(checker) == 5
    # Without commands.fresh_inputs, always rebuilt (the build above would fit).
    checker.configure(commands={"migrate": counted})
    unset = checker.check("--skip-smoke", report=checker.root / "r4")
    assert unset.stage("fresh")["figures"]["reused"] is False and runs(checker) == 7
    # And a pattern that matches nothing (a typo) never lets a stale build through.
    checker.configure(commands={"migrate": counted, "fresh_inputs": ["no-such-dir/*.sql"]})
    typo = checker.check("--skip-smoke", report=checker.root / "r5")
    assert "no-such-dir/*.sql matched no file" in typo.stage("fresh")["summary"]
    assert runs(checker) == 9


NOISY = "for i in range(200): print(f'  Applying shop.{i:04d}_step... OK')"


def test_long_migrate_output_is_folded_and_kept_whole_in_the_report(
    checker: CheckProject,
) -> None:
    noisy = f'{sys.executable} -c "{NOISY}" && {script("migrate.py", "--pending", "corrected")}'
    checker.configure(commands={"migrate": noisy})
    result = checker.check("--skip-smoke")
    assert result.code == 0, result.output
    assert "[migrate]   Applying shop.0000_step... OK" in result.output
    assert "Applying shop.0100_step" not in result.output
    log = result.report / "migrate.log"
    assert f"lines, whole output in {log}" in result.output
    assert f"whole output in {result.report / 'fresh-migrate.log'}" in result.output
    whole = log.read_text()
    assert "Applying shop.0100_step" in whole and "Applying shop.0199_step" in whole
    assert (log.stat().st_mode & 0o777) == 0o600
    assert "[migrate.log](migrate.log)" in result.markdown
    assert ((result.report / "fresh-migrate.log").stat().st_mode & 0o777) == 0o600
    # Far fewer lines than the command printed (twice: on the clone and the fresh build).
    assert result.output.count("Applying shop.") < 40


def test_reuse_never_hides_a_migrate_command_that_now_writes_elsewhere(
    checker: CheckProject, fresh_db: str
) -> None:
    """The app's settings file (not a fresh input) starts naming its own database."""
    checker.add_migration("0006_country.sql", "ALTER TABLE organizations ADD COLUMN c text;\n")
    migrate = script("migrate.py", "--pending", "corrected")
    settings_file = checker.root / "local_settings.env"
    settings_file.write_text("")
    # Like an app that reads its database from a settings file when it names one.
    command = f". ./{settings_file.name} && {migrate}"
    checker.configure(
        commands={"migrate": command, "boot": "", "fresh_inputs": ["more-migrations/*.sql"]}
    )
    assert checker.check("--skip-smoke", report=checker.root / "r1").code == 0
    settings_file.write_text(f"export ORCHA_LOCAL_DB_NAME_OVERRIDE={fresh_db}\n")
    result = checker.check("--skip-smoke", report=checker.root / "r2")
    assert result.code == 1, result.output
    assert result.json["failed_stages"] == ["fresh"]
    assert "left orcha_fresh empty" in result.stage("fresh")["summary"]
    assert "the clone's schema did not change" in result.stage("migrate")["summary"]


def test_only_a_whole_marked_build_of_the_same_inputs_is_reused(
    pg: LocalServer, fresh_db: str
) -> None:
    """The mark is what reuse trusts: ours, a fresh build, these inputs, this schema."""
    from prodclone.local.fresh import FreshInputs, reusable_fresh
    from prodclone.pg import databases
    from prodclone.pg.fingerprint import catalog_fingerprint

    run_sql(pg, fresh_db, "CREATE TABLE books (id int PRIMARY KEY, title text)")
    with pg.connect(fresh_db) as conn:
        catalog = catalog_fingerprint(conn).short
    inputs = FreshInputs("a1b2c3", files=3)

    def mark(comment: str | None) -> bool:
        with pg.connect() as conn:
            if comment is None:
                conn.execute(f'COMMENT ON DATABASE "{fresh_db}" IS NULL')
            else:
                databases.mark(conn, fresh_db, comment)
        return reusable_fresh(pg, fresh_db, inputs)

    assert mark(f"fresh inputs=a1b2c3 catalog={catalog}") is True
    assert mark(None) is False  # not ours
    assert mark("fresh") is False  # created, never finished (interrupted or failed)
    assert mark(f"clone inputs=a1b2c3 catalog={catalog}") is False  # not a fresh build
    assert mark(f"fresh inputs=ffffff catalog={catalog}") is False  # other inputs
    assert mark(f"fresh inputs=a1b2c3 catalog={catalog}") is True
    assert reusable_fresh(pg, fresh_db, FreshInputs("", 0)) is False  # fresh_inputs unset
    assert reusable_fresh(pg, fresh_db, FreshInputs("a1b2c3", 2, ("typo/*",))) is False
    run_sql(pg, fresh_db, "ALTER TABLE books ADD COLUMN isbn text")  # changed since
    assert reusable_fresh(pg, fresh_db, inputs) is False
