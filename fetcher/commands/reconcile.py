"""Find merged PRs the DB is missing or holds stale, and sync them.

A merge run can be cancelled by GitHub (a concurrency group keeps one pending run and cancels
older ones), a sync can end partial, and comments keep coming after a merge. Reconcile walks
the repository's closed PRs, most recently updated first, back to a cut-off, and syncs each
merged PR that is missing here, stored ``partial``, or updated on GitHub after we fetched it.

A merge run catches up (``sync --reconcile since-last-run``): its cut-off is the start of the
last merge run that caught up completely, as that run recorded it in ``sync_runs``, so a burst
of merges whose runs GitHub cancelled is synced whole by the next run that executes.
"""

from __future__ import annotations

import argparse
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb

from fetcher.collect.rest import GitHubSource
from fetcher.commands import common
from fetcher.compute.merge_runs import CATCH_UP
from fetcher.config import Environment
from fetcher.db import store
from fetcher.db.staleness import staleness, stored_state
from fetcher.errors import (
    EXIT_COMPLETE,
    EXIT_PARTIAL,
)
from fetcher.extract.records import parse_time
from fetcher.pipeline.sync_pr import (
    BatchOutcome,
    SyncResult,
    sync_many,
)
from fetcher.publish import report
from fetcher.publish.result import RunResult

# The next catch-up starts this long before the last one did. GitHub's updated_at has
# one-second resolution, the runner's clock and GitHub's are not the same clock, and a PR
# merged just before a run's listing may not be in that listing yet. A wider window costs
# only listed rows (100 a request): PRs already stored complete are not synced again.
CATCH_UP_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class StalePullRequest:
    number: int
    reason: str  # missing | partial | updated after last fetch


@dataclass
class ReconcileReport:
    examined: int = 0  # closed PRs listed from GitHub (merged or not) within the window
    stale: list[StalePullRequest] = field(default_factory=list)
    outcome: BatchOutcome = field(default_factory=BatchOutcome)
    since: datetime | None = None  # the window: closed PRs updated since then
    window: str | None = None  # a merge run's catch-up: since last run | lookback (a DB without a last run)
    capped: bool = False  # more PRs needed a sync than the cap allowed: the next run continues

    @property
    def complete(self) -> bool:
        return set(self.outcome.statuses()) <= {"complete"}

    def summary(self, repo: str) -> str:
        synced = ", ".join(f"{count} {status}" for status, count in self.outcome.statuses().items()) or "none"
        since = f"{self.since:%Y-%m-%d %H:%M}" if self.since else "the start"
        found = f"examined {self.examined} closed PRs, found {len(self.stale)} to sync"
        return f"reconcile {repo} since {since}: {found}: {synced}"

    def as_dict(self) -> dict[str, object]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "window": self.window,
            "capped": self.capped,
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
    stored = stored_state(con, repo)
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
        reason = staleness(stored.get(number), updated_at)
        if reason:
            stale.append(StalePullRequest(number, reason))
            if max_prs is not None and len(stale) >= max_prs:
                break
    return stale, examined


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
    # One PR past the cap tells a cap that was hit from one that was just reached.
    stale, examined = find_stale_pull_requests(source, con, repo, since, None if max_prs is None else max_prs + 1, skip)
    capped = max_prs is not None and len(stale) > max_prs
    stale = stale[:max_prs] if capped else stale
    report = ReconcileReport(examined=examined, stale=stale, since=since, capped=capped)
    report.outcome = sync_many(source, db, repo, [pr.number for pr in stale], trigger, con=con)
    return report


def last_catch_up(con: duckdb.DuckDBPyConnection, repo: str, now: datetime) -> datetime | None:
    """The start of the last merge run that caught up completely (None: there was none).
    A start in the future (a wrong clock, an edited file) would hide every merge until then:
    it is ignored."""
    row = con.execute(
        "SELECT max(started_at) FROM sync_runs WHERE repo = ? AND trigger = ? AND status = 'complete' "
        "AND pr_number IS NULL AND started_at <= ?",
        [repo, CATCH_UP, now],
    ).fetchone()
    return row[0] if row else None


def catch_up(
    source: GitHubSource,
    db: str,
    con: duckdb.DuckDBPyConnection,
    synced: SyncResult,
    started_at: datetime,
    lookback: datetime,
    max_prs: int,
) -> ReconcileReport:
    """A merge run's reconcile: every merged PR updated since the last complete catch-up began
    (a DB without one: since ``lookback``) that is missing, partial or stale, at most ``max_prs``.
    ``synced`` is the PR this run has just synced, ``started_at`` when the run began. Records
    the run in sync_runs, complete only when it left nothing behind: the next run starts there."""
    repo = synced.repo
    last = last_catch_up(con, repo, started_at)
    since = last - CATCH_UP_MARGIN if last is not None else lookback
    report = reconcile(source, db, con, repo, since, max_prs, CATCH_UP, skip=frozenset({synced.pr_number}))
    report.window = "since last run" if last is not None else "lookback"
    complete = synced.status == "complete" and report.complete and not report.capped
    run = store.SyncRun(uuid.uuid4().hex, repo, None, CATCH_UP, started_at, datetime.now(UTC))
    run.status = "complete" if complete else "partial"
    run.counts = {"since": since.isoformat(), "examined": report.examined, "found": len(report.stale)}
    run.api_requests = source.usage.requests
    store.record_run(con, run)
    return report


def run_reconcile(args: argparse.Namespace, env: Environment) -> tuple[int, RunResult]:
    since = args.since or datetime.now(UTC) - timedelta(days=args.lookback)
    settings = common.run_settings(args, env)
    return common.for_each_repository(
        args, env, "reconcile", lambda repo, source: reconcile_one(args, env, repo, source, since, settings)
    )


def reconcile_one(
    args: argparse.Namespace,
    env: Environment,
    repo: str,
    source: GitHubSource,
    since: datetime,
    settings: common.RunSettings,
) -> tuple[int, RunResult]:
    clock = time.perf_counter()
    update = common.update_and_check(
        args, env, repo, settings, lambda con, db: reconcile(source, db, con, repo, since, args.max_prs)
    )
    recon, check = update.value
    report.log.info("%s", recon.summary(repo))
    code = common.announce_stopped(env, check, EXIT_COMPLETE if recon.complete else EXIT_PARTIAL)
    run = RunResult(
        "reconcile",
        "complete" if recon.complete else "partial",
        repo=repo,
        since=since,
        reconcile=recon.as_dict(),
        reconciled=common.needing_attention(recon.outcome.results),
        merge_runs=check,
        storage=update,
        api_requests=source.usage.requests,
        duration_s=time.perf_counter() - clock,
    )
    return code, run
