"""prodclone's modules that bind `sys.stdout` at import, imported for in-process runs."""

from __future__ import annotations

import sys
from typing import Any


class _CurrentStream:
    """Whatever `sys.<name>` is when written to, not when this was made.

    A few prodclone functions take `echo: TextIO = sys.stdout` as a default, which
    Python binds once, at import. A real `inv` imports them inside its task, where
    that is the task's own standard output; in this process they are imported once
    for every in-process run (`Project.run`), so they are imported with this in its
    place and each run's output reaches that run's capture.
    """

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(getattr(sys, self._name), attr)


def import_with_current_streams(*modules: str) -> None:
    import importlib

    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _CurrentStream("stdout"), _CurrentStream("stderr")  # type: ignore[assignment]
    try:
        for module in modules:
            importlib.import_module(module)
    finally:
        sys.stdout, sys.stderr = saved
