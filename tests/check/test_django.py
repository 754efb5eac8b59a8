"""The Django recipe on a real Django project: its own migrations and contrib's history.

The project is made in a temporary folder with `django-admin startproject`, an app with
a few models and `makemigrations`, and settings that read DATABASE_URL with
dj-database-url. "Production" is migrated with the older history, given rows and
dumped; then a pending field rename (written by hand, as Django asks about renames
interactively) and a new model (made by `makemigrations`) must pass `refactor-check`
with no false alarm: Django's bookkeeping tables grow, nothing else changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from prodclone.local.embedded import bin_dir
from prodclone.local.server import LocalServer
from tests.check.conftest import Result, free_port
from tests.conftest import Project, dedent

pytest.importorskip("django", reason="Django is a dev extra: pip install -e '.[dev]'")
pytest.importorskip("dj_database_url", reason="dj-database-url is a dev extra")

SETTINGS_TAIL = """
# The database comes from DATABASE_URL, as prodclone (and most hosts) hand it over.
import dj_database_url

DATABASES = {"default": dj_database_url.config(conn_max_age=0)}
INSTALLED_APPS += ["shop"]
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
"""

MODELS_V1 = """
from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=100)
    email = models.EmailField(unique=True)


class Order(models.Model):
    STATUS = [("new", "New"), ("paid", "Paid"), ("shipped", "Shipped")]
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    total = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=STATUS, default="new")
    created = models.DateTimeField(auto_now_add=True)
"""

# The pending change: `total` becomes `amount_cents`, and a new model.
MODELS_V2 = (
    MODELS_V1.replace("    total = ", "    amount_cents = ")
    + """

class Coupon(models.Model):
    code = models.CharField(max_length=20, unique=True)
    percent = models.PositiveSmallIntegerField(default=10)
"""
)

# What Wagtail and many apps add: a CHECK that a varchar is one of a few values.
STATUS_CHECK = """
    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["new", "paid", "shipped"]),
                name="shop_order_status_valid",
            )
        ]
"""

RENAME_MIGRATION = """
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]

    operations = [
        migrations.RenameField(model_name="order", old_name="total", new_name="amount_cents"),
    ]
"""

VIEWS = """
from django.http import JsonResponse

from shop.models import Order


def orders(request):
    rows = Order.objects.order_by("id")[:20]
    return JsonResponse(
        {"orders": [{"id": o.id, "cents": o.amount_cents} for o in rows]}
    )
"""

URLS = """
from django.contrib import admin
from django.urls import path

from shop import views

urlpatterns = [path("admin/", admin.site.urls), path("orders/", views.orders)]
"""

PRODUCTION_ROWS = """
from django.contrib.auth.models import User
from shop.models import Customer, Order

User.objects.create_superuser("admin", "admin@example.com", "not-a-secret")
for n in range(3):
    customer = Customer.objects.create(name=f"Customer {n}", email=f"c{n}@example.com")
    for k in range(4):
        Order.objects.create(customer=customer, total=100 * (k + 1), status="paid")
"""

SMOKE_QUERY = (
    "from shop.models import Order; "
    "assert Order.objects.filter(amount_cents__gt=0).count() == 12, 'orders lost'"
)


def manage(site: Path, *args: str, url: str = "") -> str:
    """`python manage.py ...` in the project, as its developer would run it."""
    env = {**os.environ, "DATABASE_URL": url} if url else dict(os.environ)
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class DjangoSite:
    """A Django project with prodclone's tasks.py and invoke.yaml beside manage.py."""

    def __init__(self, project: Project, pg: LocalServer, status_check: bool = False) -> None:
        self.status_check = status_check
        self.project = project
        self.root = project.root
        self.pg = pg
        self.port = free_port()
        self.dump = self.root / "dump" / "prod-20260101T000000Z.dump"

    def start(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "django", "startproject", "mysite", "."],
            cwd=self.root,
            check=True,
        )
        manage(self.root, "startapp", "shop")
        settings = self.root / "mysite" / "settings.py"
        settings.write_text(settings.read_text() + SETTINGS_TAIL)
        (self.root / "shop" / "models.py").write_text(self.models(MODELS_V1))
        # makemigrations needs no database; dj-database-url needs a URL to parse.
        manage(self.root, "makemigrations", "shop", url=self.pg.url("unused"))

    def models(self, text: str) -> str:
        if self.status_check:
            created = "    created = models.DateTimeField(auto_now_add=True)\n"
            text = text.replace(created, created + STATUS_CHECK)
        return dedent(text)

    def build_production(self) -> None:
        """Migrate a database with today's history, give it rows, dump it, drop it."""
        name = "djshop_production_standin"
        with self.pg.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            manage(self.root, "migrate", "--noinput", url=self.pg.url(name))
            manage(self.root, "shell", "-c", dedent(PRODUCTION_ROWS), url=self.pg.url(name))
            self.dump.parent.mkdir(mode=0o700)
            subprocess.run(
                [str(bin_dir() / "pg_dump"), "--format=custom", "--file", str(self.dump)],
                env={**os.environ, **self.pg.libpq_env(name)},
                check=True,
                umask=0o077,
            )
        finally:
            with self.pg.connect() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def add_pending_migrations(self) -> None:
        migrations = self.root / "shop" / "migrations"
        (migrations / "0002_rename_order_total.py").write_text(dedent(RENAME_MIGRATION))
        (self.root / "shop" / "models.py").write_text(self.models(MODELS_V2))
        (self.root / "shop" / "views.py").write_text(dedent(VIEWS))
        (self.root / "mysite" / "urls.py").write_text(dedent(URLS))
        manage(self.root, "makemigrations", "shop", url=self.pg.url("unused"))

    def configure(self) -> None:
        python = sys.executable
        fetch = (
            "import urllib.request; "
            f"print(urllib.request.urlopen('http://127.0.0.1:{self.port}/orders/').read())"
        )
        self.project.configure(
            {
                "app": "djshop",
                "local": {"keep_spare": False},
                "commands": {
                    "migrate": f"{python} manage.py migrate --noinput",
                    "boot": f"{python} manage.py check --database default",
                    "serve": f"{python} -u manage.py runserver --noreload 127.0.0.1:{self.port}",
                    "smoke": [
                        f'{python} manage.py shell -c "{SMOKE_QUERY}"',
                        f'{python} -c "{fetch}"',
                    ],
                    "fresh_inputs": ["*/migrations/*.py"],
                },
                "check": {"serve_ready_line": "Starting development server at"},
            }
        )

    def check(self, report: str) -> Result:
        done = self.project.run(
            "refactor-check", "--dump", str(self.dump), "--report", str(self.root / report)
        )
        return Result(done.returncode, done.stdout + done.stderr, self.root / report)


def make_site(project: Project, pg: LocalServer, status_check: bool = False) -> DjangoSite:
    site = DjangoSite(project, pg, status_check)
    site.start()
    site.build_production()
    site.add_pending_migrations()
    site.configure()
    return site


@pytest.fixture
def django_site(project: Project, pg: LocalServer) -> DjangoSite:
    return make_site(project, pg)


def test_django_rename_and_new_model_pass_with_no_false_alarm(django_site: DjangoSite) -> None:
    migrations = django_site.root / "shop" / "migrations"
    assert (migrations / "0003_coupon.py").exists()  # made by makemigrations
    result = django_site.check("report-1")
    assert result.code == 0, result.output
    assert result.json["verdict"] == "PASSED"
    data = result.stage("data")["summary"]
    assert "no rows lost" in data and "gained rows" not in data
    for table in ("django_migrations", "django_content_type", "auth_permission"):
        assert f"public.{table}" in data
    tables = {table["table"]: table for table in result.stage("data")["figures"]["tables"]}
    assert tables["public.shop_order"]["note"] == "rows kept (12)"
    assert tables["public.django_migrations"]["gained"] == 2
    assert "no differences" in result.stage("schema")["summary"]
    # A full Django migrate prints a line per migration: folded, whole in the report.
    assert "lines, whole output in" in result.output
    assert "Applying shop.0003_coupon... OK" in (result.report / "migrate.log").read_text()
    assert "Applying auth.0001_initial" in (result.report / "fresh-migrate.log").read_text()
    smoke = result.stage("smoke")
    assert smoke["status"] == "passed" and smoke["figures"]["smoke_commands"] == 2

    # Nothing changed in the migrations: the fresh database is reused.
    again = django_site.check("report-2")
    assert again.code == 0, again.output
    assert again.stage("fresh")["figures"]["reused"] is True


def test_django_varchar_in_check_survives_the_dump_round_trip(
    project: Project, pg: LocalServer
) -> None:
    site = make_site(project, pg, status_check=True)
    assert "shop_order_status_valid" in (site.root / "shop/migrations/0001_initial.py").read_text()
    result = site.check("report")
    # The bookkeeping tables are not the problem, whatever the schema gate says.
    assert result.stage("data")["status"] == "passed", result.output
    # The restored clone and the fresh build store the CHECK's text alike: no false drift.
    assert result.stage("schema")["status"] == "passed", result.output
    assert result.code == 0, result.output
