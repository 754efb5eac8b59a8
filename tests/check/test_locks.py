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


def test_a_renamed_table_is_reported_under_its_new_name(pg: LocalServer, fresh_db: str) -> None:
    run_sql(pg, fresh_db, "CREATE TABLE accounts (id int); CREATE TABLE audit (id int);")
    with sampling(pg.url(fresh_db), interval=0.01, slow_seconds=3600) as sampler:
        with psycopg.connect(pg.url(fresh_db)) as migration:
            migration.execute("ALTER TABLE accounts RENAME TO customers")
            migration.execute("LOCK TABLE audit IN SHARE MODE")
            wait_for_samples(sampler, 3)
            migration.commit()
        wait_for_samples(sampler, 1)
    holds = {hold.relation: hold for hold in sampler.report.holds}
    assert holds["public.customers (was public.accounts)"].mode == "AccessExclusiveLock"
    assert holds["public.audit"].mode == "ShareLock"
    assert all(hold.seconds > 0 for hold in holds.values())
    assert sampler.report.slow == [] and sampler.report.error == ""
