"""Rough on-demand prices, for the plan and for `db.list-clones` (estimates, not a bill).

Single-AZ RDS for PostgreSQL, us-east-1 list prices; other regions differ by
some tens of percent, which is fine for "is something costing money".
"""

from __future__ import annotations

HOURLY_USD: dict[str, float] = {
    "db.t4g.micro": 0.016,
    "db.t4g.small": 0.032,
    "db.t4g.medium": 0.065,
    "db.t4g.large": 0.129,
    "db.t4g.xlarge": 0.258,
    "db.t3.micro": 0.018,
    "db.t3.small": 0.036,
    "db.t3.medium": 0.072,
    "db.t3.large": 0.145,
    "db.m6g.large": 0.159,
    "db.m6g.xlarge": 0.318,
    "db.m7g.large": 0.168,
    "db.m7g.xlarge": 0.337,
    "db.m5.large": 0.178,
    "db.m6i.large": 0.178,
    "db.r6g.large": 0.225,
    "db.r6g.xlarge": 0.449,
    "db.r7g.large": 0.239,
}
UNKNOWN_CLASS_HOURLY_USD = 0.25
STORAGE_USD_PER_GB_MONTH = 0.115
SNAPSHOT_USD_PER_GB_MONTH = 0.095
HOURS_PER_MONTH = 730.0

# What a run usually takes: snapshot + restore dominate, the dump scales with size.
BASE_MINUTES = 30.0
DUMP_MINUTES_PER_100_GB = 20.0
# The part of BASE_MINUTES a new snapshot takes; routes restoring from backups skip it.
SNAPSHOT_MINUTES = 10.0


def instance_hourly(instance_class: str, storage_gb: int) -> float:
    compute = HOURLY_USD.get(instance_class, UNKNOWN_CLASS_HOURLY_USD)
    return compute + storage_gb * STORAGE_USD_PER_GB_MONTH / HOURS_PER_MONTH


def snapshot_hourly(storage_gb: int) -> float:
    return storage_gb * SNAPSHOT_USD_PER_GB_MONTH / HOURS_PER_MONTH


def usual_minutes(storage_gb: int, new_snapshot: bool = True) -> float:
    base = BASE_MINUTES if new_snapshot else BASE_MINUTES - SNAPSHOT_MINUTES
    return base + DUMP_MINUTES_PER_100_GB * storage_gb / 100


def run_estimate(instance_class: str, storage_gb: int, new_snapshot: bool = True) -> float:
    """Dollars for one run; RDS bills at least ten minutes of instance time. Only a new
    snapshot adds snapshot storage: automated backups are already paid for."""
    hours = max(usual_minutes(storage_gb, new_snapshot), 10.0) / 60
    snapshot = snapshot_hourly(storage_gb) if new_snapshot else 0.0
    return hours * (instance_hourly(instance_class, storage_gb) + snapshot)
