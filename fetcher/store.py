"""The DuckDB file: schema (versioned, migrated forward on open) and the write of one PR.

One PR is written in one transaction: its row, its child rows replaced section by section
(only the sections that were fetched successfully; a failed section keeps what it held),
its metrics recomputed from the stored rows, and a ``sync_runs`` row. A crash before
COMMIT leaves the previous state: DuckDB discards an uncommitted transaction from its WAL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from fetcher import metrics
from fetcher.records import SECTIONS, PullRequestBundle, Row

SCHEMA_VERSION = 2

# Each version's DDL, applied in order to bring an older file forward. Never edit a released
# step: add a new version.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE pull_requests (
            repo VARCHAR NOT NULL, number INTEGER NOT NULL,
            title VARCHAR, body VARCHAR, author_login VARCHAR, author_type VARCHAR,
            state VARCHAR, draft BOOLEAN, base_ref VARCHAR, head_ref VARCHAR,
            head_sha VARCHAR, base_sha VARCHAR,
            created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, closed_at TIMESTAMPTZ,
            merged_at TIMESTAMPTZ, merged_by_login VARCHAR,
            additions INTEGER, deletions INTEGER, changed_files INTEGER, commits_count INTEGER,
            labels VARCHAR[], html_url VARCHAR,
            fetched_at TIMESTAMPTZ NOT NULL,
            sync_status VARCHAR NOT NULL,          -- complete | partial
            failed_sections VARCHAR[],             -- sections whose last fetch failed (rows kept)
            truncated_sections VARCHAR[],          -- sections cut by GitHub's caps (250 commits, 3000 files)
            PRIMARY KEY (repo, number))""",
        """CREATE TABLE pr_commits (
            repo VARCHAR NOT NULL, pr_number INTEGER NOT NULL, sha VARCHAR NOT NULL,
            position INTEGER, author_login VARCHAR, author_type VARCHAR, author_name VARCHAR,
            author_email VARCHAR, committer_login VARCHAR,
            authored_at TIMESTAMPTZ, committed_at TIMESTAMPTZ, message VARCHAR,
            PRIMARY KEY (repo, pr_number, sha))""",
        """CREATE TABLE pr_files (
            repo VARCHAR NOT NULL, pr_number INTEGER NOT NULL, filename VARCHAR NOT NULL,
            status VARCHAR, additions INTEGER, deletions INTEGER, changes INTEGER,
            previous_filename VARCHAR,
            PRIMARY KEY (repo, pr_number, filename))""",
        """CREATE TABLE pr_check_runs (
            repo VARCHAR NOT NULL, id BIGINT NOT NULL, pr_number INTEGER NOT NULL,
            head_sha VARCHAR, name VARCHAR, status VARCHAR, conclusion VARCHAR,
            started_at TIMESTAMPTZ, completed_at TIMESTAMPTZ, app_slug VARCHAR, html_url VARCHAR,
            PRIMARY KEY (repo, id))""",
        """CREATE TABLE pr_reviews (
            repo VARCHAR NOT NULL, id BIGINT NOT NULL, pr_number INTEGER NOT NULL,
            reviewer_login VARCHAR, reviewer_type VARCHAR, state VARCHAR, body VARCHAR,
            submitted_at TIMESTAMPTZ, commit_id VARCHAR, author_association VARCHAR,
            PRIMARY KEY (repo, id))""",
        """CREATE TABLE pr_comments (
            repo VARCHAR NOT NULL, comment_type VARCHAR NOT NULL, id BIGINT NOT NULL,
            pr_number INTEGER NOT NULL,
            author_login VARCHAR, author_type VARCHAR, body VARCHAR,
            created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ,
            path VARCHAR, line INTEGER, in_reply_to_id BIGINT, review_id BIGINT, author_association VARCHAR,
            PRIMARY KEY (repo, comment_type, id))""",
        """CREATE TABLE pr_events (
            repo VARCHAR NOT NULL, pr_number INTEGER NOT NULL, seq INTEGER NOT NULL,
            event VARCHAR, actor_login VARCHAR, actor_type VARCHAR, created_at TIMESTAMPTZ,
            commit_id VARCHAR, requested_reviewer_login VARCHAR,
            PRIMARY KEY (repo, pr_number, seq))""",
        """CREATE TABLE pr_metrics (
            repo VARCHAR NOT NULL, number INTEGER NOT NULL,
            total_comments INTEGER, commits_after_first_review INTEGER, review_rounds INTEGER,
            avg_fix_response_hours DOUBLE, cycle_time_hours DOUBLE, time_to_first_review_hours DOUBLE,
            first_review_at TIMESTAMPTZ, ready_for_review_at TIMESTAMPTZ, pickup_hours DOUBLE,
            force_pushes INTEGER, computed_at TIMESTAMPTZ,
            PRIMARY KEY (repo, number))""",
        """CREATE TABLE sync_runs (
            run_id VARCHAR PRIMARY KEY, repo VARCHAR, pr_number INTEGER, trigger VARCHAR,
            started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
            status VARCHAR,                        -- complete | partial | failed
            counts JSON, errors JSON, warnings JSON, api_requests INTEGER)""",
    ],
    # backfill: where a bulk fetch of a repository's history stopped, and what it has left.
    2: [
        """CREATE TABLE backfill_checkpoints (
            repo VARCHAR PRIMARY KEY,
            since TIMESTAMPTZ, until TIMESTAMPTZ,  -- merged_at window (NULL: open-ended)
            updated_since TIMESTAMPTZ,             -- --lookback: PRs updated since then
            list_cursor VARCHAR,                   -- the listing stopped here (NULL: listing done)
            status VARCHAR NOT NULL,               -- running | stopped | complete
            stop_reason VARCHAR,
            started_at TIMESTAMPTZ, updated_at TIMESTAMPTZ,
            prs_synced INTEGER, points_used INTEGER)""",
        """CREATE TABLE backfill_pending (
            repo VARCHAR NOT NULL, number INTEGER NOT NULL,
            updated_at TIMESTAMPTZ, head_sha VARCHAR,  -- as listed: staleness and the head's check runs
            PRIMARY KEY (repo, number))""",
    ],
}


@dataclass(frozen=True)
class ChildTable:
    """Where one section's rows live, and which rows of a PR a fresh fetch replaces."""

    table: str
    key: tuple[str, ...]
    scope: dict[str, Any] = field(default_factory=dict)  # extra filter, e.g. comment_type


CHILD_TABLES: dict[str, ChildTable] = {
    "commits": ChildTable("pr_commits", ("repo", "pr_number", "sha")),
    "files": ChildTable("pr_files", ("repo", "pr_number", "filename")),
    "reviews": ChildTable("pr_reviews", ("repo", "id")),
    "review_comments": ChildTable("pr_comments", ("repo", "comment_type", "id"), {"comment_type": "review"}),
    "issue_comments": ChildTable("pr_comments", ("repo", "comment_type", "id"), {"comment_type": "issue"}),
    "timeline": ChildTable("pr_events", ("repo", "pr_number", "seq")),
    "check_runs": ChildTable("pr_check_runs", ("repo", "id")),
}
assert set(CHILD_TABLES) == set(SECTIONS)


class SchemaError(Exception):
    """The file holds a schema this version of mergelens cannot use."""


@dataclass
class SyncRun:
    run_id: str
    repo: str
    pr_number: int | None
    trigger: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "complete"
    counts: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    api_requests: int = 0


def connect(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the DB file (migrating it forward unless read-only); times come back in UTC."""
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        con.execute("SET TimeZone = 'UTC'")
        if read_only:
            refuse_newer_schema(con)
        else:
            ensure_schema(con)
    except BaseException:
        con.close()
        raise
    return con


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'mergelens_schema'"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT max(version) FROM mergelens_schema").fetchone()
    return int(row[0] or 0) if row else 0


def refuse_newer_schema(con: duckdb.DuckDBPyConnection) -> int:
    current = schema_version(con)
    if current > SCHEMA_VERSION:
        raise SchemaError(f"database schema version {current} is newer than this mergelens ({SCHEMA_VERSION}): upgrade")
    return current


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    current = refuse_newer_schema(con)
    for version in range(current + 1, SCHEMA_VERSION + 1):
        con.execute("BEGIN")
        try:
            con.execute("CREATE TABLE IF NOT EXISTS mergelens_schema (version INTEGER, migrated_at TIMESTAMPTZ)")
            for statement in MIGRATIONS[version]:
                con.execute(statement)
            con.execute("INSERT INTO mergelens_schema VALUES (?, now())", [version])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise


def write_pull_request(
    con: duckdb.DuckDBPyConnection, bundle: PullRequestBundle, run: SyncRun, fetched_at: datetime
) -> None:
    """Store one fetched PR, its metrics and its run record, all in one transaction."""
    write_pull_requests(con, [(bundle, run, fetched_at)])


def write_pull_requests(
    con: duckdb.DuckDBPyConnection,
    items: list[tuple[PullRequestBundle, SyncRun, datetime]],
    then: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> None:
    """Store several fetched PRs in one transaction, each exactly as write_pull_request would
    (row, sections replaced, metrics, run record); ``then`` runs last, inside the transaction
    (backfill: its checkpoint moves with the PRs it stored). Metrics of PRs of one repository
    are recomputed in one statement: the same rows, a fraction of the time."""
    con.execute("BEGIN")
    try:
        _write_rows(con, items)
        by_repo: dict[str, list[int]] = {}
        for bundle, _, _ in items:
            by_repo.setdefault(bundle.repo, []).append(bundle.number)
        for repo, numbers in by_repo.items():
            if len(numbers) == 1:
                metrics.recompute(con, repo=repo, number=numbers[0])
            else:
                metrics.recompute(con, repo=repo, numbers=numbers)
        if then is not None:
            then(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _write_rows(con: duckdb.DuckDBPyConnection, items: list[tuple[PullRequestBundle, SyncRun, datetime]]) -> None:
    """The rows of one or more PRs, one statement per table for all of them: the PR rows
    replaced, each fetched section's rows replaced (a PR whose section failed keeps its rows),
    the run records added. Rows keyed by the repository rather than the PR (a check run of a
    head commit two PRs share) move to the PR written last, as when PRs are written one by one."""
    bundles = [bundle for bundle, _, _ in items]
    _delete_prs(con, "pull_requests", "number", bundles, {})
    pr_rows = [_pull_request_row(bundle, fetched_at) for bundle, _, fetched_at in items]
    if len(pr_rows) == 1:  # one row with list columns: bound parameters are 4x faster than Arrow
        (row,) = pr_rows
        placeholders = ", ".join("?" * len(row))
        con.execute(f"INSERT INTO pull_requests ({', '.join(row)}) VALUES ({placeholders})", list(row.values()))
    else:
        _insert_rows(con, "pull_requests", pr_rows)
    for section, child in CHILD_TABLES.items():
        fetched = [bundle for bundle in bundles if section in bundle.sections]
        if not fetched:
            continue
        _delete_prs(con, child.table, "pr_number", fetched, child.scope)
        rows = [
            {"repo": bundle.repo, "pr_number": bundle.number, **child.scope, **row}
            for bundle in fetched
            for row in bundle.sections[section]
        ]
        full_rows = unique_by_key(rows, child.key)
        if "pr_number" not in child.key and full_rows:
            _delete_keys(con, child, full_rows)
        _insert_rows(con, child.table, full_rows)
    record_runs(con, [run for _, run, _ in items])


def _delete_prs(
    con: duckdb.DuckDBPyConnection, table: str, column: str, bundles: list[PullRequestBundle], scope: dict[str, Any]
) -> None:
    by_repo: dict[str, list[int]] = {}
    for bundle in bundles:
        by_repo.setdefault(bundle.repo, []).append(bundle.number)
    extra = "".join(f" AND {name} = ?" for name in scope)
    for repo, numbers in by_repo.items():
        # BETWEEN lets DuckDB skip row groups by their min/max (a batch's numbers are close)
        con.execute(
            f"DELETE FROM {table} WHERE repo = ? AND {column} BETWEEN ? AND ? "
            f"AND list_contains(?::INTEGER[], {column}){extra}",
            [repo, min(numbers), max(numbers), numbers, *scope.values()],
        )


def _pull_request_row(bundle: PullRequestBundle, fetched_at: datetime) -> Row:
    return {
        **bundle.pull_request,
        "fetched_at": fetched_at,
        "sync_status": bundle.status,
        "failed_sections": [error.section for error in bundle.errors],
        "truncated_sections": bundle.pull_request.get("truncated_sections", []),
    }


def _run_row(run: SyncRun) -> Row:
    return {
        "run_id": run.run_id,
        "repo": run.repo,
        "pr_number": run.pr_number,
        "trigger": run.trigger,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "status": run.status,
        "counts": json.dumps(run.counts),
        "errors": json.dumps(run.errors),
        "warnings": json.dumps(run.warnings),
        "api_requests": run.api_requests,
    }


def record_run(con: duckdb.DuckDBPyConnection, run: SyncRun) -> None:
    record_runs(con, [run])


def record_runs(con: duckdb.DuckDBPyConnection, runs: list[SyncRun]) -> None:
    if len(runs) == 1:  # one row: bound parameters beat an Arrow batch
        row = _run_row(runs[0])
        con.execute(
            f"INSERT INTO sync_runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
        )
    else:  # many: executemany costs ~1 ms a row, an Arrow batch a fraction of that
        _insert_rows(con, "sync_runs", [_run_row(run) for run in runs])


def unique_by_key(rows: Iterable[Row], key: tuple[str, ...]) -> list[Row]:
    """Drop repeated keys, keeping the last. Offset pagination can serve an item twice when
    something is added while the pages are read, and one INSERT must not carry a key twice."""
    return list({tuple(row[column] for column in key): row for row in rows}.values())


def _delete_keys(con: duckdb.DuckDBPyConnection, child: ChildTable, rows: list[Row]) -> None:
    keys = [{column: row[column] for column in child.key} for row in rows]
    match = " AND ".join(f"{child.table}.{column} = keys.{column}" for column in child.key)
    with _arrow_view(con, "keys", keys):
        con.execute(f"DELETE FROM {child.table} USING keys WHERE {match}")


def _insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[Row]) -> None:
    if rows:
        with _arrow_view(con, "batch", rows):
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM batch")


@contextmanager
def _arrow_view(con: duckdb.DuckDBPyConnection, name: str, rows: list[Row]) -> Iterator[None]:
    """Expose rows to SQL as a view over an Arrow table. Registering it explicitly is twice as
    fast as DuckDB's replacement scan, which searches the Python stack for the variable."""
    con.register(name, pa.Table.from_pylist(rows))
    try:
        yield
    finally:
        con.unregister(name)
