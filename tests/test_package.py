"""The installable package (pyproject.toml): the wheel, built by the pinned backend
(requirements-build.txt, in a venv of its own, no build isolation), holds both packages and the
metric SQL; installed in a fresh venv, its ``mergelens`` command is ``python -m fetcher`` (the
version, the help, a sync against the fake GitHub into a DuckDB file) and ``mergelens dashboard``
serves the installed dashboard on loopback.

The fresh venv gets the wheel alone (``--no-deps``); its third-party packages come from this
interpreter's site-packages through a ``.pth`` file (requirements-fetcher.txt installed alone is
tests/test_requirements.py's test). This interpreter's site-packages holds no mergelens, and the
commands run outside the checkout with no PYTHONPATH, so ``fetcher`` and ``dashboard`` can only be
the wheel's: the test asserts it."""

from __future__ import annotations

import json
import subprocess
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TOKEN, query
from tests.support.dashboard_support import empty_db, serve_dashboard
from tests.support.factories import repository
from tests.test_commands_sync import complete_pr
from tests.test_requirements import pins

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

pytestmark = pytest.mark.slow  # two venvs, a build, a sync and a Streamlit server (~15 s from a warm pip cache)


def run(*argv: str | Path, **kwargs: Any) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel as the release builds it: the backend from its hashed lock, no isolation."""
    work = tmp_path_factory.mktemp("build")
    venv.create(work / "venv", with_pip=True)
    python = work / "venv" / "bin" / "python"
    lock = ROOT / "requirements-build.txt"
    installed = run(python, "-m", "pip", "install", "--quiet", "--require-hashes", "--only-binary", ":all:", "-r", lock)
    assert installed.returncode == 0, installed.stderr
    built = run(python, "-m", "build", "--wheel", "--no-isolation", "--outdir", work / "dist", ROOT)
    assert built.returncode == 0, built.stderr
    (found,) = (work / "dist").glob("mergelens-*.whl")
    return found


@pytest.fixture(scope="module")
def mergelens(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed: its ``mergelens`` script."""
    target = tmp_path_factory.mktemp("installed") / "venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "mergelens-test-deps.pth").write_text("".join(f"{path}\n" for path in sorted(deps)))
    installed = run(python, "-m", "pip", "install", "--quiet", "--no-deps", wheel)
    assert installed.returncode == 0, installed.stderr
    return target / "bin" / "mergelens"


def environ(script: Path, **extra: str) -> dict[str, str]:
    return {"PATH": f"{script.parent}:/usr/bin:/bin", "HOME": str(script.parents[2]), **extra}


def test_the_wheel_holds_both_packages_and_the_metric_sql(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = run("git", "ls-files", "fetcher", "dashboard", cwd=ROOT).stdout.split()
    assert tracked and set(tracked) <= names
    assert {"fetcher/compute/sql/rules.sql", "fetcher/compute/sql/pr_metrics.sql", "dashboard/app.py"} <= names
    assert not [name for name in names if name.endswith(".pyc") or name.startswith(("tests/", "scripts/"))]
    (entry_points,) = (name for name in names if name.endswith(".dist-info/entry_points.txt"))
    assert "mergelens = fetcher.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_mergelens_is_python_dash_m_fetcher_installed(mergelens, serve, tmp_path):
    python = mergelens.parent / "python"
    where = run(
        python, "-c", "import fetcher, dashboard; print(fetcher.__file__); print(dashboard.__file__)", cwd=tmp_path
    )
    site = mergelens.parents[1]
    assert [Path(line).is_relative_to(site) for line in where.stdout.split()] == [True, True], where

    env = environ(mergelens)
    version = run(mergelens, "--version", cwd=tmp_path, env=env)
    assert (version.returncode, version.stdout) == (0, f"mergelens {PROJECT['project']['version']}\n")
    helped = run(mergelens, "--help", cwd=tmp_path, env=env)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: mergelens ")
    assert all(command in helped.stdout for command in ("sync", "backfill", "dashboard"))
    bad = run(mergelens, "sync", "--no-such-option", cwd=tmp_path, env=env)
    assert (bad.returncode, bad.stderr) == (
        2,
        "mergelens: error: unrecognized arguments: --no-such-option (see mergelens --help)\n",
    )

    server = serve(repository(complete_pr()))
    db = tmp_path / "installed.duckdb"
    synced = run(
        *(mergelens, "sync", "--repo", "acme/widgets", "--pr", "12", "--db", db, "--json", "--request-interval", "0"),
        cwd=tmp_path,
        env=environ(mergelens, GH_TOKEN=TOKEN, GITHUB_API_URL=server.api_url),
    )
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["status"] == "complete"
    assert TOKEN not in synced.stdout + synced.stderr
    assert query(db, "SELECT number, title FROM pull_requests") == [(12, "Add retry budget")]
    # the metric SQL came from the wheel's fetcher/compute/sql/
    assert query(db, "SELECT count(*) FROM pr_metrics WHERE number = 12") == [(1,)]


def test_mergelens_dashboard_serves_the_installed_app(mergelens, tmp_path):
    env = environ(mergelens)
    helped = run(mergelens, "dashboard", "--help", cwd=tmp_path, env=env)
    site = next(mergelens.parents[1].glob("lib/python3*/site-packages"))
    assert helped.returncode == 0
    assert f"{site / 'dashboard' / 'app.py'} --server.headless true --server.address 127.0.0.1" in helped.stdout
    db = empty_db(tmp_path / "empty.duckdb")
    with serve_dashboard(
        db, tmp_path / "streamlit.log", cwd=tmp_path, launcher=(str(mergelens), "dashboard"), environ=env
    ):
        pass  # its health check answered on 127.0.0.1
    assert "URL: http://127.0.0.1:" in (tmp_path / "streamlit.log").read_text()  # the default address


def test_the_build_backend_is_pinned_with_hashes():
    (backend,) = PROJECT["build-system"]["requires"]
    name, version = backend.split("==")
    assert PROJECT["build-system"]["build-backend"] == f"{name}.build"
    assert pins(ROOT / "requirements-build.txt")[name] == version
