"""The command line: ``python -m fetcher``'s parser, its commands' options and the ranges and
types that check them (a bad value is one usage line, exit 2)."""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

import fetcher
from fetcher.collect import repositories
from fetcher.commands.dashboard import dashboard_command
from fetcher.compute.whose_move import STALE_WORKING_DAYS
from fetcher.errors import (
    EXIT_USAGE,
    UsageError,
)
from fetcher.extract.records import MAX_PR_NUMBER
from fetcher.publish import report
from fetcher.storage.prune import DEFAULT_KEEP, DEFAULT_MAX_DELETES


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

SINCE_LAST_RUN = "since-last-run"

RECONCILE_COUNT = Number(0, MAX_PR_NUMBER, whole=True)  # --reconcile N


DISTRIBUTION = "mergelens"  # pyproject.toml's [project] name
DASHBOARD = "dashboard"  # the command that passes the arguments it does not know on to Streamlit


def build_parser() -> argparse.ArgumentParser:
    # Installed, the same parser answers as `mergelens` (pyproject.toml's [project.scripts]).
    prog = DISTRIBUTION if sys.argv and sys.argv[0].endswith(f"/{DISTRIBUTION}") else "python -m fetcher"
    parser = Parser(prog=prog, description="Keep the complete record of merged PRs in DuckDB.")
    parser.add_argument("--version", action="version", version=f"{DISTRIBUTION} {installed_version()}")
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
    commands.add_parser(
        DASHBOARD,
        help="serve the dashboard on 127.0.0.1 (Streamlit; its options follow, e.g. --server.port 8600)",
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the command line unbroken
        description=f"Runs:\n  {' '.join(dashboard_command())} [STREAMLIT OPTIONS]\n\nThe DB is MERGELENS_DB's "
        "(docs/dashboard.md); a later --server.address replaces 127.0.0.1.",
    )
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``parser.parse_args``, but the dashboard command keeps the arguments it does not know (Streamlit's
    options) in ``streamlit_args``; any other command refuses them as parse_args would."""
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command != DASHBOARD:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.streamlit_args = unknown
    return args


def installed_version() -> str:
    """The installed distribution's version, when this fetcher is the installed one; a checkout run
    with ``python -m fetcher`` has no version of its own (its commit is what it is)."""
    try:
        installed = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "(not installed: run from a checkout)"
    if Path(str(installed.locate_file("fetcher/__init__.py"))).resolve() != Path(fetcher.__file__).resolve():
        return "(not installed: run from a checkout)"
    return installed.version


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
