"""Task flags: short letters chosen once for every task.

Invoke gives each flag the first free letter of its name, so the same letter used to
mean a different thing in each task (`-d` was `--dump`, `--db`, `--dry-run`,
`--delete` and `--dumps`). Here a letter belongs to one long flag for the whole
program, and every other flag is spelled out. docs/commands.md shows the table, and
the exit codes: a flag value a task cannot use is a `UsageError`, exit 2 like a bad
setting (prodclone.errors).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from invoke.exceptions import Exit
from invoke.parser.argument import Argument
from invoke.tasks import Task
from invoke.tasks import task as invoke_task

# The long flag each letter stands for, in every task that has that flag. Only the
# flags several tasks share, and refactor-check's everyday ones, get one. Flags that
# delete, stop or cost money (--delete, --dumps, --all, --stop, --keep-instance) are
# spelled out, and so is --dry-run: `inv -R` (`--dry`) is Invoke's own, and the tasks
# honour it.
SHORT_FLAGS: dict[str, str] = {
    "dump": "d",
    "format": "f",
    "jobs": "j",
    "name": "n",
    "yes": "y",
    "report": "r",
    "keep-going": "k",
    "skip-smoke": "s",
}


# Letters a task's flag had before the table above that Invoke would now read as one of
# its own flags, which it also takes after a task's name: an old `db.clone-prod -d --yes`
# would be a real clone with `--debug`, an old `db.list-clones -r ID --delete` would
# delete every expired stray with `--search-root ID`. Such a letter stays in its task only
# to stop the command, exit 2, with the flag's new spelling.
RETIRED_LETTERS: dict[str, dict[str, tuple[str, str]]] = {
    # task: {letter: (the long flag it was, the kind of value it took)}
    "db.clone-prod": {"d": ("--dry-run", "switch")},
    "db.list-clones": {"r": ("--run", "text")},
}


def _retired_argument(letter: str, was: str, takes: str) -> Argument:
    return Argument(
        names=(letter,),
        kind=bool if takes == "switch" else str,
        default=False if takes == "switch" else "",
        help=f"Retired: was {was}; stops with exit 2. Write {was}.",
    )


class FlagTask(Task[Callable[..., Any]]):
    """An Invoke task whose short flags come from SHORT_FLAGS, never from a free letter."""

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        opts: dict[str, Any] = super().arg_opts(name, default, taken_names)
        letter = SHORT_FLAGS.get(opts["names"][0])
        if letter is not None:
            opts["names"] = [*opts["names"], letter]
        return opts

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        # Invoke consumes the help texts as it builds the arguments: a second call (a
        # second run in the same process, `-h` after a run) would lose them.
        kept = dict(self.help)
        try:
            arguments = super().get_arguments(ignore_unknown_help)
        finally:
            self.help = kept
        retired = self._retired().items()
        return [*arguments, *(_retired_argument(letter, *was) for letter, was in retired)]

    def _retired(self) -> dict[str, tuple[str, str]]:
        return RETIRED_LETTERS.get(f"db.{self.name.replace('_', '-')}", {})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for letter, (was, _) in self._retired().items():
            if kwargs.pop(letter, None):
                name = f"db.{self.name.replace('_', '-')}"
                raise Exit(
                    f"prodclone: -{letter} is no longer {was} in {name}: write {was}", code=2
                )
        return super().__call__(*args, **kwargs)


def task(*args: Any, **kwargs: Any) -> Callable[..., Any]:
    """Invoke's `@task`, with this module's short flags and no automatic ones."""
    if "auto_shortflags" in kwargs or "klass" in kwargs:
        raise TypeError("prodclone tasks take their short flags from SHORT_FLAGS")
    made: Callable[..., Any] = invoke_task(*args, klass=FlagTask, auto_shortflags=False, **kwargs)
    return made
