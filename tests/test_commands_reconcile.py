"""Reconcile: merged PRs missing here, stored partial, or updated on GitHub after their sync."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import duckdb

from tests.conftest import query
from tests.support.factories import commit, issue_comment, pull, repository
from tests.support.fake_github import Fault


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


def merged_at(number: int, when: datetime):
    pr = pull(number, created="2026-03-02 09:00")
    pr.merged_at = pr.closed_at = pr.updated_at = when.replace(microsecond=0)
    pr.commits = [commit("2026-03-02 08:00", seed=("s", number))]
    return pr


def catch_up(cli, server, db, number, *extra, **env):
    args = ["sync", "--repo", "acme/widgets", "--pr", str(number), "--db", str(db), "--json"]
    return cli(server, *args, "--reconcile", "since-last-run", *extra, **env)


def catch_up_starts(db):
    return query(
        db,
        "SELECT started_at, status FROM sync_runs WHERE trigger = 'catch-up' AND pr_number IS NULL ORDER BY started_at",
    )


def test_since_last_run_starts_where_the_last_complete_merge_run_started(serve, cli, db_path):
    now = datetime.now(UTC)
    pulls = [merged_at(1, now - timedelta(minutes=1)), merged_at(2, now - timedelta(days=2))]
    repo = repository(*pulls, merged_at(3, now - timedelta(days=5)))
    server = serve(repo)

    # a new DB has no last run: the window is --reconcile-lookback (3 days)
    first = catch_up(cli, server, db_path, 1)
    assert first.exit_code == 0, first.stderr
    assert first.result["reconcile"]["window"] == "lookback"
    assert first.result["reconcile"]["prs"] == {"2": "missing"}
    [(started, status)] = catch_up_starts(db_path)
    assert status == "complete"

    # PR 4 merged while that run ran (after its listing); PR 5 a minute inside the safety margin;
    # PR 6 was updated before that run began (so that run saw it): outside the window now
    repo.add_pull(merged_at(4, started + timedelta(seconds=1)))
    repo.add_pull(merged_at(5, started - timedelta(minutes=4)))
    repo.add_pull(merged_at(6, started - timedelta(hours=1)))
    repo.add_pull(merged_at(7, datetime.now(UTC)))
    second = catch_up(cli, server, db_path, 7)
    assert second.exit_code == 0, second.stderr
    recon = second.result["reconcile"]
    assert recon["window"] == "since last run"
    assert datetime.fromisoformat(recon["since"]) == started - timedelta(minutes=5)
    assert recon["prs"] == {"4": "missing", "5": "missing"}
    assert [status for _, status in catch_up_starts(db_path)] == ["complete", "complete"]

    # a last run dated in the future (a wrong clock, an edited file) does not hide merges until then
    with duckdb.connect(str(db_path)) as con:
        con.execute("UPDATE sync_runs SET started_at = now() + INTERVAL 1 DAY WHERE trigger = 'catch-up'")
    third = catch_up(cli, server, db_path, 7)
    assert third.result["reconcile"]["window"] == "lookback"
    assert third.result["reconcile"]["prs"]["6"] == "missing"


def test_since_last_run_stops_at_its_cap_and_the_next_run_continues(serve, cli, db_path, tmp_path):
    now = datetime.now(UTC)
    server = serve(repository(*[merged_at(number, now - timedelta(minutes=number)) for number in range(1, 6)]))
    summary = tmp_path / "summary.md"
    first = catch_up(cli, server, db_path, 1, "--reconcile-max", "2", in_actions=True, step_summary=str(summary))
    assert first.exit_code == 0, first.stderr
    annotations = [line for line in first.stdout.splitlines() if line.startswith("::")]
    assert annotations == [
        "::warning title=mergelens%3A reconcile::reconcile stopped at its cap of 2 PRs: more merged PRs need a "
        "sync, and the next run continues with them"
    ]
    assert "reconcile stopped at its cap of 2 PRs" in summary.read_text()
    recon = json.loads(first.stdout.split("\n", len(annotations))[-1])["reconcile"]
    assert recon["capped"] is True
    assert recon["prs"] == {"2": "missing", "3": "missing"}  # newest first
    assert [status for _, status in catch_up_starts(db_path)] == ["partial"]  # the next run starts as far back

    second = catch_up(cli, server, db_path, 1, "--reconcile-max", "2")
    assert second.result["reconcile"]["window"] == "lookback"  # no run has caught up completely yet
    assert second.result["reconcile"]["prs"] == {"4": "missing", "5": "missing"}
    assert second.result["reconcile"]["capped"] is False  # the cap reached, not exceeded: nothing left
    assert [status for _, status in catch_up_starts(db_path)] == ["partial", "complete"]
    assert query(db_path, "SELECT count(*) FROM pull_requests WHERE sync_status = 'complete'") == [(5,)]


def test_reconcile_accepts_a_number_or_since_last_run(cli, db_path):
    run = cli(None, "sync", "--repo", "acme/widgets", "--pr", "1", "--db", str(db_path), "--reconcile", "all")
    assert run.exit_code == 2
    assert "'all' is neither a number nor since-last-run" in run.stderr
