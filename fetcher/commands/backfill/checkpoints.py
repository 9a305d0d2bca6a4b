"""Where a backfill stands, kept in the DB so a stopped run can resume: the checkpoint (window,
listing cursor, status, PRs and points so far) and the PRs listed but not yet stored (pending).

Callers own the transactions: each change here is meant to commit with the rows it accounts for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from fetcher.collect.graphql.fetch import ListedPullRequest


@dataclass
class Checkpoint:
    repo: str
    since: datetime | None
    until: datetime | None
    updated_since: datetime | None
    list_cursor: str | None
    status: str
    stop_reason: str | None
    started_at: datetime | None
    prs_synced: int
    points_used: int

    @property
    def window(self) -> tuple[datetime | None, datetime | None, datetime | None]:
        return self.since, self.until, self.updated_since


def load_checkpoint(con: duckdb.DuckDBPyConnection, repo: str) -> Checkpoint | None:
    row = con.execute(
        """SELECT repo, since, until, updated_since, list_cursor, status, stop_reason, started_at,
                  coalesce(prs_synced, 0), coalesce(points_used, 0)
           FROM backfill_checkpoints WHERE repo = ?""",
        [repo],
    ).fetchone()
    return Checkpoint(*row) if row else None


def save_checkpoint(con: duckdb.DuckDBPyConnection, checkpoint: Checkpoint) -> None:
    con.execute("DELETE FROM backfill_checkpoints WHERE repo = ?", [checkpoint.repo])
    con.execute(
        "INSERT INTO backfill_checkpoints VALUES (?, ?, ?, ?, ?, ?, ?, ?, now(), ?, ?)",
        [
            checkpoint.repo,
            checkpoint.since,
            checkpoint.until,
            checkpoint.updated_since,
            checkpoint.list_cursor,
            checkpoint.status,
            checkpoint.stop_reason,
            checkpoint.started_at,
            checkpoint.prs_synced,
            checkpoint.points_used,
        ],
    )


def load_pending(con: duckdb.DuckDBPyConnection, repo: str) -> list[ListedPullRequest]:
    rows = con.execute(
        "SELECT number, updated_at, head_sha FROM backfill_pending WHERE repo = ? ORDER BY updated_at DESC, number",
        [repo],
    ).fetchall()
    return [ListedPullRequest(number, None, updated_at, head_sha) for number, updated_at, head_sha in rows]


def add_pending(con: duckdb.DuckDBPyConnection, repo: str, prs: list[ListedPullRequest]) -> None:
    if not prs:
        return
    # Replace rather than INSERT ... ON CONFLICT: a DuckLake has no primary key to conflict on.
    rows = {pr.number: [repo, pr.number, pr.updated_at, pr.head_sha] for pr in prs}  # listed twice: the last
    remove_pending(con, repo, list(rows))
    con.executemany("INSERT INTO backfill_pending VALUES (?, ?, ?, ?)", list(rows.values()))


def remove_pending(con: duckdb.DuckDBPyConnection, repo: str, numbers: list[int]) -> None:
    if numbers:
        con.execute(
            "DELETE FROM backfill_pending WHERE repo = ? AND list_contains(?::INTEGER[], number)", [repo, numbers]
        )


def clear_pending(con: duckdb.DuckDBPyConnection, repo: str) -> None:
    con.execute("DELETE FROM backfill_pending WHERE repo = ?", [repo])


def count_pending(con: duckdb.DuckDBPyConnection, repo: str) -> int:
    row = con.execute("SELECT count(*) FROM backfill_pending WHERE repo = ?", [repo]).fetchone()
    return int(row[0]) if row else 0
