"""Bad input, each through the real CLI: one line ``mergelens: error: ...``, exit 2, no traceback,
no request to GitHub and no DB; and no value an operator gives can print a workflow command."""

from __future__ import annotations

import argparse
import json
import math
from datetime import UTC, datetime

import pytest

from fetcher.collect.rest import ClientSettings, GitHubSource
from fetcher.collect.retry import LONGEST_WAIT_S, GitHubRetry, bounded_wait
from fetcher.commands.arguments import Number, build_parser
from fetcher.config import Environment
from fetcher.publish import report
from tests.conftest import ROOT, TOKEN
from tests.support.factories import repository
from tests.support.fake_github import Fault
from tests.test_commands_sync import complete_pr
from tests.test_storage import bucket, moto_endpoint  # noqa: F401 - fixtures

REPO = ["--repo", "acme/widgets"]


def usage_line(run) -> str:
    """The one line a usage error prints (asserted: one line, exit 2, no traceback)."""
    assert run.exit_code == 2, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("mergelens: error: ") and "Traceback" not in run.stderr
    return lines[0]


# --- numeric options ----------------------------------------------------------------------------

BAD_NUMBERS = [
    (["compact", "--db", "ducklake:lake.ducklake"], "--keep-hours", "nan", "0 to 87840"),
    (["compact", "--db", "ducklake:lake.ducklake"], "--keep-hours", "1e308", "0 to 87840"),
    (["compact", "--db", "ducklake:lake.ducklake"], "--keep-hours", "-1", "0 to 87840"),
    (["reconcile", *REPO], "--lookback", "inf", "0 to 3650"),
    (["reconcile", *REPO], "--lookback", "1e10", "0 to 3650"),
    (["reconcile", *REPO], "--max-prs", "1" * 5000, "1 to 2147483647"),  # int() refuses 4,300+ digits
    (["reconcile", *REPO], "--max-prs", "0", "1 to 2147483647"),
    (["backfill", *REPO], "--lookback", "nan", "0 to 3650"),
    (["backfill", *REPO], "--max-minutes", "nan", "0 to 10080"),
    (["backfill", *REPO], "--budget", "0", "1 to 1000000"),
    (["backfill", *REPO], "--floor", "-1", "0 to 1000000"),
    (["backfill", *REPO], "--batch-size", "101", "1 to 100"),
    (["sync", *REPO, "--pr", "12"], "--request-interval", "-5", "0 to 60"),  # was an assertion in PyGithub
    (["sync", *REPO, "--pr", "12"], "--retry-backoff", "nan", "0 to 60"),  # was 120 s a retry
    (["sync", *REPO, "--pr", "12"], "--max-rate-limit-wait", "inf", "0 to 3600"),
    (["sync", *REPO, "--pr", "12"], "--reconcile-lookback", "-1", "0 to 3650"),
    (["sync", *REPO, "--pr", "12"], "--reconcile-max", "1.5", "1 to 2147483647"),
    (["sync", *REPO, "--pr", "12"], "--reconcile", "1e3", "(N: 0 to 2147483647)"),
    (["open-prs", *REPO], "--stale-days", "0", "1 to 3650"),
]


@pytest.mark.parametrize(
    ("argv", "option", "value", "allowed"), BAD_NUMBERS, ids=[f"{a[0]}{o}={v[:8]}" for a, o, v, _ in BAD_NUMBERS]
)
def test_a_number_outside_its_range_is_one_usage_line(serve, cli, tmp_path, argv, option, value, allowed):
    server = serve(repository(complete_pr()))
    db = tmp_path / "db.duckdb"
    if argv[0] != "compact":
        argv = [*argv, "--db", str(db)]
    # fast=False: the fixture's own --request-interval/--retry-backoff must not be the ones parsed
    line = usage_line(cli(server, *argv, option, value, fast=False))
    assert line.startswith(f"mergelens: error: argument {option}: ")
    assert allowed in line and line.endswith(f"(see python -m fetcher {argv[0]} --help)")
    assert server.requests == [] and not db.exists()


def options() -> list[tuple[str, argparse.Action]]:
    """(command, option) for every option of every command."""
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return [(name, action) for name, sub in commands.choices.items() for action in sub._actions]


def test_every_numeric_option_has_a_range():
    """No option parses a bare float or int: each one's type is a Number (or a parser built on
    one), so none takes nan, inf or a value past its documented range."""
    assert [f"{name} {action.dest}" for name, action in options() if action.type in (float, int)] == []


@pytest.mark.parametrize(
    ("argv", "attribute", "expected"),
    [
        (["reconcile", "--lookback", "3650"], "lookback", 3650.0),
        (["reconcile", "--lookback", "0"], "lookback", 0.0),
        (["backfill", "--batch-size", "100"], "batch_size", 100),
        (["backfill", "--floor", "0"], "floor", 0),
        (["sync", "--reconcile", "0"], "reconcile", 0),
        (["sync", "--reconcile", "since-last-run"], "reconcile", "since-last-run"),
        (["sync", "--pr", "2147483647"], "pr", 2147483647),
        (["compact", "--db", "ducklake:x", "--keep-hours", "87840"], "keep_hours", 87840.0),
        (["backfill", "--until", "9999-12-31"], "until", datetime.max.replace(tzinfo=UTC)),  # was an OverflowError
    ],
)
def test_the_ends_of_a_range_are_accepted(argv, attribute, expected):
    value = getattr(build_parser().parse_args(argv), attribute)
    assert value == expected and type(value) is type(expected)


def test_help_states_each_range(cli):
    run = cli(None, "backfill", "--help")
    text = " ".join(run.stdout.split())
    assert run.exit_code == 0
    for stated in ("(0 to 3650)", "(1 to 100; default 25)", "(0 to 1000000; default 200)", "(0 to 60; default 1)"):
        assert stated in text


def test_a_window_that_ends_before_it_starts_is_one_usage_line(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    run = cli(server, "backfill", *REPO, "--db", str(db_path), "--since", "2026-02-01", "--until", "2026-01-31")
    assert usage_line(run) == "mergelens: error: --since is after --until: no PR was merged in that window"
    assert server.requests == [] and not db_path.exists()


@pytest.mark.parametrize("spec", ["/", "/.."])
def test_a_db_that_is_the_root_directory_is_one_line_before_any_request(serve, cli, spec):
    server = serve(repository(complete_pr()))
    run = cli(server, "sync", *REPO, "--pr", "1", "--db", spec)
    assert run.exit_code == 1 and "Traceback" not in run.stderr
    assert run.stderr.splitlines() == [f"mergelens: error: {spec}: a directory, not a DuckDB file"]
    assert server.requests == []


def test_the_docs_state_each_range():
    """README.md and docs/ give every numeric option's range as --help does (``0–3650``)."""
    docs = " ".join(path.read_text() for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
    ranges = {str(action.type) for _, action in options() if isinstance(action.type, Number)}
    assert ranges and [r for r in sorted(ranges) if r.replace(" to ", "–") not in docs] == []


def test_a_usage_error_without_a_command_names_the_top_level_help(cli):
    line = usage_line(cli(None, "frobnicate"))
    assert line.endswith("(see python -m fetcher --help)")


# --- the environment ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("api_url", "not a url", "GITHUB_API_URL is not an http(s) URL with a host: 'not a url'"),
        ("api_url", "ftp://127.0.0.1", "GITHUB_API_URL is not an http(s) URL with a host"),
        ("api_url", "https://", "GITHUB_API_URL is not an http(s) URL with a host"),
        ("api_url", "http://127.0.0.1:99999", "GITHUB_API_URL is not an http(s) URL with a host"),
        ("api_url", "http://127.0.0.1/api\n::warning::x", "GITHUB_API_URL is not an http(s) URL with a host"),
        ("server_url", "javascript:alert(1)", "GITHUB_SERVER_URL is not an http(s) URL with a host"),
    ],
)
def test_a_github_url_that_is_none_is_one_usage_line_before_any_request(serve, cli, db_path, setting, value, expected):
    server = serve(repository(complete_pr()))
    run = cli(server, "sync", *REPO, "--pr", "12", "--db", str(db_path), **{setting: value})
    assert usage_line(run).startswith(f"mergelens: error: {expected}")
    assert server.requests == [] and not db_path.exists()


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("sentry_dsn", "garbage-planted-dsn", "SENTRY_DSN is not a Sentry DSN (https://KEY@HOST/PROJECT; not printed)"),
        (
            "step_summary",
            "/nonexistent/dir/summary.md",
            "GITHUB_STEP_SUMMARY cannot be written: /nonexistent/dir/summary.md",
        ),
        ("output", ".", "GITHUB_OUTPUT cannot be written: .: Is a directory"),
    ],
)
def test_a_setting_the_end_of_a_run_needs_is_checked_before_it_starts(serve, cli, db_path, setting, value, expected):
    """Each of these used to end a run in a traceback after its DB was stored."""
    server = serve(repository(complete_pr()))
    run = cli(server, "sync", *REPO, "--pr", "12", "--db", str(db_path), **{setting: value})
    assert usage_line(run).startswith(f"mergelens: error: {expected}")
    assert "garbage-planted-dsn" not in run.stdout + run.stderr
    assert server.requests == [] and not db_path.exists()


def test_a_github_url_with_a_password_is_refused_without_printing_it(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    url = server.api_url.replace("http://", "http://mergelens:hunter2secret@")
    run = cli(server, "sync", *REPO, "--pr", "12", "--db", str(db_path), api_url=url)
    assert "GITHUB_API_URL holds a user name or password" in usage_line(run)
    assert "hunter2secret" not in run.stdout + run.stderr
    assert server.requests == []


def test_the_environment_is_read_the_same_way_from_os_environ(serve, cli, db_path):
    """From the variables themselves (Environment.from_environ), not only a built Environment."""
    server = serve(repository(complete_pr()))
    env = Environment.from_environ({"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": "not a url", "MERGELENS_DB": str(db_path)})
    run = cli(server, "sync", *REPO, "--pr", "12", **env.__dict__)
    assert usage_line(run) == "mergelens: error: GITHUB_API_URL is not an http(s) URL with a host: 'not a url'"
    assert server.requests == [] and not db_path.exists()


@pytest.mark.parametrize("value", ["abc", "0", "-3", "2147483648", "1" * 5000])
def test_a_digest_issue_that_is_no_issue_number_is_one_usage_line(serve, cli, db_path, value):
    server = serve(repository(complete_pr()))
    run = cli(server, "open-prs", *REPO, "--db", str(db_path), digest_issue=value)
    assert usage_line(run) == "mergelens: error: MERGELENS_DIGEST_ISSUE is not an issue number (1 to 2147483647)"
    assert server.requests == [] and not db_path.exists()


def test_an_app_id_of_thousands_of_digits_is_one_usage_line(serve, cli, db_path):
    server = serve(repository(complete_pr()))
    run = cli(server, "reconcile", *REPO, "--db", str(db_path), app_id="1" * 5000, app_private_key="not read")
    assert usage_line(run) == "mergelens: error: MERGELENS_APP_ID is not a GitHub App id (a positive number)"
    assert server.requests == [] and not db_path.exists()


@pytest.mark.parametrize("value", ["1" * 5000, "9223372036854775808", "0", "12a", ""])
def test_a_repository_id_that_is_none_is_unset(value):
    assert Environment.from_environ({"GITHUB_REPOSITORY_ID": value}).repository_id is None
    assert Environment.from_environ({"GITHUB_REPOSITORY_ID": "9223372036854775807"}).repository_id == 2**63 - 1


# --- waits: never NaN, never endless ------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "waited"),
    [(math.nan, 0.0), (-1.0, 0.0), (math.inf, LONGEST_WAIT_S), (1e12, LONGEST_WAIT_S), (2.5, 2.5)],
)
def test_a_wait_is_a_finite_number_of_seconds(seconds, waited):
    assert bounded_wait(seconds) == waited


@pytest.mark.parametrize("setting", ["backoff_factor", "max_rate_limit_wait", "secondary_rate_wait"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0])
def test_the_retry_refuses_a_setting_it_could_hang_on(setting, value):
    with pytest.raises(ValueError, match=setting):
        GitHubRetry(**{setting: value})


def test_a_503_asking_for_a_day_waits_no_longer_than_a_rate_limit_may(serve, db_path):
    server = serve(repository(complete_pr()))
    server.add_fault(r"/pulls/12/files$", Fault(status=503, headers={"retry-after": "86400"}))
    source = GitHubSource(ClientSettings(server.api_url, TOKEN, request_interval=0, max_rate_limit_wait=0.05))
    bundle = source.fetch_pull_request("acme/widgets", 12)
    assert not bundle.errors and len(bundle.sections["files"]) == 2
    assert source.usage.retries == 1
    assert source.usage.waited_s == pytest.approx(0.05)


PRIMARY_LIMIT_MESSAGE = {"message": "API rate limit exceeded for installation ID 1."}


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=429, headers={"retry-after": "nan"}, body={"message": ""}),
        Fault(status=429, headers={"retry-after": "-5"}, body={"message": ""}),
        Fault(status=429, headers={"retry-after": "1e400"}, body={"message": ""}),  # inf
        Fault(status=503, headers={"retry-after": "nan"}),
    ],
    ids=["429-nan", "429-negative", "429-inf", "503-nan"],
)
def test_a_retry_after_that_is_no_number_of_seconds_is_as_good_as_none(serve, fault):
    """GitHub sends whole seconds; a proxy's "nan" used to fail the section with urllib3's
    InvalidHeader. Now the usual wait applies: secondary_rate_wait (429), the backoff (503)."""
    server = serve(repository(complete_pr()))
    server.add_fault(r"/pulls/12/files$", fault)
    settings = ClientSettings(server.api_url, TOKEN, request_interval=0, secondary_rate_wait=0.1, backoff_factor=0.01)
    source = GitHubSource(settings)
    bundle = source.fetch_pull_request("acme/widgets", 12)
    assert not bundle.errors and len(bundle.sections["files"]) == 2
    assert source.usage.retries == 1 and math.isfinite(source.usage.waited_s)
    if fault.status == 429:
        assert source.usage.waited_s == pytest.approx(0.1)


@pytest.mark.parametrize("reset", ["nan", "inf", "1e30", "-1"])
def test_a_rate_limit_reset_that_is_no_time_fails_the_section_as_github_said(serve, reset):
    server = serve(repository(complete_pr()))
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
    server.add_fault(r"/pulls/12/files$", Fault(status=403, headers=headers, body=PRIMARY_LIMIT_MESSAGE))
    source = GitHubSource(ClientSettings(server.api_url, TOKEN, request_interval=0))
    bundle = source.fetch_pull_request("acme/widgets", 12)
    assert [(error.section, error.message) for error in bundle.errors] == [
        ("files", "HTTP 403: API rate limit exceeded for installation ID 1.")
    ]  # was "ValueError: cannot convert float NaN to integer", "OverflowError: ..."
    assert source.usage.waited_s == 0


# --- nothing printed is a workflow command ------------------------------------------------------

FORGED = "::warning::forged"


def assert_no_forged_command(run) -> None:
    """Every line on stdout and stderr: none starts a workflow command but mergelens' own annotations."""
    for line in (run.stdout + run.stderr).splitlines():
        command = line.lstrip().startswith("::")
        assert not command or line.startswith(("::warning title=mergelens", "::error title=mergelens")), line
        assert "##[" not in line, line
    assert FORGED not in [line.strip() for line in (run.stdout + run.stderr).splitlines()]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\nb", "a\\nb"),
        ("db\r\n::warning::x", "db\\r\\n::warning::x"),
        ("  ::warning::x", "\\  ::warning::x"),
        ("ok ##[error]x", "ok ##\\[error]x"),
        ("tab\tbell\x07esc\x1b nel\x85 ls\u2028", "tab\\tbell\\x07esc\\x1b nel\\x85 ls\\u2028"),
        ("plain: s3://bucket/key.duckdb", "plain: s3://bucket/key.duckdb"),
    ],
)
def test_inert_lines(text, shown):
    assert report.inert(text) == shown
    assert report.inert(shown) == shown  # twice is once


def in_actions(tmp_path) -> dict[str, object]:
    return {"in_actions": True, "step_summary": str(tmp_path / "summary.md"), "output": str(tmp_path / "output")}


def test_a_db_spec_with_a_newline_prints_no_command(serve, cli, tmp_path):
    db = tmp_path / f"mergelens.duckdb\n{FORGED}"
    done = cli(None, "metrics", "--recompute", **in_actions(tmp_path), db=str(db))  # MERGELENS_DB
    assert done.exit_code == 0, done.stderr
    assert done.stderr.splitlines() == [f"recomputed metrics of 0 PRs in {tmp_path}/mergelens.duckdb\\n{FORGED}"]
    assert_no_forged_command(done)

    db.write_bytes(b"not a DuckDB file")  # now the error names the spec
    server = serve(repository(complete_pr()))
    failed = cli(server, "sync", *REPO, "--pr", "12", "--json", **in_actions(tmp_path), db=str(db))
    assert failed.exit_code == 1
    (error,) = [line for line in failed.stderr.splitlines() if line.startswith("mergelens: error: ")]
    assert f"mergelens.duckdb\\n{FORGED}: " in error
    assert_no_forged_command(failed)
    assert [line for line in failed.stdout.splitlines() if line.startswith("::")] == [
        f"::error title=mergelens failed::{json.loads(failed.stdout.splitlines()[-1])['error']}".replace("\n", "%0A")
    ]
    assert FORGED not in (tmp_path / "summary.md").read_text().splitlines()
    assert db.read_bytes() == b"not a DuckDB file"  # untouched


def test_an_s3_key_with_a_newline_prints_no_command(serve, cli, bucket, tmp_path):  # noqa: F811 - the fixture
    server = serve(repository(complete_pr()))
    spec = bucket.spec(f"team/mergelens.duckdb\n{FORGED} ##[error]also forged")
    run = cli(server, "sync", *REPO, "--pr", "12", "--json", "--db", spec, **in_actions(tmp_path))
    # moto's server cannot route a key holding a newline (S3 can): here the download fails, and says so
    assert run.exit_code == 1
    (error,) = [line for line in run.stderr.splitlines() if line.startswith("mergelens: error: ")]
    assert error.startswith(f"mergelens: error: {report.inert(spec)}: S3 ")
    assert_no_forged_command(run)
    assert json.loads(run.stdout.splitlines()[-1])["error"].startswith(spec)  # JSON: the spec as given
    assert FORGED not in (tmp_path / "summary.md").read_text().splitlines()


def test_an_unknown_argument_with_a_newline_is_one_line(cli):
    line = usage_line(cli(None, "sync", f"--x\n{FORGED}"))
    assert line.startswith(f"mergelens: error: unrecognized arguments: --x\\n{FORGED}")
