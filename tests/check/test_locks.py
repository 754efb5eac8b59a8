"""The lock sampler against a real migration transaction on a second connection."""

from __future__ import annotations

import time

import psycopg

from prodclone.check.locks import LockSampler, sampling
from prodclone.local.server import LocalServer
from tests.conftest import run_sql


def wait_for_samples(sampler: LockSampler, count: int) -> None:
    """Wait until the sampler has looked `count` more times (a condition, not a duration)."""
    target = sampler.report.samples + count
    while sampler.report.samples < target:
        assert not sampler.report.error, sampler.report.error
        time.sleep(0.01)


def test_holds_per_table_and_mode_and_renamed_tables_by_their_new_name(
    pg: LocalServer, fresh_db: str
) -> None:
    run_sql(pg, fresh_db, "CREATE TABLE accounts (id int); CREATE TABLE audit (id int);")
    with sampling(pg.url(fresh_db), interval=0.01, slow_seconds=3600) as sampler:
        with psycopg.connect(pg.url(fresh_db)) as migration:
            migration.execute("ALTER TABLE accounts RENAME TO customers")
            migration.execute("LOCK TABLE audit IN SHARE MODE")
            wait_for_samples(sampler, 3)
            migration.commit()
            migration.execute("LOCK TABLE audit IN ACCESS EXCLUSIVE MODE")
            wait_for_samples(sampler, 2)  # one may have started before the lock
            migration.commit()
        wait_for_samples(sampler, 1)
    holds = {(hold.relation, hold.mode): hold for hold in sampler.report.holds}
    assert set(holds) == {
        ("public.customers (was public.accounts)", "AccessExclusiveLock"),
        ("public.audit", "ShareLock"),
        ("public.audit", "AccessExclusiveLock"),
    }
    assert all(hold.seconds > 0 for hold in holds.values())
    assert sampler.report.slow == [] and sampler.report.error == ""
