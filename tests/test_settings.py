"""Settings as Invoke hands them over: defaults, invoke.yaml, env vars, and bad values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from invoke.config import Config
from invoke.context import Context

from prodclone.errors import SettingsError
from prodclone.settings import DEFAULTS, Settings, load_settings
from prodclone.settings.reader import Reader
from prodclone.tasks import ns
from prodclone.tasks._common import settings_of


def settings_from(
    project: Path, monkeypatch: pytest.MonkeyPatch, block: dict[str, Any], **env: str
) -> Settings:
    """What a task sees: the collection's defaults, the project's invoke.yaml, then env vars."""
    (project / "invoke.yaml").write_text(json.dumps({"prodclone": block}))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = Config(defaults={**Config.global_defaults(), **ns.configuration()})
    config.set_project_location(str(project))
    config.load_project()
    config.load_shell_env()
    return settings_of(Context(config=config))


def leaf_paths(block: dict[str, Any], prefix: str = "prodclone") -> list[str]:
    paths = []
    for name, value in block.items():
        if isinstance(value, dict) and value:
            paths.extend(leaf_paths(value, f"{prefix}.{name}"))
        else:
            paths.append(f"{prefix}.{name}")
    return paths


def test_defaults_name_the_app_databases_and_folders(tmp_path: Path) -> None:
    settings = load_settings({}, tmp_path)
    assert settings.app == "app"
    assert settings.dump_dir == tmp_path.resolve() / "dump"
    assert settings.local.data_dir == tmp_path.resolve() / ".prodclone"
    assert settings.local.clone_db == "app_prod_clone"
    assert settings.local.fresh_db == "app_fresh"
    assert settings.local.url == "" and settings.local.embedded
    assert settings.local.allow_remote is False
    assert settings.local.keep_spare is True
    assert settings.local.restore_jobs == 2
    assert settings.local.db_env == {}
    assert settings.commands.migrate == ""


def test_the_longest_app_name_still_names_valid_databases(tmp_path: Path) -> None:
    settings = load_settings({"prodclone": {"app": "a" * 29}}, tmp_path)
    assert settings.local.clone_db == "a" * 29 + "_prod_clone"


def test_every_declared_key_is_reachable_by_its_env_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invoke maps an env var only onto a declared key; a typo'd or missing default loses it."""
    (tmp_path / "invoke.yaml").write_text("{}")
    env = {}
    for path in leaf_paths(DEFAULTS):
        name = "INVOKE_" + path.replace(".", "_").upper()
        env[name] = "marker"
        monkeypatch.setenv(name, "marker")
    config = Config(defaults={**Config.global_defaults(), **ns.configuration()})
    config.set_project_location(str(tmp_path))
    config.load_project()
    config.load_shell_env()
    unreached = []
    for path in leaf_paths(DEFAULTS):
        node: Any = config
        for part in path.split("."):
            node = node[part]
        # Mappings are ours to read (their env var is a JSON object): tested below.
        if node != "marker" and path not in ("prodclone.local.db_env", "prodclone.mask.rules"):
            unreached.append(path)
    assert unreached == []


def test_every_key_the_settings_read_is_declared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key read but not declared in DEFAULTS would silently ignore its env var."""
    read: set[str] = set()
    for method in (
        "text",
        "flag",
        "whole",
        "maybe_number",
        "choice",
        "text_list",
        "text_map",
        "raw",
    ):
        original = getattr(Reader, method)

        def recording(self: Reader, key: str, *args: Any, _read: Any = original, **kw: Any) -> Any:
            read.add(f"{self.path}.{key}")
            return _read(self, key, *args, **kw)

        monkeypatch.setattr(Reader, method, recording)
    load_settings({}, tmp_path)
    assert read, "no key was read"
    assert sorted(read - set(leaf_paths(DEFAULTS))) == []
    # And the other way: the table declares no key that nothing reads.
    assert sorted(set(leaf_paths(DEFAULTS)) - read) == []


def test_env_vars_reach_flags_numbers_lists_and_mappings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_from(
        tmp_path,
        monkeypatch,
        {"local": {"keep_spare": True, "db_env": {"FROM_YAML": "{db}"}}},
        INVOKE_PRODCLONE_LOCAL_KEEP_SPARE="false",
        INVOKE_PRODCLONE_LOCAL_ALLOW_REMOTE="yes",
        INVOKE_PRODCLONE_LOCAL_RESTORE_JOBS="4",
        INVOKE_PRODCLONE_LOCAL_DB_ENV='{"ORCHA_LOCAL_DB_NAME_OVERRIDE": "{db}"}',
        INVOKE_PRODCLONE_COMMANDS_SMOKE='["./smoke a", "./smoke b"]',
    )
    assert settings.local.keep_spare is False
    assert settings.local.allow_remote is True
    assert settings.local.restore_jobs == 4
    assert settings.local.db_env == {"ORCHA_LOCAL_DB_NAME_OVERRIDE": "{db}"}
    assert settings.commands.smoke == ("./smoke a", "./smoke b")


def test_false_in_an_env_var_means_false(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Invoke alone would read any non-empty text, "false" included, as true."""
    for text in ("false", "0", "no", "off", "FALSE"):
        settings = settings_from(
            tmp_path, monkeypatch, {}, INVOKE_PRODCLONE_LOCAL_ALLOW_REMOTE=text
        )
        assert settings.local.allow_remote is False, text


def test_yaml_values_keep_their_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(
        tmp_path,
        monkeypatch,
        {
            "app": "orcha",
            "dump_dir": "/srv/dumps",
            "local": {"allow_remote": True, "restore_jobs": 3, "clone_db": "orcha_copy"},
            "commands": {"smoke": ["a", "b"], "migrate": "  yoyo apply  "},
        },
    )
    assert settings.dump_dir == Path("/srv/dumps")
    assert settings.local.allow_remote is True
    assert settings.local.restore_jobs == 3
    assert settings.local.clone_db == "orcha_copy"
    assert settings.local.fresh_db == "orcha_fresh"
    assert settings.commands.smoke == ("a", "b")
    assert settings.commands.migrate == "yoyo apply"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"INVOKE_PRODCLONE_LOCAL_RESTORE_JOBS": "many"},
            "prodclone.local.restore_jobs must be a whole number (got 'many'); "
            "set it in invoke.yaml (prodclone: ...) or with INVOKE_PRODCLONE_LOCAL_RESTORE_JOBS",
        ),
        (
            {"INVOKE_PRODCLONE_LOCAL_RESTORE_JOBS": "0"},
            "prodclone.local.restore_jobs must be at least 1 (got 0)",
        ),
        (
            {"INVOKE_PRODCLONE_LOCAL_KEEP_SPARE": "sometimes"},
            "prodclone.local.keep_spare must be true or false (got 'sometimes')",
        ),
        (
            {"INVOKE_PRODCLONE_LOCAL_DB_ENV": "A=b"},
            "prodclone.local.db_env must be a JSON object of names to values; "
            "set it in invoke.yaml (prodclone: ...) or with INVOKE_PRODCLONE_LOCAL_DB_ENV",
        ),
        (
            {"INVOKE_PRODCLONE_COMMANDS_SMOKE": "[not json"},
            "prodclone.commands.smoke is not a valid JSON list",
        ),
        (
            {"INVOKE_PRODCLONE_LOCAL_URL": "mysql://db/x"},
            "prodclone.local.url must be a postgresql:// URL or empty (got 'mysql://db/x')",
        ),
        (
            {"INVOKE_PRODCLONE_LOCAL_CLONE_DB": "drop table;"},
            "prodclone.local.clone_db must be a database name",
        ),
        ({"INVOKE_PRODCLONE_APP": "My App"}, "prodclone.app must be lower-case letters"),
    ],
)
def test_bad_env_values_stop_with_one_line_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from(tmp_path, monkeypatch, {}, **env)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"local": "embedded"}, "prodclone.local must be a mapping of keys"),
        ({"local": {"db_env": ["A"]}}, "prodclone.local.db_env must be a mapping"),
        ({"local": {"db_env": {"A": True}}}, "value of 'A' must be a string"),
        ({"local": {"restore_jobs": 2.5}}, "prodclone.local.restore_jobs must be a whole number"),
        ({"local": {"url": ["postgresql://x"]}}, "prodclone.local.url must be a string"),
        ({"commands": {"smoke": [["nested"]]}}, "prodclone.commands.smoke must be a list"),
        ({"local": {"clone_db": "x" * 41}}, "up to 40 long"),
        ({"app": "a" * 30}, "prodclone.app must be lower-case letters, digits and _, up to 29"),
    ],
)
def test_bad_yaml_values_stop_with_one_line_naming_the_key(
    tmp_path: Path, block: dict[str, Any], message: str
) -> None:
    with pytest.raises(SettingsError, match=r"^prodclone\.") as caught:
        load_settings({"prodclone": block}, tmp_path)
    assert message in str(caught.value)


def test_reader_treats_unset_values_as_their_declared_default() -> None:
    local = Reader(
        {"keep_spare": "", "restore_jobs": "", "clone_db": None, "db_env": ""}, "prodclone.local"
    )
    assert local.flag("keep_spare") is True
    assert local.flag("allow_remote") is False
    assert local.whole("restore_jobs") == 2
    assert local.text("clone_db") == ""
    assert local.text("data_dir") == ".prodclone"
    assert local.text_map("db_env") == {}
    check = Reader(
        {"serve_timeout": "", "max_lock_seconds": "", "expected_data_changes": ""},
        "prodclone.check",
    )
    assert check.number("serve_timeout") == 60
    assert check.maybe_number("max_lock_seconds") is None
    assert check.text_list("expected_data_changes") == ()
    # Unset is the declared default; empty is none.
    assert len(check.text_list("log_patterns")) == 12
    assert Reader({"log_patterns": ""}, "prodclone.check").text_list("log_patterns") == ()
    assert Reader({"log_patterns": []}, "prodclone.check").text_list("log_patterns") == ()


def test_reader_lists_accept_commas_json_and_yaml() -> None:
    for value, expected in [
        (" a, b ,,c ", ("a", "b", "c")),
        ('["a, b", "c"]', ("a, b", "c")),
        (["a", 2], ("a", "2")),
    ]:
        assert Reader({"smoke": value}, "prodclone.commands").text_list("smoke") == expected


def test_reader_choice_names_the_choices() -> None:
    reader = Reader({"tunnel": "vpn"}, "prodclone.aws")
    with pytest.raises(SettingsError, match="must be one of ssm, ssh, direct"):
        reader.choice("tunnel", ("ssm", "ssh", "direct"))
    assert Reader({}, "prodclone.aws").choice("tunnel", ("ssm", "ssh", "direct")) == "ssm"


def test_reading_an_undeclared_key_or_as_another_type_is_refused() -> None:
    with pytest.raises(KeyError, match=r"prodclone\.local\.nope is not declared"):
        Reader({}, "prodclone.local").text("nope")
    with pytest.raises(TypeError, match=r"prodclone\.local\.restore_jobs is declared whole"):
        Reader({}, "prodclone.local").text("restore_jobs")


def test_under_inv_an_env_var_replaces_a_list_invoke_yaml_writes_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `inv`, a list in invoke.yaml written as JSON text takes its env var (a YAML list
    does not: Invoke's own loader stops; docs/configuration.md says so)."""
    settings = settings_from(
        tmp_path,
        monkeypatch,
        {"commands": {"smoke": '["./smoke a", "./smoke b"]'}},
        INVOKE_PRODCLONE_COMMANDS_SMOKE='["./smoke c"]',
    )
    assert settings.commands.smoke == ("./smoke c",)


def test_mask_rules_from_the_environment_and_the_secret_only_from_there() -> None:
    settings = load_settings(
        {"prodclone": {}},
        environ={
            "INVOKE_PRODCLONE_MASK_RULES": '{"public.users.email": "email"}',
            "INVOKE_PRODCLONE_MASK_SECRET": "s3cret",
        },
    )
    assert [rule.key for rule in settings.mask.rules.columns] == ["public.users.email"]
    assert settings.mask.in_aws is True
    assert settings.mask.secret == "s3cret" and "s3cret" not in repr(settings)
    with pytest.raises(SettingsError, match="INVOKE_PRODCLONE_MASK_RULES"):
        load_settings({}, environ={"INVOKE_PRODCLONE_MASK_RULES": "{not json"})
    with pytest.raises(SettingsError, match="must not be written in a file"):
        load_settings({"prodclone": {"mask": {"secret": "x"}}})


def test_the_program_config_reads_prodclone_keys_typed_and_invoke_keys_as_invoke_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prodclone.settings.config import ProdcloneConfig

    (tmp_path / "invoke.yaml").write_text(
        json.dumps({"prodclone": {"local": {"keep_spare": True, "db_env": {"A": "yaml"}}}})
    )
    monkeypatch.setenv("INVOKE_RUN_ECHO", "1")
    monkeypatch.setenv("INVOKE_PRODCLONE_LOCAL_KEEP_SPARE", "false")
    monkeypatch.setenv("INVOKE_PRODCLONE_LOCAL_RESTORE_JOBS", "4")
    monkeypatch.setenv("INVOKE_PRODCLONE_LOCAL_DB_ENV", '{"B": "env"}')
    monkeypatch.setenv("INVOKE_PRODCLONE_CHECK_LOG_PATTERNS", "a, b")
    config = ProdcloneConfig()
    config.set_project_location(str(tmp_path))
    config.load_project()
    config.load_collection(ns.configuration())
    config.load_shell_env()
    assert config.run.echo is True
    local = config.prodclone.local
    assert (local.keep_spare, local.restore_jobs, dict(local.db_env)) == (False, 4, {"B": "env"})
    assert config.prodclone.check.log_patterns == ["a", "b"]
    settings = settings_of(Context(config=config))
    assert settings.local.keep_spare is False
    assert settings.local.db_env == {"B": "env"}
