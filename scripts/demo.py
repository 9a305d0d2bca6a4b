"""`make demo`: the whole job on a realistic sample repository, with no network and no token.

Generates a seeded repository (tests/fake_github/generator.py), serves it with the fake
GitHub on loopback, syncs every merged PR through the real fetcher into ``demo.duckdb``
and prints what the metrics say.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb

from fetcher import report, store, work_calendar
from fetcher.github import ClientSettings, GitHubSource
from fetcher.metrics import METRIC_BY_NAME, STAGES, is_bot, work_hours_name
from fetcher.sync import SyncResult, sync_many
from tests.fake_github import FakeGitHub
from tests.fake_github.generator import generate_repository

DEMO_TOKEN = "demo-token-not-a-secret"

# The metrics summarised, each as median and p90 over the merged PRs (labels from fetcher.metrics).
SUMMARY_METRICS = (
    "cycle_time_hours",
    "pickup_hours",
    "time_to_first_review_hours",
    "time_to_first_response_hours",
    "review_rounds",
    "avg_fix_response_hours",
    "total_comments",
)
SUMMARY_SQL = f"""
SELECT
    count(*) AS prs,
    {", ".join(f"median({name}), quantile_cont({name}, 0.9)" for name in SUMMARY_METRICS)},
    count(*) FILTER (WHERE force_pushes > 0),
    count(*) FILTER (WHERE first_review_at IS NULL),
    count(*) FILTER (WHERE {is_bot("p.author_login", "p.author_type")}),
    (SELECT count(*) FROM pr_comments c WHERE {is_bot("c.author_login", "c.author_type")}),
    (SELECT string_agg(login, ', ' ORDER BY login) FROM bot_logins)
FROM pr_metrics m JOIN pull_requests p USING (repo, number)
WHERE p.merged_at IS NOT NULL
"""


# The median of each stage, wall clock and working hours, over the merged PRs.
STAGES_SQL = f"""
SELECT {", ".join(f"median({name}), median({work_hours_name(name)})" for name in STAGES)}
FROM pr_metrics m JOIN pull_requests p USING (repo, number)
WHERE p.merged_at IS NOT NULL
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--db", default="demo.duckdb", help="where to write the demo database (default demo.duckdb)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--prs", type=int, default=180, help="PRs to generate (default 180)")
    parser.add_argument("--verbose", action="store_true", help="print a line per section of every PR")
    args = parser.parse_args(argv)

    report.configure_logging()
    if not args.verbose:
        report.log.setLevel("WARNING")
    db = Path(args.db)
    for stale in (db, Path(f"{db}.wal")):
        stale.unlink(missing_ok=True)

    repo = generate_repository(seed=args.seed, n_prs=args.prs)
    merged = sorted(number for number, pr in repo.pulls.items() if pr.merged_at is not None)
    started = time.perf_counter()
    with FakeGitHub([repo], token=DEMO_TOKEN) as github:
        print(
            f"mergelens demo: {repo.full_name}, {len(merged)} merged PRs, served by a fake GitHub at {github.api_url}"
        )
        source = GitHubSource(ClientSettings(github.api_url, DEMO_TOKEN, request_interval=0))
        try:
            outcome = sync_many(source, db, repo.full_name, merged, "demo", on_result=print_warnings)
        finally:
            source.close()
    elapsed = time.perf_counter() - started
    for number, reason in outcome.failures.items():
        print(f"  #{number}: failed: {reason}", file=sys.stderr)
    requests = source.usage.requests
    print(
        f"synced {len(merged)} PRs in {elapsed:.1f} s: {requests} API requests "
        f"({requests / max(1, len(merged)):.1f} per PR), "
        + ", ".join(f"{count} {status}" for status, count in sorted(outcome.statuses().items()))
    )
    print(f"database: {db} ({db.stat().st_size / 1e6:.1f} MB)")
    print_summary(db)
    return 0 if set(outcome.statuses()) <= {"complete"} else 1


def print_warnings(result: SyncResult) -> None:
    for warning in result.warnings:
        print(f"  #{result.pr_number}: warning: {warning}")


def print_summary(db: Path) -> None:
    con = store.connect(db, read_only=True)
    try:
        row = con.execute(SUMMARY_SQL).fetchone()
        stages = con.execute(STAGES_SQL).fetchone()
        calendar = work_calendar.stored_calendar(con)
    finally:
        con.close()
    assert row is not None
    prs, *values = row
    print(f"\n{'metric over ' + str(prs) + ' merged PRs':<34}{'median':>10}{'p90':>10}")
    for index, name in enumerate(SUMMARY_METRICS):
        label = METRIC_BY_NAME[name].label + (" (hours)" if name.endswith("_hours") else "")
        median, p90 = values[2 * index], values[2 * index + 1]
        print(f"  {label:<32}{_fmt(median):>10}{_fmt(p90):>10}")
    assert stages is not None
    print(f"\n{'where the time went (median hours)':<34}{'wall':>10}{'working':>10}")
    for index, name in enumerate(STAGES):
        print(f"  {METRIC_BY_NAME[name].label:<32}{_fmt(stages[2 * index]):>10}{_fmt(stages[2 * index + 1]):>10}")
    print(f"  working hours: {calendar.spec} (MERGELENS_WORK_CALENDAR)")
    force_pushed, unreviewed, bot_authored, bot_comments, extra_bots = values[-5:]
    print(
        f"\n  {force_pushed} PRs were force-pushed (read their commit-based metrics with care), "
        f"{unreviewed} merged without a human review, {bot_authored} authored by bots."
    )
    print(
        f"  {bot_comments} comments by bots left out of the metrics (type Bot, a [bot] login, "
        f"or listed in MERGELENS_BOTS: {extra_bots or 'none listed'})."
    )
    print(f"\nExplore it: python -c \"import duckdb; duckdb.connect('{db}').sql('FROM pr_metrics').show()\"")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (duckdb.Error, OSError) as exc:
        print(f"mergelens demo: error: {exc}", file=sys.stderr)
        sys.exit(1)
