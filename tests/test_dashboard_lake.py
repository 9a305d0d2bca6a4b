"""The dashboard on a DuckLake (dashboard/lake.py), with real parts: a lake filled by
``python -m fetcher copy`` from a file DB (SQLite or DuckDB-file catalog, data in a directory; a
PostgreSQL catalog for the password), read by the app under Streamlit's AppTest on the DuckLake
interpreter (tests/support/dashboard_worker.py: AppTest must run where the extension is), and the same
app on the file on this interpreter to compare with."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.app import PAGES
from tests.conftest import ROOT
from tests.support.dashboard_support import build_hand_db, build_org_db, free_port, loopback
from tests.support.services import create_database
from tests.test_dashboard_app import APP

PASSWORD = "planted-S3cret-pw"
ALL_TIME = {"from": "2026-01-01", "to": "2026-12-31"}


@pytest.fixture(autouse=True)
def fresh_caches() -> Any:
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def environment(tmp_path: Path, lake: Path) -> dict[str, str]:
    """A worker's environment: the lake's data directory, and nothing of this machine's AWS setup."""
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    return keep | {
        "PYTHONPATH": str(ROOT),
        "MERGELENS_LAKE_DATA_PATH": f"{lake}/data/",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }


def copy_into_lake(db: Path, spec: str, env: dict[str, str], lake_python: Path) -> None:
    copied = subprocess.run(
        [sys.executable, "-m", "fetcher", "copy", "--from", str(db), "--to", spec],
        cwd=ROOT,
        env=env | {"MERGELENS_LAKE_PYTHON": str(lake_python)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert copied.returncode == 0, copied.stderr


def worker(python: Path | str, env: dict[str, str], tmp_path: Path, config: dict[str, Any]) -> tuple[Any, str]:
    """tests/support/dashboard_worker.py under ``python``: its JSON and everything it wrote (its logs)."""
    path = tmp_path / f"dashboard-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    done = subprocess.run(
        [str(python), "-m", "tests.support.dashboard_worker", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), done.stdout + done.stderr


def visits(*pages: str, **params: str) -> list[dict[str, Any]]:
    return [{"params": {"page": page, **params}} for page in pages]


@pytest.fixture(scope="module")
def org_lake(lake_python: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, str]]:
    """A file DB of three repositories and the same rows copied into a lake with a SQLite catalog."""
    root = tmp_path_factory.mktemp("org-lake")
    db = build_org_db(root / "org.duckdb")
    env = environment(root, root)
    spec = f"ducklake:sqlite:{root}/meta.sqlite"
    copy_into_lake(db, spec, env, lake_python)
    return db, spec, env


@pytest.mark.slow
def test_a_lake_shows_what_its_file_shows(org_lake, lake_python: Path, tmp_path: Path) -> None:
    """Every page but the health page (the lake's own files there) shows the same figures and tables
    on the lake as on the file it was copied from, in both clocks."""
    db, spec, env = org_lake
    pages = [page for page in PAGES if page != "health"]
    config = {"mode": "visit", "visits": visits(*pages, **ALL_TIME) + visits("repositories", clock="work", **ALL_TIME)}
    on_file, _ = worker(sys.executable, env, tmp_path, config | {"db": str(db)})
    on_lake, _ = worker(lake_python, env, tmp_path, config | {"db": spec})
    for step, file_page, lake_page in zip(config["visits"], on_file, on_lake, strict=True):
        assert not file_page["exceptions"] and not file_page["errors"], step
        assert not lake_page["exceptions"] and not lake_page["errors"], step
        assert lake_page["metrics"] == file_page["metrics"], step
        assert lake_page["tables"] == file_page["tables"], step
    repositories = on_lake[pages.index("repositories")]
    assert repositories["tables"][0]["index"] and len(repositories["tables"][0]["data"]) == 4  # 3 repositories + all
    health, _ = worker(lake_python, env, tmp_path, {"mode": "visit", "db": spec, "visits": visits("health")})
    assert not health[0]["exceptions"] and not health[0]["errors"]
    assert "Data files" in health[0]["metrics"] and health[0]["metrics"]["Last compaction"] == "never"


@pytest.mark.slow
def test_a_merge_committed_meanwhile_shows_after_a_rerun(lake_python: Path, tmp_path: Path) -> None:
    """The cache is keyed on the lake's snapshot: a PR committed by a writer while the dashboard
    has the lake open shows on the next run, without a restart."""
    env = environment(tmp_path, tmp_path)
    spec = f"ducklake:sqlite:{tmp_path}/meta.sqlite"
    copy_into_lake(build_hand_db(tmp_path / "hand.duckdb"), spec, env, lake_python)
    new_pr = "INSERT INTO {0} SELECT * REPLACE (number + 1000 AS number) FROM {0} WHERE repo = 'acme/gadgets'"
    steps = [
        {"params": {"page": "overview", **ALL_TIME}},
        {"rerun": True},  # unchanged: the same snapshot
        {"rerun": True, "write": [new_pr.format(table) for table in ("pull_requests", "pr_metrics")]},
    ]
    pages, _ = worker(lake_python, env, tmp_path, {"mode": "visit", "db": spec, "visits": steps})
    assert [page["metrics"]["Merged PRs"] for page in pages] == ["7", "7", "8"]
    assert not any(page["exceptions"] or page["errors"] for page in pages)


@pytest.mark.slow
def test_a_session_on_an_older_snapshot_keeps_reading_while_others_move_on(lake_python: Path, tmp_path: Path) -> None:
    """Sessions render at the snapshot they started on; while writers commit and other sessions open
    newer snapshots, the older one's running query and its next ones still answer, at their own
    snapshot (the reader once closed the connection it had just reopened, and closed connections
    whose cursors another session was using)."""
    env = environment(tmp_path, tmp_path)
    spec = f"ducklake:sqlite:{tmp_path}/meta.sqlite"
    copy_into_lake(build_hand_db(tmp_path / "hand.duckdb"), spec, env, lake_python)
    new_pr = (  # each write adds one PR, numbered past every other
        "INSERT INTO pull_requests SELECT * REPLACE ((SELECT max(number) FROM pull_requests) + 1 AS number) "
        "FROM pull_requests LIMIT 1"
    )
    result, _ = worker(lake_python, env, tmp_path, {"mode": "snapshots", "db": spec, "write": [new_pr]})
    first, second, third = result["snapshots"]
    assert first < second < third
    assert result["held"] == result["again"]  # the older snapshot, still readable
    assert result["latest"] == result["again"] + 2


@pytest.fixture(scope="module")
def hand_lake(lake_python: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The hand-checked DB copied into a lake with a DuckDB-file catalog: the catalog file."""
    root = tmp_path_factory.mktemp("hand-lake")
    env = environment(root, root)
    catalog = root / "meta.ducklake"
    copy_into_lake(build_hand_db(root / "hand.duckdb"), f"ducklake:{catalog}", env, lake_python)
    return catalog, env


@pytest.mark.slow
@pytest.mark.parametrize(
    ("planted", "named"),
    [
        ("CREATE VIEW recent AS SELECT * FROM pull_requests", "a view recent"),
        ("CREATE TABLE notes (body VARCHAR)", "a table notes"),
        ("CREATE MACRO count_star() AS 42", "a macro count_star"),
        ("ALTER TABLE pull_requests ADD COLUMN secret VARCHAR", "a column pull_requests.secret"),
    ],
)
def test_a_lake_holding_what_mergelens_never_writes_is_refused_in_one_line(
    hand_lake,
    lake_python: Path,
    tmp_path: Path,
    planted: str,
    named: str,
) -> None:
    catalog, env = hand_lake
    copy = Path(shutil.copy(catalog, tmp_path / "planted.ducklake"))  # the same data files, another catalog
    spec = f"ducklake:{copy}"
    worker(lake_python, env, tmp_path, {"mode": "sql", "db": spec, "sql": [planted]})
    pages, _ = worker(lake_python, env, tmp_path, {"mode": "visit", "db": spec, "visits": visits("overview", "prs")})
    for page in pages:
        assert not page["exceptions"] and not page["tables"] and not page["metrics"]
        (error,) = page["errors"]
        assert "Not a mergelens DuckLake" in error and f"{named} that mergelens did not create" in error, error


@pytest.mark.slow
def test_the_catalog_password_never_reaches_the_page_or_the_logs(
    lake_python: Path,
    postgres: str,
    tmp_path: Path,
) -> None:
    env = environment(tmp_path, tmp_path)
    spec = f"ducklake:postgres:{create_database(postgres)} password={PASSWORD}"  # trust auth: accepted, unused
    copy_into_lake(build_hand_db(tmp_path / "hand.duckdb"), spec, env, lake_python)
    unreachable = f"ducklake:postgres:host=127.0.0.1 port={free_port()} user=postgres dbname=x password={PASSWORD}"
    pages, logs = worker(lake_python, env, tmp_path, {"mode": "visit", "db": spec, "visits": visits(*PAGES)})
    for page in pages:
        assert not page["exceptions"] and not page["errors"]
        assert "password=***" in page["text"]  # the sidebar names the lake
    (failed,), failed_logs = worker(
        lake_python, env, tmp_path, {"mode": "visit", "db": unreachable, "visits": visits("overview")}
    )
    (warning,) = failed["warnings"]
    assert not failed["errors"] and not failed["exceptions"]
    assert warning.startswith("**Cannot read the DuckLake.**") and "password=***" in warning
    assert PASSWORD not in logs + failed_logs
    assert PASSWORD not in json.dumps(pages) + failed["text"]


def test_the_main_interpreter_says_to_run_the_lake_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB 2.0 has no DuckLake extension: one line saying where to run the dashboard, no traceback."""
    monkeypatch.setenv("MERGELENS_DB", f"ducklake:postgres:dbname=lake host=127.0.0.1 password={PASSWORD}")
    with loopback():
        at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception and not at.warning
    (error,) = at.error
    assert "This dashboard cannot read a DuckLake" in error.value and "DuckLake interpreter" in error.value
    assert "make dashboard" in error.value
    assert PASSWORD not in repr(at._tree)
