"""What goes wrong, and what the fetcher does about it: retries, partial runs, clear errors."""

from __future__ import annotations

import json
import time

import pytest

from fetcher.collect.rest import ClientSettings, GitHubSource
from fetcher.config import Environment
from tests.conftest import TABLES, TOKEN, query, table_rows
from tests.support.factories import repository
from tests.support.fake_github import Fault
from tests.test_commands_sync import complete_pr, sync


def test_server_errors_are_retried_with_backoff(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    server.add_fault(r"/pulls/12/files$", Fault.server_error(502), Fault.server_error(503), Fault(status=500))
    run = sync(cli, server, db_path, 12, "--json")
    assert run.exit_code == 0, run.stderr
    assert run.result["counts"]["files"] == 2
    assert run.result["retries"] == 3
    assert run.result["api_requests"] == 8 + 3 == len(server.requests)
    assert [r.status for r in server.requests if r.path.endswith("/files")] == [502, 503, 500, 200]


def test_dropped_connection_is_retried(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    server.add_fault(r"/issues/12/timeline$", Fault.dropped())
    run = sync(cli, server, db_path, 12, "--json")
    assert run.exit_code == 0, run.stderr
    assert run.result["counts"]["timeline"] == 6
    assert run.result["api_requests"] == 9


def test_read_timeout_is_retried(serve, db_path):
    server = serve(repository(complete_pr()))
    server.add_fault(r"/pulls/12/reviews$", Fault.slow(2.5))
    source = GitHubSource(ClientSettings(server.api_url, TOKEN, request_interval=0, timeout=1, backoff_factor=0.01))
    bundle = source.fetch_pull_request("acme/widgets", 12)
    assert not bundle.errors
    assert len(bundle.sections["reviews"]) == 2
    assert source.usage.retries == 1


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_waits_as_told(serve, cli, db_path, status):
    server = serve(repository(complete_pr()))
    server.add_fault(r"/pulls/12/commits$", Fault.secondary_rate_limit(retry_after=1, status=status))
    started = time.monotonic()
    run = sync(cli, server, db_path, 12, "--json")
    assert run.exit_code == 0, run.stderr
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 was honoured (a floor, not a speed claim)
    assert run.result["retries"] == 1
    assert run.result["counts"]["commits"] == 2


def test_secondary_limit_without_retry_after_waits_the_configured_minimum(serve, db_path):
    # GitHub: with neither Retry-After nor remaining=0, wait at least a minute (here shortened).
    server = serve(repository(complete_pr()))
    message = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
    server.add_fault(r"/pulls/12/commits$", Fault(status=403, body=message), Fault(status=429, body={"message": ""}))
    source = GitHubSource(ClientSettings(server.api_url, TOKEN, request_interval=0, secondary_rate_wait=0.2))
    bundle = source.fetch_pull_request("acme/widgets", 12)
    assert not bundle.errors
    assert source.usage.retries == 2
    assert source.usage.waited_s == pytest.approx(0.2 + 0.4)  # 0.2 s, then doubled


def test_primary_limit_within_the_cap_waits_for_the_reset(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    server.add_fault(r"/pulls/12/reviews$", Fault.primary_rate_limit(int(time.time()) + 1, status=429))
    run = sync(cli, server, db_path, 12, "--json", "--max-rate-limit-wait", "10")
    assert run.exit_code == 0, run.stderr
    assert run.result["retries"] == 1


def test_primary_limit_beyond_the_cap_fails_the_section_and_says_when_it_resets(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    reset = int(time.time()) + 3600
    server.add_fault(r"/pulls/12/reviews$", Fault.primary_rate_limit(reset))
    run = sync(cli, server, db_path, 12, "--json")
    assert run.exit_code == 3
    (error,) = run.result["errors"]
    assert error["section"] == "reviews"
    assert error["status"] == 403
    assert time.strftime("%H:%M", time.gmtime(reset)) in error["message"]
    assert "rate limit exhausted" in error["message"]
    assert len([r for r in server.requests if r.path.endswith("/reviews")]) == 1  # no blind retrying


def test_a_retry_after_beyond_the_cap_fails_the_section(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    server.add_fault(r"/issues/12/comments$", Fault.secondary_rate_limit(retry_after=600))
    run = sync(cli, server, db_path, 12, "--json", "--max-rate-limit-wait", "5")
    assert run.exit_code == 3
    (error,) = run.result["errors"]
    assert error["section"] == "issue_comments"
    assert "asked to retry after 600 s, more than the 5 s this run may wait" in error["message"]


def test_a_section_failing_for_good_keeps_its_old_rows(serve, cli, db_path):
    pr = complete_pr()
    server = serve(repository(pr))
    assert sync(cli, server, db_path, 12).exit_code == 0
    before_comments = table_rows(db_path, "pr_comments")
    # Upstream changes, then the review comments endpoint breaks for good.
    pr.review_comments.clear()
    pr.issue_comments.pop()
    pr.title = "Add retry budget (v2)"
    server.add_fault(r"/pulls/12/comments$", *[Fault.server_error(502)] * 4)
    run = sync(cli, server, db_path, 12, "--json")
    assert run.exit_code == 3
    assert run.result["status"] == "partial"
    assert run.result["errors"] == [
        {
            "section": "review_comments",
            "status": 502,
            "message": run.result["errors"][0]["message"],
            "request_id": run.result["errors"][0]["request_id"],
        }
    ]
    assert run.result["errors"][0]["request_id"]  # GitHub's x-github-request-id, for support
    assert run.result["counts"]["review_comments"] is None
    assert "review_comments" in run.stderr and "FAILED" in run.stderr
    # the rest is saved: new title, the issue comment gone...
    assert query(db_path, "SELECT title, sync_status, failed_sections FROM pull_requests") == [
        ("Add retry budget (v2)", "partial", ["review_comments"])
    ]
    assert query(db_path, "SELECT count(*) FROM pr_comments WHERE comment_type = 'issue'") == [(0,)]
    # ...while the failed section's rows are kept, not deleted
    kept = [row for row in before_comments if "review" in row]
    assert [row for row in table_rows(db_path, "pr_comments") if "review" in row] == kept
    assert len(kept) == 2
    (status, errors) = query(db_path, "SELECT status, errors FROM sync_runs ORDER BY started_at DESC LIMIT 1")[0]
    assert status == "partial"
    assert json.loads(errors)[0]["section"] == "review_comments"
    # The next run, with GitHub healthy again, completes and catches up.
    assert sync(cli, server, db_path, 12).exit_code == 0
    assert query(db_path, "SELECT count(*) FROM pr_comments") == [(0,)]
    assert query(db_path, "SELECT sync_status, failed_sections FROM pull_requests") == [("complete", [])]


def test_unknown_pr_fails_cleanly_and_leaves_db_untouched(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    assert sync(cli, server, db_path, 12).exit_code == 0
    before = {table: table_rows(db_path, table) for table in (*TABLES, "sync_runs")}
    run = sync(cli, server, db_path, 999)
    assert run.exit_code == 1
    assert run.stderr.strip() == "mergelens: error: PR #999 not found in acme/widgets (HTTP 404)"
    assert {table: table_rows(db_path, table) for table in (*TABLES, "sync_runs")} == before


def test_unknown_repository(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    run = cli(server, "sync", "--repo", "acme/nope", "--pr", "1", "--db", str(db_path))
    assert run.exit_code == 1
    assert run.stderr.startswith("mergelens: error: repository acme/nope not found (HTTP 404)")
    assert "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not db_path.exists()  # nothing written, not even an empty file


def test_rejected_token(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    run = sync(cli, server, db_path, 12, token="ghp_wrong_token_value_123")
    assert run.exit_code == 1
    assert "GITHUB_TOKEN" in run.stderr and "401" in run.stderr
    assert "ghp_wrong_token_value_123" not in run.stderr + run.stdout
    assert len(run.stderr.strip().splitlines()) == 1
    assert not db_path.exists()


def test_missing_token(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    run = sync(cli, server, db_path, 12, token=None)
    assert run.exit_code == 1
    assert run.stderr.strip() == "mergelens: error: no GitHub token: set GITHUB_TOKEN (or GH_TOKEN)"
    assert server.requests == []


@pytest.mark.parametrize(
    "argv",
    [
        ["sync", "--repo", "not-a-repo", "--pr", "1"],
        ["sync", "--repo", "a/b/c", "--pr", "1"],
        ["sync", "--repo", "acme/widgets", "--pr", "abc"],
        ["sync", "--repo", "acme/widgets", "--pr", "0"],
        ["sync", "--repo", "acme/widgets", "--pr", "2147483648"],  # beyond pull_requests.number (INTEGER)
        ["sync", "--repo", "acme/widgets", "--pr", "1", "--db", ""],  # not silently ./mergelens.duckdb
        ["metrics", "--recompute", "--db", " "],
        ["sync", "--bogus"],
        ["sync"],  # no PR and no Actions event
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2_with_one_line(cli, argv):
    run = cli(None, *argv)
    assert run.exit_code == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert run.stderr.startswith("mergelens: error:")


def test_the_largest_pr_number_is_accepted(serve, cli, db_path):
    run = cli(
        serve(repository(complete_pr())), "sync", "--repo", "acme/widgets", "--pr", "2147483647", "--db", str(db_path)
    )
    assert run.exit_code == 1
    assert run.stderr.strip() == "mergelens: error: PR #2147483647 not found in acme/widgets (HTTP 404)"


def test_an_empty_mergelens_db_means_unset():
    # Actions renders an unset ${{ vars.MERGELENS_DB }} as '': that is "not configured", not a path.
    assert Environment.from_environ({"MERGELENS_DB": ""}).db == "mergelens.duckdb"
    assert Environment.from_environ({"MERGELENS_DB": "data/prs.duckdb"}).db == "data/prs.duckdb"


def test_token_never_printed_even_in_debug_output(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    server.add_fault(r"/pulls/12/files$", *[Fault.server_error(500)] * 4)
    run = sync(cli, server, db_path, 12, "--json")
    assert run.exit_code == 3
    assert TOKEN not in run.stdout + run.stderr
    assert TOKEN not in "".join(str(row) for row in table_rows(db_path, "sync_runs"))
