"""The DuckDB file: schema versions, one transaction per PR, and what a crash leaves behind."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from fetcher.db import safe_open, schema, store
from fetcher.extract import sections
from tests.conftest import TABLES, TOKEN, table_rows
from tests.support.factories import repository
from tests.test_commands_sync import REPO_ROOT, complete_pr, sync

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
    con = safe_open.open_migrated(tmp_path / "new.duckdb")
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
    assert schema.recorded_version(con) == schema.SCHEMA_VERSION
    con.close()


def test_opening_again_does_not_migrate_twice(tmp_path):
    path = tmp_path / "twice.duckdb"
    safe_open.open_migrated(path).close()
    con = safe_open.open_migrated(path)
    assert con.execute("SELECT count(*) FROM mergelens_schema").fetchone() == (schema.SCHEMA_VERSION,)
    con.close()


def test_a_newer_schema_is_refused_with_one_line(serve, cli, tmp_path):
    path = tmp_path / "future.duckdb"
    con = safe_open.open_migrated(path)
    con.execute("INSERT INTO mergelens_schema VALUES (?, now())", [schema.SCHEMA_VERSION + 1])
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
    assert run.stderr.strip().startswith(f"mergelens: error: cannot open database {path}: it does not open as")
    assert server.requests == []
    assert path.read_text().startswith("these are my notes")  # left as it was


def test_a_failed_write_rolls_back_everything(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    assert sync(cli, server, db_path, 12).exit_code == 0
    before = {table: table_rows(db_path, table) for table in (*TABLES, "sync_runs")}
    con = safe_open.open_migrated(db_path)
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
    from fetcher.compute import metrics
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
    safe_open.open_migrated(db_path).close()
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
        assert run.stderr.strip().startswith(
            f"mergelens: error: cannot open database {db_path}: it is in use by another process (PID {holder.pid})"
        )
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


# --- a DB file is data, not code ---------------------------------------------------------------


def planted(cli, server, path, *statements: str) -> bytes:
    """A DB that mergelens wrote (PR 12), then changed by someone else with plain DuckDB."""
    assert sync(cli, server, path, 12).exit_code == 0
    with duckdb.connect(str(path)) as con:
        for statement in statements:
            con.execute(statement)
    return path.read_bytes()


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        (["DROP TABLE pr_files", "CREATE VIEW pr_files AS SELECT 1 AS repo"], "a view pr_files that mergelens"),
        (["ALTER TABLE pull_requests DROP COLUMN body"], "lacks mergelens's column pull_requests.body"),
        (["ALTER TABLE pr_files ALTER COLUMN changes TYPE BIGINT"], "column pr_files.changes is not defined as"),
        (["ALTER TABLE pr_files ALTER COLUMN status SET DEFAULT 'x'"], "column pr_files.status is not defined as"),
        (["CREATE MACRO epoch(x) AS 0"], "a macro epoch that mergelens did not create"),  # cycle times would be 0
        (["CREATE MACRO count_star() AS 42"], "a macro count_star"),  # shadows count(*)
        (["CREATE MACRO duckdb_functions() AS TABLE SELECT 1 AS x"], "a macro duckdb_functions"),  # hides macros
        (["CREATE SEQUENCE ids"], "a sequence ids"),
        (["CREATE INDEX by_title ON pull_requests (title)"], "an index by_title"),
        (["CREATE TYPE mood AS ENUM ('happy')"], "a type mood"),
        (["CREATE SCHEMA extra", "CREATE TABLE extra.notes (x INTEGER)"], "a schema extra"),
        (["CREATE TABLE notes (x INTEGER)"], "a table notes"),
        (["COMMENT ON TABLE pr_files IS 'mine'"], "table pr_files is not defined as"),
        (['CREATE VIEW "x\n::error::pwned" AS SELECT 1'], r'a view "x\n::error::pwned"'),
        (["DROP TABLE backfill_pending"], "lacks mergelens's table backfill_pending"),
    ],
    ids=[
        "view-for-table",
        "dropped-column",
        "column-type",
        "column-default",
        "macro-epoch",
        "macro-count",
        "macro-catalog",
        "sequence",
        "index",
        "type",
        "schema",
        "table",
        "comment",
        "newline-name",
        "dropped-table",
    ],
)
def test_anything_mergelens_did_not_create_is_refused_by_name(serve, cli, db_path, statements, expected):
    server = serve(repository(complete_pr()))
    before = planted(cli, server, db_path, *statements)
    requests = len(server.requests)
    run = sync(cli, server, db_path, 12)
    assert run.exit_code == 1, run.stderr
    assert run.stderr.startswith(f"mergelens: error: cannot open database {db_path}: it")
    assert expected in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
    assert "SELECT" not in run.stderr and "AS 0" not in run.stderr  # a name, never a definition
    assert len(server.requests) == requests  # refused before spending any API request
    assert db_path.read_bytes() == before


def test_a_truncated_db_file_is_one_line_and_left_as_it_was(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    whole = planted(cli, server, db_path)
    for size in (100, len(whole) // 2, len(whole) - 4096):
        db_path.write_bytes(whole[:size])
        run = sync(cli, server, db_path, 12)
        assert run.exit_code == 1, (size, run.stderr)
        (error,) = [line for line in run.stderr.splitlines() if line.startswith("mergelens: error:")]
        assert "truncated" in error and "Traceback" not in run.stderr
        assert run.stderr.strip().endswith(error)  # after the fetch's progress lines, the one error line
        assert db_path.read_bytes() == whole[:size]


LEAKY_VIEW = "CREATE VIEW pr_files AS SELECT * FROM read_text('/proc/self/environ') WHERE error(content) IS NULL"


def test_a_planted_view_cannot_leak_the_environment_anywhere(serve, db_path, tmp_path, sentry):
    """The finding: counting the rows of a view over /proc/self/environ wrapped in error() put
    the whole environment (token, AWS and Sentry secrets) into the error line, the ::error
    annotation, the step summary and a Sentry event. /proc/self/environ is a process's initial
    environment, so the sync runs in a child process with planted secrets."""
    dsn, events = sentry
    server = serve(repository(complete_pr()))
    safe_open.open_migrated(db_path).close()
    with duckdb.connect(str(db_path)) as con:
        con.execute("DROP TABLE pr_files")
        con.execute(LEAKY_VIEW)
    before = db_path.read_bytes()
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    secrets = {"GITHUB_TOKEN": TOKEN, "AWS_SECRET_ACCESS_KEY": "planted-aws-secret-0123456789", "SENTRY_DSN": dsn}
    done = subprocess.run(
        [sys.executable, "-m", "fetcher", "sync", "--repo", "acme/widgets", "--pr", "12", "--db", str(db_path)],
        cwd=REPO_ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO_ROOT),
            "GITHUB_API_URL": server.api_url,
            "GITHUB_ACTIONS": "true",
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_OUTPUT": str(outputs),
            **secrets,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"mergelens: error: cannot open database {db_path}: it holds a view pr_files")
    assert len(done.stderr.strip().splitlines()) == 1
    assert len(events) == 1  # the failure did reach Sentry: the channel was exercised
    everything = done.stdout + done.stderr + summary.read_text() + outputs.read_text() + json.dumps(events)
    for name, secret in secrets.items():
        assert secret not in everything and name not in everything, name
    assert "PYTHONPATH" not in everything and "/proc/self/environ" not in everything
    assert db_path.read_bytes() == before


def test_only_our_own_catalog_is_expected():
    """The expected catalog is read from a DB the migrations built, not written by hand."""
    latest = safe_open.expected_catalog(schema.SCHEMA_VERSION)
    tables = {entry.name for entry in latest if entry.kind == "table"}
    assert tables == {
        "mergelens_schema",
        *TABLES,
        "sync_runs",
        "backfill_checkpoints",
        "backfill_pending",
        "bot_logins",
        "open_pr_snapshot_runs",
        "open_pr_snapshots",
        "open_pr_closures",
        "work_calendar",
        "artifact_copies",
    }
    assert {entry.kind for entry in latest} == {"table", "column"}
    assert not {entry.name for entry in safe_open.expected_catalog(1) if entry.kind == "table"} & {"backfill_pending"}
    assert safe_open.expected_catalog(0) == {}


def test_the_table_list_is_the_tables_the_migrations_create():
    """schema.TABLES (what storage counts and verifies) and every section's table are the DDL's tables."""
    created = {entry.name for entry in safe_open.expected_catalog(schema.SCHEMA_VERSION) if entry.kind == "table"}
    assert set(schema.TABLES) == created
    assert {child.table for child in schema.CHILD_TABLES.values()} <= created
    assert list(schema.CHILD_TABLES) == list(sections.SECTION_NAMES)


def test_an_older_file_is_verified_against_its_own_version_then_migrated(tmp_path):
    path = tmp_path / "v1.duckdb"
    with duckdb.connect(str(path)) as con:
        schema.ensure_schema(con, 1)
    con, version = safe_open.open_database(path, read_only=True)
    con.close()
    assert version == 1
    con = safe_open.open_migrated(path)
    assert schema.recorded_version(con) == schema.SCHEMA_VERSION
    con.close()
    with duckdb.connect(str(path)) as con:  # an "older" file that also carries a view
        con.execute("DELETE FROM mergelens_schema WHERE version > 1")
        con.execute("DROP TABLE backfill_pending")
        con.execute("DROP TABLE backfill_checkpoints")
        con.execute("CREATE VIEW backfill_pending AS SELECT 1 AS x")
    with pytest.raises(safe_open.DatabaseRefused, match="holds a view backfill_pending"):
        safe_open.open_migrated(path)


def test_the_configuration_is_locked_and_external_access_off(tmp_path):
    con = safe_open.open_migrated(tmp_path / "locked.duckdb")
    try:
        assert con.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("SET enable_external_access = true")
        with pytest.raises(duckdb.PermissionException):
            con.execute("SELECT * FROM read_text('/etc/hostname')")
        with con.cursor() as cursor:  # a cursor is a new connection: it inherits UTC
            assert cursor.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
    finally:
        con.close()


def test_two_connections_to_one_file_in_one_process(tmp_path):
    """DuckDB shares one open database per file in a process: the second open finds the
    configuration already locked (by the first) and must not try to set it again."""
    path = tmp_path / "shared.duckdb"
    first = safe_open.open_migrated(path)
    try:
        second, version = safe_open.open_database(path)
        assert version == schema.SCHEMA_VERSION
        assert second.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
        second.close()
    finally:
        first.close()


def test_a_version_2_file_keeps_every_row_and_its_deleted_accounts_are_converted(tmp_path):
    """A file as version 2 wrote it: the timeline's deleted account is GitHub's "ghost" user, the
    comments' is NULL. Migrated to version 3: one representation (NULL login, a *_deleted flag),
    every row kept, and the metrics recomputed by the new definitions."""
    path = tmp_path / "v2.duckdb"
    with duckdb.connect(str(path)) as con:
        schema.ensure_schema(con, 2)
        pr = "'acme/widgets', 1"
        con.execute(f"""INSERT INTO pull_requests (repo, number, author_login, author_type, created_at, merged_at,
                merged_by_login, fetched_at, sync_status)
            VALUES ({pr}, 'alice', 'User', '2026-03-02 09:00Z', '2026-03-02 17:00Z', 'ghost', now(), 'complete'),
                   ('acme/widgets', 2, NULL, NULL, '2026-03-03 09:00Z', NULL, NULL, now(), 'complete')""")
        con.execute(f"""INSERT INTO pr_commits (repo, pr_number, sha, position, author_login, committed_at)
            VALUES ({pr}, 'a1', NULL, 'alice', '2026-03-02 08:00Z'), ({pr}, 'b2', NULL, NULL, '2026-03-02 12:00Z')""")
        con.execute("""INSERT INTO pr_reviews (repo, id, pr_number, reviewer_login, reviewer_type, state,
                submitted_at)
            VALUES ('acme/widgets', 10, 1, 'ghost', 'User', 'CHANGES_REQUESTED', '2026-03-02 11:00Z'),
                   ('acme/widgets', 11, 1, 'bob', 'User', 'APPROVED', '2026-03-02 16:00Z')""")
        con.execute("""INSERT INTO pr_comments (repo, comment_type, id, pr_number, author_login, author_type,
                created_at)
            VALUES ('acme/widgets', 'issue', 20, 1, NULL, NULL, '2026-03-02 10:00Z'),
                   ('acme/widgets', 'issue', 21, 1, 'jacquev6', NULL, '2026-03-02 10:30Z'),
                   ('acme/widgets', 'review', 22, 1, 'ghost', 'User', '2026-03-02 10:45Z')""")
        con.execute(f"""INSERT INTO pr_events (repo, pr_number, seq, event, actor_login, actor_type, created_at,
                requested_reviewer_login)
            VALUES ({pr}, 0, 'committed', NULL, NULL, '2026-03-02 08:00Z', NULL),
                   ({pr}, 1, 'assigned', 'ghost', 'User', '2026-03-02 09:05Z', NULL),
                   ({pr}, 2, 'review_requested', 'alice', 'User', '2026-03-02 09:06Z', 'ghost'),
                   ({pr}, 3, 'labeled', NULL, NULL, '2026-03-02 09:07Z', NULL)""")
        con.execute(f"INSERT INTO pr_metrics (repo, number, total_comments) VALUES ({pr}, 99)")
        v2_tables = [table for table in TABLES if table != "pr_review_requests"]  # version 4's
        counts = {table: con.execute(f"SELECT count(*) FROM {table}").fetchone() for table in v2_tables}

    con = safe_open.open_migrated(path)
    try:
        assert schema.recorded_version(con) == schema.SCHEMA_VERSION
        assert {table: con.execute(f"SELECT count(*) FROM {table}").fetchone() for table in TABLES} == {
            **counts,
            "pr_metrics": (2,),  # recomputed: one row per PR
            "pr_review_requests": (1,),  # derived: the request to the deleted account
        }

        def rows(sql: str) -> list[tuple]:
            return con.execute(sql).fetchall()

        assert rows(
            "SELECT number, author_login, author_deleted, merged_by_login, merged_by_deleted "
            "FROM pull_requests ORDER BY number"
        ) == [(1, "alice", False, None, True), (2, None, True, None, False)]
        assert rows("SELECT id, reviewer_login, reviewer_type, reviewer_deleted FROM pr_reviews ORDER BY id") == [
            (10, None, None, True),
            (11, "bob", "User", False),
        ]
        assert rows("SELECT id, author_login, author_type, author_deleted FROM pr_comments ORDER BY id") == [
            (20, None, None, True),
            (21, "jacquev6", None, False),  # no type (2012), but a login: a living account
            (22, None, None, True),
        ]
        assert rows(
            "SELECT seq, actor_login, actor_type, actor_deleted, requested_reviewer_login, requested_reviewer_deleted "
            "FROM pr_events ORDER BY seq"
        ) == [
            (0, None, None, False, None, False),  # a git commit names no account
            (1, None, None, True, None, False),
            (2, "alice", "User", False, None, True),
            (3, None, None, True, None, False),
        ]
        assert rows("SELECT sha, parents FROM pr_commits ORDER BY sha") == [("a1", None), ("b2", None)]
        # the deleted account asked at 09:06 is answered by the deleted commenter at 10:00 (v4)
        assert rows(
            "SELECT seq, reviewer_login, reviewer_deleted, outcome, hour(ended_at) FROM pr_review_requests"
        ) == [(2, None, True, "commented", 10)]
        # The deleted reviewer's change request (11:00) is the first review; the deleted commenter at
        # 10:00 is the first response; the 12:00 commit answers the request.
        assert rows(
            "SELECT total_comments, hour(first_review_at), hour(first_response_at), review_rounds "
            "FROM pr_metrics WHERE number = 1"
        ) == [(3, 11, 10, 1)]
    finally:
        con.close()
