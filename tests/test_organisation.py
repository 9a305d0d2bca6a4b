"""Organisation mode: GitHub App installation tokens (minted, refreshed, refused), and
reconcile / backfill / open-prs over many repositories (--repos, --repos-file, --org) into one DB."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fetcher.collect.repositories import listed
from fetcher.collect.rest import ClientSettings, GitHubSource
from fetcher.config import Environment
from tests.conftest import TOKEN, query
from tests.support.factories import commit, pull, repository
from tests.support.fake_github import FakeApp, FakeGitHub, Repository

APP_ID = 4711


def rsa_key() -> tuple[str, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


@pytest.fixture(scope="module")
def app_key() -> tuple[str, bytes]:
    return rsa_key()


def merged(count: int, start: int = 1) -> list:
    pulls = []
    for number in range(start, start + count):
        pr = pull(number, created="2026-03-02 09:00", merged="2026-03-03 16:00")
        pr.commits = [commit("2026-03-02 08:00", seed=("org", number))]
        pulls.append(pr)
    return pulls


@pytest.fixture
def serve_app(app_key):
    """serve_app(*repos, installations=..., selected=...): a fake GitHub that accepts only the
    App's installation tokens (no plain token), and the App."""
    servers: list[FakeGitHub] = []

    def start(*repos: Repository, installations=None, selected=None) -> tuple[FakeGitHub, FakeApp]:
        app = FakeApp(APP_ID, app_key[1], installations or {"acme": 101}, selected or {})
        server = FakeGitHub(list(repos), token=None, app=app).start()
        servers.append(server)
        return server, app

    yield start
    for server in servers:
        server.stop()


def app_env(app_key, **extra) -> dict:
    return {"token": None, "app_id": str(APP_ID), "app_private_key": app_key[0], **extra}


def secrets_absent(texts: list[str], app_key, app: FakeApp) -> None:
    """Neither the key (any line of its body) nor any minted token appears in what the run printed."""
    body = [line for line in app_key[0].splitlines() if line and not line.startswith("-----")]
    for text in texts:
        assert not any(line in text for line in body)
        assert "PRIVATE KEY" not in text
        for grant in app.grants:
            assert grant.token not in text
        assert TOKEN not in text


# --- GitHub App authentication -----------------------------------------------------------------


def test_app_installation_token_reads_rest_and_graphql(serve_app, cli, db_path, app_key, tmp_path):
    server, app = serve_app(repository(*merged(3)))
    summary = tmp_path / "summary.md"
    env = app_env(app_key, step_summary=str(summary))
    run = cli(
        server, "reconcile", "--repo", "acme/widgets", "--db", str(db_path), "--since", "2026-01-01", "--json", **env
    )
    assert run.exit_code == 0, run.stderr
    assert run.result["reconcile"]["synced"] == {"complete": 3}
    # GraphQL (backfill) with the same installation: the fake accepts nothing but its tokens
    again = cli(server, "backfill", "--repo", "acme/widgets", "--db", str(tmp_path / "b.duckdb"), "--json", **env)
    assert again.exit_code == 0, again.stderr
    assert again.result["backfill"]["synced"] == {"complete": 3}
    assert server.graphql_log, "backfill went through GraphQL"
    assert len(app.grants) == 2  # one token per run (an hour of life each: never refreshed)
    assert app.rejected_jwts == app.expired_uses == 0
    assert not [r for r in server.requests if r.status == 401]
    assert query(db_path, "SELECT count(*) FROM pull_requests WHERE sync_status = 'complete'") == [(3,)]
    secrets_absent([run.stdout, run.stderr, again.stdout, again.stderr, summary.read_text()], app_key, app)


def test_app_key_from_a_file_and_one_token_per_installation(serve_app, cli, db_path, app_key, tmp_path):
    server, app = serve_app(repository(*merged(1)), repository(*merged(1), name="gears"))
    key_file = tmp_path / "app.pem"
    key_file.write_text(app_key[0])
    env = {"token": None, "app_id": str(APP_ID), "app_private_key_file": str(key_file)}
    run = cli(
        server, "reconcile", "--repos", "acme/widgets,acme/gears", "--db", str(db_path), "--since", "2026-01-01", **env
    )
    assert run.exit_code == 0, run.stderr
    assert len(app.grants) == 1  # both repositories are in the one installation of acme
    assert query(db_path, "SELECT repo, count(*) FROM pull_requests GROUP BY repo ORDER BY repo") == [
        ("acme/gears", 1),
        ("acme/widgets", 1),
    ]


def test_installation_token_is_refreshed_before_it_expires(serve_app, cli, db_path, app_key):
    server, app = serve_app(repository(*merged(3)))
    # Tokens that live less than the refresh margin (5 minutes): a client that kept its first
    # token would send it after its expires_at; ours mints a new one whenever that is near.
    app.token_lifetime_s = 2
    run = cli(
        server,
        "reconcile",
        "--repo",
        "acme/widgets",
        "--db",
        str(db_path),
        "--since",
        "2026-01-01",
        "--json",
        **app_env(app_key),
    )
    assert run.exit_code == 0, run.stderr
    assert run.result["reconcile"]["synced"] == {"complete": 3}
    assert len(app.grants) > 1
    assert app.expired_uses == 0
    secrets_absent([run.stdout, run.stderr], app_key, app)


@pytest.mark.parametrize(("wait", "renewed"), [("60", False), ("1200", True)])
def test_a_longer_rate_limit_wait_renews_tokens_earlier(serve_app, cli, db_path, app_key, wait, renewed):
    """A retry resends the token its request started with, after waiting out a rate limit: with
    --max-rate-limit-wait 1200 a request may take 3 × (1200 + 15) + 15 s ≈ 61 min, more than a
    token's life, so a token must be renewed from 50 minutes before its end (the cap), not 5. With
    tokens of 30 minutes: the default keeps the first token for the whole run; under the long wait
    every request renews it (its 30 minutes are under the 50 minutes that must be left)."""
    server, app = serve_app(repository(*merged(1)))
    app.token_lifetime_s = 30 * 60
    run = cli(
        server, "reconcile", "--repo", "acme/widgets", "--db", str(db_path), "--since", "2026-01-01",
        "--max-rate-limit-wait", wait, "--json", **app_env(app_key),
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert (len(app.grants) > 1) == renewed, len(app.grants)
    assert app.expired_uses == 0


def test_the_refresh_margin_covers_a_request_with_all_its_retries():
    from datetime import timedelta

    from fetcher.collect.credentials import MAX_REFRESH_MARGIN, REFRESH_MARGIN, refresh_margin

    default = ClientSettings("https://api.github.com", "")
    assert refresh_margin(default) == REFRESH_MARGIN  # 3 × (60 + 15) + 15 + 60 s = 5 min
    longer = ClientSettings("https://api.github.com", "", max_rate_limit_wait=300)
    assert refresh_margin(longer) == timedelta(seconds=3 * (300 + 15) + 15 + 60)
    assert refresh_margin(ClientSettings("https://api.github.com", "", max_rate_limit_wait=3600)) == MAX_REFRESH_MARGIN


def test_an_expired_installation_token_is_refused(serve_app, cli, db_path, app_key):
    server, app = serve_app(repository(*merged(1)))
    app.token_lifetime_s = -1  # GitHub never does this; it shows the fake refuses what expired
    run = cli(server, "reconcile", "--repo", "acme/widgets", "--db", str(db_path), **app_env(app_key))
    assert run.exit_code == 1
    assert app.expired_uses > 0
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("mergelens: error: GitHub rejected the token")


def test_a_key_github_does_not_know_is_one_line_and_never_printed(serve_app, cli, db_path, app_key):
    server, app = serve_app(repository(*merged(1)))
    other = rsa_key()  # a valid key, but not this App's
    run = cli(server, "reconcile", "--repo", "acme/widgets", "--db", str(db_path), **app_env(other))
    assert run.exit_code == 1
    assert run.stderr.strip().splitlines() == [
        "mergelens: error: GitHub rejected the GitHub App's JWT (HTTP 401: A JSON web token could not be decoded): "
        "check MERGELENS_APP_ID and MERGELENS_APP_PRIVATE_KEY"
    ]
    assert app.rejected_jwts == 1 and app.grants == []
    secrets_absent([run.stdout, run.stderr], other, app)


READ_SCOPES = {"metadata": "read", "contents": "read", "pull_requests": "read", "issues": "read", "checks": "read"}


def test_installation_tokens_ask_for_the_read_scopes_only(serve_app, cli, db_path, app_key):
    """Without "permissions" in the request GitHub mints a token with everything the App may do;
    mergelens asks for the read scopes, and Issues write only when the digest comments on an issue."""
    repo = repository(*merged(1))
    repo.issues[7] = []
    server, app = serve_app(repo)
    app.permissions = {**READ_SCOPES, "issues": "write", "actions": "write", "administration": "write"}
    run = cli(server, "reconcile", "--repo", "acme/widgets", "--db", str(db_path), **app_env(app_key))
    assert run.exit_code == 0, run.stderr
    assert [grant.requested for grant in app.grants] == [READ_SCOPES]
    with_issue = app_env(app_key, digest_issue="7")
    digest = cli(server, "open-prs", "--repo", "acme/widgets", "--db", str(db_path), **with_issue)
    assert digest.exit_code == 0, digest.stderr
    assert app.grants[-1].requested == {**READ_SCOPES, "issues": "write"} and len(repo.issues[7]) == 1


def test_an_app_without_a_scope_mergelens_asks_for_is_one_line(serve_app, cli, db_path, app_key):
    server, app = serve_app(repository(*merged(1)))  # the README's App: read-only, so no issues: write
    run = cli(server, "open-prs", "--repo", "acme/widgets", "--db", str(db_path), **app_env(app_key, digest_issue="7"))
    assert run.exit_code == 1 and app.grants == []
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("mergelens: error: GitHub refused an installation token with the permissions mergelens")
    assert "issues: write" in line and "not granted to this installation" in line
    secrets_absent([run.stdout, run.stderr], app_key, app)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"app_private_key": "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----"}, "is not"),
        ({"app_id": "my-app"}, "MERGELENS_APP_ID is not a GitHub App id"),
        ({"app_private_key": None}, "without MERGELENS_APP_PRIVATE_KEY"),
        ({"app_private_key_file": "/nonexistent/key.pem"}, "set MERGELENS_APP_PRIVATE_KEY or"),
    ],
)
def test_malformed_app_settings_are_usage_errors(serve_app, cli, db_path, app_key, settings, message):
    server, _ = serve_app(repository(*merged(1)))
    run = cli(server, "reconcile", "--repo", "acme/widgets", "--db", str(db_path), **{**app_env(app_key), **settings})
    assert run.exit_code == 2
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("mergelens: error: ") and message in line
    assert "bm90IGEga2V5" not in run.stderr
    assert server.requests == []


def test_app_not_installed_on_one_repository(serve_app, cli, db_path, app_key):
    elsewhere = repository(*merged(1), owner="umbrella", name="corp")
    server, _ = serve_app(repository(*merged(2)), elsewhere)
    alone = cli(server, "reconcile", "--repo", "umbrella/corp", "--db", str(db_path), **app_env(app_key))
    assert alone.exit_code == 1
    assert alone.stderr.strip().splitlines() == [
        "mergelens: error: the GitHub App is not installed on umbrella/corp, or cannot read it (HTTP 404)"
    ]
    both = cli(
        server, "reconcile", "--repos", "umbrella/corp,acme/widgets", "--db", str(db_path), "--since", "2026-01-01",
        "--json", **app_env(app_key),
    )  # fmt: skip
    assert both.exit_code == 3, both.stderr
    assert both.result["repositories"] == {"failed": ["umbrella/corp"], "complete": ["acme/widgets"]}
    assert query(db_path, "SELECT DISTINCT repo FROM pull_requests") == [("acme/widgets",)]


def test_github_token_still_wins_when_no_app_is_set(serve, cli, db_path):
    server = serve(repository(*merged(1)))
    run = cli(server, "reconcile", "--repo", "acme/widgets", "--db", str(db_path), "--since", "2026-01-01")
    assert run.exit_code == 0, run.stderr


# --- many repositories ----------------------------------------------------------------------------


def test_reconcile_over_three_repositories_one_failing(serve, cli, db_path, tmp_path):
    server = serve(repository(*merged(2)), repository(*merged(3), name="gears"))
    summary = tmp_path / "summary.md"
    run = cli(
        server, "reconcile", "--repos", "acme/widgets,acme/missing,acme/gears", "--db", str(db_path),
        "--since", "2026-01-01", "--json", step_summary=str(summary),
    )  # fmt: skip
    assert run.exit_code == 3, run.stderr
    result = run.result
    assert result["status"] == "partial"
    assert result["repositories"] == {"complete": ["acme/widgets", "acme/gears"], "failed": ["acme/missing"]}
    assert result["repos"]["acme/gears"]["reconcile"]["synced"] == {"complete": 3}
    assert (
        result["repos"]["acme/missing"]["error"] == "could not list the closed PRs of acme/missing: HTTP 404: Not Found"
    )
    errors = [line for line in run.stderr.splitlines() if line.startswith("mergelens: error:")]
    assert errors == ["mergelens: error: could not list the closed PRs of acme/missing: HTTP 404: Not Found"]
    assert "reconcile over 3 repositories: 2 complete, 1 failed; failed: acme/missing" in run.stderr
    assert query(db_path, "SELECT repo, count(*) FROM pull_requests GROUP BY repo ORDER BY repo") == [
        ("acme/gears", 3),
        ("acme/widgets", 2),
    ]
    text = summary.read_text()
    assert "| acme/missing | ❌ failed | could not list the closed PRs of acme/missing: HTTP 404: Not Found |" in text
    assert "### acme/gears\n" in text and "#### Reconcile" in text


def test_every_repository_failing_is_a_failed_run(serve, cli, db_path):
    server = serve(repository(*merged(1)))
    run = cli(server, "reconcile", "--repos", "acme/nope,acme/gone", "--db", str(db_path), "--json")
    assert run.exit_code == 1
    assert run.result["repositories"] == {"failed": ["acme/nope", "acme/gone"]}


def test_single_repository_listing_failure_is_one_line(serve, cli, db_path):
    # before organisation mode this was a traceback (PyGithub's 404 escaped the listing)
    server = serve(repository(*merged(1)))
    run = cli(server, "reconcile", "--repo", "acme/nope", "--db", str(db_path))
    assert run.exit_code == 1
    assert run.stderr.strip().splitlines() == [
        "mergelens: error: could not list the closed PRs of acme/nope: HTTP 404: Not Found"
    ]


def test_backfill_and_open_prs_over_a_repos_file(serve, cli, db_path, tmp_path):
    server = serve(repository(*merged(2)), repository(*merged(1), name="gears"))
    listing = tmp_path / "repos.txt"
    listing.write_text("# the org's services\nacme/widgets\n\nACME/Widgets  # the same, twice\nacme/gears\n")
    run = cli(server, "backfill", "--repos-file", str(listing), "--db", str(db_path), "--json")
    assert run.exit_code == 0, run.stderr
    assert list(run.result["repos"]) == ["acme/widgets", "acme/gears"]
    assert query(db_path, "SELECT count(*) FROM pull_requests WHERE sync_status = 'complete'") == [(3,)]
    snapshot = cli(server, "open-prs", "--repos-file", str(listing), "--db", str(db_path), "--json")
    assert snapshot.exit_code == 0, snapshot.stderr
    assert snapshot.result["repositories"] == {"complete": ["acme/widgets", "acme/gears"]}
    assert query(db_path, "SELECT count(DISTINCT repo) FROM open_pr_snapshot_runs") == [(2,)]


def test_max_minutes_bounds_the_whole_run_so_later_repositories_stop_at_once(serve, cli, db_path):
    """--max-minutes is the whole run's: once the first repository has used it up, the next gets
    0 seconds, which is a deadline already passed (it once read as "no limit" and ran unbounded)."""
    server = serve(repository(*merged(30)), repository(*merged(3), name="gears"))
    server.latency_s = 0.3  # every request sleeps: at least 2 of them pass the 0.6 s below
    run = cli(
        server, "backfill", "--repos", "acme/widgets,acme/gears", "--db", str(db_path),
        "--batch-size", "5", "--max-minutes", "0.01", "--json",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr  # a clean stop, to resume: not a failure
    assert run.result["repositories"] == {"incomplete": ["acme/widgets", "acme/gears"]}
    assert "acme/gears: 0 PRs synced (none)" in run.stderr and run.stderr.count("stopped: time limit reached") == 2
    assert query(db_path, "SELECT count(*) FROM pull_requests WHERE repo = 'acme/gears'") == [(0,)]


def test_org_lists_every_repository_but_the_archived(serve, cli, db_path):
    archived = repository(*merged(1), name="old")
    archived.archived = True
    server = serve(repository(*merged(1)), repository(*merged(1), name="gears"), archived, repository(owner="other"))
    run = cli(server, "reconcile", "--org", "acme", "--db", str(db_path), "--since", "2026-01-01", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.result["repositories"] == {"complete": ["acme/widgets", "acme/gears"]}
    assert [r.query.get("type") for r in server.requests if r.path == "/orgs/acme/repos"] == ["all"]


def test_org_listing_follows_pages(serve):
    repos = [Repository("acme", f"r{i:03}", 1000 + i) for i in range(230)]
    for repo in repos[::7]:
        repo.archived = True
    server = serve(*repos)
    settings = ClientSettings(api_url=server.api_url, token=TOKEN, request_interval=0)
    with GitHubSource(settings) as source:
        names = listed("acme", source.repositories("acme", installation=False))
    assert names == [repo.full_name for repo in repos if not repo.archived]
    assert [r.path for r in server.requests].count("/orgs/acme/repos") == 3  # 100 a page


def test_org_with_an_app_lists_its_installation_repositories(serve_app, cli, db_path, app_key):
    archived = repository(*merged(1), name="old")
    archived.archived = True
    server, app = serve_app(
        repository(*merged(1)),
        repository(*merged(1), name="gears"),
        repository(*merged(1), name="secret"),
        archived,
        selected={101: ["acme/widgets", "acme/gears", "acme/old"]},  # granted these only
    )
    run = cli(
        server,
        "reconcile",
        "--org",
        "acme",
        "--db",
        str(db_path),
        "--since",
        "2026-01-01",
        "--json",
        **app_env(app_key),
    )
    assert run.exit_code == 0, run.stderr
    assert run.result["repositories"] == {"complete": ["acme/widgets", "acme/gears"]}
    assert "/installation/repositories" in server.paths()
    assert len(app.grants) == 1
    secrets_absent([run.stdout, run.stderr], app_key, app)


@pytest.mark.parametrize(
    "argv",
    [
        ["--repos", "acme/widgets,../etc"],
        ["--repos", "acme/.."],
        ["--repos", "acme/widgets,-acme/x"],
        ["--org", "acme/widgets"],
        ["--org", "-acme"],
        ["--repo", "acme/widgets", "--repos", "acme/gears"],
        ["--repos", ","],
    ],
)
def test_invalid_repository_names_are_usage_errors(serve, cli, db_path, argv):
    server = serve(repository(*merged(1)))
    run = cli(server, "reconcile", *argv, "--db", str(db_path))
    assert run.exit_code == 2
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("mergelens: error: ")
    assert server.requests == []
    assert not Path(db_path).exists()


def test_invalid_line_in_a_repos_file(serve, cli, db_path, tmp_path):
    server = serve(repository(*merged(1)))
    listing = tmp_path / "repos.txt"
    listing.write_text("acme/widgets\nacme/widgets; rm -rf /\n")
    run = cli(server, "backfill", "--repos-file", str(listing), "--db", str(db_path))
    assert run.exit_code == 2
    assert run.stderr.strip() == "mergelens: error: --repos-file line 2: 'acme/widgets; rm -rf /' is not OWNER/NAME"
    assert server.requests == []


def test_app_settings_are_read_from_the_environment_without_a_repr(app_key):
    env = Environment.from_environ(
        {"MERGELENS_APP_ID": "4711", "MERGELENS_APP_PRIVATE_KEY": app_key[0], "GITHUB_TOKEN": "x"}
    )
    assert env.app_id == "4711"
    assert env.app_private_key == app_key[0].strip()
    assert "PRIVATE" not in repr(env)
