"""``open-prs``: a dated snapshot of every open PR, the close of those that left the queue since
the previous snapshot, and whose move each one is (fetcher.whose_move).

A snapshot is all or nothing: the listing is read completely before anything is written (a
half-read queue would look like closed PRs), then its rows, the closures and the run row are
written in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from fetcher import store
from fetcher.errors import MergelensError
from fetcher.github import GitHubSource
from fetcher.graphql.client import GraphQLClient, GraphQLError, Meter, Stop
from fetcher.graphql.open_prs import OpenPullRequests
from fetcher.whose_move import whose_move


@dataclass
class OpenPrsReport:
    repo: str
    snapshot_at: datetime
    open_prs: int = 0
    closed: list[dict[str, Any]] = field(default_factory=list)  # open_pr_closures rows found this run
    points: int = 0
    graphql_requests: int = 0
    moves: list[dict[str, Any]] = field(default_factory=list)  # whose_move rows
    digest_due: bool = False  # no digest was posted yet for this UTC day
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for pr in self.moves:
            counted[pr["move"]] = counted.get(pr["move"], 0) + 1
        return counted

    def summary(self) -> str:
        abandoned = sum(1 for row in self.closed if not row["merged"])
        moves = ", ".join(f"{count} {move}" for move, count in sorted(self.counts().items())) or "none"
        return (
            f"open PRs of {self.repo}: {self.open_prs} open ({moves}); left the queue since the previous "
            f"snapshot: {len(self.closed) - abandoned} merged, {abandoned} closed without merge; "
            f"{self.points} GraphQL points in {self.graphql_requests} queries"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "snapshot_at": self.snapshot_at.isoformat(),
            "open_prs": self.open_prs,
            "moves": self.counts(),
            "closed": [{**row, "closed_at": row["closed_at"].isoformat()} for row in self.closed],
            "points": self.points,
            "graphql_requests": self.graphql_requests,
            "warnings": self.warnings,
        }


def take_snapshot(
    source: GitHubSource,
    con: duckdb.DuckDBPyConnection,
    repo: str,
    now: datetime,
    stale_days: int,
    digest: bool,
) -> OpenPrsReport:
    """Read the open PRs of ``repo`` and store them as the snapshot taken ``now``; ``digest``:
    record that this run posts the day's digest, if none was posted yet today."""
    meter = Meter(floor=0, budget=None, deadline=None)
    reader = OpenPullRequests(GraphQLClient(source, meter), repo)
    report = OpenPrsReport(repo, now)
    try:
        rows = list(reader.snapshot(now))
        numbers = {row["number"] for row in rows}
        gone = [number for number in previous_open(con, repo) if number not in numbers]
        report.closed = reader.closures(gone, now) if gone else []
    except (Stop, GraphQLError) as exc:
        why = exc.for_log if isinstance(exc, GraphQLError) else str(exc)
        raise MergelensError(f"open PRs of {repo}: {why}; nothing was stored") from None
    report.open_prs, report.points, report.graphql_requests = len(rows), meter.points, meter.requests
    report.digest_due = digest and not digest_posted_on(con, repo, now)
    con.execute("BEGIN")
    try:
        store.insert_rows(con, "open_pr_snapshots", rows)
        if report.closed:
            # a PR reopened and closed again is a second row (its closed_at differs); the same close
            # seen twice (a run whose snapshot was not stored) is kept once
            store.insert_rows(con, "open_pr_closures", report.closed, or_ignore=True)
        con.execute(
            "INSERT INTO open_pr_snapshot_runs VALUES (?, ?, ?, ?, ?, ?)",
            [repo, now, len(rows), len(report.closed), meter.points, now if report.digest_due else None],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    report.moves = whose_move(con, now, repo=repo, stale_days=stale_days)
    return report


def previous_open(con: duckdb.DuckDBPyConnection, repo: str) -> list[int]:
    """The PRs open in ``repo``'s latest stored snapshot."""
    rows = con.execute(
        "SELECT number FROM open_pr_snapshots WHERE repo = ? AND snapshot_at = "
        "(SELECT max(snapshot_at) FROM open_pr_snapshot_runs WHERE repo = ?) ORDER BY number",
        [repo, repo],
    ).fetchall()
    return [number for (number,) in rows]


def digest_posted_on(con: duckdb.DuckDBPyConnection, repo: str, now: datetime) -> bool:
    """A run of this UTC day already posted ``repo``'s digest."""
    row = con.execute(
        "SELECT count(*) FROM open_pr_snapshot_runs WHERE repo = ? AND digest_posted_at::DATE = ?::TIMESTAMPTZ::DATE",
        [repo, now],
    ).fetchone()
    return bool(row and row[0])
