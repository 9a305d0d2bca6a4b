"""How fast one merged PR lands, and what it costs. Prints figures and ratios; asserts nothing.

    python -m benchmarks.sync_speed [--prs-in-big-db 10000] [--repeat 15]

1. API requests for a typical PR and for a 250-file PR (1 + pages).
2. Wall time of one sync against the fake GitHub at 0 and 100 ms injected latency per request,
   with no pause between requests and with PyGithub's default 0.25 s pause.
3. Time to write one PR (its transaction: rows, metrics, run record) into an empty DB and into
   a DB already holding N PRs with realistic children, as a ratio: it must not grow with the DB.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from fetcher.collect.rest import ClientSettings, GitHubSource
from fetcher.compute import metrics
from fetcher.db import safe_open, store
from fetcher.extract.records import PullRequestBundle
from fetcher.pipeline.sync_pr import sync_pull_request
from tests.support.fake_github import FakeGitHub, FileChange
from tests.support.fake_github.generator import generate_repository

TOKEN = "bench-token"
REPO = "acme/rocket"


def median_ms(action: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def typical_pull_number(repo) -> int:
    """The merged PR whose total list length is the median one."""
    merged = [pr for pr in repo.pulls.values() if pr.merged_at is not None]
    size = lambda pr: len(pr.commits) + len(pr.files) + len(pr.reviews) + len(pr.issue_comments)  # noqa: E731
    return sorted(merged, key=size)[len(merged) // 2].number


def request_costs(github: FakeGitHub, repo, workdir: Path) -> tuple[int, int, int]:
    typical = typical_pull_number(repo)
    big = repo.pulls[typical]
    costs = []
    for number in (typical,):
        source = GitHubSource(ClientSettings(github.api_url, TOKEN, request_interval=0))
        result = sync_pull_request(source, workdir / "costs.duckdb", REPO, number, "bench")
        costs.append(result.api_requests)
    # the same PR with 250 changed files: 3 pages of files
    saved = big.files
    big.files = [FileChange(f"src/generated/file_{i:03d}.py", "modified", 3, 1) for i in range(250)]
    source = GitHubSource(ClientSettings(github.api_url, TOKEN, request_interval=0))
    result = sync_pull_request(source, workdir / "costs.duckdb", REPO, typical, "bench")
    big.files = saved
    return typical, costs[0], result.api_requests


def sync_wall_times(github: FakeGitHub, number: int, workdir: Path, repeat: int) -> dict[tuple[float, float], float]:
    times = {}
    for interval in (0.0, 0.25):
        for latency in (0.0, 0.1):
            github.latency_s = latency
            source = GitHubSource(ClientSettings(github.api_url, TOKEN, request_interval=interval))
            db = workdir / f"wall-{interval}-{latency}.duckdb"
            times[(interval, latency)] = median_ms(
                functools.partial(sync_pull_request, source, db, REPO, number, "bench"), repeat
            )
    github.latency_s = 0.0
    return times


def fill_with_prs(con: duckdb.DuckDBPyConnection, prs: int) -> None:
    """N synthetic PRs with ~10 commits, 8 files, 6 comments, 3 reviews, 4 check runs and
    12 timeline events each, written in bulk (the DB a team has after a few years)."""
    con.execute("BEGIN")
    con.execute(
        """INSERT INTO pull_requests (repo, number, title, author_login, author_type, state, draft, base_ref,
               head_ref, head_sha, created_at, updated_at, closed_at, merged_at, additions, deletions,
               changed_files, html_url, fetched_at, sync_status)
           SELECT 'bench/history', i, 'PR ' || i, 'dev' || (i % 40), 'User', 'closed', false, 'main',
               'feature-' || i, md5(i::VARCHAR), TIMESTAMPTZ '2020-01-01' + to_minutes(i * 90),
               TIMESTAMPTZ '2020-01-02' + to_minutes(i * 90), TIMESTAMPTZ '2020-01-02' + to_minutes(i * 90),
               TIMESTAMPTZ '2020-01-02' + to_minutes(i * 90), 120, 30, 8, 'https://github.com/bench/history/pull/' || i,
               now(), 'complete'
           FROM range(1, ? + 1) t(i)""",
        [prs],
    )
    child = "FROM range(1, ? + 1) p(i), range(?) c(j)"
    con.execute(
        f"""INSERT INTO pr_commits (repo, pr_number, sha, author_login, author_name, authored_at, committed_at, message)
            SELECT 'bench/history', i, md5(i || '-' || j), 'dev' || (i % 40), 'Dev', TIMESTAMPTZ '2020-01-01'
                + to_minutes(i * 90 + j * 5), TIMESTAMPTZ '2020-01-01' + to_minutes(i * 90 + j * 5), 'commit'
            {child}""",
        [prs, 10],
    )
    con.execute(
        f"""INSERT INTO pr_files (repo, pr_number, filename, status, additions, deletions, changes)
            SELECT 'bench/history', i, 'src/f' || j || '.py', 'modified', 15, 4, 19 {child}""",
        [prs, 8],
    )
    con.execute(
        f"""INSERT INTO pr_comments (repo, comment_type, id, pr_number, author_login, author_type, body, created_at)
            SELECT 'bench/history', CASE WHEN j % 2 = 0 THEN 'issue' ELSE 'review' END, i * 10 + j, i,
                'dev' || ((i + j) % 40), 'User', 'looks good', TIMESTAMPTZ '2020-01-01' + to_minutes(i * 90 + 30)
            {child}""",
        [prs, 6],
    )
    con.execute(
        f"""INSERT INTO pr_reviews (repo, id, pr_number, reviewer_login, reviewer_type, state, body, submitted_at)
            SELECT 'bench/history', i * 10 + j, i, 'dev' || ((i + j + 1) % 40), 'User',
                CASE WHEN j = 0 THEN 'CHANGES_REQUESTED' ELSE 'APPROVED' END, '',
                TIMESTAMPTZ '2020-01-01' + to_minutes(i * 90 + 20 + j * 30) {child}""",
        [prs, 3],
    )
    con.execute(
        f"""INSERT INTO pr_check_runs (repo, id, pr_number, head_sha, name, status, conclusion, started_at,
                completed_at, app_slug)
            SELECT 'bench/history', i * 10 + j, i, md5(i::VARCHAR), 'check ' || j, 'completed', 'success',
                TIMESTAMPTZ '2020-01-01' + to_minutes(i * 90), TIMESTAMPTZ '2020-01-01' + to_minutes(i * 90 + 7),
                'github-actions' {child}""",
        [prs, 4],
    )
    con.execute(
        f"""INSERT INTO pr_events (repo, pr_number, seq, event, actor_login, created_at)
            SELECT 'bench/history', i, j, 'labeled', 'dev1', TIMESTAMPTZ '2020-01-01' + to_minutes(i * 90 + j)
            {child}""",
        [prs, 12],
    )
    metrics.recompute(con)
    con.execute("COMMIT")
    con.execute("CHECKPOINT")


def upsert_times(github: FakeGitHub, number: int, workdir: Path, prs: int, repeat: int) -> tuple[float, float, float]:
    source = GitHubSource(ClientSettings(github.api_url, TOKEN, request_interval=0))
    return incremental_cost(source.fetch_pull_request(REPO, number), workdir, prs, repeat)


def incremental_cost(bundle: PullRequestBundle, workdir: Path, prs: int, repeat: int) -> tuple[float, float, float]:
    """(ms to write ``bundle`` into an empty DB, ms into a DB of ``prs`` PRs, s to recompute
    every metric of the big DB)."""

    def write(con: duckdb.DuckDBPyConnection) -> None:
        now = datetime.now(UTC)
        run = store.SyncRun(f"bench-{time.perf_counter_ns()}", bundle.repo, bundle.number, "bench", now, now)
        store.write_pull_request(con, bundle, run, fetched_at=now)

    with safe_open.open_migrated(workdir / "empty.duckdb") as empty:
        write(empty)  # warm up: the first write creates the row groups
        empty_ms = median_ms(lambda: write(empty), repeat)
    with safe_open.open_migrated(workdir / "big.duckdb") as big:
        fill_with_prs(big, prs)
        write(big)
        big_ms = median_ms(lambda: write(big), repeat)
        started = time.perf_counter()
        big.execute("BEGIN")
        metrics.recompute(big)
        big.execute("COMMIT")
        recompute_s = time.perf_counter() - started
    return empty_ms, big_ms, recompute_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prs-in-big-db", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    repo = generate_repository(seed=7)
    with tempfile.TemporaryDirectory() as tmp, FakeGitHub([repo], token=TOKEN) as github:
        workdir = Path(tmp)
        typical, typical_requests, big_requests = request_costs(github, repo, workdir)
        pr = repo.pulls[typical]
        print(
            f"typical PR #{typical} ({len(pr.commits)} commits, {len(pr.files)} files, {len(pr.reviews)} reviews, "
            f"{len(pr.review_comments) + len(pr.issue_comments)} comments, {len(pr.check_runs)} check runs)"
        )
        print(f"  API requests: typical PR {typical_requests}; same PR with 250 files {big_requests}")

        walls = sync_wall_times(github, typical, workdir, args.repeat)
        print(f"sync wall time, median of {args.repeat} (fetch + write + metrics):")
        for interval in (0.0, 0.25):
            base = walls[(interval, 0.0)]
            slow = walls[(interval, 0.1)]
            print(
                f"  pause between requests {interval:.2f} s: {base:7.1f} ms at 0 ms latency, {slow:7.1f} ms at "
                f"100 ms latency ({slow / base:.1f}x)"
            )

        empty_ms, big_ms, recompute_s = upsert_times(github, typical, workdir, args.prs_in_big_db, args.repeat)
        print(f"write one PR (one transaction), median of {args.repeat}:")
        print(
            f"  empty DB {empty_ms:.1f} ms; DB holding {args.prs_in_big_db:,} PRs {big_ms:.1f} ms "
            f"(ratio {big_ms / empty_ms:.2f})"
        )
        print(f"metrics --recompute over {args.prs_in_big_db + 1:,} PRs: {recompute_s:.2f} s")


if __name__ == "__main__":
    main()
