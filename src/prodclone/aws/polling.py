"""Waiting on AWS state with tenacity: full-jitter backoff, a deadline, throttling retried.

A status in `failure_states` stops the wait at once with the reason; any other
status that is not the wanted one is polled again until the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_delay,
    wait_random_exponential,
)

from prodclone.aws.clients import error_code
from prodclone.errors import ProdcloneError

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)


def is_throttling(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLING_CODES


@dataclass(frozen=True)
class WaitPolicy:
    """How long a wait may last, and the longest pause between two looks."""

    timeout_seconds: float
    max_interval: float


@dataclass(frozen=True)
class Observation:
    """One look at a resource: its status, whether it is what we wait for, a detail."""

    status: str
    done: bool
    detail: str = ""


def poll_until(
    what: str,
    look: Callable[[], Observation],
    wait: WaitPolicy,
    *,
    failure_states: Collection[str] = (),
    on_observe: Callable[[Observation, float], None] | None = None,
) -> Observation:
    """Call `look` until it reports done; ProdcloneError on a failure state or the deadline."""
    started = time.monotonic()
    last: list[Observation] = []

    def observe() -> Observation:
        seen = look()
        last[:] = [seen]
        if on_observe is not None:
            on_observe(seen, time.monotonic() - started)
        if seen.status in failure_states:
            reason = f": {seen.detail}" if seen.detail else ""
            raise ProdcloneError(f"{what} entered state {seen.status!r}{reason}")
        return seen

    def not_done(result: Observation) -> bool:
        return not result.done

    def give_up(state: RetryCallState) -> Observation:
        if state.outcome is not None and state.outcome.failed:
            exc = state.outcome.exception()
            assert exc is not None
            raise exc
        status = last[0].status if last else "unknown"
        raise ProdcloneError(
            f"gave up waiting for {what} after {time.monotonic() - started:.0f}s "
            f"(last status {status!r}); raise prodclone.aws.timeout_minutes if this is normal"
        )

    retrying = Retrying(
        retry=retry_if_result(not_done) | retry_if_exception(is_throttling),
        wait=wait_random_exponential(multiplier=wait.max_interval / 8, max=wait.max_interval),
        stop=stop_after_delay(wait.timeout_seconds),
        retry_error_callback=give_up,
        reraise=True,
    )
    result: Observation = retrying(observe)
    return result
