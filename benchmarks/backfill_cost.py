"""What a history backfill costs, REST sync loop vs GraphQL backfill, side by side in one run
against the fake GitHub. Prints figures and ratios; asserts nothing.

    python -m benchmarks.backfill_cost [--prs 1000] [--prs-in-big-db 100000] [--repeat 15]

1. API cost per PR over the merged PRs of a generated repository: REST `sync` of each PR
   (requests per PR: the REST budget) vs `backfill` (GraphQL points per PR: the GraphQL budget,
   as the fake charges them with GitHub's formula), and the PRs one hour of an Actions token buys.
2. Store throughput: rows per second the upsert writes (one transaction per PR, and the batched
   path backfill uses) against DuckDB's own bulk insert of the same rows
   (`INSERT INTO … BY NAME SELECT * FROM df`, one statement per table, empty tables) as the ceiling.
3. Incremental cost: one PR upserted into an empty DB and into one holding N PRs
   (benchmarks.sync_speed.fill_with_prs), and `metrics --recompute` over those N PRs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from benchmarks.sync_speed import incremental_cost
from fetcher.collect.graphql import adapter
from fetcher.collect.rest import ClientSettings, GitHubSource
from fetcher.commands import backfill
from fetcher.db import safe_open, schema, store
from fetcher.extract.records import PullRequestBundle
from fetcher.pipeline.sync_pr import sync_many
from tests.support.fake_github import FakeGitHub
from tests.support.fake_github.generator import generate_bulk

TOKEN = "bench-token"
ACTIONS_BUDGET = 1000  # GITHUB_TOKEN: 1,000 REST requests and 1,000 GraphQL points an hour per repository


def source(github: FakeGitHub) -> GitHubSource:
    return GitHubSource(ClientSettings(github.api_url, TOKEN, request_interval=0, backoff_factor=0.01))


def rest_loop(github: FakeGitHub, repo: str, numbers: list[int], db: Path) -> tuple[int, float]:
    client = source(github)
    started = time.perf_counter()
    outcome = sync_many(client, db, repo, numbers, "bench")
    assert not outcome.failures, outcome.failures
    return client.usage.requests, time.perf_counter() - started


def graphql_backfill(github: FakeGitHub, repo: str, db: Path) -> tuple[backfill.BackfillReport, float]:
    client = source(github)
    started = time.perf_counter()
    with safe_open.open_migrated(db) as con:
        report = backfill.backfill(client, con, str(db), repo, backfill.BackfillOptions(progress_bar=False))
    return report, time.perf_counter() - started


def typical_cost(github: FakeGitHub) -> tuple[int, int]:
    """(points, PRs) of the batch queries alone: what a PR whose lists fit one page costs."""
    batches = [r for r in github.graphql_log if r.query.startswith("query Backfill") and r.status == 200]
    return sum(r.cost for r in batches), sum(r.query.count("pullRequest(") for r in batches)


def bundles_of(github: FakeGitHub, repo: str, db: Path) -> list[PullRequestBundle]:
    """The bundles backfill stores, fetched again through its own batch code."""
    client = source(github)
    with safe_open.open_migrated(db) as con:
        run = backfill.Backfill(client, con, str(db), repo, backfill.BackfillOptions(progress_bar=False))
        listed, _ = run.list_window(run.options, None)
        bundles = []
        for start in range(0, len(listed), 25):
            for pull in run.pulls.fetch(listed[start : start + 25]):
                bundles.append(adapter.to_bundle(pull, repo, run.rest_files))
    return bundles


def rows_of(bundles: list[PullRequestBundle]) -> int:
    return sum(1 + sum(len(rows) for rows in bundle.sections.values()) for bundle in bundles)


def run_record(bundle: PullRequestBundle) -> store.SyncRun:
    now = datetime.now(UTC)
    run_id = f"bench-{time.perf_counter_ns()}-{bundle.number}"
    return store.SyncRun(run_id, bundle.repo, bundle.number, "bench", now, now)


def store_per_pr(bundles: list[PullRequestBundle], db: Path) -> float:
    with safe_open.open_migrated(db) as con:
        started = time.perf_counter()
        for bundle in bundles:
            store.write_pull_request(con, bundle, run_record(bundle), datetime.now(UTC))
        return time.perf_counter() - started


def store_batched(bundles: list[PullRequestBundle], db: Path, size: int = backfill.STORE_BATCH) -> float:
    with safe_open.open_migrated(db) as con:
        started = time.perf_counter()
        for start in range(0, len(bundles), size):
            chunk = bundles[start : start + size]
            store.write_pull_requests(con, [(b, run_record(b), datetime.now(UTC)) for b in chunk])
        return time.perf_counter() - started


def bulk_ceiling(bundles: list[PullRequestBundle], db: Path) -> float:
    """The same rows, one DataFrame and one INSERT … SELECT per table: DuckDB's own speed."""
    tables: dict[str, list[dict]] = {"pull_requests": []}
    now = datetime.now(UTC)
    for bundle in bundles:
        tables["pull_requests"].append(
            {**bundle.pull_request, "fetched_at": now, "sync_status": bundle.status, "failed_sections": []}
        )
        for section, rows in bundle.sections.items():
            child = schema.CHILD_TABLES[section]
            scope = {"repo": bundle.repo, "pr_number": bundle.number, **child.scope}
            tables.setdefault(child.table, []).extend({**scope, **row} for row in rows)
    frames = {table: pd.DataFrame(rows) for table, rows in tables.items()}
    with safe_open.open_migrated(db) as con:
        started = time.perf_counter()
        con.execute("BEGIN")
        for table, df in frames.items():  # noqa: B007 - df is read by DuckDB's replacement scan
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM df")
        con.execute("COMMIT")
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prs", type=int, default=1000, help="PRs in the generated repository (default 1000)")
    parser.add_argument("--prs-in-big-db", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    bulk = generate_bulk(seed=11, n_prs=args.prs)
    repo = bulk.full_name
    merged = sorted(number for number, pr in bulk.pulls.items() if pr.merged)
    with tempfile.TemporaryDirectory() as tmp, FakeGitHub([bulk], token=TOKEN) as github:
        workdir = Path(tmp)
        github.rate_limit_limit = github.rate_limit_remaining = 10**9  # measure, don't throttle
        github.set_graphql_points(10**9, limit=10**9)
        print(f"{repo}: {len(bulk.pulls)} PRs, {len(merged)} merged")

        requests, rest_s = rest_loop(github, repo, merged, workdir / "rest.duckdb")
        github.clear_log()
        report, graphql_s = graphql_backfill(github, repo, workdir / "graphql.duckdb")
        assert report.synced == len(merged), report.summary()
        batch_points, batch_prs = typical_cost(github)
        per_pr_rest = requests / len(merged)
        per_pr_points = report.points / report.synced
        print("API cost per PR (REST budget: requests; GraphQL budget: points; 1,000 of each an hour):")
        print(f"  REST sync loop   {requests:6d} requests  {per_pr_rest:5.2f} per PR  {rest_s:6.1f} s")
        print(
            f"  GraphQL backfill {report.points:6d} points    {per_pr_points:5.3f} per PR  {graphql_s:6.1f} s  "
            f"({report.graphql_requests} queries, {report.rest_requests} REST requests for renamed files' "
            f"previous names, {report.shrinks} shrinks)"
        )
        print(
            f"  typical PR (lists fit one page): {batch_points / batch_prs:.3f} points "
            f"(the batch queries alone: {batch_points} points for {batch_prs} PRs)"
        )
        print(
            f"  budget units per PR: {per_pr_rest / per_pr_points:.0f}x fewer with GraphQL; one hour of an Actions "
            f"token syncs {ACTIONS_BUDGET / per_pr_rest:.0f} PRs over REST, {ACTIONS_BUDGET / per_pr_points:.0f} "
            "over GraphQL"
        )

        bundles = bundles_of(github, repo, workdir / "bundles.duckdb")
        rows = rows_of(bundles)
        per_pr = store_per_pr(bundles, workdir / "per-pr.duckdb")
        batched = store_batched(bundles, workdir / "batched.duckdb")
        ceiling = statistics.median(bulk_ceiling(bundles, workdir / f"ceiling-{i}.duckdb") for i in range(3))
        print(f"store throughput, {len(bundles)} PRs = {rows:,} rows (PR rows + section rows):")
        print(f"  DuckDB bulk insert (ceiling)          {rows / ceiling:10,.0f} rows/s")
        print(
            f"  upsert, one transaction per PR        {rows / per_pr:10,.0f} rows/s "
            f"({ceiling / per_pr:.0%} of the ceiling; with metrics and run records)"
        )
        print(
            f"  upsert, batches of {backfill.STORE_BATCH} (backfill)     {rows / batched:10,.0f} rows/s "
            f"({ceiling / batched:.0%} of the ceiling; with metrics and run records)"
        )

        typical = sorted(bundles, key=rows_of_one)[len(bundles) // 2]
        empty_ms, big_ms, recompute_s = incremental_cost(typical, workdir, args.prs_in_big_db, args.repeat)
        print(f"incremental cost, median of {args.repeat}:")
        print(
            f"  upsert one PR: empty DB {empty_ms:.1f} ms; DB of {args.prs_in_big_db:,} PRs {big_ms:.1f} ms "
            f"(ratio {big_ms / empty_ms:.2f})"
        )
        print(f"  metrics --recompute over {args.prs_in_big_db:,} PRs: {recompute_s:.2f} s")


def rows_of_one(bundle: PullRequestBundle) -> int:
    return rows_of([bundle])


if __name__ == "__main__":
    main()
