"""What the user sees while the clone runs: steps, statuses while waiting, progress bars."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn

from prodclone.aws.polling import Observation

Observer = Callable[[Observation, float], None]


class Report:
    def __init__(self, console: Console) -> None:
        self.console = console
        self._last_status: dict[str, str] = {}

    def step(self, text: str) -> None:
        self.line(f"==> {text}")

    def line(self, text: str) -> None:
        # The terminal may be gone (SIGHUP, a closed SSH session): the run, and above
        # all its cleanup, goes on without it.
        with contextlib.suppress(OSError):
            self.console.print(text, highlight=False)

    def observer(self, what: str) -> Observer:
        """Prints a line whenever the status (or its detail) changes, with the elapsed time."""

        def observe(seen: Observation, elapsed: float) -> None:
            shown = f"{seen.status} {seen.detail}".strip()
            if self._last_status.get(what) != shown:
                self._last_status[what] = shown
                self.line(f"    {what}: {shown} ({elapsed:.0f}s)")

        return observe

    @contextlib.contextmanager
    def waiting(self, what: str) -> Iterator[Observer]:
        """Status changes as lines; on a terminal also a spinner with status and elapsed time."""
        printed = self.observer(what)
        if not self.console.is_terminal:
            yield printed
            return
        with self.console.status(f"{what}: waiting") as spinner:

            def observe(seen: Observation, elapsed: float) -> None:
                printed(seen, elapsed)
                spinner.update(f"{what}: {seen.status} ({elapsed:.0f}s)")

            yield observe

    def progress(self, label: str, *columns: ProgressColumn) -> Progress:
        """A bar shown only on a terminal (lines stay readable in CI logs) and gone when done."""
        return Progress(
            TextColumn(f"    {label}"),
            BarColumn(),
            *columns,
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            disable=not self.console.is_terminal,
        )
