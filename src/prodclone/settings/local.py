"""`prodclone.local` and `prodclone.commands`: the local server and the app's commands."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from prodclone.settings.reader import Reader, env_var_for

# Each dump or restore job holds its own connection (pg_restore one more): more than
# this only queues on the server's max_connections and starves everything else.
MAX_JOBS = 64
JOBS_WHY = "each job holds its own database connection"

_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,62}$")


@dataclass(frozen=True)
class LocalSettings:
    url: str
    data_dir: Path
    clone_db: str
    fresh_db: str
    db_env: dict[str, str] = field(hash=False)
    allow_remote: bool
    restore_jobs: int
    keep_spare: bool
    bin_dir: Path | None = None

    @property
    def embedded(self) -> bool:
        return not self.url


@dataclass(frozen=True)
class CommandSettings:
    migrate: str
    boot: str
    serve: str
    smoke: tuple[str, ...]
    fresh_inputs: tuple[str, ...] = ()


def db_name_problem(name: str) -> str:
    """What is wrong with `name` as the name of one of our databases; "" when nothing."""
    # Our own suffixes (`__tpl_<sum>`) must still fit PostgreSQL's 63-byte limit.
    if not _DB_NAME.match(name) or len(name) > 40:
        return f"must be a database name of letters, digits and _ up to 40 long (got {name!r})"
    return ""


def _db_name(reader: Reader, key: str, default: str) -> str:
    name = reader.text(key) or default
    problem = db_name_problem(name)
    if problem:
        raise reader.error(key, problem)
    return name


def _local_url(reader: Reader) -> str:
    """`local.url` in libpq's spelling; a bad one is named without its password."""
    # Imported here: the settings stay importable without psycopg loaded.
    from prodclone.errors import ProdcloneError
    from prodclone.pg import conninfo

    url = reader.text("url")
    if not url:
        return ""
    if not conninfo.is_url(url):
        shown = conninfo.mask(url)
        raise reader.error("url", f"must be a postgresql:// URL or empty (got {shown!r})")
    url = conninfo.normalize(url)
    try:
        conninfo.parse(url)
    except ProdcloneError as exc:
        # Not quoted: text libpq cannot parse gives no safe place to cut the password out.
        raise reader.error("url", f"is {exc}") from None
    return url


def parse_local(reader: Reader, app: str, project_dir: Path) -> LocalSettings:
    data_dir = Path(reader.text("data_dir", or_default=True)).expanduser()
    if not data_dir.is_absolute():
        data_dir = project_dir / data_dir
    url = _local_url(reader)
    clone_db = _db_name(reader, "clone_db", f"{app}_prod_clone")
    fresh_db = _db_name(reader, "fresh_db", f"{app}_fresh")
    _apart(reader, clone_db, fresh_db)
    return LocalSettings(
        url=url,
        data_dir=data_dir,
        clone_db=clone_db,
        fresh_db=fresh_db,
        db_env=reader.text_map("db_env"),
        allow_remote=reader.flag("allow_remote"),
        restore_jobs=reader.whole("restore_jobs", minimum=1, maximum=MAX_JOBS),
        keep_spare=reader.flag("keep_spare"),
        bin_dir=_bin_dir(reader, project_dir),
    )


def _apart(reader: Reader, clone_db: str, fresh_db: str) -> None:
    """The fresh database must not take a name of the clone's: the schema gate would
    compare the clone with itself, and a fresh build would replace it."""
    from prodclone.errors import SettingsError
    from prodclone.pg.names import COPY_NAMES, collides

    if collides(fresh_db, clone_db):
        fresh, clone = f"{reader.path}.fresh_db", f"{reader.path}.clone_db"
        raise SettingsError(
            f"{fresh} ({fresh_db!r}) must differ from {clone} ({clone_db!r}) and from the "
            f"names of the clone's copies ({COPY_NAMES}); set one of them apart in "
            f"invoke.yaml or with {env_var_for(fresh)} or {env_var_for(clone)}"
        )


def _bin_dir(reader: Reader, project_dir: Path) -> Path | None:
    text = reader.text("bin_dir")
    if not text:
        return None
    folder = Path(text).expanduser()
    if not folder.is_absolute():
        folder = project_dir / folder
    if not folder.is_dir():
        raise reader.error(
            "bin_dir", f"must be a folder of PostgreSQL client tools ({folder} is not)"
        )
    return folder


def _relative_globs(reader: Reader, key: str) -> tuple[str, ...]:
    patterns = reader.text_list(key)
    for pattern in patterns:
        parts = Path(pattern).parts
        if Path(pattern).is_absolute() or pattern.startswith("~") or ".." in parts:
            raise reader.error(
                key,
                f"takes paths or globs inside the project folder, like */migrations/*.py "
                f"(got {pattern!r})",
            )
    return patterns


def parse_commands(reader: Reader) -> CommandSettings:
    return CommandSettings(
        migrate=reader.text("migrate"),
        boot=reader.text("boot"),
        serve=reader.text("serve"),
        smoke=reader.text_list("smoke"),
        fresh_inputs=_relative_globs(reader, "fresh_inputs"),
    )
