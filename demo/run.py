"""`inv demo`: the whole procedure on the example app, on the embedded server, in a minute.

It builds a drifted "production" database from examples/orcha (a hotfix renamed an
index; a foreign key carries the name an older PostgreSQL generated), dumps it the
way db.clone-prod does, then runs refactor-check twice: with the rename migration's
flawed first draft (the reference gate, the schema gate and the smoke stage catch it)
and with the corrected one (it passes). It works on its own databases (`orcha_demo_*`) and its
own dump folder, so a user's clone is never touched, and it drops them at the end.

It belongs to this repository, not to the prodclone package: it needs the example app
next to it, and the app's migration tool (yoyo-migrations, the `demo` extra).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from prodclone.check.model import CheckOptions, CheckRun
from prodclone.check.runner import run_refactor_check
from prodclone.check.setup import CheckSetup
from prodclone.errors import ProdcloneError
from prodclone.local.appcmd import run_command
from prodclone.local.paths import Paths
from prodclone.local.server import EmbeddedChoice, LocalServer, ServerChoice, resolve_server
from prodclone.pg import databases, dumps
from prodclone.pg.names import DatabaseNames
from prodclone.pg.tools import find_tool

DEMO_APP = "orcha_demo"
PROD_DB = "orcha_demo_prod"
# What the flawed draft must trip over, and what the corrected one must pass.
EXPECTED_FAILURES = ("references", "schema", "smoke")


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "orcha"


def example_dir() -> Path:
    """examples/orcha of this repository."""
    if not (EXAMPLE / "migrate.py").is_file():
        raise ProdcloneError(f"inv demo needs the example app in {EXAMPLE}: it is missing")
    return EXAMPLE


def require_migration_tool() -> None:
    """The example app migrates with yoyo-migrations, which prodclone itself does not need.

    Its scripts run with this interpreter: without the package, say how to add it
    rather than let the first migrate fail with Python's import error.
    """
    if importlib.util.find_spec("yoyo") is None:
        raise ProdcloneError(
            "inv demo needs the example app's migration tool (yoyo-migrations): "
            "pip install -e '.[demo]'"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class DemoPlan:
    """The check's setup pointed at the demo's own databases, dump folder and commands,
    on the embedded server (`local`)."""

    setup: CheckSetup
    local: EmbeddedChoice
    example: Path
    report_root: Path

    def script(self, name: str, *args: str) -> str:
        return _script(self.example, name, *args)

    def with_migration(self, variant: str) -> CheckSetup:
        commands = dataclasses.replace(
            self.setup.commands, migrate=self.script("migrate.py", "--pending", variant)
        )
        return dataclasses.replace(self.setup, commands=commands)


def demo_settings(
    setup: CheckSetup, local: ServerChoice, example: Path, started: datetime
) -> DemoPlan:
    """The user's setup, pointed at the demo's own databases, dump folder and commands."""
    port = _free_port()
    paths = setup.paths
    report_root = setup.check.report_dir
    if not report_root.is_absolute():
        report_root = paths.project / report_root
    report_root = report_root / f"demo-{started.strftime('%Y%m%dT%H%M%SZ')}"
    script = functools.partial(_script, example)
    commands = dataclasses.replace(
        setup.commands,
        boot=script("app.py", "boot"),
        serve=script("app.py", "serve"),
        smoke=tuple(
            script("app.py", "ingest", str(example / "fixtures" / name))
            for name in ("invoice-1.json", "invoice-2.json")
        ),
        db_env={"ORCHA_LOCAL_DB_NAME_OVERRIDE": "{db}", "ORCHA_HTTP_PORT": str(port)},
    )
    check = dataclasses.replace(
        setup.check,
        expected_data_changes=("_yoyo_migration", "_yoyo_log"),
        serve_ready_line="orcha listening on",
        serve_ready_port=0,
        serve_timeout=30,
        app_url=f"http://127.0.0.1:{port}",
        ui_checklist=(
            "Start orcha against {clone_db} and open {url}/documents?page=2",
            "Document list loads and paginates",
            "Open a document: the view renders without errors",
            "/tenants admin panel loads and shows the renamed entities",
            "/organizations admin panel loads",
            "The app log shows no 500s",
        ),
    )
    demo = dataclasses.replace(
        setup,
        app=DEMO_APP,
        paths=Paths(project=paths.project, dumps=paths.dumps / "demo", state=paths.state),
        names=DatabaseNames(clone=f"{DEMO_APP}_prod_clone", fresh=f"{DEMO_APP}_fresh"),
        commands=commands,
        check=check,
        keep_spare=False,
    )
    return DemoPlan(demo, EmbeddedChoice(local.data_dir, local.bin_dir), example, report_root)


def _script(example: Path, name: str, *args: str) -> str:
    parts = [sys.executable, str(example / name), *args]
    return " ".join(shlex.quote(part) for part in parts)


def build_prod_dump(plan: DemoPlan, server: LocalServer, rows: int, console: Console) -> Path:
    """A drifted "production" database, dumped like db.clone-prod does, then dropped."""
    with server.connect() as conn:
        databases.drop(conn, PROD_DB)
        databases.create(conn, PROD_DB, "demo production stand-in")
    try:
        _fill_production(plan, server, rows)
        target = _dump_production(plan, server)
    finally:
        with server.connect() as conn:
            databases.drop(conn, PROD_DB)
    size = target.stat().st_size / 1024 / 1024
    console.print(f"demo: production stand-in dumped to {target} ({size:.1f} MB)", markup=False)
    return target


def _fill_production(plan: DemoPlan, server: LocalServer, rows: int) -> None:
    """What production runs today (no pending migration), its data, and its drift."""
    env = plan.setup.commands.env(server, PROD_DB)
    for label, command in (
        ("migrate", plan.script("migrate.py", "--pending", "none")),
        ("generate", plan.script("generate.py", "--rows", str(rows), "--drift")),
    ):
        result = run_command(command, env, label=label, cwd=str(plan.setup.paths.project))
        if not result.ok:
            raise ProdcloneError(f"demo: building production failed at {label}: {result.tail(1)}")


def _dump_production(plan: DemoPlan, server: LocalServer) -> Path:
    """pg_dump into a private partial file that becomes the dump only when complete."""
    paths = plan.setup.paths
    # The project's dump folder (the demo's is inside it) is private too, as for db.clone-prod.
    dumps.prepare_dump_dir(paths.dumps.parent, paths.project)
    dumps.prepare_dump_dir(paths.dumps, paths.project)
    target = dumps.new_dump_path(paths.dumps)
    partial = target.with_name(target.name + dumps.PARTIAL_SUFFIX)
    pg_dump = find_tool("pg_dump", server.major_version(), server.extra_bin_dirs)
    try:
        done = subprocess.run(
            [str(pg_dump.path), "--format=custom", "--file", str(partial)],
            env={**os.environ, **server.libpq_env(PROD_DB)},
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
            umask=0o077,  # personal data: 0600 from the first byte
        )
        if done.returncode != 0:
            raise ProdcloneError(f"demo: pg_dump failed: {done.stderr.strip()[-300:]}")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


# The release running in production before the rename: the example app as it read
# `legal_entity`. Derived from today's app by the rename in reverse, so the two never drift.
RELEASE_FILES = ("app.py", "orcha_db.py", "fixtures/invoice-1.json", "fixtures/invoice-2.json")
# The migrations the app knows: its start-up refuses a database that has others. Both
# releases carry the pending ones, so the old one starts and meets the new schema.
RELEASE_FOLDERS = ("migrations", "pending")


def _as_released(text: str) -> str:
    return text.replace("tenants", "legal_entities").replace("tenant", "legal_entity")


def _git(folder: Path, *args: str) -> None:
    done = subprocess.run(
        ["git", "-c", "user.name=orcha", "-c", "user.email=orcha@example.invalid", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ProdcloneError(f"demo: git {args[0]} failed: {done.stderr.strip()[-300:]}")


@contextlib.contextmanager
def release_repository(example: Path) -> Iterator[Path]:
    """A git repository of the app: `main` is the running release (before the rename),
    HEAD the code under test. Removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="orcha-releases-") as folder:
        root = Path(folder)
        (root / "fixtures").mkdir()
        for folder_name in RELEASE_FOLDERS:
            shutil.copytree(example / folder_name, root / folder_name)
        for name in RELEASE_FILES:
            (root / name).write_text(_as_released((example / name).read_text()))
        _git(root, "init", "-q", "-b", "main")
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", "release 1: documents belong to a legal entity")
        _git(root, "checkout", "-q", "-b", "rename-to-tenant")
        for name in RELEASE_FILES:
            (root / name).write_text((example / name).read_text())
        _git(root, "commit", "-q", "-am", "release 2: legal entities are tenants")
        yield root


def _in_repository(setup: CheckSetup, root: Path) -> CheckSetup:
    """The demo's commands run from the release repository: the deploy window runs the
    same command lines from a checkout of `main`."""
    python = shlex.quote(sys.executable)
    commands = dataclasses.replace(
        setup.commands,
        folder=root,
        boot=f"{python} app.py boot",
        serve=f"{python} app.py serve",
        smoke=tuple(
            f"{python} app.py ingest fixtures/{name}"
            for name in ("invoice-1.json", "invoice-2.json")
        ),
    )
    paths = dataclasses.replace(setup.paths, project=root)
    return dataclasses.replace(setup, paths=paths, commands=commands)


@dataclass(frozen=True)
class DemoOutcome:
    flawed: CheckRun
    corrected: CheckRun

    @property
    def as_expected(self) -> bool:
        caught = {stage.key for stage in self.flawed.failed}
        return set(EXPECTED_FAILURES) <= caught and self.corrected.passed


def run_demo(
    setup: CheckSetup,
    local: ServerChoice,
    rows: int = 20000,
    keep: bool = False,
    console: Console | None = None,
) -> DemoOutcome:
    console = console or Console(soft_wrap=True)  # long lines stay whole when piped
    require_migration_tool()
    started = datetime.now(UTC)
    plan = demo_settings(setup, local, example_dir(), started)
    server = resolve_server(plan.local)
    console.rule("[bold]demo: a drifted production database[/]", align="left")
    dump = build_prod_dump(plan, server, rows, console)
    try:
        with release_repository(plan.example) as releases:
            flawed, corrected = _two_runs(plan, server, dump, releases, console)
    finally:
        _clean_up(plan, server, keep, console)
    outcome = DemoOutcome(flawed, corrected)
    _explain(outcome, plan, console)
    return outcome


def _two_runs(
    plan: DemoPlan, server: LocalServer, dump: Path, releases: Path, console: Console
) -> tuple[CheckRun, CheckRun]:
    console.rule("[bold]demo, run 1: the rename migration's first draft[/]", align="left")
    flawed = run_refactor_check(
        _in_repository(plan.with_migration("flawed"), releases),
        server,
        CheckOptions(dump=dump, keep_going=True, report_dir=plan.report_root / "1-flawed"),
        console,
    )
    console.rule("[bold]demo, run 2: the corrected migration[/]", align="left")
    corrected = run_refactor_check(
        _in_repository(plan.with_migration("corrected"), releases),
        server,
        CheckOptions(dump=dump, report_dir=plan.report_root / "2-corrected"),
        console,
    )
    return flawed, corrected


def _clean_up(plan: DemoPlan, server: LocalServer, keep: bool, console: Console) -> None:
    from prodclone.local.cleanup import drop_local, plan_local_drop

    setup = plan.setup
    drop = plan_local_drop(server, setup.paths, setup.names, include_fresh=True, include_dumps=True)
    if keep:
        console.print("demo: kept for a look (drop them with `inv demo --clean`):", markup=False)
        for line in drop.describe():
            console.print(f"  {line}", markup=False)
        return
    for line in drop_local(server, setup.paths, setup.names, drop):
        console.print(f"demo: {line}", markup=False)


def clean_demo(setup: CheckSetup, local: ServerChoice) -> list[str]:
    """Drop what a `--keep` demo left: its databases and its dump folder's dumps."""
    from prodclone.local.cleanup import drop_local, plan_local_drop

    plan = demo_settings(setup, local, example_dir(), datetime.now(UTC))
    server = resolve_server(plan.local)
    with server.connect() as conn:
        databases.drop(conn, PROD_DB)
    demo = plan.setup
    drop = plan_local_drop(server, demo.paths, demo.names, include_fresh=True, include_dumps=True)
    done = drop_local(server, demo.paths, demo.names, drop)
    with contextlib.suppress(OSError):  # only when empty: never anything of the user's
        demo.paths.dumps.rmdir()
    return done


def _explain(outcome: DemoOutcome, plan: DemoPlan, console: Console) -> None:
    console.rule("[bold]demo: what happened[/]", align="left")
    flawed, corrected = outcome.flawed, outcome.corrected
    console.print(
        "Run 1, the first draft, was written against a fresh local database. It forgot the\n"
        "trigger function, and on the drifted production copy its `ALTER INDEX IF EXISTS`\n"
        "and guarded constraint renames found nothing to rename and said nothing:",
        markup=False,
    )
    for key in EXPECTED_FAILURES:
        stage = flawed.stage(key)
        console.print(f"  - {key}: {stage.status}: {stage.summary}", markup=False)
    console.print(
        "Which gate saw what:\n"
        "  - references: the trigger function that still reads NEW.legal_entity_id, found in\n"
        "    the catalog without running anything (and the payload key 'legal_entity_id', a\n"
        "    warning: the event consumer may still read it);\n"
        "  - schema: what production has that the migrations do not produce (the index and\n"
        "    foreign key whose drifted names the guarded renames skipped);\n"
        "  - smoke: the same stale trigger, failing when the app ingests a document (the\n"
        "    schema gate cannot see it: both databases share that mistake).\n"
        f"Run 2, the corrected migration: {corrected.verdict}.\n"
        f"Reports: {flawed.report_dir}/report.md and {corrected.report_dir}/report.md",
        markup=False,
    )
    console.print(
        "\nThe deploy window: while the new release starts, the running one (git `main`, which\n"
        "still reads legal_entity) serves the migrated schema. Both drafts break it:",
        markup=False,
    )
    for label, run in (("run 1", flawed), ("run 2", corrected)):
        stage = run.stage("deploy")
        console.print(f"  - {label}, deploy: {stage.status}: {stage.summary}", markup=False)
    console.print(
        "A rename is never safe for the running release. A team that cannot take downtime\n"
        "splits it: (1) expand: add `tenant` beside `legal_entity` (a view or a synced copy,\n"
        "the new column filled by a trigger) and deploy code that reads the new names and\n"
        "writes both; (2) deploy that code everywhere; (3) contract: drop the old names in a\n"
        "later release. With prodclone.check.zero_downtime on, this stage fails the check.",
        markup=False,
    )
    if not outcome.as_expected:
        console.print(
            "demo: this is NOT what the demo expects (run 1 should fail at references, schema "
            "and smoke, run 2 should pass); see the reports above",
            markup=False,
        )
