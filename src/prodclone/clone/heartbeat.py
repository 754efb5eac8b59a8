"""The run's heartbeat: while it lives, its resources' expiry tags stay ahead of now.

A dump of a large database can outlast `timeout_minutes` (which bounds the
waits, not pg_dump), and a scheduled `db.list-clones --delete` removes what
has expired: without a heartbeat it would delete the instance mid-dump. A
thread re-tags what the run made (snapshot, cluster, instance) every few minutes, so a live run
never looks expired; a killed run stops beating and expires within
EXPIRY_MARGIN_MINUTES.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from prodclone.aws import rds
from prodclone.clone.plan import EXPIRY_MARGIN_MINUTES, ClonePlan

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

# The longest pause between two beats, far inside the margin a beat adds.
HEARTBEAT_MAX_SECONDS = 300.0
# Beats are paced like status checks: one beat per this many of the longest poll pause.
POLLS_PER_BEAT = 10


def beat_seconds(poll_max_seconds: float) -> float:
    return min(HEARTBEAT_MAX_SECONDS, POLLS_PER_BEAT * poll_max_seconds)


class Heartbeat:
    def __init__(self, client: RDSClient, plan: ClonePlan, interval: float) -> None:
        self._client = client
        self._plan = plan
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prodclone-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """No beat after this returns (one already under way gets a moment to finish)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.beat()

    def beat(self) -> None:
        plan = self._plan
        ahead = datetime.now(UTC) + timedelta(minutes=EXPIRY_MARGIN_MINUTES)
        expires = max(plan.expires_at, ahead)
        for kind, identifier in plan.made():
            if self._stop.is_set():
                return
            try:
                rds.extend_expiry(self._client, kind, identifier, plan.run, expires)
            except Exception:
                continue  # a missed beat still leaves the margin; the next one tries again
