"""`make demo`: the whole job on a realistic sample repository, with no network and no token.

Generates a seeded repository (tests/support/fake_github/generator.py) with one open PR of each
"whose move" class (tests/support/fake_github/open_queue.py), serves it with the fake GitHub on loopback,
syncs every merged PR through the real fetcher into ``demo.duckdb``, stores four weeks of
open-PR snapshots (``open-prs``, one each working day, so the dashboard's Now page has a
history) and prints what the metrics, the open queue and the working agreements say.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from dashboard import agreements, queries
from dashboard import db as dashboard_db
from fetcher.collect.rest import ClientSettings, GitHubSource
from fetcher.commands.open_prs import OpenPrsReport, take_snapshot
from fetcher.compute import work_calendar
from fetcher.compute.metrics import HEADLINE, METRIC_BY_NAME, STAGES, work_hours_name
from fetcher.compute.rules import use_rules
from fetcher.compute.whose_move import STALE_WORKING_DAYS
from fetcher.db import safe_open
from fetcher.pipeline.sync_pr import SyncResult, sync_many
from fetcher.publish import digest, report
from tests.support.fake_github import FakeGitHub, Repository
from tests.support.fake_github.generator import DEFAULT_END, generate_repository
from tests.support.fake_github.open_queue import add_open_queue, rewound

DEMO_TOKEN = "demo-token-not-a-secret"
# The demo's "now": the Monday 09:00 UTC after the generated period ends, when the latest open-PR
# snapshot is taken; the earlier ones are each working day at 09:00 over the weeks before.
DEMO_NOW = DEFAULT_END + timedelta(days=(7 - DEFAULT_END.weekday()) % 7, hours=9)
SNAPSHOT_WEEKS = 4

# The metrics summarised, each as median and p90 over the merged PRs (labels from fetcher.compute.metrics).
SUMMARY_METRICS = (*HEADLINE, "total_comments")
SUMMARY_SQL = f"""
SELECT
    count(*) AS prs,
    {", ".join(f"median({name}), quantile_cont({name}, 0.9)" for name in SUMMARY_METRICS)},
    count(*) FILTER (WHERE force_pushes > 0),
    count(*) FILTER (WHERE first_review_at IS NULL),
    count(*) FILTER (WHERE is_bot(p.author_login, p.author_type)),
    (SELECT count(*) FROM pr_comments c WHERE is_bot(c.author_login, c.author_type)),
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
    add_open_queue(repo, DEMO_NOW)
    merged = sorted(number for number, pr in repo.pulls.items() if pr.merged_at is not None)
    started = time.perf_counter()
    with FakeGitHub([repo], token=DEMO_TOKEN) as github:
        print(
            f"mergelens demo: {repo.full_name}, {len(merged)} merged PRs, served by a fake GitHub at {github.api_url}"
        )
        source = GitHubSource(ClientSettings(github.api_url, DEMO_TOKEN, request_interval=0))
        try:
            outcome = sync_many(source, db, repo.full_name, merged, "demo", on_result=print_warnings)
            requests = source.usage.requests  # the syncs' own, before the open-PR snapshots
            elapsed = time.perf_counter() - started
            latest = store_open_snapshots(source, db, repo, DEMO_NOW)
        finally:
            source.close()
    for number, reason in outcome.failures.items():
        print(f"  #{number}: failed: {reason}", file=sys.stderr)
    print(
        f"synced {len(merged)} PRs in {elapsed:.1f} s: {requests} API requests "
        f"({requests / max(1, len(merged)):.1f} per PR), "
        + ", ".join(f"{count} {status}" for status, count in sorted(outcome.statuses().items()))
    )
    print(f"database: {db} ({db.stat().st_size / 1e6:.1f} MB)")
    print_summary(db)
    print_queue(latest)
    print_agreements(db)
    return 0 if set(outcome.statuses()) <= {"complete"} else 1


def snapshot_times(now: datetime, weeks: int = SNAPSHOT_WEEKS) -> list[datetime]:
    """Each working day at ``now``'s time of day over the ``weeks`` weeks before ``now``, then ``now``."""
    days = (now - timedelta(days=back) for back in range(7 * weeks, 0, -1))
    return [day for day in days if day.weekday() < 5] + [now]


def store_open_snapshots(source: GitHubSource, db: Path, repo: Repository, now: datetime) -> OpenPrsReport:
    """``open-prs`` as a daily schedule would have run it: the earlier snapshots on ``repo`` rewound
    to their day (which PRs were open then), the latest on ``repo`` as it is; the latest's report."""
    con = safe_open.open_migrated(db)
    try:
        *earlier, latest = snapshot_times(now)
        for when in earlier:
            with rewound(repo, when):
                take_snapshot(source, con, repo.full_name, when, STALE_WORKING_DAYS, digest=False)
        return take_snapshot(source, con, repo.full_name, latest, STALE_WORKING_DAYS, digest=False)
    finally:
        con.close()


def print_queue(latest: OpenPrsReport) -> None:
    counts = latest.counts()
    print(f"\nopen PRs on {latest.snapshot_at:%Y-%m-%d %H:%M} UTC: {latest.open_prs}, by whose move:")
    for move in digest.ORDER:
        numbers = [f"#{pr['number']}" for pr in latest.moves if pr["move"] == move]
        label = f"{digest.HEADINGS[move]} ({digest.WHOSE[move]})"
        print(f"  {label:<52}{counts.get(move, 0):>3}  {' '.join(numbers)}")


def print_agreements(db: Path) -> None:
    """The working agreements (MERGELENS_AGREEMENTS, or the defaults) over every merged PR by a person,
    and the open PRs breaking one, as the dashboard's Now page shows them."""
    agreed, problem = agreements.from_environ()
    con = dashboard_db.connect(db)
    try:
        weekly = queries.agreement_weekly(con, queries.Filters(), agreed)
        broken = queries.agreement_breaches(con, queries.Filters(), agreed)
    finally:
        con.close()
    print(f"\nworking agreements ({agreed.describe()}{'; ' + problem if problem else ''}):")
    for label, group in weekly.groupby("label", sort=False):
        met, prs = int(group["met"].sum()), int(group["prs"].sum())
        breaking = broken[broken["label"] == label]["number"].tolist() if not broken.empty else []
        print(
            f"  {label:<40}{met / max(prs, 1):>5.0%} of {prs} merged PRs; open PRs breaking it now: "
            + (" ".join(f"#{number}" for number in breaking) or "none")
        )


def print_warnings(result: SyncResult) -> None:
    for warning in result.warnings:
        print(f"  #{result.pr_number}: warning: {warning}")


def print_summary(db: Path) -> None:
    con = safe_open.open_migrated(db, read_only=True)
    try:
        use_rules(con)  # SUMMARY_SQL reads the bot rule
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
