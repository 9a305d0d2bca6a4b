"""``open-prs``: a dated snapshot of every open PR, the close of those that left the queue since
the previous snapshot, and whose move each one is (fetcher.compute.whose_move).

A snapshot is all or nothing: the listing is read completely before anything is written (a
half-read queue would look like closed PRs), then its rows, the closures and the run row are
written in one transaction.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
from duckdb import DuckDBPyConnection

from fetcher.collect.graphql.client import GraphQLClient, GraphQLError, Meter, Stop
from fetcher.collect.graphql.open_prs import OpenPullRequests
from fetcher.collect.rest import GitHubSource
from fetcher.commands.common import digest_issue, for_each_repository
from fetcher.compute.whose_move import whose_move
from fetcher.config import Environment
from fetcher.db import store
from fetcher.errors import (
    EXIT_COMPLETE,
    EXIT_PARTIAL,
    MergelensError,
)
from fetcher.pipeline.update import WorkingCopy, update_db
from fetcher.publish import digest, report
from fetcher.publish.result import RunResult


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


def run_open_prs(args: argparse.Namespace, env: Environment) -> tuple[int, RunResult]:
    issue = digest_issue(env)
    return for_each_repository(args, env, "open-prs", lambda repo, source: open_prs_one(args, env, repo, source, issue))


def open_prs_one(
    args: argparse.Namespace, env: Environment, repo: str, source: GitHubSource, issue: int | None
) -> tuple[int, RunResult]:
    clock = time.perf_counter()
    wants_digest = bool(env.digest_webhook or issue)

    def apply(con: DuckDBPyConnection, copy: WorkingCopy) -> OpenPrsReport:
        return take_snapshot(source, con, repo, datetime.now(UTC), args.stale_days, wants_digest)

    update = update_db(args.db or env.db, env, apply)
    done = update.value
    text = digest.markdown(repo, done.moves, done.snapshot_at, env.server_url)
    if done.digest_due:  # after the DB is stored: a failed store posts nothing
        if env.digest_webhook:
            slack = digest.slack(repo, done.moves, done.snapshot_at, env.server_url)
            done.warnings += [w for w in [digest.post_webhook(env.digest_webhook, slack)] if w]
        if issue is not None:
            done.warnings += [w for w in [digest.post_issue_comment(source, repo, issue, text)] if w]
    report.log.info("%s", done.summary())
    for warning in done.warnings:
        report.log.warning("warning: %s", warning)
    run = RunResult(
        "open-prs",
        "partial" if done.warnings else "complete",
        repo=repo,
        open_prs=done.as_dict(),
        digest=text,
        storage=update,
        api_requests=source.usage.requests,
        duration_s=time.perf_counter() - clock,
    )
    return (EXIT_PARTIAL if done.warnings else EXIT_COMPLETE), run
