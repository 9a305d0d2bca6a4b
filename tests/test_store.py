"""The DuckDB file: schema versions, one transaction per PR, and what a crash leaves behind."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import duckdb

from fetcher import store
from tests.conftest import TABLES, TOKEN, table_rows
from tests.factories import repository
from tests.test_sync import REPO_ROOT, complete_pr, sync

REQUIRED_COLUMNS = {
    "pull_requests": "repo number title author_login author_type state draft base_ref head_ref head_sha created_at "
    "updated_at closed_at merged_at merged_by_login additions deletions changed_files html_url fetched_at sync_status",
    "pr_commits": "repo pr_number sha author_login author_name authored_at committed_at message",
    "pr_files": "repo pr_number filename status additions deletions changes previous_filename",
    "pr_check_runs": "repo id pr_number head_sha name status conclusion started_at completed_at app_slug",
    "pr_reviews": "repo id pr_number reviewer_login reviewer_type state body submitted_at commit_id",
    "pr_comments": "repo comment_type id pr_number author_login author_type body created_at updated_at path "
    "in_reply_to_id",
    "pr_events": "repo pr_number seq event actor_login created_at",
    "pr_metrics": "repo number total_comments commits_after_first_review review_rounds avg_fix_response_hours "
    "cycle_time_hours time_to_first_review_hours first_review_at ready_for_review_at pickup_hours force_pushes",
    "sync_runs": "run_id repo pr_number trigger started_at finished_at status counts errors api_requests",
}


def test_schema_has_every_column_of_the_data_contract(tmp_path):
    con = store.connect(tmp_path / "new.duckdb")
    for table, columns in REQUIRED_COLUMNS.items():
        present = {
            name
            for (name,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
            ).fetchall()
        }
        assert set(columns.split()) <= present, (table, set(columns.split()) - present)
    times = con.execute(
        "SELECT DISTINCT data_type FROM information_schema.columns WHERE column_name LIKE '%_at'"
    ).fetchall()
    assert times == [("TIMESTAMP WITH TIME ZONE",)]
    assert store.schema_version(con) == store.SCHEMA_VERSION
    con.close()


def test_opening_again_does_not_migrate_twice(tmp_path):
    path = tmp_path / "twice.duckdb"
    store.connect(path).close()
    con = store.connect(path)
    assert con.execute("SELECT count(*) FROM mergelens_schema").fetchone() == (store.SCHEMA_VERSION,)
    con.close()


def test_a_newer_schema_is_refused_with_one_line(serve, cli, tmp_path):
    path = tmp_path / "future.duckdb"
    con = store.connect(path)
    con.execute("INSERT INTO mergelens_schema VALUES (?, now())", [store.SCHEMA_VERSION + 1])
    con.close()
    server = serve(repository(complete_pr()))
    run = sync(cli, server, path, 12)
    assert run.exit_code == 1
    assert run.stderr.strip().startswith("mergelens: error:")
    assert "newer than this mergelens" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert server.requests == []  # checked before spending any API request


def test_not_a_duckdb_file(serve, cli, tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("these are my notes, not a database\n" * 100)
    server = serve(repository(complete_pr()))
    run = sync(cli, server, path, 12)
    assert run.exit_code == 1
    assert run.stderr.strip().startswith(f"mergelens: error: cannot open database {path}")
    assert server.requests == []
    assert path.read_text().startswith("these are my notes")  # left as it was


def test_a_failed_write_rolls_back_everything(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    assert sync(cli, server, db_path, 12).exit_code == 0
    before = {table: table_rows(db_path, table) for table in (*TABLES, "sync_runs")}
    con = store.connect(db_path)
    bundle = store.PullRequestBundle(
        "acme/widgets",
        12,
        {"repo": "acme/widgets", "number": 12, "title": "half-written"},
        sections={
            "commits": [],  # replaced first (deleted)...
            "files": [{"filename": None, "status": "added"}],  # ...then a row breaks the key
        },
    )
    run = store.SyncRun("broken-run", "acme/widgets", 12, "test", started_at=before["sync_runs"][0][4])
    try:
        store.write_pull_request(con, bundle, run, fetched_at=run.started_at)
    except duckdb.Error:
        pass
    else:
        raise AssertionError("a NULL filename must violate the key")
    con.close()
    assert {table: table_rows(db_path, table) for table in (*TABLES, "sync_runs")} == before


CRASHING_SYNC = textwrap.dedent(
    """
    import os, signal, sys
    from fetcher import metrics
    from fetcher.cli import main

    # Die like kill -9 in the middle of the write: the PR row and its child rows have been
    # replaced inside the transaction, the metrics not yet, nothing committed.
    def crash(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    metrics.recompute = crash
    sys.exit(main(sys.argv[1:]))
    """
)


def test_kill_9_in_the_middle_of_a_write_leaves_the_previous_state(serve, cli, db_path, tmp_path):
    pr = complete_pr()
    server = serve(repository(pr))
    assert sync(cli, server, db_path, 12).exit_code == 0
    before = {table: table_rows(db_path, table) for table in (*TABLES, "sync_runs")}
    pr.title = "changed upstream"
    pr.issue_comments.clear()
    script = tmp_path / "crash.py"
    script.write_text(CRASHING_SYNC)
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            "sync",
            "--repo",
            "acme/widgets",
            "--pr",
            "12",
            "--db",
            str(db_path),
            "--request-interval",
            "0",
        ],
        cwd=REPO_ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO_ROOT),
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_API_URL": server.api_url,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -9, done.stderr  # SIGKILL: no cleanup ran
    assert {table: table_rows(db_path, table) for table in (*TABLES, "sync_runs")} == before
    # and the file is healthy: the next sync goes through
    assert sync(cli, server, db_path, 12).exit_code == 0
    assert table_rows(db_path, "pull_requests")[0][2] == "changed upstream"


def test_db_in_use_by_another_process_is_one_clear_line(serve, cli, db_path):
    store.connect(db_path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; con = duckdb.connect({str(db_path)!r}); print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        server = serve(repository(complete_pr()))
        run = sync(cli, server, db_path, 12)
        assert run.exit_code == 1
        assert server.requests == []
        assert run.stderr.strip().startswith(f"mergelens: error: database {db_path} is in use by another process")
        assert "Traceback" not in run.stderr
    finally:
        holder.kill()
        holder.wait()


def test_sync_runs_log_each_run(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    for _ in range(2):
        sync(cli, server, db_path, 12)
        time.sleep(0.01)
    runs = table_rows(db_path, "sync_runs")
    assert len(runs) == 2
    assert len({row[0] for row in runs}) == 2  # distinct run ids
    assert all(json.loads(row[7])["files"] == 2 for row in runs)
