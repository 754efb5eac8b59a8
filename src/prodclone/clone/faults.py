"""The clone pipeline's fault steps; the hook itself is `prodclone.faults.checkpoint`.

The fault tests in tests/aws/ set PRODCLONE_TEST_FAULT to comma-separated
"<step>[:mode]" entries naming these steps (see prodclone.faults).
"""

from __future__ import annotations

from prodclone.faults import PAUSE_SECONDS, SLOW_SECONDS, TEST_FAULT_ENV, checkpoint

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

__all__ = ["AURORA_STEPS", "PAUSE_SECONDS", "SLOW_SECONDS", "STEPS", "TEST_FAULT_ENV", "checkpoint"]
