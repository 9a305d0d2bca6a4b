"""Which merged PRs need a sync: what the DB holds of a repository's PRs, and the rule that says
a PR listed on GitHub is missing here, stored partial, or updated since we fetched it.

Reconcile (REST listing) and backfill (GraphQL listing) both decide with these two."""

from __future__ import annotations

from datetime import datetime

import duckdb

# A stored PR: when we fetched it, and its sync_status (complete | partial).
Stored = tuple[datetime, str]


def stored_state(con: duckdb.DuckDBPyConnection, repo: str) -> dict[int, Stored]:
    """Every PR of ``repo`` in the DB, by number."""
    return {
        number: (fetched_at, status)
        for number, fetched_at, status in con.execute(
            "SELECT number, fetched_at, sync_status FROM pull_requests WHERE repo = ?", [repo]
        ).fetchall()
    }


def staleness(stored: Stored | None, updated_at: datetime | None) -> str | None:
    """Why a merged PR needs a sync (missing | partial | updated after last fetch), else None."""
    if stored is None:
        return "missing"
    fetched_at, status = stored
    if status != "complete":
        return "partial"
    # GitHub's updated_at has one-second resolution: an update in the second our fetch began
    # may have been missed, so that second counts as "after".
    if updated_at is not None and updated_at >= fetched_at.replace(microsecond=0):
        return "updated after last fetch"
    return None
