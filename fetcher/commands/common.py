"""What the commands share: the repositories a run works on and a client for each, the DB-stored
settings a run sets, and the merge-run check that ends a scheduled run."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from duckdb import DuckDBPyConnection

from fetcher.collect import repositories
from fetcher.collect.credentials import AppCredentials, Credentials, credentials_for
from fetcher.collect.repositories import check_repo
from fetcher.collect.rest import ClientSettings, GitHubSource
from fetcher.commands.arguments import PR_COUNT, pr_number
from fetcher.compute import merge_runs, metrics, work_calendar
from fetcher.config import Environment, resolve
from fetcher.errors import (
    EXIT_COMPLETE,
    EXIT_FAILED,
    EXIT_PARTIAL,
    EXIT_STOPPED,
    MergelensError,
    UsageError,
)
from fetcher.pipeline.sync_pr import SyncResult
from fetcher.pipeline.update import WorkingCopy, update_db
from fetcher.publish import digest, report
from fetcher.publish.result import RunResult
from fetcher.storage import UpdateResult

T = TypeVar("T")


@dataclass(frozen=True)
class StoredSettings:
    """The settings a run stores in the DB, for every PR's metrics: the extra bots and the
    working-hours calendar; None keeps the DB's."""

    bots: tuple[str, ...] | None
    calendar: work_calendar.WorkCalendar | None


# What reconcile and backfill set before they write: the settings stored in the DB, and how late a
# merged PR counts as missed (None: no --check-merge-runs).
RunSettings = tuple[StoredSettings, timedelta | None]


def stored_settings(args: argparse.Namespace, env: Environment) -> StoredSettings:
    """--bots, else MERGELENS_BOTS; --work-calendar, else MERGELENS_WORK_CALENDAR (config.resolve)."""
    return StoredSettings(
        bots=resolve(args.bots, env.bots, metrics.parse_bot_logins, "--bots / MERGELENS_BOTS"),
        calendar=resolve(
            args.work_calendar,
            env.work_calendar,
            work_calendar.parse_work_calendar,
            "--work-calendar / MERGELENS_WORK_CALENDAR",
        ),
    )


def use_settings(con: DuckDBPyConnection, settings: StoredSettings) -> None:
    changed = metrics.use_settings(con, settings.bots, settings.calendar)
    if "bots" in changed:
        report.log.info("extra bots now %s: recomputed every PR's metrics", ", ".join(settings.bots or ()) or "none")
    if "calendar" in changed and settings.calendar is not None:
        report.log.info("work calendar now %s: recomputed every PR's metrics", settings.calendar.spec)


def require_repo(args: argparse.Namespace, env: Environment) -> str:
    repo = args.repo or env.repository
    if not repo:
        raise UsageError("no repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY")
    return check_repo(repo)


def client_for(
    args: argparse.Namespace, env: Environment, repo: str, credentials: Credentials | None = None
) -> GitHubSource:
    """A client that reads ``repo``: with the token, or the GitHub App's token for its installation."""
    settings = client_settings(args, env)
    credentials = credentials or credentials_for(env, settings)
    return GitHubSource(settings, credentials.for_repository(repo))


def client_settings(args: argparse.Namespace, env: Environment) -> ClientSettings:
    return ClientSettings(
        api_url=env.api_url,
        token=env.token or "",
        request_interval=args.request_interval,
        max_rate_limit_wait=args.max_rate_limit_wait,
        backoff_factor=args.retry_backoff,
        patches=args.patches or env.store_patches,
    )


RepositoryRun = Callable[[str, GitHubSource], tuple[int, RunResult]]


def for_each_repository(
    args: argparse.Namespace, env: Environment, command: str, one: RepositoryRun
) -> tuple[int, RunResult]:
    """``one`` for the repository of --repo (or GITHUB_REPOSITORY), as always; or, with --repos,
    --repos-file or --org, for each of those in turn, into the same --db. A repository that fails
    does not stop the others: the run is complete (exit 0) when every repository is, failed (1)
    when every one failed, else partial (3), and its result says which repository ended how."""
    named = []
    if args.repos:
        named += repositories.parse_list(args.repos)
    if args.repos_file:
        named += repositories.read_file(args.repos_file)
    if not (named or args.org or args.repos is not None or args.repos_file is not None):
        repo = require_repo(args, env)
        with client_for(args, env, repo) as source:
            return one(repo, source)
    if args.repo:
        raise UsageError("--repo and --repos / --repos-file / --org exclude each other")
    credentials = credentials_for(env, client_settings(args, env))
    if args.org:
        named += organisation_repositories(args, env, credentials, args.org)
    targets = repositories.unique(named)
    if not targets:
        raise UsageError("no repositories to work on")
    clock = time.perf_counter()
    runs: list[tuple[int, RunResult]] = []
    for repo in targets:
        try:
            with client_for(args, env, repo, credentials) as source:
                runs.append(one(repo, source))
        except MergelensError as exc:
            message = str(exc) if repo.lower() in str(exc).lower() else f"{repo}: {exc}"
            report.log.error("mergelens: error: %s", message)
            runs.append((exc.exit_code, RunResult.failed(command, message, repo, None)))
    failed = sum(1 for _, run in runs if run.status == "failed")
    code = (
        EXIT_COMPLETE
        if all(c == EXIT_COMPLETE for c, _ in runs)
        else EXIT_FAILED
        if failed == len(runs)
        else EXIT_STOPPED
        if any(c == EXIT_STOPPED for c, _ in runs)
        else EXIT_PARTIAL
    )
    status = {EXIT_COMPLETE: "complete", EXIT_FAILED: "failed"}.get(code, "partial")
    run = RunResult(
        command,
        status,
        repos=[run for _, run in runs],
        api_requests=sum(run.api_requests for _, run in runs),
        duration_s=time.perf_counter() - clock,
    )
    report.log.info("%s", report.repositories_line(run))
    return code, run


def organisation_repositories(
    args: argparse.Namespace, env: Environment, credentials: Credentials, org: str
) -> list[str]:
    """--org: the organisation's repositories these credentials read, archived ones left out."""
    with GitHubSource(client_settings(args, env), credentials.for_organization(org)) as source:
        listing = source.repositories(org, installation=isinstance(credentials, AppCredentials))
    names = repositories.listed(org, listing)
    report.log.info("%s: %d repositories to work on", org, len(names))
    return names


def missed_after_setting(args: argparse.Namespace, env: Environment) -> timedelta | None:
    """--check-merge-runs: how late a merged PR is missed (MERGELENS_MISSED_AFTER_HOURS); None: no check."""
    if not args.check_merge_runs:
        return None
    try:
        return merge_runs.missed_after(env.missed_after_hours)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def check_merge_runs(
    con: DuckDBPyConnection, repo: str, started_at: datetime, missed_after: timedelta | None
) -> merge_runs.MergeRunCheck | None:
    """After a reconcile stored what it found: are the merge runs still storing merged PRs? The
    PRs they missed are those first stored by this run (since ``started_at``)."""
    if missed_after is None:
        return None
    found = merge_runs.check_merge_runs(con, [repo], datetime.now(UTC), missed_after, started_at)
    return found[0] if found else None  # no merge run ever stored anything here: nothing to check


def run_settings(args: argparse.Namespace, env: Environment) -> RunSettings:
    """Reconcile's and backfill's settings, each checked before any request."""
    return stored_settings(args, env), missed_after_setting(args, env)


def update_and_check(
    args: argparse.Namespace,
    env: Environment,
    repo: str,
    settings: RunSettings,
    work: Callable[[DuckDBPyConnection, str], T],
) -> UpdateResult[tuple[T, merge_runs.MergeRunCheck | None]]:
    """Reconcile's and backfill's write to ``--db``: this run's ``settings`` (bots, calendar) set
    first, then ``work`` (given the connection and what its results name as the DB), then the
    merge-run check (``missed_after``; None: no check) on what it stored."""
    stored, missed_after = settings
    started_at = datetime.now(UTC)

    def apply(con: DuckDBPyConnection, copy: WorkingCopy) -> tuple[T, merge_runs.MergeRunCheck | None]:
        use_settings(con, stored)
        return work(con, copy.written), check_merge_runs(con, repo, started_at, missed_after)

    return update_db(args.db or env.db, env, apply)


def announce_stopped(env: Environment, check: merge_runs.MergeRunCheck | None, code: int) -> int:
    """Merge runs stopped: the one line, the digest's webhook when MERGELENS_DIGEST_WEBHOOK_ALERTS=1
    (after the DB was stored: nothing is lost), and exit 4; else ``code``. The annotation and the
    step summary come from the run's result."""
    if check is None or not check.stopped:
        return code
    report.log.error("mergelens: error: %s", check.notice())
    if env.digest_webhook_alerts:
        warning = (
            digest.post_webhook(env.digest_webhook, digest.slack_text(check.notice()), "the notice")
            if env.digest_webhook
            else "MERGELENS_DIGEST_WEBHOOK_ALERTS=1 but MERGELENS_DIGEST_WEBHOOK is not set: the notice was not posted"
        )
        if warning:
            check.warnings.append(warning)
            report.log.warning("warning: %s", warning)
    return EXIT_STOPPED if code in (EXIT_COMPLETE, EXIT_PARTIAL) else code


def digest_issue(env: Environment) -> int | None:
    """MERGELENS_DIGEST_ISSUE: the issue the digest is posted on (None: not configured)."""
    if env.digest_issue is None:
        return None
    try:
        return pr_number(env.digest_issue)
    except argparse.ArgumentTypeError:
        raise UsageError(f"MERGELENS_DIGEST_ISSUE is not an issue number ({PR_COUNT})") from None


def needing_attention(results: list[SyncResult]) -> list[SyncResult]:
    """The reconciled PRs that did not end complete: for annotations and Sentry."""
    return [result for result in results if result.status != "complete"]
