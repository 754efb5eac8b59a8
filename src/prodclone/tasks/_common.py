"""What every task shares: settings from the context, errors to one line and an exit code."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO, cast

from invoke.context import Context
from invoke.exceptions import Exit

from prodclone.errors import ProdcloneError, UsageError
from prodclone.settings import Settings, load_settings
from prodclone.settings.config import file_blocks, raw_env


def project_dir(c: Context) -> Path:
    """Where the collection (tasks.py, invoke.yaml) lives; relative paths start there."""
    prefix = c.config._project_prefix
    return Path(prefix) if prefix else Path.cwd()


def settings_of(c: Context) -> Settings:
    raw = {"prodclone": to_plain(c.config.get("prodclone", {}))}
    return load_settings(
        raw, project_dir(c), environ=raw_env(c.config), files=file_blocks(c.config)
    )


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn a domain error into `prodclone: <one line>` and its exit code."""
    with _reader_may_leave():
        try:
            yield
        except ProdcloneError as exc:
            raise Exit(f"prodclone: {exc}", code=exc.exit_code) from None
        except KeyboardInterrupt:
            print("prodclone: interrupted", file=sys.stderr)
            raise Exit(code=130) from None
        except Exception as exc:
            # A database error nobody expected (the server went away, say): one line, not a
            # traceback. psycopg is looked up, not imported, to keep `inv --list` fast.
            psycopg = sys.modules.get("psycopg")
            if psycopg is None or not isinstance(exc, psycopg.Error):
                raise
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise Exit(f"prodclone: database error: {first}", code=1) from None


@contextmanager
def local_task() -> Iterator[None]:
    """`domain_errors`, with SIGTERM and SIGHUP taken as Ctrl-C.

    `kill`, `timeout`, a CI job's cancel and a closed terminal send those: the
    task stops as for Ctrl-C (the app's process group stopped, staging copies
    dropped, the report written) and exits 130. A second signal during that
    cleanup only says so.
    """
    from prodclone.guard.signals import signals_interrupt

    with domain_errors(), signals_interrupt():
        yield


class _ClosedPipeGuard:
    """Standard output (or error) that drops what it cannot write once its reader has gone.

    `inv db.load-clone | head -1`: head leaves after one line, and the task
    must still finish its work (a load half done helps nobody) without a
    BrokenPipeError traceback. The rest of the output goes to /dev/null.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            self._discard_the_rest()
            return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            self._discard_the_rest()

    def _discard_the_rest(self) -> None:
        # On the descriptor itself, so Python's own flush at exit finds it writable too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self.stream.fileno())
        finally:
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextmanager
def _reader_may_leave() -> Iterator[None]:
    """Run a task with its output guarded against a reader that stops reading.

    Standard error too: `inv ... 2>&1 | head -1` sends both into the same pipe.
    """
    if isinstance(sys.stdout, _ClosedPipeGuard):
        yield
        return
    out, err = sys.stdout, sys.stderr
    guards = (_ClosedPipeGuard(out), _ClosedPipeGuard(err))
    sys.stdout, sys.stderr = cast(TextIO, guards[0]), cast(TextIO, guards[1])
    try:
        yield
    finally:
        for guard in guards:
            guard.flush()
        sys.stdout, sys.stderr = out, err


def dry_run_of(c: Context, flag: bool = False) -> bool:
    """The task's own --dry-run, or Invoke's `inv --dry`, which means the same to it."""
    return flag or bool(c.config.run.dry)


def refuse_dry(c: Context, task: str) -> None:
    """`inv --dry` only stops `c.run`; a task that changes things itself must not ignore it."""
    if c.config.run.dry:
        raise UsageError(
            f"{task} has no dry run, and inv --dry would not stop it: "
            "nothing was changed; run it without --dry"
        )


def tell(lines: list[str]) -> None:
    """Notices about what a task did on the side (a .gitignore rule, say): on stderr,
    so that output a program reads (JSON, say) stays clean."""
    for line in lines:
        print(line, file=sys.stderr)


def to_plain(value: Any) -> Any:
    """Invoke's DataProxy as plain dicts and lists."""
    if hasattr(value, "items"):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    return value


def confirm(question: str, yes: bool) -> bool:
    """True when `--yes` was given or the user answers y; never blocks without a terminal."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise ProdcloneError(f"{question} needs confirmation: pass --yes to run without a prompt")
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


def confirm_or_stop(question: str, yes: bool) -> None:
    """Like `confirm`, but a "no" ends the task having changed nothing."""
    if not confirm(question, yes):
        raise ProdcloneError("cancelled; nothing was changed")


def dump_flag(text: str) -> Path | None:
    """--dump's value, refused at once when nothing is there: a bad flag value is a
    usage error in every task, found before a server starts or a lock is taken."""
    if not text:
        return None
    path = Path(text).expanduser()
    if not path.exists():
        raise UsageError(
            f"--dump {text} does not exist: pass a dump made by `inv db.clone-prod`, "
            "or leave --dump out to use the newest one in prodclone.dump_dir"
        )
    return path


def whole_number(
    flag: str,
    text: str,
    default: int,
    minimum: int,
    what: str = "",
    maximum: int | None = None,
    why_maximum: str = "",
) -> int:
    """A flag's whole-number value, read here so a bad one is one line, not a traceback.

    Invoke would cast an `int` flag itself and fail on "abc" with a traceback,
    so such flags are declared as text and checked here.
    """
    if text == "":
        return default
    try:
        number = int(text)
    except ValueError:
        raise UsageError(f"{flag} takes a whole number (got {text!r})") from None
    if number < minimum:
        detail = f" ({what})" if what else f" (got {number})"
        raise UsageError(f"{flag} must be at least {minimum}{detail}")
    if maximum is not None and number > maximum:
        why = f": {why_maximum}" if why_maximum else ""
        raise UsageError(f"{flag} must be at most {maximum} (got {number}){why}")
    return number
