"""``python -m fetcher``: argument parsing, exit codes, and the wiring of fetch and store."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from fetcher import metrics, report
from fetcher.config import Environment
from fetcher.errors import EXIT_COMPLETE, EXIT_PARTIAL, EXIT_USAGE, MergelensError, UsageError
from fetcher.event import Skip, SyncRequest, read_event
from fetcher.github import ClientSettings, GitHubSource
from fetcher.sync import open_store, sync_pull_request

REPO_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One clear line instead of argparse's usage block.
        self.exit(
            EXIT_USAGE,
            f"mergelens: error: {message} (see python -m fetcher {self.prog.split()[-1]} --help)\n",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m fetcher", description="Keep the complete record of merged PRs in DuckDB.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    sync = commands.add_parser("sync", help="fetch one merged PR completely and store it with its metrics")
    sync.add_argument("--repo", help="OWNER/NAME (default: the Actions event's repository, GITHUB_REPOSITORY)")
    sync.add_argument("--pr", type=positive_int, help="PR number (default: the PR of the Actions event)")
    sync.add_argument("--db", help="DuckDB file (default: $MERGELENS_DB, else mergelens.duckdb)")
    sync.add_argument("--json", action="store_true", help="print the result as one JSON document on stdout")
    sync.add_argument(
        "--max-rate-limit-wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="longest wait for an exhausted rate limit to reset, else the section fails (default 60)",
    )
    sync.add_argument(
        "--request-interval",
        type=float,
        default=0.25,
        metavar="SECONDS",
        help="pause between GitHub requests; GitHub asks for serial requests (default 0.25)",
    )

    sync.add_argument(
        "--retry-backoff",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="first backoff before retrying a 5xx or dropped connection; doubles each retry (default 1)",
    )

    recompute = commands.add_parser("metrics", help="recompute pr_metrics from the stored rows")
    recompute.add_argument("--recompute", action="store_true", required=True, help="recompute every PR's metrics")
    recompute.add_argument("--repo", help="only this OWNER/NAME")
    recompute.add_argument("--db", help="DuckDB file (default: $MERGELENS_DB, else mergelens.duckdb)")
    return parser


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a PR number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a PR number")
    return value


def check_repo(repo: str) -> str:
    if not REPO_PATTERN.match(repo):
        raise UsageError(f"--repo {repo!r} is not OWNER/NAME")
    return repo


def resolve_request(args: argparse.Namespace, env: Environment) -> SyncRequest | Skip:
    """The PR to sync: --repo/--pr when given, else what the Actions event asks for."""
    if args.pr is not None:
        repo = args.repo or env.repository
        if not repo:
            raise UsageError("no repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY")
        return SyncRequest(check_repo(repo), args.pr, "cli")
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


def run_sync(args: argparse.Namespace, env: Environment) -> int:
    request = resolve_request(args, env)
    if isinstance(request, Skip):
        report.log.info("skipped: %s", request.reason)
        if args.json:
            report.print_json({"status": "skipped", "reason": request.reason, "api_requests": 0})
        return EXIT_COMPLETE
    if not env.token:
        raise MergelensError("no GitHub token: set GITHUB_TOKEN (or GH_TOKEN)")
    settings = ClientSettings(
        api_url=env.api_url,
        token=env.token,
        request_interval=args.request_interval,
        max_rate_limit_wait=args.max_rate_limit_wait,
        backoff_factor=args.retry_backoff,
    )
    source = GitHubSource(settings)
    try:
        result = sync_pull_request(source, args.db or env.db, request.repo, request.number, request.trigger)
    finally:
        source.close()
    document = result.as_dict()
    for warning in result.warnings:
        report.log.warning("warning: %s", warning)
    report.log.info("%s", report.summary_line(document))
    if args.json:
        report.print_json(document)
    return EXIT_PARTIAL if result.status == "partial" else EXIT_COMPLETE


def run_metrics(args: argparse.Namespace, env: Environment) -> int:
    repo = check_repo(args.repo) if args.repo else None
    db = args.db or env.db
    with open_store(db) as con:
        con.execute("BEGIN")
        count = metrics.recompute(con, repo=repo)
        con.execute("COMMIT")
    report.log.info("recomputed metrics of %d PRs in %s", count, db)
    return EXIT_COMPLETE


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    report.configure_logging()
    args = build_parser().parse_args(argv)
    env = env or Environment.from_environ()
    try:
        if args.command == "sync":
            return run_sync(args, env)
        return run_metrics(args, env)
    except MergelensError as exc:
        report.log.error("mergelens: error: %s", exc)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
