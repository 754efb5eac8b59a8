"""`inv db.schema-diff` as a user runs it: exit codes, output, JSON, --output, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from prodclone.local.server import LocalServer
from tests.conftest import Project
from tests.schema.helpers import databases

BASE = """
CREATE TABLE orders (id bigserial PRIMARY KEY, status text NOT NULL DEFAULT 'new');
CREATE INDEX orders_status_idx ON orders (status);
"""
DRIFTED = BASE.replace("'new'", "'open'") + "CREATE TABLE orders_old (id int);"


@pytest.fixture(scope="module")
def cli_dbs(pg: LocalServer) -> Iterator[dict[str, str]]:
    with databases(pg, "cli") as dbs:
        yield {
            "same_a": dbs.create(BASE, "same_a"),
            "same_b": dbs.create(BASE, "same_b"),
            "drifted": dbs.create(DRIFTED, "drifted"),
        }


def test_identical_databases_exit_0(project: Project, cli_dbs: dict[str, str]) -> None:
    done = project.run("db.schema-diff", "-a", cli_dbs["same_a"], "-b", cli_dbs["same_b"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("schema-diff: no differences (")


def test_differences_exit_1_grouped_by_kind(project: Project, cli_dbs: dict[str, str]) -> None:
    done = project.run(
        "db.schema-diff", "--clone", cli_dbs["drifted"], "--fresh", cli_dbs["same_b"]
    )
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert "table (1)" in lines
    assert "  public.orders_old: only in a" in lines
    assert "column (1)" in lines
    assert "    default: a \"'open'::text\" | b \"'new'::text\"" in lines
    assert lines[-1] == (
        "schema-diff: 2 objects differ (1 table, 1 column); 0 hidden by ignore rules"
    )


def test_json_is_versioned_and_sorted(
    project: Project, cli_dbs: dict[str, str], pg: LocalServer
) -> None:
    url = pg.url(cli_dbs["same_b"])
    done = project.run("db.schema-diff", "-a", cli_dbs["drifted"], "-b", url, "--format", "json")
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["format"] == "prodclone.schema-diff"
    assert document["version"] == 1
    assert document["exit_code"] == 1 and document["identical"] is False
    assert document["b"] == url
    found = [(d["kind"], d["name"], d["attribute"]) for d in document["differences"]]
    assert found == [
        ("table", "public.orders_old", None),
        ("column", "public.orders.status", "default"),
    ]
    assert document["summary"]["by_kind"] == {"column": 1, "table": 1}
    assert document["coverage"]["kinds"]["index"] == {"a": 2, "b": 2}
    assert document["coverage"]["pg_dump_cross_check"] is True
    # Stable: a second run gives the very same document.
    again = project.run("db.schema-diff", "-a", cli_dbs["drifted"], "-b", url, "--format", "json")
    assert again.stdout == done.stdout


def test_output_file_gets_the_report(project: Project, cli_dbs: dict[str, str]) -> None:
    done = project.run(
        "db.schema-diff", "-a", cli_dbs["drifted"], "-b", cli_dbs["same_b"], "--output", "diff.txt"
    )
    assert done.returncode == 1, done.stderr
    report = (project.root / "diff.txt").read_text()
    assert "  public.orders_old: only in a" in report
    assert done.stdout.splitlines() == [
        "schema-diff: 2 objects differ (1 table, 1 column); 0 hidden by ignore rules",
        f"report: {project.root / 'diff.txt'}",
    ]


def test_ignore_rules_from_config_and_flag_are_counted(
    project: Project, cli_dbs: dict[str, str]
) -> None:
    project.configure({"schema_diff": {"ignore": ["table:public.*_old"]}})
    done = project.run(
        "db.schema-diff",
        "-a",
        cli_dbs["drifted"],
        "-b",
        cli_dbs["same_b"],
        "--ignore",
        "column:public.orders.status:default",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        done.stdout.strip()
        .splitlines()[-1]
        .endswith("; 2 hidden (1 by column:public.orders.status:default, 1 by table:public.*_old)")
    )


def test_ignore_rules_from_env_var(project: Project, cli_dbs: dict[str, str]) -> None:
    done = project.run(
        "db.schema-diff",
        "-a",
        cli_dbs["drifted"],
        "-b",
        cli_dbs["same_b"],
        env={"INVOKE_PRODCLONE_SCHEMA_DIFF_IGNORE": "table:*,column:*"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        done.stdout.strip().splitlines()[-1].endswith("; 2 hidden (1 by column:*, 1 by table:*)")
    ), done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-a", "no_such_db_x", "-b", "{same_b}"], "cannot connect to "),
        (["-a", "{same_a}", "-b", "{same_b}", "--ignore", "tabel:x"], "unknown kind 'tabel'"),
        (["-a", "{same_a}", "-b", "{same_b}", "--ignore", "nonsense"], "is not kind:pattern"),
        (["-a", "{same_a}", "-b", "{same_b}", "--format", "yaml"], "--format must be"),
        (["-a", "{same_a}"], "name both databases"),
        (
            ["-a", "{same_a}", "--clone", "{same_b}", "-b", "{same_b}"],
            "name different databases; --clone is the long form of -a: give one of them",
        ),
        (
            ["-a", "postgresql://nobody:secret@127.0.0.1:1/x", "-b", "{same_b}"],
            "cannot connect to postgresql://nobody:***@127.0.0.1:1/x",
        ),
        (
            ["-a", "{same_a}", "-b", "postgresql://u:secret@[::1/x"],
            "-b is not a valid postgresql://",
        ),
        (
            ["-a", "postgresql://u:secret@h:port/x", "-b", "{same_b}"],
            "-a is not a valid postgresql://",
        ),
        (
            ["-a", "{same_a}", "-b", "postgresql://postgres@/x?host=/nonexistent"],
            'socket "/nonexistent/.s.PGSQL.5432" failed: No such file or directory',
        ),
        (["-a", "{same_a}", "-b", "{same_b}", "--output", "/nonexistent/r.txt"], "cannot write"),
    ],
)
def test_errors_exit_2_with_one_line(
    project: Project, cli_dbs: dict[str, str], args: list[str], message: str
) -> None:
    done = project.run("db.schema-diff", *(arg.format(**cli_dbs) for arg in args))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prodclone: "), done.stderr
    assert message in lines[0]
    assert "secret" not in done.stderr
    assert "Traceback" not in done.stderr


def test_owners_flag_compares_owners(project: Project, pg: LocalServer, reader_role: str) -> None:
    with databases(pg, "own") as dbs:
        a = dbs.create(BASE + "ALTER TABLE orders OWNER TO sd_owner;", "a")
        b = dbs.create(BASE, "b")
        default = project.run("db.schema-diff", "-a", a, "-b", b)
        assert default.returncode == 0, default.stdout + default.stderr
        assert "2 hidden (2 by owners" in default.stdout
        owners = project.run("db.schema-diff", "-a", a, "-b", b, "--owners")
        assert owners.returncode == 1, owners.stdout + owners.stderr
        assert "    owner: a 'sd_owner' | b 'postgres'" in owners.stdout.splitlines()
        for value, code in (("true", 1), ("false", 0), ("0", 0)):
            by_env = project.run(
                "db.schema-diff",
                "-a",
                a,
                "-b",
                b,
                env={"INVOKE_PRODCLONE_SCHEMA_DIFF_OWNERS": value},
            )
            assert by_env.returncode == code, (value, by_env.stdout + by_env.stderr)


def test_bad_rule_in_config_names_the_key(project: Project, cli_dbs: dict[str, str]) -> None:
    done = project.run(
        "db.schema-diff",
        "-a",
        cli_dbs["same_a"],
        "-b",
        cli_dbs["same_b"],
        env={"INVOKE_PRODCLONE_SCHEMA_DIFF_IGNORE": "tables-all"},
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "prodclone: ignore rule 'tables-all' in prodclone.schema_diff.ignore "
        "(INVOKE_PRODCLONE_SCHEMA_DIFF_IGNORE) is not kind:pattern[:attribute] "
        "(for example index:public.tmp_*, table:*:comment, role:rds*, or rds)"
    )
