"""``sync``: one merged PR (the Actions event's, or --repo/--pr), fetched before the DB is opened,
stored with its metrics, then the catch-up (``--reconcile``) of what earlier runs missed."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from duckdb import DuckDBPyConnection

from fetcher.collect.event import Skip, SyncRequest, read_event
from fetcher.collect.repositories import check_repo
from fetcher.commands.arguments import SINCE_LAST_RUN
from fetcher.commands.common import (
    client_for,
    needing_attention,
    require_repo,
    stored_settings,
    use_settings,
)
from fetcher.commands.reconcile import ReconcileReport, catch_up, reconcile
from fetcher.compute.merge_runs import CATCH_UP
from fetcher.config import Environment
from fetcher.errors import (
    EXIT_COMPLETE,
    EXIT_PARTIAL,
    UsageError,
)
from fetcher.pipeline.sync_pr import FetchedPullRequest, SyncResult, fetch_pull_request, store_pull_request
from fetcher.pipeline.update import WorkingCopy, update_db
from fetcher.publish import report
from fetcher.publish.result import RunResult


def resolve_request(args: argparse.Namespace, env: Environment) -> SyncRequest | Skip:
    """The PR to sync: --repo/--pr when given, else what the Actions event asks for."""
    if args.pr is not None:
        return SyncRequest(require_repo(args, env), args.pr, "cli")
    if args.repo:
        check_repo(args.repo)
    if not env.event_path:
        raise UsageError("no PR to sync: pass --pr N (and --repo OWNER/NAME) or run inside GitHub Actions")
    request = read_event(env.event_name, env.event_path, env.repository)
    if isinstance(request, SyncRequest) and args.repo:
        request = SyncRequest(args.repo, request.number, request.trigger)
    if isinstance(request, SyncRequest):
        check_repo(request.repo)
    return request


def run_sync(args: argparse.Namespace, env: Environment) -> tuple[int, RunResult]:
    request = resolve_request(args, env)
    if isinstance(request, Skip):
        report.log.info("skipped: %s", request.reason)
        return EXIT_COMPLETE, RunResult.skipped("sync", request.reason)
    settings = stored_settings(args, env)
    source = client_for(args, env, request.repo)
    started_at = datetime.now(UTC)  # since-last-run: the next run's window starts here
    fetched: list[FetchedPullRequest] = []  # fetched once, before the DB: a re-apply costs no request

    def fetch() -> None:
        fetched.append(fetch_pull_request(source, request.repo, request.number, request.trigger))

    def apply(con: DuckDBPyConnection, copy: WorkingCopy) -> tuple[SyncResult, ReconcileReport | None]:
        use_settings(con, settings)
        result = store_pull_request(con, fetched[0], copy.location)
        recon, db = None, copy.written
        lookback = datetime.now(UTC) - timedelta(days=args.reconcile_lookback)
        if args.reconcile == SINCE_LAST_RUN:
            recon = catch_up(source, db, con, result, started_at, lookback, args.reconcile_max)
        elif args.reconcile:
            skip = frozenset({request.number})
            recon = reconcile(source, db, con, request.repo, lookback, args.reconcile, CATCH_UP, skip=skip)
        return result, recon

    with source:
        update = update_db(args.db or env.db, env, apply, before=fetch)
    result, recon = update.value
    for warning in result.warnings:
        report.log.warning("warning: %s", warning)
    report.log.info("%s", report.summary_line(result))
    partial = result.status == "partial" or (recon is not None and not recon.complete)
    run = RunResult(
        "sync",
        result.status,
        repo=result.repo,
        pr_number=result.pr_number,
        synced=result,
        title=fetched[0].bundle.pull_request.get("title"),
        reconcile=recon.as_dict() if recon is not None else None,
        reconciled=needing_attention(recon.outcome.results) if recon is not None else None,
        storage=update,
        api_requests=source.usage.requests,
    )
    return (EXIT_PARTIAL if partial else EXIT_COMPLETE), run
