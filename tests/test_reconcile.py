"""Reconcile: merged PRs missing here, stored partial, or updated on GitHub after their sync."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.conftest import query
from tests.factories import commit, issue_comment, pull, repository
from tests.fake_github import Fault


def merged_pulls(count: int, start: int = 1):
    pulls = []
    for number in range(start, start + count):
        pr = pull(number, created="2026-03-02 09:00", merged=f"2026-03-{2 + number % 20:02d} 16:00")
        pr.commits = [commit("2026-03-02 08:00", seed=("r", number))]
        pulls.append(pr)
    return pulls


def reconcile(cli, server, db, *extra):
    return cli(server, "reconcile", "--repo", "acme/widgets", "--db", str(db), "--json", *extra, fast=True)


def test_reconcile_syncs_missing_partial_and_updated_prs(serve, cli, db_path):
    pulls = merged_pulls(6)
    unmerged = pull(7, merged=None)
    unmerged.state, unmerged.closed_at = "closed", unmerged.created_at
    server = serve(repository(*pulls, unmerged))
    for number in (1, 2, 3):
        args = ["sync", "--repo", "acme/widgets", "--pr", str(number), "--db", str(db_path)]
        if number == 3:
            server.add_fault(r"/pulls/3/files$", *[Fault.server_error(502)] * 4)
        assert cli(server, *args).exit_code in (0, 3)
    # PR 2 gets a comment after its sync: GitHub bumps updated_at.
    pulls[1].issue_comments.append(issue_comment(None, "2026-03-20 10:00", body="late comment"))
    pulls[1].updated_at = datetime.now(UTC).replace(microsecond=0)
    time.sleep(1.0)  # GitHub's timestamps have one-second resolution: resync in a later second
    server.clear_log()

    run = reconcile(cli, server, db_path, "--since", "2026-01-01")
    assert run.exit_code == 0, run.stderr
    recon = run.result["reconcile"]
    assert recon["examined"] == 7  # every closed PR in the window, merged or not
    assert recon["prs"] == {
        "2": "updated after last fetch",
        "3": "partial",
        "4": "missing",
        "5": "missing",
        "6": "missing",
    }
    assert recon["synced"] == {"complete": 5}
    assert query(db_path, "SELECT count(*) FROM pull_requests") == [(6,)]
    assert query(db_path, "SELECT count(*) FROM pull_requests WHERE sync_status = 'complete'") == [(6,)]
    assert query(db_path, "SELECT count(*) FROM pr_comments WHERE body = 'late comment'") == [(1,)]
    assert 1 not in {int(n) for n in recon["prs"]}  # fresh and complete: left alone
    # the list of closed PRs is read once (one page), then 8 requests per PR synced
    assert [r.path for r in server.requests].count("/repos/acme/widgets/pulls") == 1
    assert run.result["api_requests"] == 1 + 5 * 8

    again = reconcile(cli, server, db_path, "--since", "2026-01-01")
    assert again.result["reconcile"]["found"] == 0


def test_reconcile_stops_listing_at_the_cut_off(serve, cli, db_path):
    pulls = merged_pulls(150)  # two pages of closed PRs
    recent = pulls[-1]
    recent.updated_at = datetime.now(UTC) - timedelta(days=1)
    server = serve(repository(*pulls))
    run = reconcile(cli, server, db_path, "--lookback", "3")
    assert run.exit_code == 0, run.stderr
    assert run.result["reconcile"]["examined"] == 1
    assert run.result["reconcile"]["prs"] == {str(recent.number): "missing"}
    list_pages = [r for r in server.requests if r.path == "/repos/acme/widgets/pulls"]
    assert len(list_pages) == 1  # the second page is never fetched


def test_reconcile_is_bounded_by_max_prs(serve, cli, db_path):
    server = serve(repository(*merged_pulls(12)))
    run = reconcile(cli, server, db_path, "--since", "2026-01-01", "--max-prs", "4")
    assert run.result["reconcile"]["found"] == 4
    assert query(db_path, "SELECT count(*) FROM pull_requests") == [(4,)]


def test_merge_run_also_reconciles_a_few(serve, cli, db_path):
    pulls = merged_pulls(5)
    for pr in pulls:
        pr.updated_at = datetime.now(UTC) - timedelta(hours=pr.number)
    server = serve(repository(*pulls))
    run = cli(server, "sync", "--repo", "acme/widgets", "--pr", "1", "--db", str(db_path), "--json", "--reconcile", "2")
    assert run.exit_code == 0, run.stderr
    assert run.result["pr_number"] == 1
    assert run.result["reconcile"]["prs"] == {"2": "missing", "3": "missing"}  # newest updated first, PR 1 skipped
    assert query(db_path, "SELECT number FROM pull_requests ORDER BY number") == [(1,), (2,), (3,)]


def test_reconcile_reports_a_pr_that_fails_and_goes_on(serve, cli, db_path):
    pulls = merged_pulls(3)
    server = serve(repository(*pulls))
    server.add_fault(r"/pulls/2$", Fault(status=404))
    run = reconcile(cli, server, db_path, "--since", "2026-01-01")
    assert run.exit_code == 3
    assert run.result["status"] == "partial"
    assert run.result["reconcile"]["failures"] == {"2": "PR #2 not found in acme/widgets (HTTP 404)"}
    assert query(db_path, "SELECT number FROM pull_requests ORDER BY number") == [(1,), (3,)]
    assert query(db_path, "SELECT pr_number, status FROM sync_runs WHERE status = 'failed'") == [(2, "failed")]


def test_reconcile_needs_a_repository(cli, db_path):
    run = cli(None, "reconcile", "--db", str(db_path), repository=None)
    assert run.exit_code == 2
    assert run.stderr.strip() == "mergelens: error: no repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY"
