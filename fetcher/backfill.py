"""Backfill a repository's merged PRs in bulk through GraphQL, inside a token's points budget.

1. List the merged PRs of the window (``pullRequests(states: MERGED, orderBy: UPDATED_AT DESC)``,
   100 a query, 1 point): merged since/until, and/or updated since a lookback. PRs already stored
   ``complete`` and not updated on GitHub since their fetch are skipped (reconcile's rule), so no
   PR is fetched twice.
2. Fetch them in batches (fetcher.graphql), follow-ups completing long lists; store each batch
   through the same code as ``sync`` in one transaction that also moves the checkpoint.
3. Before every query: stop cleanly if its estimated cost would take the remaining points under
   ``floor`` (kept for merge runs) or this run over ``budget``; the pending PRs stay in
   ``backfill_pending`` and ``--resume`` (or the next scheduled run) continues with them.
4. Timeouts and 502/504s (big nested queries do time out) halve the batch; calm batches grow it
   back. A PR whose single-PR query still fails, and everything once GraphQL is unavailable
   (404/403 on the endpoint, or failing for good), is synced over REST instead: slower, complete.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import requests
from github import GithubException

from fetcher import graphql
from fetcher.errors import MergelensError
from fetcher.github import GitHubSource, payloads
from fetcher.graphql import ListedPullRequest, PullPages
from fetcher.reconcile import _staleness
from fetcher.records import parse_time
from fetcher.sync import FetchedPullRequest, SyncResult, fetch_pull_request, store_pull_requests

log = logging.getLogger("mergelens")

LOG_EVERY_S = 30.0  # plain progress lines (Actions logs) at most this often
TRANSIENT_ATTEMPTS = 3  # a one-PR query that keeps failing: that PR goes over REST
GIVE_UP_AFTER = 4  # consecutive PRs sent to REST that way: GraphQL is failing for good
STORE_BATCH = 100  # PRs written per transaction: 25 a write costs ~4x more per row than 100
CALM_BATCHES = 2  # successful batches in a row before the batch grows again


@dataclass
class BackfillOptions:
    since: datetime | None = None  # merged at or after
    until: datetime | None = None  # merged before
    updated_since: datetime | None = None  # --lookback: updated at or after (what reconcile looks at)
    max_prs: int | None = None
    budget: int | None = None  # points this run may spend
    floor: int = 200  # points left for merge runs
    resume: bool = False
    batch_size: int = 25
    max_seconds: float | None = None
    trigger: str = "backfill"
    progress_bar: bool | None = None  # None: a bar when stderr is a terminal

    @property
    def window(self) -> tuple[datetime | None, datetime | None, datetime | None]:
        return self.since, self.until, self.updated_since

    def includes(self, pr: ListedPullRequest) -> bool:
        merged = pr.merged_at
        if merged is None:
            return False
        if self.since is not None and merged < self.since:
            return False
        if self.until is not None and merged >= self.until:
            return False
        return not (self.updated_since is not None and (pr.updated_at is None or pr.updated_at < self.updated_since))

    @property
    def lower_bound(self) -> datetime | None:
        """Listing by updated_at (newest first) can stop below this: merged_at <= updated_at."""
        bounds = [b for b in (self.since, self.updated_since) if b is not None]
        return max(bounds) if bounds else None


class Stop(Exception):
    """Stop cleanly: the budget, the floor, the time limit or the rate limit says so."""


class GraphQLTimeout(Exception):
    """502/504, a timeout, a node limit: the query was too big or GitHub was busy. Shrink, retry."""


class GraphQLFailed(Exception):
    """This query failed for good (an error in the answer)."""


class GraphQLUnavailable(Exception):
    """The endpoint is missing or forbidden: REST from now on."""


@dataclass
class Meter:
    """Points and requests of this run, and what GitHub says is left."""

    floor: int
    budget: int | None
    deadline: float | None
    points: int = 0
    requests: int = 0
    remaining: int | None = None
    reset_at: datetime | None = None

    def check(self, estimate: int) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Stop("time limit reached")
        if self.budget is not None and self.points + estimate > self.budget:
            raise Stop(f"budget of {self.budget} points reached ({self.points} spent)")
        if self.remaining is not None and self.remaining - estimate < self.floor:
            raise Stop(
                f"GraphQL points left ({self.remaining}) would fall under the floor of {self.floor} kept for merge "
                f"runs; they reset at {self.reset_text()}"
            )

    def reset_text(self) -> str:
        return f"{self.reset_at:%H:%M} UTC" if self.reset_at else "the top of the hour"

    def charged(self, rate: dict[str, Any] | None, estimate: int) -> None:
        if rate:
            self.points += int(rate.get("cost") or 0)
            self.remaining = rate.get("remaining", self.remaining)
            self.reset_at = parse_time(rate.get("resetAt")) or self.reset_at
        else:  # GitHub charges a query that timed out; we never learn what: count the estimate
            self.points += estimate
            if self.remaining is not None:
                self.remaining -= estimate


class GraphQLClient:
    def __init__(self, source: GitHubSource, meter: Meter) -> None:
        self.source, self.meter = source, meter

    def query(self, query: str, variables: dict[str, Any], estimate: int) -> dict[str, Any]:
        self.meter.check(estimate)
        self.meter.requests += 1
        try:
            _, body = self.source.github.requester.graphql_query(query, variables)
        except GithubException as exc:
            raise self._classify(exc, estimate) from exc
        except requests.Timeout as exc:
            self.meter.charged(None, estimate)
            raise GraphQLTimeout("GraphQL query timed out") from exc
        except requests.ConnectionError as exc:
            self.meter.charged(None, estimate)
            raise GraphQLTimeout("connection to GitHub failed") from exc
        data = body.get("data") or {}
        self.meter.charged(data.get("rateLimit"), estimate)
        return data

    def _classify(self, exc: GithubException, estimate: int) -> Exception:
        data = exc.data if isinstance(exc.data, dict) else {}
        errors = data.get("errors") or []
        types = {str(error.get("type")) for error in errors if isinstance(error, dict)}
        message = "; ".join(str(error.get("message")) for error in errors if isinstance(error, dict))
        message = message or str(data.get("message") or exc.message or exc.status)
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        if "data" in data and isinstance(data.get("data"), dict):
            self.meter.charged(data["data"].get("rateLimit"), estimate)
        if exc.status == 401:
            return MergelensError(f"GitHub rejected the token (HTTP 401: {message}): check GITHUB_TOKEN (or GH_TOKEN)")
        if "RATE_LIMITED" in types or (exc.status in (403, 429) and headers.get("x-ratelimit-remaining") == "0"):
            self.meter.remaining = 0
            reset = headers.get("x-ratelimit-reset")
            if reset:
                self.meter.reset_at = datetime.fromtimestamp(int(reset), UTC)
            return Stop(f"GraphQL rate limit exhausted; it resets at {self.meter.reset_text()}")
        if exc.status in (403, 429) and (headers.get("retry-after") or "secondary rate limit" in message.lower()):
            return Stop(f"GitHub's secondary rate limit (HTTP {exc.status}): resume in a few minutes")
        if errors:
            if types & {"MAX_NODE_LIMIT_EXCEEDED", "TIMEOUT"} or "timeout" in message.lower():
                return GraphQLTimeout(message)
            return GraphQLFailed(message)
        if exc.status in (404, 403, 410, 501) or exc.status == 429:
            return GraphQLUnavailable(f"HTTP {exc.status}: {message}")
        self.meter.charged(None, estimate)
        return GraphQLTimeout(f"HTTP {exc.status}: {message}")


class BatchSize:
    """Halve on a timeout; after CALM_BATCHES good batches in a row grow by half, never again to
    a size that timed out recently."""

    def __init__(self, maximum: int) -> None:
        self.maximum = max(1, maximum)
        self.size = self.maximum
        self.ceiling = self.maximum
        self.calm = 0
        self.shrinks = 0
        self.history: list[int] = []

    def shrink(self) -> None:
        self.ceiling = max(1, self.size - 1)
        self.size = max(1, self.size // 2)
        self.calm = 0
        self.shrinks += 1
        self.history.append(self.size)

    def succeeded(self) -> None:
        self.calm += 1
        if self.calm >= CALM_BATCHES and self.size < self.ceiling:
            self.size = min(self.ceiling, self.size + max(1, self.size // 2))
            self.calm = 0
            self.history.append(self.size)
        if self.calm >= 10 * CALM_BATCHES:
            self.ceiling = self.maximum  # a long calm: the big size may work again


# --- checkpoint ------------------------------------------------------------------------------


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
    con.executemany(
        """INSERT INTO backfill_pending VALUES (?, ?, ?, ?)
           ON CONFLICT (repo, number) DO UPDATE SET updated_at = EXCLUDED.updated_at, head_sha = EXCLUDED.head_sha""",
        [[repo, pr.number, pr.updated_at, pr.head_sha] for pr in prs],
    )


def remove_pending(con: duckdb.DuckDBPyConnection, repo: str, numbers: list[int]) -> None:
    if numbers:
        con.execute(
            "DELETE FROM backfill_pending WHERE repo = ? AND list_contains(?::INTEGER[], number)", [repo, numbers]
        )


# --- the run ---------------------------------------------------------------------------------


@dataclass
class BackfillReport:
    repo: str
    listed: int = 0  # merged PRs in the window(s) listed in this run
    resumed: int = 0  # PRs taken over from the checkpoint
    up_to_date: int = 0  # listed but already stored complete and unchanged: skipped
    results: list[SyncResult] = field(default_factory=list)
    failures: dict[int, str] = field(default_factory=dict)
    over_rest: list[int] = field(default_factory=list)  # PRs synced over REST (fallback)
    rest_files: list[int] = field(default_factory=list)  # PRs whose files section came over REST
    reasons: dict[int, str] = field(default_factory=dict)  # why each PR to sync needed it
    remaining: int = 0  # PRs left for --resume
    listing_done: bool = True
    stopped: str | None = None  # why the run stopped before the end
    graphql_unavailable: str | None = None
    points: int = 0
    graphql_requests: int = 0
    rest_requests: int = 0
    rate_remaining: int | None = None
    reset_at: datetime | None = None
    batch_sizes: list[int] = field(default_factory=list)
    shrinks: int = 0
    duration_s: float = 0.0

    def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for status in [r.status for r in self.results] + ["failed"] * len(self.failures):
            counts[status] = counts.get(status, 0) + 1
        return counts

    @property
    def synced(self) -> int:
        return len(self.results)

    @property
    def complete(self) -> bool:
        return not self.failures and all(r.status == "complete" for r in self.results)

    def summary(self) -> str:
        left = f"{self.remaining} left for --resume" if self.remaining or not self.listing_done else "nothing left"
        if not self.listing_done:
            left += " (listing unfinished)"
        line = (
            f"backfill {self.repo}: {self.synced} PRs synced "
            f"({', '.join(f'{n} {s}' for s, n in self.statuses().items()) or 'none'}), "
            f"{self.up_to_date} already up to date; {self.points} points in {self.graphql_requests} GraphQL "
            f"queries, {self.rest_requests} REST requests; {self.duration_s:.1f} s; {left}"
        )
        if self.stopped:
            line += f"; stopped: {self.stopped}"
        return line

    def as_dict(self) -> dict[str, Any]:
        per_pr = self.points / self.synced if self.synced else None
        return {
            "listed": self.listed,
            "resumed": self.resumed,
            "up_to_date": self.up_to_date,
            "synced": self.statuses(),
            "remaining": self.remaining,
            "listing_done": self.listing_done,
            "stopped": self.stopped,
            "graphql_unavailable": self.graphql_unavailable,
            "over_rest": self.over_rest,
            "files_over_rest": self.rest_files,
            "failures": {str(n): reason for n, reason in self.failures.items()},
            "points": self.points,
            "points_per_pr": round(per_pr, 3) if per_pr is not None else None,
            "graphql_requests": self.graphql_requests,
            "rest_requests": self.rest_requests,
            "rate_limit_remaining": self.rate_remaining,
            "rate_limit_reset_at": self.reset_at.isoformat() if self.reset_at else None,
            "batch_sizes": self.batch_sizes,
            "shrinks": self.shrinks,
            "duration_s": round(self.duration_s, 3),
        }


class Backfill:
    def __init__(
        self, source: GitHubSource, con: duckdb.DuckDBPyConnection, db: str, repo: str, options: BackfillOptions
    ) -> None:
        self.source, self.con, self.db, self.repo, self.options = source, con, db, repo, options
        self.owner, self.name = repo.split("/", 1)
        deadline = time.monotonic() + options.max_seconds if options.max_seconds else None
        self.meter = Meter(options.floor, options.budget, deadline)
        self.client = GraphQLClient(source, self.meter)
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
            variables = {"owner": self.owner, "name": self.name, "cursor": cursor}
            try:
                data = self._with_retries(lambda v=variables: self.client.query(graphql.LIST_QUERY, v, 1))
            except Stop as stop:
                self.report.stopped = str(stop)
                return found, cursor or ""
            except (GraphQLFailed, GraphQLUnavailable, GraphQLTimeout) as exc:
                self._graphql_off(str(exc))
                continue
            connection = ((data.get("repository") or {}).get("pullRequests")) or {}
            page = graphql.listed(connection.get("nodes") or [])
            found += [pr for pr in page if options.includes(pr)]
            info = connection.get("pageInfo") or {}
            older = bound is not None and any(pr.updated_at is not None and pr.updated_at < bound for pr in page)
            if older or not info.get("hasNextPage"):
                return found, None
            cursor = info.get("endCursor")

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

    def _with_retries(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        for attempt in range(TRANSIENT_ATTEMPTS):
            try:
                return call()
            except GraphQLTimeout:
                if attempt == TRANSIENT_ATTEMPTS - 1:
                    raise
                time.sleep(self.source.settings.backoff_factor * 2**attempt)
        raise AssertionError("unreachable")

    def _graphql_off(self, why: str) -> None:
        if not self.use_rest:
            log.warning("GraphQL unavailable (%s): syncing the rest over REST", why)
            self.report.graphql_unavailable = why
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
            con.execute("DELETE FROM backfill_pending WHERE repo = ?", [self.repo])
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
            con.execute("BEGIN")
            add_pending(con, self.repo, found)
            con.execute("COMMIT")
            if stopped_at is not None:
                checkpoint.since, checkpoint.until, checkpoint.updated_since = window.window
                checkpoint.list_cursor = stopped_at
                self.report.listing_done = False
                break
        pending = load_pending(con, self.repo)
        stored = {
            number: (fetched_at, status)
            for number, fetched_at, status in con.execute(
                "SELECT number, fetched_at, sync_status FROM pull_requests WHERE repo = ?", [self.repo]
            ).fetchall()
        }
        todo, fresh = [], []
        for pr in pending:
            reason = _staleness(stored.get(pr.number), pr.updated_at)
            if reason:
                todo.append(pr)
                self.report.reasons[pr.number] = reason
            else:
                fresh.append(pr.number)
        self.report.up_to_date = len(fresh)
        con.execute("BEGIN")
        remove_pending(con, self.repo, fresh)
        save_checkpoint(con, checkpoint)
        con.execute("COMMIT")
        if options.max_prs is not None:
            todo = todo[: options.max_prs]
        return todo, checkpoint

    # fetching ------------------------------------------------------------------------------

    def fetch_batch(self, batch: list[ListedPullRequest]) -> list[PullPages]:
        heads = [pr for pr in batch if pr.head_sha]
        query = graphql.batch_query(len(batch), len(heads))
        variables: dict[str, Any] = {"owner": self.owner, "name": self.name}
        variables.update({f"n{i}": pr.number for i, pr in enumerate(batch)})
        variables.update({f"o{i}": pr.head_sha for i, pr in enumerate(heads)})
        estimate = graphql.points(graphql.batch_requests(len(batch), len(heads)))
        data = self.client.query(query, variables, estimate)
        repository = data.get("repository") or {}
        pages, follow = [], []
        by_number: dict[int, PullPages] = {}
        for i, listed in enumerate(batch):
            node = repository.get(f"p{i}")
            if node is None:
                raise GraphQLFailed(f"PR #{listed.number} not in the answer")
            pull = PullPages(listed.number, listed.head_sha, pr=node)
            for name in graphql.PR_LISTS:
                follow += pull.absorb(name, node.get(name) or {}, node.get("id"))
            pages.append(pull)
            by_number[listed.number] = pull
        for i, listed in enumerate(heads):
            commit = repository.get(f"c{i}")
            pull = by_number[listed.number]
            if commit is not None and commit.get("oid") == (pull.pr or {}).get("headRefOid"):
                pull.head_checked = True
                follow += pull.absorb("suites", commit.get("checkSuites") or {}, commit.get("id"))
        moved = [pull for pull in pages if not pull.head_checked and (pull.pr or {}).get("headRefOid")]
        if moved:  # the head changed since the listing (or was unknown): its check runs, asked again
            follow += self._head_checks(moved)
        self._follow(follow)
        return pages

    def _head_checks(self, pulls: list[PullPages]) -> list[graphql.Page]:
        query = graphql.batch_query(0, len(pulls))
        variables: dict[str, Any] = {"owner": self.owner, "name": self.name}
        variables.update({f"o{i}": (pull.pr or {}).get("headRefOid") for i, pull in enumerate(pulls)})
        data = self.client.query(query, variables, graphql.points(graphql.batch_requests(0, len(pulls))))
        repository = data.get("repository") or {}
        follow: list[graphql.Page] = []
        for i, pull in enumerate(pulls):
            pull.suites, pull.head_checked = [], True
            commit = repository.get(f"c{i}")
            if commit is not None:
                follow += pull.absorb("suites", commit.get("checkSuites") or {}, commit.get("id"))
        return follow

    def _follow(self, pages: list[graphql.Page]) -> None:
        while pages:
            upcoming: list[graphql.Page] = []
            for group in graphql.pack(pages):
                query, variables = graphql.follow_up_query(group)
                estimate = graphql.points(sum(page.requests for page in group))
                data = self._with_retries(lambda q=query, v=variables, e=estimate: self.client.query(q, v, e))
                for i, page in enumerate(group):
                    node = data.get(f"f{i}")
                    if node is not None:
                        upcoming += page.pull.absorb_follow_up(page, node)
            pages = upcoming

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
        except MergelensError as exc:
            message = str(exc)
            if "rate limit" in message.lower():
                raise Stop(message) from None
            self.report.failures[listed.number] = message
            log.warning("%s#%d: %s", self.repo, listed.number, message)
            return
        self.report.over_rest.append(listed.number)
        self.store([fetched], checkpoint)

    # the loop ------------------------------------------------------------------------------

    def run(self) -> BackfillReport:
        todo, checkpoint = self.plan()
        self.start_points = checkpoint.points_used  # earlier runs' points; this run's are in the meter
        progress = Progress(self.repo, len(todo), self.options.progress_bar, self)
        queue = list(todo)
        try:
            while queue:
                if self.use_rest:
                    if self.meter.deadline is not None and time.monotonic() > self.meter.deadline:
                        raise Stop("time limit reached")
                    self.over_rest(queue.pop(0), checkpoint)
                    progress.advance(1)
                    continue
                batch = queue[: self.size.size]
                started = datetime.now(UTC)
                clock = time.perf_counter()
                requests_before = self.meter.requests
                try:
                    pulls = self.fetch_batch(batch)
                except GraphQLUnavailable as exc:
                    self._graphql_off(str(exc))
                    continue
                except (GraphQLTimeout, GraphQLFailed) as exc:
                    if len(batch) > 1:
                        self.size.shrink()
                        log.info("batch of %d failed (%s): now %d PRs a query", len(batch), exc, self.size.size)
                        continue
                    self.failed_in_a_row += 1
                    if self.failed_in_a_row >= TRANSIENT_ATTEMPTS:
                        log.warning("%s#%d: GraphQL keeps failing (%s): over REST", self.repo, batch[0].number, exc)
                        queue.pop(0)
                        self.over_rest(batch[0], checkpoint)
                        progress.advance(1)
                        self.failed_in_a_row = 0
                        self.given_up += 1
                        if self.given_up >= GIVE_UP_AFTER:
                            self._graphql_off(f"failing for good: {exc}")
                    else:
                        time.sleep(self.source.settings.backoff_factor * 2 ** (self.failed_in_a_row - 1))
                    continue
                self.failed_in_a_row = self.given_up = 0
                self.size.succeeded()
                queries = self.meter.requests - requests_before
                fetched = []
                for pull in pulls:
                    bundle = pull.bundle(self.repo, self.rest_files)
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

    def finish(self, checkpoint: Checkpoint) -> None:
        left = self.con.execute("SELECT count(*) FROM backfill_pending WHERE repo = ?", [self.repo]).fetchone()
        report = self.report
        report.remaining = int(left[0]) if left else 0
        report.listing_done = checkpoint.list_cursor is None
        done = report.remaining == 0 and report.listing_done
        checkpoint.status = "complete" if done else "stopped"
        checkpoint.stop_reason = None if done else (report.stopped or "--max-prs reached")
        checkpoint.points_used = self.start_points + self.meter.points
        self.con.execute("BEGIN")
        save_checkpoint(self.con, checkpoint)
        self.con.execute("COMMIT")
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


class Progress:
    """A tqdm bar on a terminal; a plain line every LOG_EVERY_S seconds otherwise (Actions logs)."""

    def __init__(self, repo: str, total: int, bar: bool | None, run: Backfill) -> None:
        self.repo, self.total, self.run, self.done = repo, total, run, 0
        self.last = time.monotonic()
        use_bar = sys.stderr.isatty() if bar is None else bar
        self.bar = None
        if use_bar and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="PR", desc=f"backfill {repo}", file=sys.stderr, leave=False)
        log.info("backfill %s: %d PRs to sync", repo, total)

    def advance(self, count: int) -> None:
        self.done += count
        meter = self.run.meter
        if self.bar is not None:
            self.bar.set_postfix(points=meter.points, left=meter.remaining, batch=self.run.size.size, refresh=False)
            self.bar.update(count)
        elif time.monotonic() - self.last >= LOG_EVERY_S or self.done == self.total:
            self.last = time.monotonic()
            log.info(
                "backfill %s: %d/%d PRs, %d points (%s left), batch %d",
                self.repo,
                self.done,
                self.total,
                meter.points,
                meter.remaining if meter.remaining is not None else "?",
                self.run.size.size,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
