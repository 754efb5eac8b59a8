"""One interface across tasks: short flags, exit codes, and a demo that is the repository's."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest
from invoke.collection import Collection
from invoke.tasks import Task

from prodclone.errors import ProdcloneError
from prodclone.tasks.flags import RETIRED_LETTERS
from tests.conftest import Project

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "commands.md"


def repo_namespace() -> Collection:
    """This repository's tasks.py, as `inv` in the repository loads it."""
    spec = importlib.util.spec_from_file_location("repository_tasks", REPO / "tasks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ns = module.ns
    assert isinstance(ns, Collection)
    return ns


def tasks_of(ns: Collection) -> dict[str, Task]:  # type: ignore[type-arg]
    return {name: ns[name] for name in ns.task_names}


def short_flags(task: Task) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    """(letter, long flag) for each flag of the task that has a letter.

    A one-letter flag that is all the argument has (db.schema-diff's -a) is its own
    long flag: it may not be another flag's letter anywhere.
    """
    pairs = []
    retired = set(RETIRED_LETTERS.get(f"db.{task.name.replace('_', '-')}", {}))
    for argument in task.get_arguments():
        if argument.names[0] in retired:
            continue  # kept only to stop an old command line: see the test below
        longs = [name for name in argument.names if len(name) > 1]
        for letter in (name for name in argument.names if len(name) == 1):
            pairs.append((letter, f"--{longs[0]}" if longs else f"-{letter}"))
    return pairs


def doc_table(heading: str) -> list[list[str]]:
    """The rows of the first table under `## heading` in docs/commands.md, cell by cell."""
    section = DOC.read_text().split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def test_a_short_flag_means_the_same_long_flag_in_every_task() -> None:
    meanings: dict[str, set[str]] = defaultdict(set)
    for task in tasks_of(repo_namespace()).values():
        for letter, long in short_flags(task):
            meanings[letter].add(long)
    assert {letter: sorted(longs) for letter, longs in meanings.items() if len(longs) > 1} == {}


def test_the_short_flags_are_the_documented_ones() -> None:
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for name, task in tasks_of(repo_namespace()).items():
        for letter, long in short_flags(task):
            if long != f"-{letter}":
                found[(f"-{letter}", long)].add(name)
    documented = {
        (ticked(short)[0], ticked(long)[0]): set(ticked(tasks))
        for short, long, tasks in doc_table("Short flags")
    }
    assert dict(found) == documented


def test_every_task_has_its_row_of_exit_codes() -> None:
    rows = doc_table("Exit codes")
    assert [len(row) for row in rows] == [5] * len(rows)
    assert all(all(cells) for cells in rows), "an empty cell in the exit code table"
    named = [ticked(row[0])[0] for row in rows]
    assert sorted(named) == sorted(tasks_of(repo_namespace()))


def test_help_survives_a_second_look() -> None:
    """Invoke consumes a task's help as it builds the flags; a second build keeps it."""
    task = tasks_of(repo_namespace())["db.load-clone"]
    first = {argument.name: argument.help for argument in task.get_arguments()}
    second = {argument.name: argument.help for argument in task.get_arguments()}
    assert second == first and first["dump"]


# Each kind of bad value, in the tasks that take it: exit 2, one line on stderr, before
# any server, lock or AWS call.
BAD_VALUES = [
    ("number", ("db.clone-prod", "--jobs", "abc"), "--jobs takes a whole number (got 'abc')"),
    ("range", ("db.clone-prod", "-j", "0"), "--jobs must be at least 1 (got 0)"),
    ("choice", ("db.list-clones", "--format", "xml"), "--format must be text or json (got 'xml')"),
    ("choice", ("db.check-references", "-f", "xml"), "--format must be text or json (got 'xml')"),
    (
        "choice",
        ("db.schema-diff", "-a", "x", "-b", "y", "--format", "yaml"),
        "--format must be text or json (got 'yaml')",
    ),
    (
        "name",
        ("db.fresh", "--name", "two words"),
        "--name must be a database name of letters, digits and _ up to 40 long (got 'two words')",
    ),
    (
        "name",
        ("db.drop-clone", "--fresh", "-n", "two words"),
        "--name must be a database name of letters, digits and _ up to 40 long (got 'two words')",
    ),
    (
        "run id",
        ("db.list-clones", "--run", "Not-A-Run"),
        "--run 'Not-A-Run' is not a run id; copy it from `inv db.list-clones` "
        "(like 20261124-121518-9d3c)",
    ),
    (
        "url",
        ("db.check-references", "--db", "postgresql://h:port/x"),
        "--db is not a valid postgresql:// URL (its port is not a number); write "
        "postgresql://user@host:port/dbname, or just a database name on the local server",
    ),
    (
        "missing file",
        ("db.load-clone", "--dump", "no-such.dump"),
        "--dump no-such.dump does not exist: pass a dump made by `inv db.clone-prod`, "
        "or leave --dump out to use the newest one in prodclone.dump_dir",
    ),
    (
        "missing file",
        ("refactor-check", "-d", "no-such.dump"),
        "--dump no-such.dump does not exist: pass a dump made by `inv db.clone-prod`, "
        "or leave --dump out to use the newest one in prodclone.dump_dir",
    ),
    (
        "missing folder",
        ("db.clone-prod", "--out", "no-such-dir/prod.dump"),
        "--out no-such-dir/prod.dump: folder {root}/no-such-dir does not exist",
    ),
    (
        "existing file",
        ("db.clone-prod", "--out", "taken.dump"),
        "--out taken.dump already exists: choose another --out",
    ),
]


@pytest.mark.parametrize(
    ("args", "line"),
    [pytest.param(args, line, id=f"{kind}:{args[0]}") for kind, args, line in BAD_VALUES],
)
def test_a_bad_flag_value_is_a_usage_error(
    project: Project, args: tuple[str, ...], line: str
) -> None:
    (project.root / "taken.dump").write_text("not to be overwritten\n")
    result = project.run(*args)
    assert (result.returncode, result.stderr.splitlines(), result.stdout) == (
        2,
        ["prodclone: " + line.format(root=project.root.resolve())],
        "",
    )
    assert (project.root / "taken.dump").read_text() == "not to be overwritten\n"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("db.load-clone", "--bogus"), "No idea what '--bogus' is!"),
        (
            ("db.load-clone", "--jobs"),
            "Flag <Argument: jobs (j)> needed value and was not given one!",
        ),
        (("db.drop-clone", "--yes=no"), "No idea what 'no' is!"),
        (("-h", "db.no-such-task"), "No idea what 'db.no-such-task' is!"),
    ],
)
def test_the_prodclone_program_exits_2_for_what_invokes_parser_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], line: str
) -> None:
    """`inv` exits 1 for these (Invoke's own program); `prodclone` says usage, as for a
    bad value, so that 1 keeps its meaning in db.schema-diff and its kin."""
    from prodclone.program import run

    code = run(list(args), project=tmp_path)
    captured = capsys.readouterr()
    assert (code, captured.err.splitlines(), captured.out) == (2, [line], "")


def test_a_letter_taken_from_a_task_is_refused_not_reread(project: Project) -> None:
    """`-m` was --mask here: it names nothing now, and nothing runs."""
    result = project.run("db.load-clone", "-m")
    assert (result.returncode, result.stderr.strip(), result.stdout) == (
        1,
        "No idea what '-m' is!",
        "",
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("db.clone-prod", "-d", "--yes"),
            "prodclone: -d is no longer --dry-run in db.clone-prod: write --dry-run",
        ),
        (
            ("db.list-clones", "-r", "prodclone-20261129t120000z", "--delete", "--yes"),
            "prodclone: -r is no longer --run in db.list-clones: write --run",
        ),
    ],
)
def test_a_letter_invoke_would_reread_as_its_own_stops_the_command(
    project: Project, args: tuple[str, ...], line: str
) -> None:
    """Invoke takes its own -d (--debug) and -r (--search-root) after a task's name: an old
    dry run would clone for real, an old one-run delete would delete every stray."""
    result = project.inv(*args)
    assert (result.returncode, result.stderr.strip(), result.stdout) == (2, line, "")


def test_a_project_of_its_own_has_no_demo(project: Project) -> None:
    listed = project.run("--list")
    assert listed.returncode == 0, listed.stderr
    names = {line.split()[0] for line in listed.stdout.splitlines()[1:] if line.strip()}
    assert "refactor-check" in names and "db.load-clone" in names
    assert "demo" not in names
    unknown = project.run("demo")
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "No idea what 'demo' is!")


def test_this_repository_lists_the_demo() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "invoke", "--list"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^  demo  ", listed.stdout, re.MULTILINE), listed.stdout


def test_the_example_apps_migration_tool_is_not_a_dependency() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not [dep for dep in project["dependencies"] if dep.startswith("yoyo")]
    for extra in ("demo", "dev"):
        assert [dep for dep in project["optional-dependencies"][extra] if dep.startswith("yoyo")]


def test_the_package_holds_no_demo_and_imports_no_yoyo() -> None:
    package = REPO / "src" / "prodclone"
    assert sorted(path.name for path in package.rglob("demo*")) == []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            assert not [m for m in modules if m.split(".")[0] in ("yoyo", "demo")], path


def test_the_demo_says_how_to_get_its_migration_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    from demo.run import require_migration_tool

    monkeypatch.setitem(sys.modules, "yoyo", None)  # as in a venv without the extra
    with pytest.raises(ProdcloneError) as raised:
        require_migration_tool()
    assert str(raised.value) == (
        "inv demo needs the example app's migration tool (yoyo-migrations): "
        "pip install -e '.[demo]'"
    )
