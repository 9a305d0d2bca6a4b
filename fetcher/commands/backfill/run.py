"""The backfill run: plan what to sync, fetch it in GraphQL batches (or over REST), store it.

Its parts: fetcher.commands.backfill.checkpoints (where a run stands, for --resume),
fetcher.commands.backfill.batch_size (how many PRs a query), fetcher.commands.backfill.progress,
fetcher.collect.graphql (the queries, metered against the budget and the floor).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from fetcher.collect.graphql import adapter
from fetcher.collect.graphql.client import (
    TRANSIENT_ATTEMPTS,
    GraphQLClient,
    GraphQLFailed,
    GraphQLTimeout,
    GraphQLUnavailable,
    Meter,
    Stop,
)
from fetcher.collect.graphql.fetch import ListedPullRequest, MergedPullRequests
from fetcher.collect.rest import FetchFailed, GitHubSource, payloads
from fetcher.commands import common
from fetcher.commands.backfill.batch_size import BatchSize
from fetcher.commands.backfill.checkpoints import (
    Checkpoint,
    add_pending,
    clear_pending,
    count_pending,
    load_checkpoint,
    load_pending,
    remove_pending,
    save_checkpoint,
)
from fetcher.commands.backfill.options import BackfillOptions
from fetcher.commands.backfill.progress import Progress
from fetcher.commands.backfill.report import BackfillReport
from fetcher.config import Environment
from fetcher.db import store
from fetcher.db.staleness import staleness, stored_state
from fetcher.errors import (
    EXIT_COMPLETE,
    EXIT_PARTIAL,
    UsageError,
)
from fetcher.extract.records import parse_time
from fetcher.pipeline.sync_pr import (
    FetchedPullRequest,
    fetch_pull_request,
    store_pull_requests,
)
from fetcher.publish import report
from fetcher.publish.result import RunResult

log = logging.getLogger("mergelens")

GIVE_UP_AFTER = 4  # consecutive PRs sent to REST after TRANSIENT_ATTEMPTS failures: GraphQL is failing for good
STORE_BATCH = 100  # PRs written per transaction: 25 a write costs ~4x more per row than 100


class Backfill:
    def __init__(
        self, source: GitHubSource, con: duckdb.DuckDBPyConnection, db: str, repo: str, options: BackfillOptions
    ) -> None:
        self.source, self.con, self.db, self.repo, self.options = source, con, db, repo, options
        # 0 is a deadline already passed (a run over many repositories that used its time up), not none
        deadline = time.monotonic() + options.max_seconds if options.max_seconds is not None else None
        self.meter = Meter(options.floor, options.budget, deadline)
        self.client = GraphQLClient(source, self.meter)
        self.pulls = MergedPullRequests(self.client, repo)
        self.size = BatchSize(options.batch_size)
        self.unstored: list[FetchedPullRequest] = []
        self.report = BackfillReport(repo)
        self.use_rest = False
        self.failed_in_a_row = 0
        self.given_up = 0
        self.start_points = 0
        self.clock = time.perf_counter()
        self.requests_before = source.usage.requests

    # listing ----------------------------------------------------------------------------

    def list_window(self, options: BackfillOptions, cursor: str | None) -> tuple[list[ListedPullRequest], str | None]:
        """Merged PRs of the window, newest update first; (PRs, cursor to continue from if stopped)."""
        found: list[ListedPullRequest] = []
        bound = options.lower_bound
        while True:
            if self.use_rest:
                return found + self._list_over_rest(options), None
            try:
                page, next_cursor = self.pulls.page(cursor)
            except Stop as stop:
                self.report.stopped = str(stop)
                return found, cursor or ""
            except (GraphQLFailed, GraphQLUnavailable, GraphQLTimeout) as exc:
                self._graphql_off(exc)
                continue
            found += [pr for pr in page if options.includes(pr)]
            older = bound is not None and any(pr.updated_at is not None and pr.updated_at < bound for pr in page)
            if older or next_cursor is None:
                return found, None
            cursor = next_cursor

    def _list_over_rest(self, options: BackfillOptions) -> list[ListedPullRequest]:
        found = []
        bound = options.lower_bound
        for pr in self.source.closed_pull_requests(self.repo):
            listed = ListedPullRequest(
                pr["number"],
                parse_time(pr.get("merged_at")),
                parse_time(pr.get("updated_at")),
                (pr.get("head") or {}).get("sha"),
            )
            if bound is not None and listed.updated_at is not None and listed.updated_at < bound:
                break
            if options.includes(listed):
                found.append(listed)
        return found

    def _graphql_off(self, why: str | Exception) -> None:
        if not self.use_rest:
            detail = why.for_log if isinstance(why, (GraphQLFailed, GraphQLUnavailable, GraphQLTimeout)) else why
            log.warning("GraphQL unavailable (%s): syncing the rest over REST", detail)
            self.report.graphql_unavailable = str(why)
        self.use_rest = True

    # selection ---------------------------------------------------------------------------

    def plan(self) -> tuple[list[ListedPullRequest], Checkpoint]:
        options, con = self.options, self.con
        saved = load_checkpoint(con, self.repo)
        resuming = options.resume and saved is not None and saved.status != "complete"
        explicit = any(value is not None for value in options.window)
        now = datetime.now(UTC)
        if resuming:
            assert saved is not None
            checkpoint = saved
            self.report.resumed = len(load_pending(con, self.repo))
        else:
            clear_pending(con, self.repo)
            checkpoint = Checkpoint(self.repo, *options.window, None, "running", None, now, 0, 0)
        listings: list[tuple[BackfillOptions, str | None]] = []
        if resuming and checkpoint.list_cursor is not None:
            window = BackfillOptions(checkpoint.since, checkpoint.until, checkpoint.updated_since)
            listings.append((window, checkpoint.list_cursor or None))
        if not resuming or (explicit and options.window != checkpoint.window):
            listings.append((options, None))
            if resuming:
                checkpoint.since, checkpoint.until, checkpoint.updated_since = options.window
        checkpoint.list_cursor = None
        checkpoint.status, checkpoint.stop_reason = "running", None
        for window, cursor in listings:
            found, stopped_at = self.list_window(window, cursor)
            self.report.listed += len(found)
            store.in_transaction(con, functools.partial(add_pending, con, self.repo, found))
            if stopped_at is not None:
                checkpoint.since, checkpoint.until, checkpoint.updated_since = window.window
                checkpoint.list_cursor = stopped_at
                self.report.listing_done = False
                break
        pending = load_pending(con, self.repo)
        stored = stored_state(con, self.repo)
        todo, fresh = [], []
        for pr in pending:
            reason = staleness(stored.get(pr.number), pr.updated_at)
            if reason:
                todo.append(pr)
                self.report.reasons[pr.number] = reason
            else:
                fresh.append(pr.number)
        self.report.up_to_date = len(fresh)

        def forget_fresh() -> None:
            remove_pending(con, self.repo, fresh)
            save_checkpoint(con, checkpoint)

        store.in_transaction(con, forget_fresh)
        if options.max_prs is not None:
            todo = todo[: options.max_prs]
        return todo, checkpoint

    # fetching ------------------------------------------------------------------------------

    def rest_files(self, number: int) -> list[dict[str, Any]]:
        pull = self.source.repository(self.repo).get_pull(number)  # lazy: no request
        return list(payloads(pull.get_files()))

    # storing -------------------------------------------------------------------------------

    def store(self, fetched: list[FetchedPullRequest], checkpoint: Checkpoint) -> None:
        """Queue fetched PRs; they are written STORE_BATCH at a time (each write has a fixed cost:
        a statement per table, the metrics, a commit), and whatever is queued when the run ends
        or stops. A crash loses only the queue: those PRs are still pending and fetched again."""
        self.unstored += fetched
        if len(self.unstored) >= STORE_BATCH:
            self.flush(checkpoint)

    def flush(self, checkpoint: Checkpoint) -> None:
        fetched, self.unstored = self.unstored, []
        if not fetched:
            return
        numbers = [item.bundle.number for item in fetched]
        checkpoint.prs_synced += len(fetched)
        checkpoint.points_used = self.start_points + self.meter.points

        def then(con: duckdb.DuckDBPyConnection) -> None:
            remove_pending(con, self.repo, numbers)
            save_checkpoint(con, checkpoint)

        self.report.results += store_pull_requests(self.con, fetched, self.db, then)

    def over_rest(self, listed: ListedPullRequest, checkpoint: Checkpoint) -> None:
        try:
            fetched = fetch_pull_request(self.source, self.repo, listed.number, self.options.trigger)
        except FetchFailed as exc:
            if exc.failure.rate_limited:
                raise Stop(str(exc)) from None
            self.report.failures[listed.number] = str(exc)
            log.warning("%s#%d: %s", self.repo, listed.number, exc.for_log)
            return
        self.report.over_rest.append(listed.number)
        self.store([fetched], checkpoint)

    # the loop ------------------------------------------------------------------------------

    def run(self) -> BackfillReport:
        todo, checkpoint = self.plan()
        self.start_points = checkpoint.points_used  # earlier runs' points; this run's are in the meter
        progress = Progress(self.repo, len(todo), self.options.progress_bar, self.meter, self.size)
        queue = list(todo)
        try:
            while queue:
                if self.use_rest:
                    self.meter.check_time()
                    self.over_rest(queue.pop(0), checkpoint)
                    progress.advance(1)
                    continue
                batch = queue[: self.size.size]
                started = datetime.now(UTC)
                clock = time.perf_counter()
                requests_before = self.meter.requests
                try:
                    pulls = self.pulls.fetch(batch)
                except GraphQLUnavailable as exc:
                    self._graphql_off(exc)
                    continue
                except (GraphQLTimeout, GraphQLFailed) as exc:
                    self._batch_failed(batch, queue, checkpoint, progress, exc)
                    continue
                self.failed_in_a_row = self.given_up = 0
                self.size.succeeded()
                queries = self.meter.requests - requests_before
                fetched = []
                for pull in pulls:
                    if self.source.settings.patches:  # GraphQL has no diff text: the files over REST
                        pull.rest_sections.add("files")
                    bundle = adapter.to_bundle(pull, self.repo, self.rest_files, self.source.settings.patches)
                    if "files" in pull.rest_sections:
                        self.report.rest_files.append(pull.number)
                    share = max(1, round(queries / len(pulls)))
                    fetched.append(FetchedPullRequest(bundle, self.options.trigger, started, clock, share, 0))
                self.store(fetched, checkpoint)
                del queue[: len(batch)]
                progress.advance(len(batch))
        except Stop as stop:
            self.report.stopped = str(stop)
        finally:
            progress.close()
        self.flush(checkpoint)
        self.finish(checkpoint)
        return self.report

    def _batch_failed(
        self,
        batch: list[ListedPullRequest],
        queue: list[ListedPullRequest],
        checkpoint: Checkpoint,
        progress: Progress,
        exc: GraphQLTimeout | GraphQLFailed,
    ) -> None:
        """Shrink a failed batch; a single PR failing TRANSIENT_ATTEMPTS times goes over REST, and
        GIVE_UP_AFTER such PRs in a row turn GraphQL off."""
        if len(batch) > 1:
            self.size.shrink()
            log.info("batch of %d failed (%s): now %d PRs a query", len(batch), exc.for_log, self.size.size)
            return
        self.failed_in_a_row += 1
        if self.failed_in_a_row < TRANSIENT_ATTEMPTS:
            self.client.back_off(self.failed_in_a_row - 1)
            return
        log.warning("%s#%d: GraphQL keeps failing (%s): over REST", self.repo, batch[0].number, exc.for_log)
        queue.pop(0)
        self.over_rest(batch[0], checkpoint)
        progress.advance(1)
        self.failed_in_a_row = 0
        self.given_up += 1
        if self.given_up >= GIVE_UP_AFTER:
            self._graphql_off(f"failing for good: {exc}")

    def finish(self, checkpoint: Checkpoint) -> None:
        report = self.report
        report.remaining = count_pending(self.con, self.repo)
        report.listing_done = checkpoint.list_cursor is None
        done = report.remaining == 0 and report.listing_done
        checkpoint.status = "complete" if done else "stopped"
        checkpoint.stop_reason = None if done else (report.stopped or "--max-prs reached")
        checkpoint.points_used = self.start_points + self.meter.points
        store.in_transaction(self.con, lambda: save_checkpoint(self.con, checkpoint))
        report.points = self.meter.points
        report.graphql_requests = self.meter.requests
        report.rest_requests = self.source.usage.requests - self.requests_before - self.meter.requests
        report.rate_remaining, report.reset_at = self.meter.remaining, self.meter.reset_at
        report.batch_sizes = self.size.history
        report.shrinks = self.size.shrinks
        report.duration_s = time.perf_counter() - self.clock


def backfill(
    source: GitHubSource, con: duckdb.DuckDBPyConnection, db: str, repo: str, options: BackfillOptions
) -> BackfillReport:
    return Backfill(source, con, db, repo, options).run()


def run_backfill(args: argparse.Namespace, env: Environment) -> tuple[int, RunResult]:
    if args.since is not None and args.until is not None and args.since >= args.until:
        raise UsageError("--since is after --until: no PR was merged in that window")
    options = BackfillOptions(
        since=args.since,
        until=args.until,
        updated_since=datetime.now(UTC) - timedelta(days=args.lookback) if args.lookback is not None else None,
        max_prs=args.max_prs,
        budget=args.budget,
        floor=args.floor,
        resume=args.resume,
        batch_size=args.batch_size,
        max_seconds=args.max_minutes * 60 if args.max_minutes is not None else None,
    )
    settings = common.run_settings(args, env)
    # --max-minutes limits the whole run: over many repositories, each gets what is left of it
    deadline = time.monotonic() + options.max_seconds if options.max_seconds is not None else None

    def one(repo: str, source: GitHubSource) -> tuple[int, RunResult]:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        limited = dataclasses.replace(options, max_seconds=left)
        return backfill_one(args, env, repo, source, limited, settings)

    return common.for_each_repository(args, env, "backfill", one)


def backfill_one(
    args: argparse.Namespace,
    env: Environment,
    repo: str,
    source: GitHubSource,
    options: BackfillOptions,
    settings: common.RunSettings,
) -> tuple[int, RunResult]:
    update = common.update_and_check(
        args, env, repo, settings, lambda con, db: backfill(source, con, db, repo, options)
    )
    done, check = update.value
    report.log.info("%s", done.summary())
    code = common.announce_stopped(env, check, EXIT_PARTIAL if done.status == "partial" else EXIT_COMPLETE)
    run = RunResult(
        "backfill",
        done.status,
        repo=repo,
        window={
            "since": options.since.isoformat() if options.since else None,
            "until": options.until.isoformat() if options.until else None,
            "updated_since": options.updated_since.isoformat() if options.updated_since else None,
        },
        backfill=done.as_dict(),
        reconciled=common.needing_attention(done.results),
        merge_runs=check,
        storage=update,
        api_requests=source.usage.requests,
        duration_s=done.duration_s,
        # the scheduled run (--lookback): reported as the reconcile it is
        reconcile=done.as_reconcile() if options.updated_since is not None else None,
    )
    return code, run
