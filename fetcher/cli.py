"""``python -m fetcher``: argument parsing, exit codes, and each command as a thin layer over
fetcher.pipeline.update_db, returning a RunResult that report and alerts publish.

Longer than our ~400-line mark: most of it is argparse declarations (six commands, their options
and help texts), which read best next to the small functions that turn them into a run."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn, TypeVar

from duckdb import DuckDBPyConnection

from fetcher import alerts, backfill, digest, merge_runs, metrics, report, repositories, store, work_calendar
from fetcher.config import Environment
from fetcher.credentials import AppCredentials, Credentials, credentials_for
from fetcher.errors import (
    EXIT_COMPLETE,
    EXIT_FAILED,
    EXIT_PARTIAL,
    EXIT_STOPPED,
    EXIT_USAGE,
    MergelensError,
    UsageError,
)
from fetcher.event import Skip, SyncRequest, read_event
from fetcher.github import ClientSettings, GitHubSource
from fetcher.open_prs import OpenPrsReport, take_snapshot
from fetcher.pipeline import WorkingCopy, update_db
from fetcher.reconcile import CATCH_UP, ReconcileReport, catch_up, reconcile
from fetcher.records import MAX_PR_NUMBER
from fetcher.repositories import check_repo
from fetcher.result import RunResult
from fetcher.storage import ArtifactLocation
from fetcher.storage.prune import DEFAULT_KEEP, DEFAULT_MAX_DELETES, prune_artifacts
from fetcher.sync import FetchedPullRequest, SyncResult, fetch_pull_request, store_pull_request
from fetcher.whose_move import STALE_WORKING_DAYS

T = TypeVar("T")


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One clear line instead of argparse's usage block; argparse quotes some arguments raw
        # ("unrecognized arguments: ..."), so the line is made inert like every line we print.
        self.exit(EXIT_USAGE, f"mergelens: error: {report.inert(message)} (see {self.prog} --help)\n")


@dataclass(frozen=True)
class Number:
    """An argparse ``type``: a finite number from ``low`` to ``high`` (an int when ``whole``), else
    a usage error. ``str()`` is the range, as --help and the README give it."""

    low: float
    high: float
    whole: bool = False

    def __call__(self, text: str) -> float:
        try:
            # int(): more than 4,300 digits is a ValueError too; float(): "nan", "inf", "1e999" parse
            value = int(text) if self.whole else float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and self.low <= value <= self.high):
            kind = "a whole number" if self.whole else "a number"
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not {kind} from {self}")
        return value

    def __str__(self) -> str:
        return f"{self.low:g} to {self.high:g}" if not self.whole else f"{self.low:.0f} to {self.high:.0f}"


# The range of each numeric option (--help and the README say them).
PR_COUNT = Number(1, MAX_PR_NUMBER, whole=True)  # --max-prs, --reconcile-max, --pr
DAYS = Number(0, 3650)  # --lookback, --reconcile-lookback: up to ten years back
PAUSE_S = Number(0, 60)  # --request-interval, --retry-backoff
RATE_LIMIT_WAIT_S = Number(0, 3600)  # --max-rate-limit-wait: a primary rate limit resets within the hour
MINUTES = Number(0, 7 * 24 * 60)  # --max-minutes: a week
KEEP_HOURS = Number(0, 10 * 366 * 24)  # --keep-hours: ten years
POINTS = Number(1, 1_000_000, whole=True)  # --budget
FLOOR_POINTS = Number(0, 1_000_000, whole=True)  # --floor
BATCH_SIZE = Number(1, 100, whole=True)  # --batch-size: GitHub allows 100 nodes a connection
STALE_DAYS = Number(1, 3650, whole=True)  # --stale-days (working days)
COPIES = Number(1, 1000, whole=True)  # prune-artifacts --keep, --max-deletes, MERGELENS_ARTIFACT_KEEP


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m fetcher", description="Keep the complete record of merged PRs in DuckDB.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    client = Parser(add_help=False)  # only lends its arguments to the commands
    client.add_argument("--repo", help="OWNER/NAME (default: the Actions event's repository, GITHUB_REPOSITORY)")
    client.add_argument(
        "--db",
        type=db_spec,
        help="DuckDB file, s3://BUCKET/KEY or artifact:NAME (default: $MERGELENS_DB, else mergelens.duckdb)",
    )
    client.add_argument("--json", action="store_true", help="print the result as one JSON document on stdout")
    add_bots_argument(client)
    client.add_argument(
        "--max-rate-limit-wait",
        type=RATE_LIMIT_WAIT_S,
        default=60.0,
        metavar="SECONDS",
        help=f"longest wait for an exhausted rate limit to reset, else the section fails ({RATE_LIMIT_WAIT_S}; "
        "default 60)",
    )
    client.add_argument(
        "--request-interval",
        type=PAUSE_S,
        default=0.25,
        metavar="SECONDS",
        help=f"pause between GitHub requests; GitHub asks for serial requests ({PAUSE_S}; default 0.25)",
    )
    client.add_argument(
        "--patches",
        action="store_true",
        help="also store each changed file's diff text (pr_files.patch; large); also MERGELENS_STORE_PATCHES=1",
    )
    client.add_argument(
        "--retry-backoff",
        type=PAUSE_S,
        default=1.0,
        metavar="SECONDS",
        help=f"first backoff before retrying a 5xx or dropped connection; doubles each retry ({PAUSE_S}; default 1)",
    )

    many = Parser(add_help=False)  # organisation mode: reconcile, backfill and open-prs over many repositories
    many.add_argument(
        "--repos", metavar="OWNER/NAME,...", help="these repositories, one after the other, into the same --db"
    )
    many.add_argument("--repos-file", metavar="PATH", help="the repositories listed in PATH, one OWNER/NAME a line")
    many.add_argument(
        "--org",
        type=org_name,
        metavar="ORG",
        help="every repository of ORG that is not archived and that the token (or the GitHub App) can read",
    )

    checked = Parser(add_help=False)  # the scheduled run's reconcile: reconcile and backfill
    checked.add_argument(
        "--check-merge-runs",
        action="store_true",
        help="after storing, fail (exit 4) with one line when merge runs have stopped storing merged PRs: "
        "PRs they missed by more than MERGELENS_MISSED_AFTER_HOURS (default 6), or merges no merge run followed",
    )

    sync = commands.add_parser(
        "sync", parents=[client], help="fetch one merged PR completely and store it with its metrics"
    )
    sync.add_argument("--pr", type=pr_number, help="PR number (default: the PR of the Actions event)")
    sync.add_argument(
        "--reconcile",
        type=reconcile_mode,
        default=0,
        metavar="N|since-last-run",
        help=f"then sync the merged PRs that are missing or stale: up to N ({RECONCILE_COUNT}) of those closed "
        "in the last --reconcile-lookback days, or since-last-run: every one updated since the last merge run that "
        "caught up completely (a DB without one: the last --reconcile-lookback days) (default 0: none)",
    )
    sync.add_argument(
        "--reconcile-lookback",
        type=DAYS,
        default=3.0,
        metavar="DAYS",
        help=f"window of --reconcile ({DAYS}; default 3)",
    )
    sync.add_argument(
        "--reconcile-max",
        type=PR_COUNT,
        default=100,
        metavar="N",
        help=f"since-last-run syncs at most N PRs, says so, and leaves the rest to the next run ({PR_COUNT}; "
        "default 100)",
    )

    reconcile = commands.add_parser(
        "reconcile",
        parents=[client, many, checked],
        help="sync merged PRs that are missing, partial or updated since their sync",
    )
    reconcile.add_argument(
        "--lookback",
        type=DAYS,
        default=7.0,
        metavar="DAYS",
        help=f"closed PRs updated in the last DAYS ({DAYS}; default 7)",
    )
    reconcile.add_argument("--since", type=utc_date, help="instead of --lookback: PRs updated since DATE (YYYY-MM-DD)")
    reconcile.add_argument(
        "--max-prs", type=PR_COUNT, default=200, metavar="N", help=f"sync at most N PRs ({PR_COUNT}; default 200)"
    )

    history = commands.add_parser(
        "backfill",
        parents=[client, many, checked],
        help="sync every merged PR of a window in bulk through GraphQL, within the token's points budget",
    )
    history.add_argument("--since", type=utc_date, help="PRs merged on or after DATE (YYYY-MM-DD; default: all)")
    history.add_argument("--until", type=end_of_day, help="PRs merged on or before DATE (YYYY-MM-DD; default: now)")
    history.add_argument(
        "--lookback",
        type=DAYS,
        metavar="DAYS",
        help=f"PRs updated in the last DAYS ({DAYS}) that are missing, partial or updated since their sync (reconcile)",
    )
    history.add_argument("--max-prs", type=PR_COUNT, metavar="N", help=f"sync at most N PRs in this run ({PR_COUNT})")
    history.add_argument(
        "--budget", type=POINTS, metavar="POINTS", help=f"spend at most POINTS GraphQL points in this run ({POINTS})"
    )
    history.add_argument(
        "--floor",
        type=FLOOR_POINTS,
        default=200,
        metavar="POINTS",
        help="stop before the token's GraphQL points left fall under POINTS, kept for merge runs "
        f"({FLOOR_POINTS}; default 200)",
    )
    history.add_argument(
        "--resume", action="store_true", help="continue the backfill that stopped (its pending PRs and listing)"
    )
    history.add_argument(
        "--batch-size",
        type=BATCH_SIZE,
        default=25,
        metavar="N",
        help=f"PRs per GraphQL query, at most ({BATCH_SIZE}; default 25)",
    )
    history.add_argument(
        "--max-minutes", type=MINUTES, metavar="M", help=f"stop cleanly after M minutes ({MINUTES}; resume later)"
    )

    queue = commands.add_parser(
        "open-prs",
        parents=[client, many],
        help="store a dated snapshot of every open PR (GraphQL) and whose move each one is; "
        "post the daily digest when MERGELENS_DIGEST_WEBHOOK or MERGELENS_DIGEST_ISSUE is set",
    )
    queue.add_argument(
        "--stale-days",
        type=STALE_DAYS,
        default=STALE_WORKING_DAYS,
        metavar="N",
        help=f"a PR without activity for N working days (Mon-Fri) is stale ({STALE_DAYS}; "
        f"default {STALE_WORKING_DAYS})",
    )

    recompute = commands.add_parser("metrics", help="recompute pr_metrics from the stored rows")
    recompute.add_argument("--recompute", action="store_true", required=True, help="recompute every PR's metrics")
    recompute.add_argument("--repo", help="only this OWNER/NAME")
    recompute.add_argument("--db", type=db_spec, help="DuckDB file (default: $MERGELENS_DB, else mergelens.duckdb)")
    add_bots_argument(recompute)

    # DuckLake housekeeping (docs/ducklake.md): not runs of their own, so no run report.
    move = commands.add_parser("copy", help="copy a DB into a DuckLake or out of one, row for row (docs/ducklake.md)")
    move.add_argument(
        "--from", dest="source", type=db_spec, required=True, help="the DB read: path, s3://, artifact:, ducklake:"
    )
    move.add_argument("--to", dest="target", type=db_spec, required=True, help="the DB written: path, s3://, ducklake:")
    move.add_argument("--replace", action="store_true", help="overwrite a target that holds rows")
    move.add_argument("--json", action="store_true", help="print the result as one JSON document on stdout")
    tidy = commands.add_parser("compact", help="compact a DuckLake: merge small files, drop old snapshots and files")
    tidy.add_argument("--db", type=db_spec, required=True, help="ducklake:CATALOG")
    tidy.add_argument(
        "--keep-hours",
        type=KEEP_HOURS,
        default=1.0,
        metavar="H",
        help=f"keep the snapshots and files of the last H hours, for writers still reading them ({KEEP_HOURS}; "
        "default 1)",
    )
    tidy.add_argument("--json", action="store_true", help="print the result as one JSON document on stdout")
    prune = commands.add_parser(
        "prune-artifacts",
        help="keep the newest trusted artifacts of the DB's name, delete the older trusted ones (actions: write)",
    )
    prune.add_argument("--db", type=db_spec, help="artifact:NAME (default: $MERGELENS_DB)")
    prune.add_argument(
        "--keep",
        type=COPIES,
        metavar="N",
        help=f"keep the newest N trusted copies ({COPIES}; default: $MERGELENS_ARTIFACT_KEEP, else {DEFAULT_KEEP})",
    )
    prune.add_argument(
        "--max-deletes",
        type=COPIES,
        default=DEFAULT_MAX_DELETES,
        metavar="N",
        help=f"delete at most N in this run, the rest in the next ({COPIES}; default {DEFAULT_MAX_DELETES})",
    )
    prune.add_argument("--json", action="store_true", help="print the result as one JSON document on stdout")
    prune.add_argument(
        "--request-interval",
        type=PAUSE_S,
        default=0.25,
        metavar="SECONDS",
        help=f"pause between requests ({PAUSE_S}; default 0.25)",
    )
    return parser


def add_bots_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bots",
        metavar="LOGIN,...",
        help="extra bot logins (bots GitHub types as users); replaces the list stored in the DB and recomputes "
        "every PR when it changes; '' clears it (default: $MERGELENS_BOTS, else the stored list)",
    )
    parser.add_argument(
        "--work-calendar",
        metavar="SPEC",
        help="working hours for the *_work_hours metrics, e.g. 'tz=Europe/Berlin;days=Mon-Fri;hours=09:00-17:00;"
        "holidays=2026-12-24'; stored in the DB, recomputes every PR when it changes "
        "(default: $MERGELENS_WORK_CALENDAR, else the stored one, else Mon-Fri 09:00-17:00 UTC)",
    )


def bot_logins(args: argparse.Namespace, env: Environment) -> tuple[str, ...] | None:
    """The extra bots this run sets (--bots, else MERGELENS_BOTS), or None: keep the stored list."""
    return _setting(args.bots, env.bots, metrics.parse_bot_logins, "--bots / MERGELENS_BOTS")


def calendar_setting(args: argparse.Namespace, env: Environment) -> work_calendar.WorkCalendar | None:
    """The working-hours calendar this run sets (--work-calendar, else MERGELENS_WORK_CALENDAR), or
    None: keep the stored one."""
    return _setting(
        args.work_calendar,
        env.work_calendar,
        work_calendar.parse_work_calendar,
        "--work-calendar / MERGELENS_WORK_CALENDAR",
    )


def _setting(given: str | None, configured: str | None, parse: Callable[[str], T], names: str) -> T | None:
    """A setting stored in the DB: the option, else the environment, parsed (a usage error names
    both); None when neither is set."""
    text = given if given is not None else configured
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise UsageError(f"{names}: {exc}") from None


def use_settings(
    con: DuckDBPyConnection, logins: tuple[str, ...] | None, calendar: work_calendar.WorkCalendar | None
) -> None:
    changed = metrics.use_settings(con, logins, calendar)
    if "bots" in changed:
        report.log.info("extra bots now %s: recomputed every PR's metrics", ", ".join(logins or ()) or "none")
    if "calendar" in changed and calendar is not None:
        report.log.info("work calendar now %s: recomputed every PR's metrics", calendar.spec)


def pr_number(text: str) -> int:
    try:
        return int(PR_COUNT(text))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a PR number ({PR_COUNT})") from None


def org_name(text: str) -> str:
    try:
        return repositories.check_org(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--org ")) from None


def db_spec(text: str) -> str:
    """--db '' would otherwise fall back to the default file without a word."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty: give a path, s3://BUCKET/KEY or artifact:NAME")
    return text


SINCE_LAST_RUN = "since-last-run"
RECONCILE_COUNT = Number(0, MAX_PR_NUMBER, whole=True)  # --reconcile N


def reconcile_mode(text: str) -> int | str:
    if text.strip() == SINCE_LAST_RUN:
        return SINCE_LAST_RUN
    try:
        return int(RECONCILE_COUNT(text))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is neither a number nor {SINCE_LAST_RUN} (N: {RECONCILE_COUNT})"
        ) from None


def utc_date(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def end_of_day(text: str) -> datetime:
    """--until DATE includes that day: a plain date means its end."""
    value = utc_date(text)
    if len(text.strip()) != 10:
        return value
    try:
        return value + timedelta(days=1)
    except OverflowError:  # 9999-12-31: its end is the last time a datetime holds
        return datetime.max.replace(tzinfo=UTC)


def require_repo(args: argparse.Namespace, env: Environment) -> str:
    repo = args.repo or env.repository
    if not repo:
        raise UsageError("no repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY")
    return check_repo(repo)


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


def run_sync(args: argparse.Namespace, env: Environment) -> tuple[int, RunResult]:
    request = resolve_request(args, env)
    if isinstance(request, Skip):
        report.log.info("skipped: %s", request.reason)
        return EXIT_COMPLETE, RunResult.skipped("sync", request.reason)
    bots, calendar = bot_logins(args, env), calendar_setting(args, env)
    source = client_for(args, env, request.repo)
    started_at = datetime.now(UTC)  # since-last-run: the next run's window starts here
    fetched: list[FetchedPullRequest] = []  # fetched once, before the DB: a re-apply costs no request

    def fetch() -> None:
        fetched.append(fetch_pull_request(source, request.repo, request.number, request.trigger))

    def apply(con: DuckDBPyConnection, copy: WorkingCopy) -> tuple[SyncResult, ReconcileReport | None]:
        use_settings(con, bots, calendar)
        result = store_pull_request(con, fetched[0], copy.location)
        recon, db = None, str(copy.path)
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


def run_reconcile(args: argparse.Namespace, env: Environment) -> tuple[int, RunResult]:
    since = args.since or datetime.now(UTC) - timedelta(days=args.lookback)
    bots, calendar = bot_logins(args, env), calendar_setting(args, env)
    missed_after = missed_after_setting(args, env)
    return for_each_repository(
        args,
        env,
        "reconcile",
        lambda repo, source: reconcile_one(args, env, repo, source, since, bots, calendar, missed_after),
    )


def reconcile_one(
    args: argparse.Namespace,
    env: Environment,
    repo: str,
    source: GitHubSource,
    since: datetime,
    bots: tuple[str, ...] | None,
    calendar: work_calendar.WorkCalendar | None,
    missed_after: timedelta | None,
) -> tuple[int, RunResult]:
    clock = time.perf_counter()
    started_at = datetime.now(UTC)

    def apply(con: DuckDBPyConnection, copy: WorkingCopy) -> tuple[ReconcileReport, merge_runs.MergeRunCheck | None]:
        use_settings(con, bots, calendar)
        recon = reconcile(source, str(copy.path), con, repo, since, args.max_prs)
        return recon, check_merge_runs(con, repo, started_at, missed_after)

    update = update_db(args.db or env.db, env, apply)
    recon, check = update.value
    report.log.info("%s", recon.summary(repo))
    code = announce_stopped(env, check, EXIT_COMPLETE if recon.complete else EXIT_PARTIAL)
    run = RunResult(
        "reconcile",
        "complete" if recon.complete else "partial",
        repo=repo,
        since=since,
        reconcile=recon.as_dict(),
        reconciled=needing_attention(recon.outcome.results),
        merge_runs=check,
        storage=update,
        api_requests=source.usage.requests,
        duration_s=time.perf_counter() - clock,
    )
    return code, run


def run_backfill(args: argparse.Namespace, env: Environment) -> tuple[int, RunResult]:
    if args.since is not None and args.until is not None and args.since >= args.until:
        raise UsageError("--since is after --until: no PR was merged in that window")
    options = backfill.BackfillOptions(
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
    bots, calendar = bot_logins(args, env), calendar_setting(args, env)
    missed_after = missed_after_setting(args, env)
    # --max-minutes limits the whole run: over many repositories, each gets what is left of it
    deadline = time.monotonic() + options.max_seconds if options.max_seconds is not None else None

    def one(repo: str, source: GitHubSource) -> tuple[int, RunResult]:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        limited = dataclasses.replace(options, max_seconds=left)
        return backfill_one(args, env, repo, source, limited, bots, calendar, missed_after)

    return for_each_repository(args, env, "backfill", one)


def backfill_one(
    args: argparse.Namespace,
    env: Environment,
    repo: str,
    source: GitHubSource,
    options: backfill.BackfillOptions,
    bots: tuple[str, ...] | None,
    calendar: work_calendar.WorkCalendar | None,
    missed_after: timedelta | None,
) -> tuple[int, RunResult]:
    started_at = datetime.now(UTC)

    def apply(
        con: DuckDBPyConnection, copy: WorkingCopy
    ) -> tuple[backfill.BackfillReport, merge_runs.MergeRunCheck | None]:
        use_settings(con, bots, calendar)
        done = backfill.backfill(source, con, str(copy.path), repo, options)
        return done, check_merge_runs(con, repo, started_at, missed_after)

    update = update_db(args.db or env.db, env, apply)
    done, check = update.value
    report.log.info("%s", done.summary())
    code = announce_stopped(env, check, EXIT_PARTIAL if done.status == "partial" else EXIT_COMPLETE)
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
        reconciled=needing_attention(done.results),
        merge_runs=check,
        storage=update,
        api_requests=source.usage.requests,
        duration_s=done.duration_s,
        # the scheduled run (--lookback): reported as the reconcile it is
        reconcile=done.as_reconcile() if options.updated_since is not None else None,
    )
    return code, run


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


def run_metrics(args: argparse.Namespace, env: Environment) -> tuple[int, RunResult]:
    repo = check_repo(args.repo) if args.repo else None
    bots, calendar = bot_logins(args, env), calendar_setting(args, env)

    def apply(con: DuckDBPyConnection, copy: WorkingCopy) -> int:
        def recompute() -> int:
            changed = metrics.replace_settings(con, bots, calendar)  # a changed setting changes every PR's metrics
            return metrics.recompute(con, repo=None if changed else repo)

        counted: list[int] = []
        store.in_transaction(con, lambda: counted.append(recompute()))
        return counted[-1]

    # Through the storage layer like every write: a copy, checked, then stored (local, S3, artifact).
    update = update_db(args.db or env.db, env, apply)
    report.log.info("recomputed metrics of %d PRs in %s", update.value, update.location)
    return EXIT_COMPLETE, RunResult("metrics", "complete", recomputed=update.value, storage=update)


def run_copy(args: argparse.Namespace, env: Environment) -> int:
    from fetcher.copy import copy_db

    done = copy_db(args.source, args.target, env, args.replace)
    report.log.info("%s", done.summary())
    if args.json:
        report.print_json({"status": "complete", "from": done.source, "to": done.target, "counts": done.counts})
    return EXIT_COMPLETE


def run_compact(args: argparse.Namespace, env: Environment) -> int:
    from fetcher.compact import compact
    from fetcher.storage import LakeLocation, open_location

    location = open_location(args.db, env)
    if not isinstance(location, LakeLocation):
        raise UsageError(f"--db {args.db}: compact works on a DuckLake (ducklake:CATALOG); a DuckDB file needs none")
    done = compact(location, timedelta(hours=args.keep_hours))
    report.log.info("%s", done.summary())
    if args.json:
        report.print_json(done.as_dict())
    return EXIT_COMPLETE


def run_prune_artifacts(args: argparse.Namespace, env: Environment) -> int:
    spec = args.db or env.db
    if not spec.startswith("artifact:"):
        raise UsageError(f"--db {spec}: prune-artifacts works on an artifact:NAME database")
    keep = args.keep if args.keep is not None else artifact_keep(env)
    settings = ClientSettings(api_url=env.api_url, token=env.token or "", request_interval=args.request_interval)
    location = ArtifactLocation(spec.removeprefix("artifact:"), env, Path.cwd(), settings=settings)
    done = prune_artifacts(location, keep, args.max_deletes)
    for line in done.lines():
        report.log.info("%s", line)
    if (failure := done.failure()) is not None:
        report.log.error("%s%s", "mergelens: error: " if done.status == "failed" else "warning: ", failure)
    report.log.info("%s", done.summary())
    if args.json:
        report.print_json(done.as_dict())
    if env.in_actions and done.status != "complete":
        level = "error" if done.status == "failed" else "warning"
        print(report.annotation(level, "mergelens: prune-artifacts", done.summary()))
    if env.step_summary:
        report.write_prune_summary(env.step_summary, done)
    return {"complete": EXIT_COMPLETE, "partial": EXIT_PARTIAL}.get(done.status, EXIT_FAILED)


def artifact_keep(env: Environment) -> int:
    """MERGELENS_ARTIFACT_KEEP, else the default; a usage error when it is not a count of at least 1."""
    if env.artifact_keep is None:
        return DEFAULT_KEEP
    try:
        return int(COPIES(env.artifact_keep))
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"MERGELENS_ARTIFACT_KEEP: {exc}") from None


MAINTENANCE = {"copy": run_copy, "compact": run_compact, "prune-artifacts": run_prune_artifacts}
COMMANDS = {
    "sync": run_sync,
    "reconcile": run_reconcile,
    "backfill": run_backfill,
    "metrics": run_metrics,
    "open-prs": run_open_prs,
}


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    report.configure_logging()
    args = build_parser().parse_args(argv)
    env = env or Environment.from_environ()
    try:
        env.check()  # a GitHub URL no request can use: before any request
        if args.command in MAINTENANCE:
            return MAINTENANCE[args.command](args, env)
    except MergelensError as exc:
        report.log.error("mergelens: error: %s", exc)
        return exc.exit_code
    try:
        code, run = COMMANDS[args.command](args, env)
    except MergelensError as exc:
        report.log.error("mergelens: error: %s", exc)
        repo = getattr(args, "repo", None) or env.repository
        run = RunResult.failed(args.command, str(exc), repo, getattr(args, "pr", None))
        code = exc.exit_code
    publish(args, env, run)
    return code


def publish(args: argparse.Namespace, env: Environment, run: RunResult) -> None:
    """The result where its readers look: stdout (--json), and in Actions the annotations, the
    step summary, the step outputs, and Sentry for permanent failures."""
    if env.in_actions:
        for line in report.annotations_for(run):
            print(line)
    if getattr(args, "json", False):
        report.print_json(run.as_dict())
    if env.step_summary:
        report.write_step_summary(env.step_summary, run, env.server_url)
    if env.output:
        report.write_outputs(env.output, report.outputs_for(run))
    alerts.report_to_sentry(env.sentry_dsn, run)


if __name__ == "__main__":
    sys.exit(main())
