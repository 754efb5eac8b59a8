"""What a clone run costs, as the plan and `db.list-clones` estimate it (pure arithmetic)."""

from __future__ import annotations

import pytest

from prodclone.aws import cost


def test_known_class_and_storage() -> None:
    # db.m6g.large, 20 GiB: compute plus storage per hour.
    assert cost.instance_hourly("db.m6g.large", 20) == pytest.approx(0.159 + 20 * 0.115 / 730)


def test_unknown_class_is_priced_not_refused() -> None:
    assert cost.instance_hourly("db.x99.huge", 0) == cost.UNKNOWN_CLASS_HOURLY_USD


def test_usual_minutes_grow_with_size_and_skip_the_snapshot_on_backup_routes() -> None:
    assert cost.usual_minutes(0) == 30
    assert cost.usual_minutes(100) == 50
    assert cost.usual_minutes(100, new_snapshot=False) == 40


def test_run_estimate_with_a_new_snapshot() -> None:
    hours = 34 / 60  # 30 minutes plus 20 per 100 GiB on 20 GiB
    expected = hours * (0.159 + 20 * 0.115 / 730 + 20 * 0.095 / 730)
    assert cost.run_estimate("db.m6g.large", 20) == pytest.approx(expected)


def test_run_estimate_on_backups_adds_no_snapshot_storage() -> None:
    hours = 24 / 60
    expected = hours * (0.159 + 20 * 0.115 / 730)
    assert cost.run_estimate("db.m6g.large", 20, new_snapshot=False) == pytest.approx(expected)


def test_rds_bills_ten_minutes_at_least(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cost, "BASE_MINUTES", 1.0)
    monkeypatch.setattr(cost, "SNAPSHOT_MINUTES", 0.0)
    assert cost.run_estimate("db.t4g.micro", 0) == pytest.approx(10 / 60 * 0.016)
