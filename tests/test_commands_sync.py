"""`python -m fetcher sync` end to end: PyGithub over real HTTP to the fake GitHub, a real DuckDB file."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from tests.conftest import TABLES, TOKEN, query, recorded_sample, table_rows
from tests.support.factories import (
    ACTIONS_BOT,
    ALICE,
    BOB,
    CAROL,
    GHOST,
    at,
    busy_pull,
    check_run,
    commit,
    event,
    issue_comment,
    pull,
    repository,
    review,
    review_comment,
)
from tests.support.fake_github.model import FileChange

REPO_ROOT = Path(__file__).resolve().parents[1]


def complete_pr():
    pr = pull(12, author=ALICE, created="2026-04-01 09:00", merged="2026-04-02 11:00", title="Add retry budget")
    pr.labels = ["enhancement"]
    pr.commits = [commit("2026-04-01 08:55", seed="c1"), commit("2026-04-01 13:00", author=GHOST, seed="c2")]
    pr.files = [
        FileChange("src/retry.py", "added", 40, 0),
        FileChange("src/client.py", "renamed", 2, 2, previous_filename="src/http.py"),
    ]
    pr.reviews = [
        review(BOB, "CHANGES_REQUESTED", "2026-04-01 12:00", body="add a cap"),
        review(GHOST, "APPROVED", "2026-04-02 10:00"),
    ]
    top = review_comment(BOB, "2026-04-01 12:00", body="cap this")
    pr.review_comments = [top, review_comment(ALICE, "2026-04-01 13:05", body="done", reply_to=top.id)]
    pr.issue_comments = [issue_comment(ACTIONS_BOT, "2026-04-01 09:10", body="coverage 93%")]
    pr.events = [event("review_requested", "2026-04-01 09:01", requested_reviewer=BOB)]
    pr.check_runs = [
        check_run("test", pr.head_sha, "failure", start="2026-04-01 09:02"),
        check_run("test", pr.head_sha, "success", start="2026-04-01 09:40"),
    ]
    return pr


def sync(cli, server, db, number, *extra, **env):
    return cli(server, "sync", "--repo", "acme/widgets", "--pr", str(number), "--db", str(db), *extra, **env)


def test_every_section_is_stored(serve, cli, db_path):
    pr = complete_pr()
    server = serve(repository(pr))
    run = sync(cli, server, db_path, 12, "--json")
    assert run.exit_code == 0, run.stderr
    result = run.result
    assert result["status"] == "complete"
    assert result["counts"] == {
        "commits": 2,
        "files": 2,
        "reviews": 2,
        "review_comments": 2,
        "issue_comments": 1,
        "timeline": 6,  # review_requested + 2 committed + 2 reviewed + 1 commented
        "check_runs": 2,
    }
    (row,) = query(
        db_path,
        "SELECT title, author_login, author_type, state, draft, base_ref, head_ref, head_sha, merged_at, "
        "merged_by_login, additions, deletions, changed_files, labels, sync_status, html_url FROM pull_requests",
    )
    assert row[:8] == (
        "Add retry budget",
        "alice",
        "User",
        "closed",
        False,
        "main",
        "feature-12",
        pr.head_sha,
    )
    assert row[8] == at("2026-04-02 11:00")
    assert row[9:14] == ("bob", 42, 2, 2, ["enhancement"])
    assert row[14] == "complete"
    assert row[15].endswith("/acme/widgets/pull/12")
    commits = query(db_path, "SELECT sha, author_login, committed_at FROM pr_commits ORDER BY committed_at")
    assert [(c[1], c[2]) for c in commits] == [
        ("alice", at("2026-04-01 08:55")),
        (None, at("2026-04-01 13:00")),
    ]
    assert query(db_path, "SELECT filename, status, previous_filename FROM pr_files ORDER BY filename") == [
        ("src/client.py", "renamed", "src/http.py"),
        ("src/retry.py", "added", None),
    ]
    assert query(db_path, "SELECT reviewer_login, state FROM pr_reviews ORDER BY submitted_at") == [
        ("bob", "CHANGES_REQUESTED"),
        (None, "APPROVED"),  # a deleted account: NULL login, no crash
    ]
    comments = query(
        db_path,
        "SELECT comment_type, author_login, author_type, body, in_reply_to_id FROM pr_comments ORDER BY created_at",
    )
    assert comments == [
        ("issue", "github-actions[bot]", "Bot", "coverage 93%", None),
        ("review", "bob", "User", "cap this", None),
        ("review", "alice", "User", "done", pr.review_comments[0].id),
    ]
    events = query(db_path, "SELECT seq, event, actor_login, requested_reviewer_login FROM pr_events ORDER BY seq")
    # GitHub's timeline order: its own events and the commits, reviews and comments, by time
    assert [e[1] for e in events] == [
        "committed",
        "review_requested",
        "commented",
        "reviewed",
        "committed",
        "reviewed",
    ]
    assert events[1][2:] == ("alice", "bob")
    assert [e[0] for e in events] == list(range(len(events)))
    assert query(db_path, "SELECT name, conclusion, head_sha, app_slug FROM pr_check_runs ORDER BY started_at") == [
        ("test", "failure", pr.head_sha, "github-actions"),
        ("test", "success", pr.head_sha, "github-actions"),
    ]
    (run_row,) = query(db_path, "SELECT repo, pr_number, trigger, status, api_requests, counts FROM sync_runs")
    assert run_row[:5] == ("acme/widgets", 12, "cli", "complete", 8)
    assert json.loads(run_row[5])["commits"] == 2


def test_small_pr_costs_exactly_eight_requests(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    run = sync(cli, server, db_path, 12, "--json")
    assert run.result["api_requests"] == 8
    assert len(server.requests) == 8
    paths = [record.path for record in server.requests]
    assert paths[0] == "/repos/acme/widgets/pulls/12"
    assert "/repos/acme/widgets" not in paths  # no GET of the repository object
    assert all(record.query.get("per_page") == "100" for record in server.requests[1:])


def test_more_than_one_page_in_every_list(serve, cli, db_path):
    pr = busy_pull(30, 120)
    server = serve(repository(pr))
    run = sync(cli, server, db_path, 30, "--json")
    assert run.exit_code == 0, run.stderr
    counts = run.result["counts"]
    # the timeline also carries GitHub's committed/reviewed/commented items: 120 x 4
    assert counts == {
        "commits": 120,
        "files": 120,
        "reviews": 120,
        "review_comments": 120,
        "issue_comments": 120,
        "timeline": 480,
        "check_runs": 120,
    }
    pages = sum(math.ceil(count / 100) for count in counts.values())
    assert run.result["api_requests"] == 1 + pages == len(server.requests)
    for table, expected in [
        ("pr_commits", 120),
        ("pr_files", 120),
        ("pr_reviews", 120),
        ("pr_comments", 240),
        ("pr_events", 480),
        ("pr_check_runs", 120),
    ]:
        assert query(db_path, f"SELECT count(*) FROM {table}")[0][0] == expected, table


def test_a_250_file_pr_costs_ten_requests(serve, cli, db_path):
    pr = complete_pr()
    pr.files = [FileChange(f"src/pkg/file_{i:03d}.py", "modified", 1, 1) for i in range(250)]
    server = serve(repository(pr))
    run = sync(cli, server, db_path, 12, "--json")
    assert run.result["counts"]["files"] == 250
    assert run.result["api_requests"] == 10  # the PR + 3 pages of files + one page of each other list
    assert query(db_path, "SELECT changed_files, count(*) FROM pull_requests, pr_files GROUP BY ALL") == [(250, 250)]


def test_commit_cap_of_250_is_a_warning_and_a_flag(serve, cli, db_path):
    pr = pull(40)
    pr.commits = [commit("2026-03-01 00:00", seed=("many", i)) for i in range(260)]
    server = serve(repository(pr))
    run = sync(cli, server, db_path, 40, "--json")
    assert run.exit_code == 0
    assert run.result["counts"]["commits"] == 250
    assert run.result["warnings"] == ["commits: GitHub returns at most 250 commits for a PR; stored 250 of 260"]
    assert "warning: commits: GitHub returns at most 250" in run.stderr
    assert query(db_path, "SELECT commits_count, truncated_sections FROM pull_requests") == [(260, ["commits"])]


def test_rerun_changes_nothing(serve, cli, db_path):
    server = serve(repository(complete_pr(), busy_pull(31, 105)))
    for number in (12, 31):
        assert sync(cli, server, db_path, number).exit_code == 0
    first = {table: table_rows(db_path, table, exclude=("fetched_at", "computed_at")) for table in TABLES}
    for number in (12, 31):
        assert sync(cli, server, db_path, number).exit_code == 0
    second = {table: table_rows(db_path, table, exclude=("fetched_at", "computed_at")) for table in TABLES}
    assert first == second
    assert query(db_path, "SELECT count(*) FROM sync_runs")[0][0] == 4  # only the run log grows


def test_upstream_deletion_and_edit_are_reflected(serve, cli, db_path):
    pr = complete_pr()
    server = serve(repository(pr))
    assert sync(cli, server, db_path, 12).exit_code == 0
    deleted = pr.issue_comments.pop()
    pr.review_comments[0].body = "cap this, please (edited)"
    pr.check_runs.pop(0)
    assert sync(cli, server, db_path, 12).exit_code == 0
    assert query(db_path, "SELECT count(*) FROM pr_comments WHERE id = ?", [deleted.id]) == [(0,)]
    assert query(db_path, "SELECT body FROM pr_comments WHERE id = ?", [pr.review_comments[0].id]) == [
        ("cap this, please (edited)",)
    ]
    assert query(db_path, "SELECT conclusion FROM pr_check_runs") == [("success",)]


def test_deleted_author_and_merger(serve, cli, db_path):
    pr = pull(50, author=GHOST)
    pr.merged_by = GHOST
    pr.commits = [commit("2026-03-01 10:00", author=GHOST)]
    pr.reviews = [review(CAROL, "APPROVED", "2026-03-02 10:00")]
    server = serve(repository(pr))
    assert sync(cli, server, db_path, 50).exit_code == 0
    assert query(db_path, "SELECT author_login, author_type, merged_by_login FROM pull_requests") == [
        (None, None, None)
    ]
    # carol's approval is a review by someone other than the (unknown) author
    assert query(db_path, "SELECT first_review_at FROM pr_metrics") == [(at("2026-03-02 10:00"),)]


def test_github_enterprise_server_api_root(serve, cli, db_path):
    server = serve(repository(complete_pr()), api_prefix="/api/v3")
    assert server.api_url.endswith("/api/v3")
    run = sync(cli, server, db_path, 12, "--json")
    assert run.exit_code == 0, run.stderr
    assert run.result["api_requests"] == 8


def test_recorded_merged_webhook_syncs(serve, cli, db_path, tmp_path):
    sample = recorded_sample("webhook_pull_request_closed_merged.json")
    number = sample["pull_request"]["number"]
    sample["repository"]["full_name"] = "acme/widgets"  # adapted to the fake's repository
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(sample))
    pr = complete_pr()
    pr.number = number
    server = serve(repository(pr))
    run = cli(
        server,
        "sync",
        "--db",
        str(db_path),
        "--json",
        event_name="pull_request",
        event_path=str(event_file),
        repository="someone/else",  # the event's own repository wins
    )
    assert run.exit_code == 0, run.stderr
    assert run.result["pr_number"] == number
    assert run.result["trigger"] == "pull_request"
    assert query(db_path, "SELECT repo, number FROM pull_requests") == [("acme/widgets", number)]


def test_workflow_dispatch_event(serve, cli, db_path, tmp_path):
    sample = recorded_sample("webhook_workflow_dispatch.json")
    sample["inputs"] = {"pr_number": "12"}
    sample["repository"]["full_name"] = "acme/widgets"
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(sample))
    server = serve(repository(complete_pr()))
    run = cli(
        server,
        "sync",
        "--db",
        str(db_path),
        "--json",
        event_name="workflow_dispatch",
        event_path=str(event_file),
    )
    assert run.exit_code == 0, run.stderr
    assert (run.result["pr_number"], run.result["trigger"]) == (12, "workflow_dispatch")


def test_default_db_comes_from_the_environment(serve, cli, tmp_path):
    server = serve(repository(complete_pr()))
    target = tmp_path / "from-env.duckdb"
    run = cli(server, "sync", "--repo", "acme/widgets", "--pr", "12", db=str(target))
    assert run.exit_code == 0, run.stderr
    assert query(target, "SELECT count(*) FROM pull_requests") == [(1,)]


def test_python_dash_m_fetcher_as_a_process(serve, tmp_path):
    """The real entry point, as the workflow runs it: environment variables, exit code, JSON."""
    server = serve(repository(complete_pr()))
    env = {
        "PATH": "/usr/bin:/bin",
        "GH_TOKEN": TOKEN,
        "GITHUB_API_URL": server.api_url,
        "GITHUB_REPOSITORY": "acme/widgets",
        "MERGELENS_DB": str(tmp_path / "proc.duckdb"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "fetcher", "sync", "--pr", "12", "--json", "--request-interval", "0"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "complete"
    assert TOKEN not in done.stdout + done.stderr
    assert query(tmp_path / "proc.duckdb", "SELECT count(*) FROM pr_commits") == [(2,)]


def test_raw_rows_keep_bots(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    assert sync(cli, server, db_path, 12).exit_code == 0
    assert query(db_path, "SELECT count(*) FROM pr_comments WHERE author_login = ?", [ACTIONS_BOT.login]) == [(1,)]
