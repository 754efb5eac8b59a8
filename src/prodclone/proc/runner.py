"""Invoke's local runner with the command in a process group of its own.

`c.run` keeps meaning what it means in any Invoke program (`--echo`, `--hide`,
`--command-timeout`, `MockContext`), while the command is started, read and stopped
the way every other child of prodclone is (prodclone.proc.group): its own group,
output decoded without ever failing on bytes, and at a timeout or an interrupt the
whole group stopped (SIGINT, SIGTERM, SIGKILL) rather than only the shell Invoke
started.
"""

from __future__ import annotations

import codecs
import io
import subprocess
from collections.abc import Callable, Generator
from typing import IO, Any, cast

from invoke.context import Context, MockContext
from invoke.runners import Local, Result, normalize_hide
from invoke.watchers import StreamWatcher

from prodclone.proc import group


class Tap(StreamWatcher):
    """Hands every piece of a command's output to `feed`, shown or hidden (`--hide`).

    For a log file or a ready line: Invoke writes output to `out_stream` only when it
    is not hidden, but gives it to its watchers always.
    """

    def __init__(self, feed: Callable[[str], None]) -> None:
        super().__init__()
        self.feed = feed
        self.seen = 0

    def submit(self, stream: str) -> list[str]:
        # Invoke's own runners hand over the whole output so far; only the rest is new.
        self.feed(stream[self.seen :])
        self.seen = len(stream)
        return []

    def submit_chunk(self, chunk: str) -> None:
        self.feed(chunk)
        self.seen += len(chunk)


class GroupRunner(Local):
    """`invoke.runners.Local`, with the command leading a process group of its own.

    Stdout and stderr are one pipe, read in the order the command wrote them (as a
    terminal shows them). Stdin is forwarded only when `in_stream` asks for it. With
    `pty=True` it is Invoke's own pty runner (the command leads its own session there).
    """

    # Seconds the group gets after SIGINT, and again after SIGTERM, before SIGKILL: a
    # subclass set as `runners.local` can give an app that shuts down slowly more.
    stop_grace: float = group.INTERRUPT_GRACE

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._stopped_at_timeout = False

    def run(self, command: str, **kwargs: Any) -> Result | None:
        try:
            return super().run(command, **kwargs)
        except BaseException:
            # An interrupt that came before Invoke's wait loop (between the start and the
            # threads), or any error there: the command must not outlive the call.
            if not (self._asynchronous or self._disowned):
                self.stop_group()
            raise

    def default_encoding(self) -> str:
        return "utf-8"  # `run.encoding` in the configuration still wins

    def start(self, command: str, shell: str, env: dict[str, Any]) -> None:
        if self.using_pty:
            super().start(command, shell, env)
            return
        stdin = subprocess.PIPE if self.streams["in"] else subprocess.DEVNULL
        self.process = group.start(
            command, shell=True, executable=shell, env=env, stdin=stdin, stdout=subprocess.PIPE
        )

    def read_proc_output(self, reader: Callable[[int], bytes | None]) -> Generator[str, None, None]:
        # One decoder for the whole stream: a character cut between two reads stays whole.
        decoder = codecs.getincrementaldecoder(self.encoding)("replace")
        while True:
            data = reader(self.read_chunk_size)
            if not data:
                break
            text = decoder.decode(data)
            if text:
                yield text
        rest = decoder.decode(b"", final=True)
        if rest:
            yield rest

    def respond(self, buffer_: list[str]) -> None:
        # Taps take the newest piece; joining the whole output for each piece, as
        # Invoke does for its watchers, would grow with the square of a long output.
        others = []
        for watcher in self.watchers:
            if isinstance(watcher, Tap):
                watcher.submit_chunk(buffer_[-1])
            else:
                others.append(watcher)
        if others:
            taps, self.watchers = self.watchers, others
            try:
                super().respond(buffer_)
            finally:
                self.watchers = taps

    def wait(self) -> None:
        super().wait()
        if not self.using_pty and self.process_is_finished and group.group_alive(self.process.pid):
            # What the command left running in its group (a backgrounded child) would hold
            # the output pipe open, and Invoke would wait for it forever: it goes too.
            self.stop_group()

    def stop_group(self) -> None:
        """Stop the command's whole group (also for a command started `asynchronous`)."""
        if getattr(self, "using_pty", False):
            super().kill()
        elif getattr(self, "process", None) is not None:  # None: not started yet
            group.stop(
                self.process, interrupt_grace=self.stop_grace, terminate_grace=self.stop_grace
            )

    def kill(self) -> None:
        # Invoke's timer calls this at `timeout` (`--command-timeout`): the whole group.
        self._stopped_at_timeout = True
        self.stop_group()

    @property
    def timed_out(self) -> bool:
        # Set as the timer fires, not when its thread ends: the command may end (and
        # Invoke look at this) while the group's last members are still being stopped.
        return self._stopped_at_timeout

    def send_interrupt(self, interrupt: KeyboardInterrupt) -> None:
        # Invoke's default writes ^C to the command's stdin and keeps waiting. In its
        # own group the command never saw the terminal's SIGINT: stop the group, and
        # let the interrupt go on to prodclone's cleanup.
        self.stop_group()
        raise interrupt

    def stop(self) -> None:
        super().stop()
        timer = self._timer
        if timer is not None and self._stopped_at_timeout:
            timer.join()  # the whole group is gone before `run` returns


class RunnerNotGrouped(Exception):
    """Invoke's configured runner is not GroupRunner: app commands would not get a group."""


def require_group_runner(context: Context) -> None:
    """App commands need this runner (prodclone's tasks configure it); a MockContext,
    which runs nothing, needs none."""
    if isinstance(context, MockContext):
        return
    runner = context.config.runners.local
    if not (isinstance(runner, type) and issubclass(runner, GroupRunner)):
        raise RunnerNotGrouped(
            f"Invoke's runners.local is {getattr(runner, '__name__', runner)!r}: app commands "
            "need prodclone.proc.runner.GroupRunner (or a subclass), which starts each in its "
            "own process group; set runners.local to it in your Invoke configuration"
        )


def hides_stdout(context: Context) -> bool:
    """Whether Invoke's configuration (`--hide`, `run.hide`) hides a command's stdout.

    Asked before giving Invoke an `out_stream`: Invoke lets a given stream override
    `hide`, and prodclone's streams are only a labelled terminal.
    """
    return "stdout" in normalize_hide(context.config.run.hide)


def output_stream(write: Callable[[str], None]) -> IO[str]:
    """A text stream for Invoke's `out_stream` that hands what it is given to `write`."""
    return cast(IO[str], _Writer(write))


class _Writer(io.TextIOBase):
    def __init__(self, write: Callable[[str], None]) -> None:
        super().__init__()
        self._write = write

    def write(self, text: str) -> int:
        self._write(text)
        return len(text)

    def writable(self) -> bool:
        return True
