"""The dependency files: the runtime set (requirements.txt, all the merge workflow and the action
install) holds no test tool, and both sets are pinned to one version with hashes, transitive
packages too, the same version where they overlap, generated from the names pyproject.toml lists."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+) \\$")
NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """name -> version of a pip-compile --generate-hashes file; every pin must carry hashes."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = {}
    for index, line in enumerate(lines):
        if not line or line.startswith((" ", "#")):
            continue
        match = PIN.match(line)
        assert match, f"{path.name}: not an exact pin with hashes: {line}"
        assert lines[index + 1].strip().startswith("--hash=sha256:"), f"{path.name}: no hash for {line}"
        found[normalized(match[1])] = match[2]
    return found


def top_level(path: Path) -> set[str]:
    """The names a requirements .in file asks for (its -c/-r lines aside)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return {normalized(NAME.match(ln)[1]) for ln in lines if ln and not ln.startswith(("#", "-"))}


def test_runtime_and_dev_sets_are_fully_pinned_with_hashes():
    runtime = pins(ROOT / "requirements.txt")
    dev = pins(ROOT / "requirements-dev.txt")
    assert top_level(ROOT / "requirements.in") <= set(runtime)
    assert top_level(ROOT / "requirements-dev.in") <= set(dev)
    # Installed together (make test): one version of every package both need.
    assert {name: (runtime[name], dev[name]) for name in set(runtime) & set(dev) if runtime[name] != dev[name]} == {}


def test_the_runtime_set_holds_no_test_or_lint_tool():
    runtime = set(pins(ROOT / "requirements.txt"))
    assert runtime & top_level(ROOT / "requirements-dev.in") == set()
    assert {"pytest", "moto", "playwright", "zizmor", "graphql-core", "ruff"} & runtime == set()


def test_pyproject_names_what_the_requirements_files_are_generated_from():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dependencies = {normalized(NAME.match(d)[1]) for d in project["project"]["dependencies"]}
    dev = {normalized(NAME.match(d)[1]) for d in project["dependency-groups"]["dev"]}
    assert dependencies == top_level(ROOT / "requirements.in")
    assert dev == top_level(ROOT / "requirements-dev.in")


def test_make_demo_on_a_fresh_checkout_installs_what_its_fake_github_imports(tmp_path):
    """``make demo`` serves the demo from tests/fake_github, which answers GraphQL with graphql-core
    (a dev package, not a runtime one): on a checkout without a venv, the demo's install must bring
    it, or the demo stops at its first GraphQL query (it did, from issue 14 until this test)."""
    for name in ("Makefile", "requirements.txt", "requirements-dev.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    plan = subprocess.run(["make", "-n", "demo"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    installs = [line for line in plan.splitlines() if "pip install" in line]
    assert "graphql-core" in pins(ROOT / "requirements-dev.txt")
    assert "graphql-core" not in pins(ROOT / "requirements.txt")
    assert any("requirements-dev.txt" in line for line in installs), plan
    assert plan.index("requirements-dev.txt") < plan.index("scripts.demo")
