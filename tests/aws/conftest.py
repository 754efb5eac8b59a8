"""moto (server mode) for RDS, a fake SSM endpoint and a fake plugin, around `inv db.clone-prod`."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from prodclone.local.server import LocalServer
from tests.conftest import Project, run_sql
from tests.fakes.fake_ssm import FakeSsm

FAKES = Path(__file__).resolve().parent.parent / "fakes"
PLUGIN_SCRIPT = FAKES / "session_manager_plugin.py"
REGION = "us-east-1"
SOURCE = "prod-db"
SOURCE_CLUSTER = "prod-aurora"
SOURCE_CLUSTER_MEMBER = "prod-aurora-1"
BASTION = "i-0123456789abcdef0"
PROD_PASSWORD = "prod-master-password-never-read"

PROD_SCHEMA = """
CREATE TABLE customers (id bigserial PRIMARY KEY, name text NOT NULL, email text UNIQUE);
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer_id bigint REFERENCES customers (id),
    total numeric(10, 2),
    placed_at timestamptz DEFAULT now()
);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
INSERT INTO customers (name, email)
    SELECT 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 3000) g;
INSERT INTO orders (customer_id, total)
    SELECT 1 + (g % 3000), (g * 7919 % 50000) / 100.0 FROM generate_series(1, 20000) g;
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    with pytest.MonkeyPatch.context() as patch:
        # moto's EC2 (which its RDS asks for subnets and security groups) otherwise builds
        # its 1,300 sample machine images at every reset, a third of each test's setup;
        # prodclone uses none. moto reads this setting as each backend starts.
        patch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        server.start()
        yield f"http://127.0.0.1:{port}"
        server.stop()


@pytest.fixture(scope="session")
def fake_ssm() -> Iterator[FakeSsm]:
    fake = FakeSsm().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def fake_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose `session-manager-plugin` is the fake, to put first on PATH."""
    folder = tmp_path_factory.mktemp("fakebin")
    script = folder / "session-manager-plugin"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{PLUGIN_SCRIPT}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return folder


@pytest.fixture(scope="session")
def botocore_data_once() -> Iterator[None]:
    """In-process runs share one botocore data loader, as the clients of one process do.

    Each run makes its own boto3 session, whose loader would parse botocore's service
    models (JSON files of megabytes) again: 0.15 s of each in-process run, 0.02 s with
    the models already read. Only the files' parsed contents are shared, one loader per
    data path (AWS_DATA_PATH); sessions, credentials, clients and config stay each run's.
    """
    import botocore.loaders
    import botocore.session

    loaders: dict[str | None, botocore.loaders.Loader] = {}
    create = botocore.loaders.create_loader

    def shared(search_path_string: str | None = None) -> botocore.loaders.Loader:
        if search_path_string not in loaders:
            loaders[search_path_string] = create(search_path_string)
        return loaders[search_path_string]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", shared)
        yield


@pytest.fixture(scope="session")
def prod_db(pg: LocalServer) -> Iterator[str]:
    """The embedded server's "prod" database, which the fake tunnel leads to."""
    with pg.connect() as conn:
        conn.execute('DROP DATABASE IF EXISTS "prod" WITH (FORCE)')
        conn.execute('CREATE DATABASE "prod"')
    run_sql(pg, "prod", PROD_SCHEMA)
    yield "prod"
    with pg.connect() as conn:
        conn.execute('DROP DATABASE IF EXISTS "prod" WITH (FORCE)')


def rds_client(moto_url: str) -> Any:
    return boto3.client(
        "rds",
        endpoint_url=moto_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@dataclass
class Cloud:
    """The test's view of the fake cloud, and the environment `inv` runs with."""

    moto_url: str
    ssm: FakeSsm
    env: dict[str, str]
    call_log: Path
    rds: Any = field(init=False)
    sources: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rds = rds_client(self.moto_url)

    def create_source(self, **overrides: Any) -> None:
        params: dict[str, Any] = {
            "DBInstanceIdentifier": SOURCE,
            "Engine": "postgres",
            "EngineVersion": "16.3",
            "DBInstanceClass": "db.m6g.large",
            "AllocatedStorage": 20,
            "MasterUsername": "postgres",
            "MasterUserPassword": PROD_PASSWORD,
            "DBName": "prod",
            **overrides,
        }
        params = {key: value for key, value in params.items() if value is not None}
        self.rds.create_db_instance(**params)
        self.sources.add(params["DBInstanceIdentifier"])

    def create_cluster_source(self) -> None:
        """An Aurora PostgreSQL cluster with one instance, as production runs it."""
        self.rds.create_db_cluster(
            DBClusterIdentifier=SOURCE_CLUSTER,
            Engine="aurora-postgresql",
            EngineVersion="16.4",
            MasterUsername="postgres",
            MasterUserPassword=PROD_PASSWORD,
            DatabaseName="prod",
            BackupRetentionPeriod=7,
        )
        self.rds.create_db_instance(
            DBInstanceIdentifier=SOURCE_CLUSTER_MEMBER,
            DBClusterIdentifier=SOURCE_CLUSTER,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
        )
        self.sources.update({SOURCE_CLUSTER, SOURCE_CLUSTER_MEMBER})

    def clusters(self) -> list[str]:
        found = self.rds.describe_db_clusters()["DBClusters"]
        names = (c["DBClusterIdentifier"] for c in found)
        return sorted(name for name in names if name not in self.sources)

    def cluster_snapshots(self) -> list[str]:
        found = self.rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
        return sorted(s["DBClusterSnapshotIdentifier"] for s in found)

    def made_and_left(self) -> list[str]:
        """Everything a run made that is still there: instances, snapshots, clusters."""
        return (
            [f"instance {name}" for name in self.instances()]
            + [f"snapshot {name}" for name in self.snapshots()]
            + [f"cluster {name}" for name in self.clusters()]
            + [f"cluster-snapshot {name}" for name in self.cluster_snapshots()]
        )

    def calls(self) -> list[dict[str, Any]]:
        """The recorded AWS calls of the run (PRODCLONE_AWS_CALL_LOG)."""
        if not self.call_log.exists():
            return []
        return [json.loads(line) for line in self.call_log.read_text().splitlines()]

    def instances(self) -> list[str]:
        found = self.rds.describe_db_instances()["DBInstances"]
        return sorted(
            name for name in (i["DBInstanceIdentifier"] for i in found) if name not in self.sources
        )

    def snapshots(self) -> list[str]:
        found = self.rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
        return sorted(s["DBSnapshotIdentifier"] for s in found)

    def source_untouched(self) -> bool:
        item = self.rds.describe_db_instances(DBInstanceIdentifier=SOURCE)["DBInstances"][0]
        if SOURCE_CLUSTER in self.sources:
            cluster = self.rds.describe_db_clusters(DBClusterIdentifier=SOURCE_CLUSTER)
            members = cluster["DBClusters"][0]["DBClusterMembers"]
            if [m["DBInstanceIdentifier"] for m in members] != [SOURCE_CLUSTER_MEMBER]:
                return False
        return bool(item["DBInstanceStatus"] == "available")


@pytest.fixture
def cloud(
    moto_url: str,
    fake_ssm: FakeSsm,
    fake_bin: Path,
    botocore_data_once: None,
    pg: LocalServer,
    prod_db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Cloud:
    requests.post(f"{moto_url}/moto-api/reset", timeout=10)
    fake_ssm.reset()
    socket_dir = pg.libpq_env("postgres")["PGHOST"]
    port = pg.libpq_env("postgres").get("PGPORT", "5432")
    call_log = tmp_path / "aws-calls.jsonl"
    # The run's own temp folder: a password folder or file left there is seen by the tests.
    run_tmp = tmp_path / "tmp"
    run_tmp.mkdir()
    env = {
        "TMPDIR": str(run_tmp),
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ENDPOINT_URL_SSM": fake_ssm.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "PATH": f"{fake_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "FAKE_PLUGIN_TARGET_SOCKET": f"{socket_dir}/.s.PGSQL.{port}",
        "PRODCLONE_AWS_CALL_LOG": str(call_log),
    }
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    found = Cloud(moto_url, fake_ssm, env, call_log)
    found.create_source()
    return found


def aws_settings(**overrides: Any) -> dict[str, Any]:
    return {
        "aws": {
            "region": REGION,
            "source_instance": SOURCE,
            # Today's route, which most tests exercise; the others are tested on their own.
            "restore_from": "new-snapshot",
            "tunnel": "ssm",
            "bastion": BASTION,
            "poll_max_seconds": 0.2,
            "tunnel_ready_seconds": 5,
            **overrides,
        }
    }


@pytest.fixture
def clone_project(project: Project) -> Project:
    project.configure(aws_settings())
    return project


def plugin_processes(cloud: Cloud) -> list[str]:
    """Live fake plugins started for this test session (another test run may share /proc).

    Zombies have an empty cmdline and are not counted; the session's own plugins are
    told apart by the socket path in their environment.
    """
    marker = f"FAKE_PLUGIN_TARGET_SOCKET={cloud.env['FAKE_PLUGIN_TARGET_SOCKET']}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if str(PLUGIN_SCRIPT).encode() in cmdline and marker in environ.split(b"\0"):
            shown = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"pid {entry.name}: {shown}")
    return found


def all_cmdlines() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
    return found


def start_inv(project: Project, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **env}
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        cwd=project.root,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def interrupt(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)


def prodclone_tags(run: str, expires: datetime) -> list[dict[str, str]]:
    return [
        {"Key": "prodclone:run", "Value": run},
        {"Key": "prodclone:created-by", "Value": "arn:aws:iam::123456789012:user/ci"},
        {"Key": "prodclone:expires-at", "Value": expires.strftime("%Y-%m-%dT%H:%M:%SZ")},
    ]


def tagged_clone(cloud: Cloud, run: str, expires: datetime, **instance: object) -> None:
    """A snapshot and an instance restored from it, both named and tagged like one of our runs."""
    cloud.rds.create_db_snapshot(
        DBSnapshotIdentifier=f"prodclone-{run}",
        DBInstanceIdentifier=SOURCE,
        Tags=prodclone_tags(run, expires),
    )
    cloud.rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier=f"prodclone-{run}",
        DBSnapshotIdentifier=f"prodclone-{run}",
        DBInstanceClass="db.t4g.small",
        Tags=prodclone_tags(run, expires),
        **instance,
    )


@pytest.fixture
def estate(cloud: Cloud) -> Cloud:
    """An expired instance and snapshot (strays), a running clone, and an untagged look-alike."""
    past = datetime.now(UTC) - timedelta(hours=3)
    future = datetime.now(UTC) + timedelta(hours=1)
    tagged_clone(cloud, "old", past)
    cloud.rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="prodclone-running",
        DBSnapshotIdentifier="prodclone-old",
        DBInstanceClass="db.t4g.small",
        Tags=prodclone_tags("running", future),
    )
    cloud.create_source(DBInstanceIdentifier="prodclone-untagged")
    cloud.rds.create_db_snapshot(
        DBSnapshotIdentifier="prodclone-untagged", DBInstanceIdentifier=SOURCE
    )
    return cloud
