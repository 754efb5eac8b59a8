"""A test-only fault hook at the pipeline's step boundaries; inert unless its env var is set.

The fault tests in tests/aws/ set PRODCLONE_TEST_FAULT to comma-separated
"<step>[:mode]" entries: no mode raises at that step, "pause" sleeps there until
a signal arrives, "slow" sleeps a few seconds and goes on. Unset or empty (as in
any normal run) `checkpoint` returns at once; a step name must match exactly, and
every hit announces itself on stderr, so it cannot act unnoticed.
"""

from __future__ import annotations

import os
import sys
import time

TEST_FAULT_ENV = "PRODCLONE_TEST_FAULT"
STEPS = (
    "snapshot",
    "snapshot-ready",
    "instance",
    "instance-ready",
    "password",
    "tunnel",
    "dump",
    "verify",
)
# The steps of an Aurora clone by copy-on-write (no snapshot): the cluster comes first.
AURORA_STEPS = ("cluster", "cluster-ready", *STEPS[2:])
PAUSE_SECONDS = 600
SLOW_SECONDS = 3


def checkpoint(step: str) -> None:
    wanted = os.environ.get(TEST_FAULT_ENV)
    if not wanted:
        return
    for entry in wanted.split(","):
        name, _, mode = entry.strip().partition(":")
        if name != step:
            continue
        print(f"test hook: {mode or 'fail'} at {step}", file=sys.stderr, flush=True)
        if mode == "pause":
            time.sleep(PAUSE_SECONDS)
        elif mode == "slow":
            time.sleep(SLOW_SECONDS)
        else:
            raise RuntimeError(f"injected failure at step {step} ({TEST_FAULT_ENV})")
