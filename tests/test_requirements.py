"""The dependency files: the runtime set (requirements.txt, what the dashboard and `make demo`
install) holds no test tool, and every set is pinned to one version with hashes, transitive
packages too, the same version where they overlap, generated from the names pyproject.toml lists.
The fetcher's own lock (requirements-fetcher.txt, all the merge workflow and the action install;
requirements-lake-fetcher.txt on the lake's line) is a part of its runtime set and holds every
package fetcher/ imports: installed alone, the job runs."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from tests.conftest import TOKEN, query, required_module
from tests.support.factories import repository
from tests.test_commands_sync import complete_pr

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


def hashed_pins(path: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (version, its hashes) of a pip-compile --generate-hashes file."""
    versions, hashes, name = pins(path), {}, ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if (match := PIN.match(line)) is not None:
            name = normalized(match[1])
            hashes[name] = set()
        elif line.strip().startswith("--hash=sha256:"):
            hashes[name].add(line.strip().removesuffix("\\").strip())
    return {name: (version, frozenset(hashes[name])) for name, version in versions.items()}


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
    """``make demo`` serves the demo from tests/support/fake_github, which answers GraphQL with graphql-core
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


# --- the fetcher's own lock: what a merge run installs ---------------------------------------------

# What each lock is a part of: a merge run installs the first, the dashboard (and `make demo`) the second.
FETCHER_LOCKS = {
    "requirements-fetcher.txt": "requirements.txt",
    "requirements-lake-fetcher.txt": "requirements-lake.txt",
}
# Imported by fetcher/ only on the lake's line (fetcher/storage/lake/location.py, when the DB is a DuckLake).
LAKE_ONLY = {"psycopg"}


def version_pins(path: Path) -> dict[str, str]:
    """name -> version of each ``name==version`` line of a requirements .in file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = (re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)$", ln) for ln in lines)
    return {normalized(m[1]): m[2] for m in found if m}


def fetcher_imports() -> set[str]:
    """The top-level module of every import in fetcher/, at module level or inside a function
    (a lazy import runs too, when its code path does), other than the standard library's and its own."""
    found: set[str] = set()
    for path in (ROOT / "fetcher").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"__future__", "fetcher"}


def distributions(modules: set[str]) -> set[str]:
    """The distribution that provides each module (as installed here; else the module's own name)."""
    provided = importlib.metadata.packages_distributions()
    return {normalized(name) for module in modules for name in provided.get(module, [module])}


@pytest.mark.parametrize("lock", FETCHER_LOCKS, ids=str)
def test_the_fetcher_lock_is_part_of_its_runtime_set(lock):
    """Same version and same hashes for every package the lock shares with its runtime set, and
    nothing the runtime set does not have: installing either gives the job the same packages."""
    fetcher, runtime = hashed_pins(ROOT / lock), hashed_pins(ROOT / FETCHER_LOCKS[lock])
    assert set(fetcher) <= set(runtime)
    assert {name: pinned for name, pinned in fetcher.items() if runtime[name] != pinned} == {}
    source = ROOT / lock.replace(".txt", ".in")
    assert top_level(source) <= set(fetcher)
    # its .in asks for what the runtime set's .in asks for, at the same pins
    wanted = version_pins(ROOT / FETCHER_LOCKS[lock].replace(".txt", ".in"))
    assert {name: version for name, version in version_pins(source).items() if wanted[name] != version} == {}
    assert f"-c {FETCHER_LOCKS[lock]}" in source.read_text(encoding="utf-8").splitlines()


def test_the_fetcher_lock_holds_every_package_fetcher_imports_and_no_dashboard():
    imported = fetcher_imports()
    # the scan sees lazy imports too (sentry_sdk is imported only when a DSN is set)
    assert {"github", "duckdb", "pyarrow", "sentry_sdk", "psycopg"} <= imported
    assert imported & {"pandas", "streamlit", "altair", "numpy", "dashboard"} == set()
    assert distributions(imported - LAKE_ONLY) <= set(pins(ROOT / "requirements-fetcher.txt"))
    assert distributions(imported) <= set(pins(ROOT / "requirements-lake-fetcher.txt"))
    for lock in FETCHER_LOCKS:
        assert {"streamlit", "pandas", "altair", "authlib", "httpx"} & set(pins(ROOT / lock)) == set()


@pytest.mark.slow  # a venv and its install (~10 s from a warm pip cache, longer from an empty one)
def test_the_fetcher_lock_installed_alone_runs_a_sync(tmp_path, serve):
    """A fresh venv with requirements-fetcher.txt alone, installed with the merge workflow's
    command: ``python -m fetcher --help`` answers, every fetcher module imports, and a sync of a
    PR served by the fake GitHub stores it complete. pip reads its usual cache and index (the
    packages are those of requirements.txt, which `make test` installed)."""
    venv.create(tmp_path / "venv", with_pip=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    install = [python, "-m", "pip", "install", "--quiet", "--require-hashes", "--only-binary", ":all:"]
    subprocess.run([*install, "-r", str(ROOT / "requirements-fetcher.txt")], check=True, timeout=900)
    alone = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}  # nothing from outside it
    installed = subprocess.run(
        [python, "-m", "pip", "list", "--format", "json"], capture_output=True, text=True, env=alone
    )
    names = {normalized(package["name"]) for package in json.loads(installed.stdout)}
    assert names - {"pip", "setuptools"} == set(pins(ROOT / "requirements-fetcher.txt"))

    def fetcher(*argv: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [python, *argv], cwd=ROOT, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=300
        )

    assert "sync" in fetcher("-m", "fetcher", "--help").stdout
    every_module = (
        "import importlib, pkgutil, fetcher\n"
        "for m in pkgutil.walk_packages(fetcher.__path__, 'fetcher.'):\n"
        "    if m.name != 'fetcher.__main__': importlib.import_module(m.name)\n"
    )
    imported = fetcher("-c", every_module)
    assert imported.returncode == 0, imported.stderr
    server = serve(repository(complete_pr()))
    db = tmp_path / "proc.duckdb"
    env = {"GH_TOKEN": TOKEN, "GITHUB_API_URL": server.api_url, "GITHUB_REPOSITORY": "acme/widgets"}
    done = fetcher("-m", "fetcher", "sync", "--pr", "12", "--db", str(db), "--json", "--request-interval", "0", **env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "complete"
    assert query(db, "SELECT count(*) FROM pr_commits") == [(2,)]
    # no dashboard packages in a merge run's install: the dashboard command says so in one line
    dashboard = fetcher("-m", "fetcher", "dashboard")
    assert (dashboard.returncode, dashboard.stderr) == (
        1,
        "mergelens: error: the dashboard needs Streamlit, which this Python lacks: install requirements.txt\n",
    )


def test_a_missing_part_fails_in_ci_and_skips_elsewhere(monkeypatch):
    """The browser tests import Playwright at collection: in CI (which installs it) a missing
    package fails them rather than skipping them unseen, like every other part's absence."""
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no_such_module_of_mergelens cannot be imported"):
        required_module("no_such_module_of_mergelens", "a test of the guard")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no_such_module_of_mergelens"):
        required_module("no_such_module_of_mergelens", "a test of the guard")
    assert required_module("json", "always there").loads("[1]") == [1]
