"""Every key of the `prodclone` block, declared once: path, type, default, one line of help.

The defaults Invoke sees, the env var names, the parsers' defaults and types, the
typed reading of env vars by the `prodclone` program, and the tables of
docs/configuration.md (tests/test_docs.py) all come from `KEYS`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from prodclone.settings.defaults import DEFAULT_LOG_PATTERNS, DEFAULT_UI_CHECKLIST

# text: a string; flag: true/false; whole: an integer; number: int or float;
# list: strings (YAML list, or in an env var a JSON list or comma-separated text);
# map: a mapping (in an env var, a JSON object).
Kind = Literal["text", "flag", "whole", "number", "list", "map"]

ROOT = "prodclone"


@dataclass(frozen=True)
class Key:
    path: str  # dotted, under `prodclone` ("local.url")
    kind: Kind
    default: Any  # what the parser applies when the key is unset; None: derived, see `shown`
    help: str  # one line; the docs' "meaning" cell for the key starts with it
    shown: str = ""  # the default as the docs show it, when `default` does not say it

    @property
    def full(self) -> str:
        return f"{ROOT}.{self.path}"

    @property
    def env_var(self) -> str:
        return env_var_for(self.full)

    @property
    def section(self) -> str:
        """The docs section a key is listed in: "" for the top level, else its block."""
        return self.path.rpartition(".")[0]

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]

    def shown_default(self) -> str:
        """The default as docs/configuration.md writes it in the key's row."""
        if self.shown:
            return self.shown
        value = self.default
        if value in ("", ()):
            return "empty"
        if isinstance(value, bool):
            return f"`{json.dumps(value)}`"
        if isinstance(value, dict):
            return f"`{json.dumps(value)}`"
        return f"`{value}`"


def env_var_for(path: str) -> str:
    return "INVOKE_" + path.replace(".", "_").upper()


def _k(path: str, kind: Kind, default: Any, help: str, shown: str = "") -> Key:
    return Key(path, kind, default, help, shown)


KEYS: tuple[Key, ...] = (
    _k(
        "app",
        "text",
        "app",
        "The app's short name (lower-case letters, digits, `_`, up to 29 characters).",
    ),
    _k("dump_dir", "text", "dump", "Folder for dump files, relative to the project."),
    # The local server.
    _k("local.url", "text", "", "A `postgresql://` URL of the server to use."),
    _k("local.bin_dir", "text", "", "A folder of PostgreSQL client tools to restore with."),
    _k(
        "local.data_dir",
        "text",
        ".prodclone",
        "The embedded server's data and prodclone's local state.",
    ),
    _k(
        "local.clone_db",
        "text",
        None,
        "The database the dump is loaded into.",
        shown="`<app>_prod_clone`",
    ),
    _k(
        "local.fresh_db",
        "text",
        None,
        "The database `db.fresh` builds from all migrations.",
        shown="`<app>_fresh`",
    ),
    _k(
        "local.db_env",
        "map",
        {},
        "Extra environment for app commands naming the target database.",
    ),
    _k(
        "local.allow_remote",
        "flag",
        False,
        "Allow a `url` whose host is not this machine.",
    ),
    _k("local.restore_jobs", "whole", 2, "`pg_restore --jobs` for a full restore."),
    _k(
        "local.keep_spare",
        "flag",
        True,
        "Keep a ready copy of the template so the next reset is a rename (milliseconds).",
    ),
    # The app's own commands.
    _k(
        "commands.migrate",
        "text",
        "",
        "Migrates the database it is pointed at to the newest migration.",
    ),
    _k("commands.boot", "text", "", "Optional: proves the app boots against a database."),
    _k("commands.serve", "text", "", "Optional: starts the app in the foreground."),
    _k("commands.smoke", "list", (), "A list of commands exercising the app."),
    _k(
        "commands.fresh_inputs",
        "list",
        (),
        "Paths or globs inside the project whose content, with `migrate`, "
        "makes the fresh database.",
    ),
    # The schema gate.
    _k(
        "schema_diff.ignore",
        "list",
        (),
        "Ignore rules for `db.schema-diff` and the refactor-check schema gate.",
    ),
    _k("schema_diff.owners", "flag", False, "Compare object owners too."),
    # The cloud copy.
    _k("aws.region", "text", "", "AWS region; empty: the profile's or `AWS_REGION`."),
    _k("aws.profile", "text", "", "AWS profile; empty: the default credential chain."),
    _k("aws.source_instance", "text", "", "The production RDS instance identifier."),
    _k(
        "aws.source_cluster",
        "text",
        "",
        "Instead of `source_instance`: the production Aurora PostgreSQL cluster identifier.",
    ),
    _k(
        "aws.restore_from",
        "text",
        "auto",
        "Where the copy comes from.",
    ),
    _k("aws.database", "text", "", "Database to dump."),
    _k("aws.instance_class", "text", "", "Class of the throwaway instance."),
    _k(
        "aws.tunnel",
        "text",
        "ssm",
        "`ssm` (Session Manager port forward), `ssh` (Fabric, through `bastion`) or `direct`.",
    ),
    _k("aws.bastion", "text", "", "EC2 instance id (ssm) or SSH host (ssh)."),
    _k(
        "aws.ssm_plugin",
        "text",
        "session-manager-plugin",
        "The Session Manager plugin binary.",
    ),
    _k("aws.subnet_group", "text", "", "Subnet group of the copy; empty: the source's."),
    _k(
        "aws.security_groups",
        "list",
        (),
        "VPC security group ids (list or comma-separated); empty: the source's.",
    ),
    _k(
        "aws.timeout_minutes",
        "whole",
        90,
        "Deadline for the whole run's waits (snapshot, restore, password).",
    ),
    _k("aws.local_port", "whole", 0, "Local end of the tunnel; 0 picks a free port."),
    _k("aws.tunnel_ready_seconds", "whole", 60, "How long the tunnel may take to open."),
    _k("aws.poll_max_seconds", "number", 30, "Longest pause between two status checks."),
    _k("aws.dump_compression", "text", "gzip:3", "`pg_dump --compress` value."),
    # What refactor-check measures and expects.
    _k(
        "check.expected_data_changes",
        "list",
        (),
        "Tables or columns, by their old or new names, whose data the "
        "migration is meant to change.",
    ),
    _k(
        "check.fail_on_gained_rows",
        "flag",
        False,
        "Rows a table gained are listed in the data check's summary and report.",
    ),
    _k(
        "check.log_patterns",
        "list",
        DEFAULT_LOG_PATTERNS,
        "Case-insensitive regular expressions searched for in the smoke "
        "commands' output and the app's log.",
        shown=f"the spec's errors ({len(DEFAULT_LOG_PATTERNS)} patterns)",
    ),
    _k(
        "check.exact_count_max_mb",
        "whole",
        512,
        "Tables larger than this get an estimated row count.",
    ),
    _k(
        "check.sample_above_mb",
        "whole",
        64,
        "Tables larger than this have their columns fingerprinted on a sample rather than whole.",
    ),
    _k(
        "check.lock_sample_seconds",
        "number",
        0.1,
        "How often `pg_locks` and `pg_stat_activity` are sampled while the migration runs.",
    ),
    _k(
        "check.max_lock_seconds",
        "number",
        None,
        "How long, in seconds, the migration may hold an ACCESS EXCLUSIVE lock "
        "on an existing table.",
        shown="unset",
    ),
    _k(
        "check.base_ref",
        "text",
        "",
        "The running release's code, as a git revision.",
        shown="merge-base of `HEAD` with the main branch",
    ),
    _k(
        "check.zero_downtime",
        "flag",
        False,
        "When on, the running release (`base_ref`) failing against the "
        "migrated schema fails the check.",
    ),
    _k(
        "check.slow_statement_seconds",
        "number",
        1.0,
        "Statements of the migration that run longer than this are listed in the report.",
    ),
    _k(
        "check.serve_ready_line",
        "text",
        "",
        "A regular expression: the app started by `commands.serve` is ready "
        "when a line of its output matches.",
    ),
    _k(
        "check.serve_ready_port",
        "whole",
        0,
        "Or: the app is ready when this TCP port on 127.0.0.1 accepts a connection.",
    ),
    _k(
        "check.serve_timeout",
        "number",
        60,
        "Seconds to wait for the app to be ready before the smoke stage fails.",
    ),
    _k(
        "check.command_timeout",
        "number",
        600,
        "Time limit in seconds for the boot and smoke commands (`0`: none).",
    ),
    _k(
        "check.report_dir",
        "text",
        "reports",
        "Each run writes its report, JUnit file and app log to `<report_dir>/<timestamp>/`.",
    ),
    _k("check.app_url", "text", "", "Fills `{url}` in the UI checklist."),
    _k(
        "check.ui_checklist",
        "list",
        DEFAULT_UI_CHECKLIST,
        "The manual UI smoke checklist printed at the end of a run.",
        shown=f"{len(DEFAULT_UI_CHECKLIST)} generic items",
    ),
    # Masking.
    _k("mask.rules", "map", {}, "Masking rules."),
    _k(
        "mask.secret",
        "text",
        "",
        "The key that makes masking deterministic.",
    ),
    _k(
        "mask.in_aws",
        "flag",
        None,
        "Mask the throwaway instance before `db.clone-prod` dumps it.",
        shown="`true` once any rule exists",
    ),
)

BY_PATH: dict[str, Key] = {key.full: key for key in KEYS}


def key(full: str) -> Key:
    """The declared key at `full` ("prodclone.local.url"); a KeyError names an undeclared one."""
    try:
        return BY_PATH[full]
    except KeyError:
        raise KeyError(f"{full} is not declared in prodclone.settings.table") from None


def invoke_defaults() -> dict[str, Any]:
    """The `prodclone` block Invoke is given as the collection's defaults.

    A text key has its default text. Every other key is None: Invoke casts an env
    var to the type of the value it replaces, and gets it wrong for these ("false"
    is true for a bool, a list is a traceback), while for None it keeps the text,
    which the parsers read. None also tells "unset" apart from an empty value (an
    empty `log_patterns` means no patterns). A mapping is `{}`: a key under it
    (`db_env: {A: ...}`) may be set one by one.
    """
    block: dict[str, Any] = {}
    for item in KEYS:
        *parents, leaf = item.path.split(".")
        node = block
        for name in parents:
            node = node.setdefault(name, {})
        if item.kind == "text":
            node[leaf] = item.default if item.default is not None else ""
        elif item.kind == "map":
            node[leaf] = {}
        else:
            node[leaf] = None
    return {ROOT: block}
