"""The Data health page: counts, syncs, partial PRs, merge runs, the DB's size, a lake's files."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from dashboard.queries.common import Connection, fetch_frame, run
from fetcher.compute.merge_runs import MergeRunCheck, check_merge_runs


def health_summary(con: Connection, repos: tuple[str, ...] = ()) -> dict[str, Any]:
    """Counts and the last sync, for the repositories given (all when empty)."""
    scope = "(len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], repo))"
    params = [list(repos), list(repos)]
    prs = run(
        con,
        f"""SELECT count(*), count(*) FILTER (WHERE merged_at IS NOT NULL),
                   count(*) FILTER (WHERE sync_status = 'partial'),
                   count(*) FILTER (WHERE len(coalesce(truncated_sections, [])) > 0),
                   max(fetched_at)
            FROM pull_requests WHERE {scope}""",
        params,
    ).fetchone()
    runs = run(
        con,
        f"""SELECT count(*), max(finished_at) FILTER (WHERE status = 'complete'),
                   max(coalesce(finished_at, started_at)), count(*) FILTER (WHERE status = 'failed')
            FROM sync_runs WHERE {scope}""",
        params,
    ).fetchone()
    assert prs is not None and runs is not None
    return {
        "prs": prs[0],
        "merged_prs": prs[1],
        "partial_prs": prs[2],
        "truncated_prs": prs[3],
        "last_fetched_at": prs[4],
        "sync_runs": runs[0],
        "last_successful_sync_at": runs[1],
        "last_sync_at": runs[2],
        "failed_runs": runs[3],
    }


def merge_runs_health(
    con: Connection, repos: tuple[str, ...], as_of: datetime, missed_after: timedelta, days: int
) -> list[MergeRunCheck]:
    """Each repository's merge runs as of ``as_of``, as the scheduled run's ``--check-merge-runs``
    decides (``fetcher.compute.merge_runs``), with the merged PRs they missed that were first stored in the
    last ``days``. ``as_of`` is an argument, not the DB's clock: a stopped pipeline leaves the file
    unchanged, and the cache must not keep an answer from before it stopped."""
    return check_merge_runs(con, list(repos), as_of, missed_after, as_of - timedelta(days=days))


def lake_health(con: Connection) -> dict[str, Any] | None:
    """On a DuckLake: its live Parquet files and its last compaction (``python -m fetcher
    compact``); None on a DuckDB file, which has neither."""
    from fetcher.storage.lake.compact import data_files, last_compaction

    lakes = run(con, "SELECT database_name FROM system.main.duckdb_databases() WHERE type = 'ducklake'").fetchall()
    if not lakes:
        return None
    (database,) = lakes[0]
    last = last_compaction(con, database)
    return {
        "data_files": data_files(con, database),
        "last_compaction_at": last[0] if last else None,
        "data_files_after_compaction": last[1] if last else None,
    }


def database_size(con: Connection) -> int | None:
    """The DB file's size in bytes (DuckDB's blocks in use and free); None on a DuckLake, whose
    Parquet files ``lake_health`` counts instead."""
    kind = run(
        con, "SELECT type FROM system.main.duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    if kind is None or kind[0] != "duckdb":  # a lake: pragma_database_size is a DuckDB file's
        return None
    row = run(
        con, "SELECT total_blocks * block_size FROM pragma_database_size() WHERE database_name = current_database()"
    ).fetchone()
    return int(row[0]) if row else None


def artifact_copies(con: Connection) -> pd.DataFrame:
    """The copies GitHub held of an ``artifact:NAME`` DB when the run that wrote this DB listed
    them (before its own upload; ``prune-artifacts`` then keeps the newest few): empty for a DB
    kept anywhere else. ``status``: used (this DB's previous version), untrusted, older."""
    return fetch_frame(
        con,
        """SELECT name, artifact_id, status, created_at, expires_at, size_bytes, listed_at
           FROM artifact_copies ORDER BY created_at DESC NULLS LAST, artifact_id DESC""",
    )


def partial_prs(con: Connection, repos: tuple[str, ...] = ()) -> pd.DataFrame:
    """PRs whose last sync was partial or cut by GitHub's caps, and which sections."""
    return fetch_frame(
        con,
        """SELECT repo, number, title, sync_status, array_to_string(failed_sections, ', ') AS failed_sections,
                  array_to_string(truncated_sections, ', ') AS truncated_sections, fetched_at, html_url
           FROM pull_requests
           WHERE (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], repo))
             AND (sync_status = 'partial' OR len(coalesce(truncated_sections, [])) > 0)
           ORDER BY fetched_at DESC, repo, number""",
        [list(repos), list(repos)],
    )


def recent_sync_runs(con: Connection, repos: tuple[str, ...] = (), limit: int = 50) -> pd.DataFrame:
    return fetch_frame(
        con,
        """SELECT started_at, finished_at, repo, pr_number, trigger, status, api_requests,
                  CAST(errors AS VARCHAR) AS errors, CAST(warnings AS VARCHAR) AS warnings, run_id
           FROM sync_runs WHERE (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], repo))
           ORDER BY started_at DESC NULLS LAST LIMIT ?""",
        [list(repos), list(repos), limit],
    )
