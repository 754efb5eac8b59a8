"""The packages import only downward, as docs/architecture.md draws them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "prodclone"
DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"

# What every layer may use: the process-wide basics at the bottom.
FOUNDATION = {"errors", "faults", "guard", "private", "processes"}

# Each package (or top-level module) and the others it may import. Item by item this
# is the picture in docs/architecture.md, from the bottom up.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "guard": {"errors"},
    "faults": {"errors"},
    "private": {"errors"},
    "processes": {"errors", "guard"},
    "pg": FOUNDATION,
    "schema": FOUNDATION | {"pg"},
    "references": FOUNDATION | {"pg"},
    "mask": FOUNDATION | {"pg"},
    "aws": FOUNDATION,
    "local": FOUNDATION | {"pg", "mask"},
    "clone": FOUNDATION | {"pg", "aws", "local", "mask"},
    "check": FOUNDATION | {"pg", "local", "mask", "references", "schema"},
    "inventory": FOUNDATION | {"pg", "aws", "local"},
    "settings": FOUNDATION | {"pg", "mask"},
    "tasks": FOUNDATION
    | {"pg", "schema", "references", "mask", "aws", "local", "clone", "check", "inventory"}
    | {"settings"},
    "program": {"tasks", "settings", "errors"},
}

# Where the root `Settings` may be named: the layers that read the settings.
READS_SETTINGS = {"settings", "tasks", "program"}


def _unit(path: Path, package: Path = PACKAGE) -> str:
    return path.relative_to(package).parts[0].removesuffix(".py")


def _imported_units(tree: ast.AST) -> set[str]:
    units: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "prodclone":
                names = [f"prodclone.{alias.name}" for alias in node.names]
            else:
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        units |= {n.split(".")[1] for n in names if n.startswith("prodclone.")}
    return units


def import_violations(package: Path = PACKAGE) -> list[str]:
    problems = []
    for path in sorted(package.rglob("*.py")):
        if path.parent == package and path.name == "__init__.py":
            continue
        unit = _unit(path, package)
        allowed = ALLOWED.get(unit)
        if allowed is None:
            problems.append(f"{path.relative_to(package)}: {unit} has no place in the layers")
            continue
        for used in sorted(_imported_units(ast.parse(path.read_text())) - {unit}):
            if used not in allowed:
                problems.append(f"{path.relative_to(package)} imports prodclone.{used}")
    return problems


def root_settings_imports(package: Path = PACKAGE) -> list[str]:
    """Modules below the tasks that import the root `Settings`, or the settings package
    whole (which would reach it as `settings.Settings`)."""
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.parent == package and path.name == "__init__.py":
            continue
        if _unit(path, package) in READS_SETTINGS:
            continue
        if any(_takes_root_settings(node) for node in ast.walk(ast.parse(path.read_text()))):
            found.append(f"{path.relative_to(package)} imports prodclone.settings.Settings")
    return found


def _takes_root_settings(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(alias.name == "prodclone.settings" for alias in node.names)
    if not isinstance(node, ast.ImportFrom) or node.level != 0:
        return False
    names = {alias.name for alias in node.names}
    if node.module == "prodclone":
        return "settings" in names
    return node.module == "prodclone.settings" and "Settings" in names


def test_every_package_imports_only_what_its_layer_allows() -> None:
    assert import_violations() == []


def test_no_package_below_the_tasks_takes_the_root_settings() -> None:
    # The tasks build plain values (paths, names, commands, a clone target) once and
    # hand those down; a function below them that took the whole block could not be
    # pointed elsewhere without fabricating one.
    assert root_settings_imports() == []


def test_the_check_catches_the_root_settings_below_the_tasks(tmp_path: Path) -> None:
    fake = tmp_path / "prodclone"
    for path in PACKAGE.rglob("*.py"):
        target = fake / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    (fake / "local" / "whole.py").write_text("from prodclone.settings import Settings\n")
    (fake / "clone" / "whole.py").write_text("def f():\n    from prodclone import settings\n")
    (fake / "tasks" / "fine.py").write_text("from prodclone.settings import Settings\n")
    assert root_settings_imports(fake) == [
        "clone/whole.py imports prodclone.settings.Settings",
        "local/whole.py imports prodclone.settings.Settings",
    ]


def test_the_check_catches_an_upward_import(tmp_path: Path) -> None:
    # A copy of the package with one import against the direction: aws reaching local.
    fake = tmp_path / "prodclone"
    for path in PACKAGE.rglob("*.py"):
        target = fake / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    (fake / "aws" / "upward.py").write_text("from prodclone.local import server\n")
    (fake / "pg" / "upward.py").write_text("def f():\n    from prodclone import clone\n")
    assert import_violations(fake) == [
        "aws/upward.py imports prodclone.local",
        "pg/upward.py imports prodclone.clone",
    ]


def test_the_architecture_doc_has_a_paragraph_for_every_package() -> None:
    text = DOC.read_text()
    headed = set(re.findall(r"^### `(\w+)`", text, re.MULTILINE))
    units = {_unit(p) for p in PACKAGE.rglob("*.py")} - {"__init__"}
    assert units - headed == set(), "docs/architecture.md lacks a paragraph for these"
    assert headed - set(ALLOWED) == set(), "docs/architecture.md names packages that are gone"
