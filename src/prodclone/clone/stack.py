"""Entering a resource into an ExitStack with no gap a signal could slip through.

`ExitStack.enter_context` registers the teardown only after `__enter__` has
returned: a KeyboardInterrupt landing between the two loses the teardown, and
with it a paid instance. Here the teardown is registered first, and runs only
if the resource was really entered.
"""

from __future__ import annotations

import inspect
from contextlib import AbstractContextManager, ExitStack
from types import TracebackType
from typing import TypeVar

T = TypeVar("T")


def enter(stack: ExitStack, cm: AbstractContextManager[T]) -> T:
    """`stack.enter_context(cm)`, with the teardown on the stack before `__enter__` starts."""
    entered = False

    def exit_if_entered(
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        if not _was_entered(cm, entered):
            return False
        return cm.__exit__(kind, value, traceback)

    stack.push(exit_if_entered)
    result = cm.__enter__()
    entered = True
    return result


def _was_entered(cm: AbstractContextManager[object], flagged: bool) -> bool:
    # A @contextmanager resource tells by its generator: suspended at its `yield` means
    # entered, even when the interrupt came before `entered = True` above.
    generator = getattr(cm, "gen", None)
    if inspect.isgenerator(generator):
        return inspect.getgeneratorstate(generator) == inspect.GEN_SUSPENDED
    return flagged
