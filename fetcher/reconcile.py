"""Find merged PRs the DB is missing or holds stale, and sync them.

A merge run can be cancelled by GitHub (a concurrency group keeps one pending run and cancels
older ones), a sync can end partial, and comments keep coming after a merge. Reconcile walks
the repository's closed PRs, most recently updated first, back to a cut-off, and syncs each
merged PR that is missing here, stored ``partial``, or updated on GitHub after we fetched it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from fetcher.github import GitHubSource
from fetcher.records import parse_time
from fetcher.sync import BatchOutcome, sync_many


@dataclass(frozen=True)
class StalePullRequest:
    number: int
    reason: str  # missing | partial | updated after last fetch


@dataclass
class ReconcileReport:
    examined: int = 0  # closed PRs listed from GitHub (merged or not) within the window
    stale: list[StalePullRequest] = field(default_factory=list)
    outcome: BatchOutcome = field(default_factory=BatchOutcome)

    @property
    def complete(self) -> bool:
        return set(self.outcome.statuses()) <= {"complete"}

    def as_dict(self) -> dict[str, object]:
        return {
            "examined": self.examined,
            "found": len(self.stale),
            "synced": self.outcome.statuses(),
            "prs": {str(stale.number): stale.reason for stale in self.stale},
            "failures": {str(number): reason for number, reason in self.outcome.failures.items()},
        }


def find_stale_pull_requests(
    source: GitHubSource,
    con: duckdb.DuckDBPyConnection,
    repo: str,
    since: datetime,
    max_prs: int | None = None,
    skip: frozenset[int] = frozenset(),
) -> tuple[list[StalePullRequest], int]:
    """Merged PRs updated since ``since`` that need a sync; and how many closed PRs were listed."""
    stored = {
        number: (fetched_at, status)
        for number, fetched_at, status in con.execute(
            "SELECT number, fetched_at, sync_status FROM pull_requests WHERE repo = ?", [repo]
        ).fetchall()
    }
    stale: list[StalePullRequest] = []
    examined = 0
    for pr in source.closed_pull_requests(repo):
        updated_at = parse_time(pr.get("updated_at"))
        if updated_at is not None and updated_at < since:
            break  # sorted by updated_at, newest first: everything after this is older
        examined += 1
        number = pr["number"]
        if not pr.get("merged_at") or number in skip:
            continue
        reason = _staleness(stored.get(number), updated_at)
        if reason:
            stale.append(StalePullRequest(number, reason))
            if max_prs is not None and len(stale) >= max_prs:
                break
    return stale, examined


def _staleness(stored: tuple[datetime, str] | None, updated_at: datetime | None) -> str | None:
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


def reconcile(
    source: GitHubSource,
    db: str,
    con: duckdb.DuckDBPyConnection,
    repo: str,
    since: datetime,
    max_prs: int | None,
    trigger: str = "reconcile",
    skip: frozenset[int] = frozenset(),
) -> ReconcileReport:
    stale, examined = find_stale_pull_requests(source, con, repo, since, max_prs, skip)
    report = ReconcileReport(examined=examined, stale=stale)
    report.outcome = sync_many(source, db, repo, [pr.number for pr in stale], trigger, con=con)
    return report
