"""Moving a DB into a DuckLake and back (``copy``), and the lake's housekeeping (``compact``), with
the real parts of tests/test_storage_lake_location.py: PostgreSQL catalog, moto's S3 or a directory for the data,
the lake side run by the DuckLake interpreter (.venv-lake). The copy runs as the user runs it,
``python -m fetcher copy`` from this (the file line's) interpreter, which hands the lake side to
the DuckLake one."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dashboard.queries import lake_health
from fetcher.db import safe_open
from fetcher.storage.lake.copy import COPIED
from tests.support.dashboard_support import build_demo_db
from tests.support.lake_writer import dump_rows
from tests.support.services import ROOT, create_database, start_worker, worker_output
from tests.test_storage_lake_location import SECRET_TEXT, lake_env, moto_endpoint, plant_leaky_view, small_lake  # noqa: F401 - fixtures


def fetcher(python: Path | str, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "fetcher", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def worker(python: Path, env: dict[str, str], tmp_path: Path, config: dict[str, Any]) -> subprocess.Popen[str]:
    return start_worker(python, "tests.support.lake_ops_worker", env, tmp_path, config)


def every_row(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every copied table, every column, in one order."""
    with safe_open.open_migrated(path, read_only=True) as con:
        return {table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall() for table in COPIED}


@pytest.mark.slow
def test_a_file_db_copied_into_a_lake_and_back_is_the_same_row_for_row(
    lake_python,
    postgres,
    lake_env,  # noqa: F811 - the fixture imported above
    tmp_path,
):
    demo = build_demo_db(tmp_path / "demo.duckdb")
    spec = "ducklake:postgres:" + create_database(postgres)
    env = lake_env | {"MERGELENS_LAKE_PYTHON": str(lake_python)}

    into = fetcher(sys.executable, env, "copy", "--from", str(demo), "--to", spec, "--json")
    assert into.returncode == 0, into.stderr
    counts = json.loads(into.stdout)["counts"]
    assert counts["pull_requests"] > 10 and counts["pr_events"] > 0
    back = tmp_path / "back.duckdb"
    out = fetcher(sys.executable, env, "copy", "--from", spec, "--to", str(back))
    assert out.returncode == 0, out.stderr

    original = every_row(demo)
    assert {table: len(rows) for table, rows in original.items()} == counts
    assert every_row(back) == original
    # and the lake itself holds them (read there, by the DuckLake line)
    lake = worker_output(worker(lake_python, env, tmp_path, {"mode": "look", "db": spec}))
    with safe_open.open_migrated(demo, read_only=True) as con:
        assert lake["rows"] == json.loads(json.dumps(dump_rows(con)))
    assert lake["health"]["last_compaction_at"] is None

    # a target with rows: one line, exit 2, nothing written; --replace overwrites
    for target in (spec, str(back)):
        again = fetcher(sys.executable, env, "copy", "--from", str(demo), "--to", target)
        assert again.returncode == 2
        (line,) = again.stderr.strip().splitlines()
        assert line.startswith("mergelens: error: --to ") and "--replace" in line
    assert every_row(back) == original
    replaced = fetcher(sys.executable, env, "copy", "--from", spec, "--to", str(back), "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert every_row(back) == original


@pytest.mark.slow
def test_a_lake_an_older_mergelens_wrote_is_migrated_and_its_metrics_recomputed(
    lake_python,
    postgres,
    lake_env,  # noqa: F811 - the fixture imported above
    tmp_path,
):
    """A lake at schema version 5 (no ``response_work_hours``): the next writer migrates it and,
    as safe_open.open_migrated does for a file, recomputes the metrics, so the new column is filled, not NULL."""
    demo = build_demo_db(tmp_path / "demo.duckdb", n_prs=20)
    spec = "ducklake:postgres:" + create_database(postgres)
    env = lake_env | {"MERGELENS_LAKE_PYTHON": str(lake_python)}
    assert fetcher(sys.executable, env, "copy", "--from", str(demo), "--to", spec).returncode == 0
    old = worker_output(worker(lake_python, env, tmp_path, {"mode": "downgrade", "db": spec}))
    assert old["versions"] == [1, 2, 3, 4, 5]

    # any write: here one that commits nothing of its own
    assert worker_output(worker(lake_python, env, tmp_path, {"mode": "commit", "db": spec, "count": 0, "tag": "m"}))
    lake = worker_output(worker(lake_python, env, tmp_path, {"mode": "look", "db": spec}))
    with safe_open.open_migrated(demo, read_only=True) as con:
        expected = json.loads(json.dumps(dump_rows(con), default=str))
        answered = con.execute("SELECT count(response_work_hours) FROM pr_review_requests").fetchall()[0][0]
    assert answered > 0  # the demo has answered requests, so a NULL column would differ
    assert lake["rows"]["pr_review_requests"] == expected["pr_review_requests"]
    assert lake["rows"] == expected


def test_copy_refuses_the_same_db_and_compact_a_file(tmp_path, cli):
    db = build_demo_db(tmp_path / "demo.duckdb")
    same = cli(None, "copy", "--from", str(db), "--to", str(db))
    assert same.exit_code == 2 and "the same DB" in same.stderr
    on_file = cli(None, "compact", "--db", str(db))
    assert on_file.exit_code == 2
    (line,) = on_file.stderr.strip().splitlines()
    assert line.startswith("mergelens: error: ") and "DuckLake" in line
    missing = cli(None, "copy", "--from", str(tmp_path / "none.duckdb"), "--to", str(tmp_path / "to.duckdb"))
    assert missing.exit_code == 1 and "there is no database there" in missing.stderr
    assert not (tmp_path / "none.duckdb").exists() and not (tmp_path / "to.duckdb").exists()


def test_the_health_page_says_nothing_of_a_lake_on_a_file_db(tmp_path):
    with safe_open.open_migrated(build_demo_db(tmp_path / "demo.duckdb"), read_only=True) as con:
        assert lake_health(con) is None


@pytest.mark.slow
def test_compact_merges_small_files_keeps_every_row_and_loses_no_concurrent_write(
    lake_python,
    postgres,
    lake_env,  # noqa: F811 - the fixture imported above
    tmp_path,
):
    """Many single-PR commits leave many small files; compact brings them down while a writer
    keeps committing, and afterwards every row is as it was and every write of that writer is there."""
    spec = "ducklake:postgres:" + create_database(postgres)
    env = lake_env | {"MERGELENS_LAKE_PYTHON": str(lake_python), "MERGELENS_LAKE_DATA_PATH": f"{tmp_path}/data/"}
    demo = build_demo_db(tmp_path / "demo.duckdb", n_prs=20)
    assert fetcher(sys.executable, env, "copy", "--from", str(demo), "--to", spec).returncode == 0
    assert worker_output(worker(lake_python, env, tmp_path, {"mode": "commit", "db": spec, "count": 40, "tag": "a"}))
    before = worker_output(worker(lake_python, env, tmp_path, {"mode": "look", "db": spec}))

    started = tmp_path / "writer-started"
    writer = worker(
        lake_python, env, tmp_path, {"mode": "commit", "db": spec, "count": 30, "tag": "w", "started": str(started)}
    )
    deadline = time.monotonic() + 120
    while not started.exists():  # compact while the writer is committing
        assert writer.poll() is None and time.monotonic() < deadline, writer.stderr and writer.stderr.read()
        time.sleep(0.01)
    compacted = fetcher(lake_python, env, "compact", "--db", spec, "--json")
    assert compacted.returncode == 0, compacted.stderr[:1500]
    written = worker_output(writer)
    report = json.loads(compacted.stdout)
    print("compact:", report, "writer:", written)
    assert report["data_files_after"] < report["data_files_before"]

    after = worker_output(worker(lake_python, env, tmp_path, {"mode": "look", "db": spec}))
    assert after["rows"] == before["rows"]  # the PR tables, row for row
    runs = after["run_ids"]
    assert sorted(runs) == sorted([*before["run_ids"], *(f"w-{i}" for i in range(30))])  # each once
    assert after["health"]["last_compaction_at"] is not None
    assert after["health"]["data_files_after_compaction"] == report["data_files_after"]


# docs/ducklake.md's figures are for 200 commits; what the test asserts (no row changed) needs
# fewer, and each commit is a lake write (~0.6 s): 200 took two minutes of `make test`.
FIGURES_COMMITS = 50


@pytest.mark.slow
def test_compaction_figures_for_single_pr_commits(
    lake_python,
    postgres,
    lake_env,  # noqa: F811 - the fixture imported above
    tmp_path,
):
    """Prints the figures of docs/ducklake.md: live data files and files on disk before and
    after compacting FIGURES_COMMITS single-PR commits (--keep-hours 0: old files deleted at once),
    and the time compact took. Asserts only that no row changed."""
    spec = "ducklake:postgres:" + create_database(postgres)
    data = tmp_path / "data"
    env = lake_env | {"MERGELENS_LAKE_PYTHON": str(lake_python), "MERGELENS_LAKE_DATA_PATH": f"{data}/"}
    demo = build_demo_db(tmp_path / "demo.duckdb")
    assert fetcher(sys.executable, env, "copy", "--from", str(demo), "--to", spec).returncode == 0
    assert worker_output(
        worker(lake_python, env, tmp_path, {"mode": "commit", "db": spec, "count": FIGURES_COMMITS, "tag": "m"})
    )
    before = worker_output(worker(lake_python, env, tmp_path, {"mode": "look", "db": spec}))
    on_disk = sum(1 for path in data.rglob("*") if path.is_file())
    clock = time.perf_counter()
    compacted = fetcher(lake_python, env, "compact", "--db", spec, "--keep-hours", "0", "--json")
    seconds = time.perf_counter() - clock
    assert compacted.returncode == 0, compacted.stderr[:1500]
    report = json.loads(compacted.stdout)
    after = worker_output(worker(lake_python, env, tmp_path, {"mode": "look", "db": spec}))
    assert after["rows"] == before["rows"]
    print(
        f"\n{FIGURES_COMMITS} single-PR commits: "
        f"live data files {report['data_files_before']} -> {report['data_files_after']}, "
        f"files on disk {on_disk} -> {sum(1 for path in data.rglob('*') if path.is_file())}, "
        f"snapshots expired {report['snapshots_expired']}, files deleted {report['files_deleted']}, "
        f"left scheduled {after['scheduled']}, orphans {after['orphans']}; "
        f"compact {report['duration_s']} s inside, {seconds:.1f} s with the process start"
    )


# --- what anyone who can write the catalog could make a command do ------------------------------


def test_copy_out_of_a_lake_with_a_planted_view_is_refused_before_a_row_is_read(
    small_lake,  # noqa: F811 - the fixture imported above
    lake_python,
    tmp_path,
):
    """The finding: ``copy --from ducklake:`` read the view and wrote the key's text into the
    file's pr_review_requests.reviewer_login. Now the catalog is checked first."""
    spec, env, _ = small_lake
    plant_leaky_view(lake_python, env, tmp_path, spec)
    out = tmp_path / "out.duckdb"
    env = env | {"MERGELENS_LAKE_PYTHON": str(lake_python)}
    done = fetcher(sys.executable, env, "copy", "--from", spec, "--to", str(out))
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("mergelens: error: ") and "it holds a view pr_review_requests" in line
    assert SECRET_TEXT not in done.stdout + done.stderr
    assert not out.exists()


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "dot-dot"])
def test_compact_deletes_no_file_outside_the_data_path(
    small_lake,  # noqa: F811 - the fixture imported above
    lake_python,
    tmp_path,
    relative,
):
    """A path put into the catalog's ducklake_files_scheduled_for_deletion was deleted by the
    next compaction, wherever it was. Now compact lists what it would delete first."""
    spec, env, _ = small_lake
    victim = tmp_path / "keep-me.txt"
    victim.write_text("not the lake's")
    path, is_relative = ("../keep-me.txt", 1) if relative else (str(victim), 0)
    with sqlite3.connect(tmp_path / "meta.sqlite") as catalog:  # what anyone who can write it can do
        catalog.execute(
            "INSERT INTO ducklake_files_scheduled_for_deletion VALUES (9001, ?, ?, '2000-01-01 00:00:00+00')",
            [path, is_relative],
        )
    done = fetcher(lake_python, env, "compact", "--db", spec, "--keep-hours", "0")
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("mergelens: error: ") and "outside the data path" in line and "nothing was deleted" in line
    assert victim.read_text() == "not the lake's"
