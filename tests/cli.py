"""The command line run inside the test process: the same argv, env and folder as `inv`.

`Project.inv` starts a real `python -m invoke` for each call, about a second of
interpreter and import start-up before the task does anything. For a test that
only looks at what a task prints, its exit code and what it leaves in the
database, the program run here with the same argv says the same, in a fraction
of that. Tests of signals, interrupts, killed processes, a second process or a
closed pipe keep the real subprocess (`Project.inv`, `tests.terminal`).

The one place that says which program the tests run is `program()`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import pytest
from invoke import Program, __version__

from prodclone.program import exit_code


def program() -> Program:
    """A new instance of the program `inv` runs, for one run."""
    return Program(
        name="Invoke", binary="inv[oke]", binary_names=["invoke", "inv"], version=__version__
    )


def run_in_process(
    capfd: pytest.CaptureFixture[str],
    root: Path,
    args: tuple[str, ...],
    env: dict[str, str],
) -> subprocess.CompletedProcess[str]:
    """`inv ARGS` in `root` with `env` added, as `Project.inv` returns it (exit code, output).

    What a fresh interpreter would give and this one must restore is set here
    and put back after: the environment, the working folder, standard input
    (/dev/null, as the subprocess gets), tempfile's folder, the `tasks` module Invoke imports from
    `root` and the import path it adds.
    """
    argv = ["inv", *args]
    # What the test printed before this run is not the run's output.
    capfd.readouterr()
    saved_path = list(sys.path)
    saved_tasks = sys.modules.pop("tasks", None)
    with pytest.MonkeyPatch.context() as patch, open(os.devnull) as devnull:
        for name, value in env.items():
            patch.setenv(name, value)
        patch.chdir(root)
        patch.setattr(sys, "stdin", devnull)
        patch.setattr(sys, "argv", argv)
        # tempfile keeps the folder it found first: a TMPDIR given here must count.
        patch.setattr(tempfile, "tempdir", None)
        try:
            code = _exit_code(argv)
        finally:
            sys.path[:] = saved_path
            sys.modules.pop("tasks", None)
            if saved_tasks is not None:
                sys.modules["tasks"] = saved_tasks
        sys.stdout.flush()
        sys.stderr.flush()
    out, err = capfd.readouterr()
    return subprocess.CompletedProcess(argv, code, out, err)


def _exit_code(argv: list[str]) -> int:
    """Run the program; its exit code as the interpreter would give it, a traceback printed."""
    try:
        program().run(argv)
    except SystemExit as done:
        return exit_code(done)
    except KeyboardInterrupt:
        traceback.print_exc()
        return 130
    except Exception:
        # Uncaught, as the interpreter would print it: tests look for "Traceback".
        traceback.print_exc()
        return 1
    return 0
