"""The layout is the architecture: each package of fetcher/ is a stage, and a stage imports only
the stages below it (docs/architecture.md, "Layers"); every module is on the architecture page."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "architecture.md"

# Lower numbers are lower layers; a module may import its own package and any lower layer.
LAYERS = {
    "fetcher": 0,  # the package's docstring only
    "fetcher.errors": 0,
    "fetcher.config": 1,
    "fetcher.extract": 2,
    "fetcher.compute": 3,
    "fetcher.collect": 3,
    "fetcher.db": 4,
    "fetcher.storage": 5,
    "fetcher.pipeline": 6,
    "fetcher.publish": 7,
    "fetcher.commands": 8,
    "fetcher.cli": 9,
    "fetcher.__main__": 10,
    # The dashboard reads what the fetcher stored: it may use the stages that describe the DB,
    # never the ones that fetch or write it.
    "dashboard": 8,
}
DASHBOARD_MAY_NOT = ("fetcher.collect", "fetcher.pipeline", "fetcher.commands", "fetcher.cli")


def modules() -> list[Path]:
    return sorted(p for top in ("fetcher", "dashboard") for p in (ROOT / top).rglob("*.py"))


def dotted(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(name: str) -> tuple[str, int]:
    for prefix, layer in sorted(LAYERS.items(), key=lambda item: -len(item[0])):
        if name == prefix or name.startswith(prefix + "."):
            return prefix, layer
    raise AssertionError(f"{name} is in no layer: add its package to LAYERS and docs/architecture.md")


def module_or_name(module: str, name: str) -> str:
    """``from fetcher.compute import metrics`` imports the module fetcher.compute.metrics;
    ``from fetcher.compute.metrics import recompute`` imports from fetcher.compute.metrics."""
    candidate = ROOT / Path(*f"{module}.{name}".split("."))
    return f"{module}.{name}" if candidate.with_suffix(".py").exists() or candidate.is_dir() else module


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {module_or_name(node.module, alias.name) for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name.split(".")[0] in ("fetcher", "dashboard")}


def violations(path: Path) -> list[str]:
    own, layer = layer_of(dotted(path))
    wrong = []
    for name in sorted(imports_of(path)):
        if name in ("fetcher", "dashboard"):
            continue
        target, target_layer = layer_of(name)
        if target == own:
            continue
        if own == "dashboard" and target.startswith(DASHBOARD_MAY_NOT):
            wrong.append(f"{dotted(path)} imports {name}: the dashboard never fetches or writes")
        elif target_layer >= layer:
            wrong.append(f"{dotted(path)} (layer {layer}) imports {name} (layer {target_layer})")
    return wrong


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_stage_imports_only_the_stages_below_it(path):
    assert violations(path) == []


def test_the_rule_catches_an_import_that_reaches_back(tmp_path):
    """The check itself: a db module importing a command, a dashboard page importing the REST client."""
    db_module = ROOT / "fetcher" / "db" / "_probe.py"
    page = ROOT / "dashboard" / "views" / "_probe.py"
    try:
        db_module.write_text("from fetcher.commands.sync import run_sync\n")
        page.write_text("from fetcher.collect.rest import GitHubSource\n")
        assert violations(db_module) == ["fetcher.db._probe (layer 4) imports fetcher.commands.sync (layer 8)"]
        assert "the dashboard never fetches or writes" in violations(page)[0]
    finally:
        db_module.unlink(missing_ok=True)
        page.unlink(missing_ok=True)


def test_every_module_is_on_the_architecture_page():
    """Each module's path (``fetcher/collect/rest.py``) is named on the page: a module added,
    moved or removed without its line there fails."""
    page = ARCHITECTURE.read_text()
    named = set(re.findall(r"`((?:fetcher|dashboard)/[\w/]+\.py)`", page))
    present = {str(p.relative_to(ROOT)) for p in modules() if p.name != "__init__.py" or p.stat().st_size}
    present = {p for p in present if not p.endswith("__init__.py") or (ROOT / p).read_text().strip()}
    assert sorted(present - named) == [], "modules missing from docs/architecture.md"
    assert sorted(named - {str(p.relative_to(ROOT)) for p in modules()}) == [], (
        "the page names modules that do not exist"
    )
