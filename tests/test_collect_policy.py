"""fetcher.collect.policy: one classification of GitHub's failures, used by REST sync, the GraphQL
client and (next) the artifact client; failures logged with GitHub's X-GitHub-Request-Id."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import requests

from fetcher.collect.policy import Kind, RateLimitExhausted, classify, from_response
from fetcher.collect.rest import ClientSettings, GitHubSource
from tests.conftest import TOKEN
from tests.support.factories import repository
from tests.support.fake_github import Fault
from tests.test_commands_backfill import backfill, github_schema, simple_pulls  # noqa: F401 (github_schema: autouse)
from tests.test_commands_sync import complete_pr, sync


def test_a_plain_403_fails_its_section_at_once_with_one_line_and_the_request_id(serve):
    server = serve(repository(complete_pr()))
    message = "Resource not accessible by integration\nsee the documentation"
    server.add_fault(r"/pulls/12/files$", Fault(status=403, body={"message": message}))
    source = GitHubSource(ClientSettings(server.api_url, TOKEN, request_interval=0))
    bundle = source.fetch_pull_request("acme/widgets", 12)
    (error,) = bundle.errors
    (refused,) = [r for r in server.requests if r.path.endswith("/files")]  # not retried
    assert (error.section, error.status) == ("files", 403)
    assert error.message == "HTTP 403: Resource not accessible by integration"
    assert error.request_id == refused.request_id


def test_what_the_artifact_client_will_need():
    reset = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    dropped = classify(requests.ConnectionError("reset by peer"))
    assert (dropped.kind, dropped.status) == (Kind.TRANSIENT, None)
    exhausted = classify(RateLimitExhausted(403, 4000, 60, reset))
    assert exhausted.kind is Kind.PRIMARY_RATE_LIMIT and exhausted.reset_at == reset and exhausted.rate_limited
    headers = {"X-GitHub-Request-Id": "ABCD:1234", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1777636800"}
    primary = from_response(403, headers, "API rate limit exceeded for installation ID 1.")
    assert (primary.kind, primary.request_id, primary.reset_at) == (Kind.PRIMARY_RATE_LIMIT, "ABCD:1234", reset)
    assert from_response(429, {}, "").kind is Kind.SECONDARY_RATE_LIMIT  # GitHub: a 429 is always a limit
    assert from_response(403, {"Retry-After": "30"}, "").retry_after == 30
    assert from_response(401, {}, "Bad credentials").token_rejected() == (
        "GitHub rejected the token (HTTP 401: Bad credentials): check GITHUB_TOKEN (or GH_TOKEN)"
    )
    assert from_response(404, {}, "Not Found").kind is Kind.NOT_FOUND
    assert from_response(502, {}, "").message == "HTTP 502: no message"


def test_retries_are_logged_with_githubs_request_id(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    server.add_fault(r"/pulls/12/files$", Fault.server_error(502))
    run = sync(cli, server, db_path, 12, "--retry-backoff", "0.01")
    assert run.exit_code == 0, run.stderr
    (failed,) = [r for r in server.requests if r.status == 502]
    assert f"after HTTP 502 [X-GitHub-Request-Id {failed.request_id}]" in run.stderr


def test_failed_graphql_batches_are_logged_with_githubs_request_id(serve, cli, tmp_path):
    server = serve(repository(*simple_pulls(10)))
    server.graphql_max_pull_requests = 5  # bigger queries "time out": 502
    run = backfill(cli, server, tmp_path / "b.duckdb", "--batch-size", "10")
    assert run.exit_code == 0, run.stderr
    (timed_out,) = [r for r in server.requests if r.path == "/graphql" and r.status == 502]
    assert f"batch of 10 failed (HTTP 502: Server Error [X-GitHub-Request-Id {timed_out.request_id}])" in run.stderr


def test_a_rate_limited_graphql_answer_stops_cleanly(serve, cli, tmp_path):
    server = serve(repository(*simple_pulls(3)))
    server.set_graphql_points(remaining=0, limit=1000)  # GitHub answers 200 with a RATE_LIMITED error
    run = backfill(cli, server, tmp_path / "b.duckdb", "--floor", "0")
    assert run.exit_code == 0, run.stderr
    assert run.result["status"] == "incomplete"
    assert run.result["backfill"]["stopped"].startswith("GraphQL rate limit exhausted; it resets at")
    assert run.result["backfill"]["listing_done"] is False
    assert not [r for r in server.requests if r.method == "GET"]  # a rate limit is no reason to use REST


def test_a_rate_limit_over_rest_stops_the_backfill_and_keeps_the_prs_pending(serve, cli, tmp_path):
    server = serve(repository(*simple_pulls(3)))
    server.add_fault(r"^/graphql$", *[Fault(status=404)] * 50)  # no GraphQL: REST for everything
    server.add_fault(r"/pulls/\d+$", Fault.primary_rate_limit(int(time.time()) + 3600))
    run = backfill(cli, server, tmp_path / "b.duckdb")
    assert run.exit_code == 0, run.stderr
    history = run.result["backfill"]
    assert "rate limit exhausted" in history["stopped"]
    assert history["failures"] == {}  # not a failed PR: the rate limit, and the run stops
    assert history["remaining"] == 3
    assert run.result["status"] == "incomplete"
