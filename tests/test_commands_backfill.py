"""`python -m fetcher backfill`: GraphQL batches against the fake GitHub's /graphql (every query
validated against GitHub's published schema), rows identical to `sync`, the points budget, the
checkpoint and --resume, the REST fallback and the adaptive batch size."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest

from fetcher.collect.graphql import batch_query, batch_requests, points
from fetcher.collect.graphql.queries import FRAGMENTS
from tests.conftest import SAMPLES, TABLES, query, table_rows, unavailable
from tests.support.factories import (
    ACTIONS_BOT,
    ALICE,
    BOB,
    CAROL,
    COPILOT,
    DAVE,
    DEPENDABOT,
    GHOST,
    at,
    check_run,
    event,
    issue_comment,
    pull,
    repository,
    review,
    review_comment,
    sha,
)
from tests.support.fake_github import Fault
from tests.support.fake_github.graphql import SCHEMA_PATH, query_cost, validation_errors
from tests.support.fake_github.model import CheckRun, Commit, FileChange, User

REPO = "acme/widgets"
FAST = ["--request-interval", "0", "--retry-backoff", "0.01"]
RUN_COLUMNS = ("run_id", "trigger", "started_at", "finished_at", "api_requests")


@pytest.fixture(autouse=True)
def github_schema() -> None:
    """GitHub's schema beside the checkout (../shared/github-samples), as in CI."""
    if not SCHEMA_PATH.is_file():
        unavailable(f"GitHub's GraphQL schema not found: {SCHEMA_PATH}")


def backfill(cli, server, db, *extra):
    return cli(server, "backfill", "--repo", REPO, "--db", str(db), "--json", *FAST, *extra)


def sync_all(cli, server, db, numbers):
    for number in numbers:
        run = cli(server, "sync", "--repo", REPO, "--pr", str(number), "--db", str(db))
        assert run.exit_code == 0, run.stderr


# Columns where backfill legitimately stores something else than sync (docs/data-contract.md):
# (table, column) -> (why, which side is NULL where they differ).
GRAPHQL_DIFFERS: dict[tuple[str, str], tuple[str, str]] = {
    ("pr_files", "sha"): ("GraphQL's changed files have no blob sha: REST only", "backfill"),
    **{
        ("pull_requests", column): ("a connection each: past backfill's goal of 0.2 points per PR", "backfill")
        for column in ("requested_reviewers", "requested_teams", "assignees")
    },
    ("pr_comments", "is_resolved"): ("REST does not tell whether a review thread was resolved", "sync"),
    ("pr_events", "github_id"): ("GraphQL's timeline events have no database id (reviews, comments do)", "backfill"),
    # Commit.parents is a connection per commit (test_commit_parents_cost_too_much_to_ask_graphql)
    ("pr_commits", "parents"): ("a connection per commit: 1.16 points per PR", "backfill"),
}
KEYS = {
    "pull_requests": "repo, number",
    "pr_files": "repo, pr_number, filename",
    "pr_comments": "repo, comment_type, id",
    "pr_events": "repo, pr_number, seq",
    "pr_commits": "repo, pr_number, sha",
}


def assert_same_tables(backfilled, synced, differs=GRAPHQL_DIFFERS):
    for table in TABLES:
        exclude = {"pull_requests": ("fetched_at",), "pr_metrics": ("computed_at",)}.get(table, ())
        exclude += tuple(column for (t, column) in differs if t == table)
        assert table_rows(backfilled, table, exclude) == table_rows(synced, table, exclude), table
    assert query(synced, "SELECT count(*) FROM pr_commits WHERE parents IS NULL") == [(0,)]
    sql = "SELECT pr_number, sha, parents FROM pr_commits WHERE parents IS NOT NULL ORDER BY ALL"
    read_over_rest = {number for number, _, _ in query(backfilled, sql)}  # a PR backfill read over REST
    assert query(backfilled, sql) == [row for row in query(synced, sql) if row[0] in read_over_rest]
    assert table_rows(backfilled, "sync_runs", RUN_COLUMNS) == table_rows(synced, "sync_runs", RUN_COLUMNS)
    for (table, column), (_, null_side) in differs.items():
        # where the two differ, the documented side is NULL: never two different values
        pairs = query(
            backfilled,
            f"ATTACH '{synced}' AS s (READ_ONLY); SELECT b.{column}, r.{column} FROM {table} b "
            f"JOIN s.{table} r USING ({KEYS[table]}) WHERE b.{column} IS DISTINCT FROM r.{column}",
        )
        assert all((b if null_side == "backfill" else r) is None for b, r in pairs), (table, column, pairs[:3])


def git_commit(when: str, author: User | None, seed: object, email: str | None = None) -> Commit:
    login = author.login if author else "former"
    return Commit(
        sha(seed),
        author,
        login,
        email or f"{login}@example.com",
        at(when),
        at(when),
        f"change {seed}",
    )


def quirky_pulls():
    """PRs covering what differs between GitHub's REST and GraphQL answers."""
    base = at("2026-03-01 00:00")

    # 1. more than one page of everything
    big = pull(10, author=ALICE, created="2026-03-01 08:00", merged="2026-03-05 16:00", title="Big one")
    big.labels = [f"label-{i:03d}" for i in range(101)]
    big.commits = [
        git_commit((base + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M"), ALICE, ("big", i)) for i in range(130)
    ]
    big.head_sha = big.commits[-1].sha
    big.files = [FileChange(f"src/file_{i:03d}.py", "modified", 3, 1) for i in range(300)]
    big.issue_comments = [issue_comment(DAVE, "2026-03-02 11:00", body=f"comment {i}") for i in range(150)]
    big.reviews = [review(BOB, "COMMENTED", "2026-03-02 10:00", body=f"review {i}") for i in range(105)]
    first = big.reviews[0]
    root = review_comment(CAROL, "2026-03-02 10:00", body="long thread")
    root.pull_request_review_id = first.id
    root.start_line, root.original_line, root.side, root.resolved = 8, 7, "LEFT", True
    root.original_commit_id = sha("before the rebase")
    replies = [review_comment(ALICE, "2026-03-02 10:30", body=f"reply {i}", reply_to=root.id) for i in range(120)]
    for reply in replies:
        reply.side = root.side  # a thread's comments share its side
    others = [review_comment(BOB, "2026-03-02 12:00", body=f"thread {i}") for i in range(55)]
    big.review_comments = [root, *replies, *others]  # 56 threads (> one page of 50), one of 121 comments
    big.events = [event("labeled", "2026-03-01 08:30") for _ in range(20)]
    big.check_runs = [check_run(f"shard {i}", big.head_sha) for i in range(105)]  # > one page of runs
    for slug in ("circleci", "codecov", "sonarcloud", "netlify"):  # > 3 suites on the head commit
        run = check_run(f"{slug} check", big.head_sha)
        run.app_slug = slug
        big.check_runs.append(run)

    # 2. bots: dependabot authors, commits with its noreply address, an app approves and merges
    bump = pull(11, author=DEPENDABOT, created="2026-03-03 06:00", merged="2026-03-03 09:00")
    bump.title = "build(deps): bump requests from 2.31.0 to 2.32.0"
    bump.commits = [
        git_commit("2026-03-03 05:59", DEPENDABOT, "bump", email="49699333+dependabot[bot]@users.noreply.github.com")
    ]
    bump.commits[0].committer = User("web-flow", 19864447)
    bump.head_sha = bump.commits[0].sha
    bump.merged_by = ACTIONS_BOT
    bump.reviews = [review(ACTIONS_BOT, "APPROVED", "2026-03-03 06:05", body="Auto-approved")]
    bump.issue_comments = [issue_comment(ACTIONS_BOT, "2026-03-03 06:02", body="coverage 91%")]
    bump.events = [event("review_requested", "2026-03-03 06:01", actor=DEPENDABOT, requested_reviewer=COPILOT)]
    bump.labels = ["dependencies"]
    bump.body = None  # REST null, GraphQL ""
    bump.check_runs = [check_run("build", bump.head_sha)]
    bump.requested_reviewers, bump.requested_teams, bump.assignees = [COPILOT, BOB], ["core", "security"], [ALICE]
    bump.milestone, bump.auto_merge = "v1.0", ("squash", DEPENDABOT)

    # 3. deleted accounts everywhere
    ghost = pull(12, author=GHOST, created="2026-03-04 09:00", merged="2026-03-04 18:00")
    ghost.merged_by = GHOST
    ghost.commits = [git_commit("2026-03-04 08:50", GHOST, "ghost")]
    ghost.head_sha = ghost.commits[0].sha
    ghost.reviews = [review(GHOST, "APPROVED", "2026-03-04 12:00"), review(BOB, "PENDING", None)]
    ghost.review_comments = [review_comment(GHOST, "2026-03-04 12:00")]
    ghost.issue_comments = [issue_comment(GHOST, "2026-03-04 13:00")]
    ghost.events = [event("labeled", "2026-03-04 09:01", actor=GHOST, label="good first issue")]
    ghost.fork, ghost.fork_deleted = "former/widgets", True  # "head.repo": null

    # 4. a draft that went ready, force pushes, re-run checks, a renamed file
    draft = pull(13, author=CAROL, created="2026-03-05 09:00", merged="2026-03-06 15:00")
    draft.commits = [git_commit("2026-03-05 08:00", CAROL, "d1"), git_commit("2026-03-05 14:00", CAROL, "d2")]
    draft.commits[0].signature, draft.commits[1].signature = "valid", "malformed_signature"
    draft.fork = "carol/widgets"
    draft.head_sha = draft.commits[-1].sha
    draft.events = [
        event("convert_to_draft", "2026-03-05 09:05", actor=CAROL),
        event("ready_for_review", "2026-03-05 13:00", actor=CAROL),
        event("review_requested", "2026-03-05 13:01", actor=CAROL, requested_reviewer=BOB),
        event("review_requested", "2026-03-05 13:02", actor=CAROL, requested_team="core"),  # a team
        event("review_request_removed", "2026-03-05 13:03", actor=CAROL, requested_team="core"),
        event("head_ref_force_pushed", "2026-03-05 14:00", actor=CAROL),
        event("head_ref_force_pushed", "2026-03-05 15:00", actor=CAROL),
        event("merged", "2026-03-06 15:00", actor=BOB, commit_id=sha("merge-13")),
        event("closed", "2026-03-06 15:00", actor=BOB, state_reason="completed"),
        event("renamed", "2026-03-05 09:10", actor=CAROL, rename=("WIP", "Split the parser")),
        event("assigned", "2026-03-05 09:11", actor=CAROL, assignee=BOB),
        event("unassigned", "2026-03-05 09:12", actor=CAROL, assignee=DEPENDABOT),
        event("cross-referenced", "2026-03-05 09:13", actor=DAVE, source=("acme/tracker", 42)),
    ]
    draft.reviews = [
        review(BOB, "CHANGES_REQUESTED", "2026-03-05 13:30", body="split this"),
        review(BOB, "APPROVED", "2026-03-06 10:00"),
    ]
    draft.files = [
        FileChange("src/new_name.py", "renamed", 1, 1, previous_filename="src/old_name.py"),
        FileChange("docs/a.md", "added", 10, 0),
        FileChange("docs/b.md", "removed", 0, 7),
    ]
    draft.check_runs = [
        check_run("test", draft.head_sha, "failure", start="2026-03-05 14:02"),  # with an output, below
        check_run("test", draft.head_sha, "success", start="2026-03-05 14:40"),  # a re-run
        CheckRun(7_000_000_001, "lint", draft.head_sha, "in_progress", None, at("2026-03-05 14:03"), None),
    ]

    draft.check_runs[0].output_title, draft.check_runs[0].output_summary = "2 failed", "test_parser failed"

    # 5. past REST's cap of 250 commits
    long = pull(14, author=BOB, created="2026-03-06 09:00", merged="2026-03-08 09:00")
    long.commits = [
        git_commit((base + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M"), BOB, ("long", i)) for i in range(260)
    ]
    long.head_sha = long.commits[-1].sha

    unmerged = pull(15, merged=None)  # open: not backfilled
    return [big, bump, ghost, draft, long, unmerged]


def test_the_fake_validates_with_the_shared_schema(serve):
    assert SCHEMA_PATH == SAMPLES / "github-schema.graphql"
    server = serve(repository(pull(1)))
    errors = validation_errors('query { repository(owner: "a", name: "b") { pullRequest(number: 1) { databaseIdx } } }')
    assert errors and "databaseIdx" in errors[0]
    assert validation_errors('query { repository(owner: "a", name: "b") { pullRequests { totalCount } } }') == []
    # the endpoint answers an invalid query the way GitHub does, and remembers it
    from github import Auth, Github, GithubException

    client = Github(auth=Auth.Token("ghs_fakeTokenThatMustNeverBePrinted0123456789"), base_url=server.api_url)
    with pytest.raises(GithubException):
        client.requester.graphql_query("query { viewer { loginx } }", {})
    assert len(server.invalid_graphql) == 1
    assert len(server.take_defects()) == 1  # (a defect left behind fails the test)


def test_cost_is_computed_like_github():
    # GitHub's documented example: 1 + 100 + 100 x 50 requests -> 51 points
    example = """query { viewer { repositories(first: 100) { edges { repository { issues(first: 50) {
        edges { node { labels(first: 60) { edges { node { name } } } } } } } } } } }"""
    assert query_cost(example)[0] == 51
    assert query_cost("query { viewer { login } }")[0] == 1  # at least one point
    # what the fetcher expects a batch to cost is what the fake charges
    for prs in (1, 6, 25, 50):
        assert query_cost(batch_query(prs, prs))[0] == points(batch_requests(prs, prs))
    assert points(batch_requests(25, 25)) == 4  # 0.16 points per PR


def test_commit_parents_cost_too_much_to_ask_graphql():
    """Commit.parents is a connection under each of a PR's 100 commits: 100 more requests a PR,
    1.16 points instead of 0.16 (the goal is at most 0.2). So backfill stores NULL parents."""
    parents = FRAGMENTS["CommitFields"].replace(
        "on Commit { oid", "on Commit { oid parents(first: 2) { nodes { oid } }"
    )
    with_parents = batch_query(25, 25).replace(FRAGMENTS["CommitFields"], parents)
    assert "parents" not in batch_query(25, 25) and "parents(first: 2)" in with_parents
    assert query_cost(batch_query(25, 25))[0] / 25 == 0.16
    assert query_cost(with_parents)[0] / 25 == 1.16


def test_backfill_rows_equal_sync_rows(serve, cli, tmp_path):
    pulls = quirky_pulls()
    server = serve(repository(*pulls))
    run = backfill(cli, server, tmp_path / "backfill.duckdb")
    assert run.exit_code == 0, run.stderr
    result = run.result
    assert result["status"] == "complete"
    assert result["backfill"]["synced"] == {"complete": 5}
    assert result["backfill"]["over_rest"] == []  # all of it through GraphQL...
    assert result["backfill"]["files_over_rest"] == [13]  # ...but a renamed file's previous name
    assert sorted(server.graphql_pull_requests()) == [10, 11, 12, 13, 14]  # each PR asked for once
    rest = [r.path for r in server.requests if r.method == "GET"]
    assert rest == ["/repos/acme/widgets/pulls/13/files"]

    sync_all(cli, server, tmp_path / "sync.duckdb", [10, 11, 12, 13, 14])
    assert_same_tables(tmp_path / "backfill.duckdb", tmp_path / "sync.duckdb")
    # and the quirks are really in there
    db = tmp_path / "backfill.duckdb"
    assert query(db, "SELECT count(*) FROM pr_commits WHERE pr_number = 10") == [(130,)]
    assert query(db, "SELECT count(*) FROM pr_commits WHERE parents IS NOT NULL") == [(0,)]  # not asked of GraphQL
    assert query(db, "SELECT list(position ORDER BY position) = range(130) FROM pr_commits WHERE pr_number = 10") == [
        (True,)
    ]
    assert query(db, "SELECT count(*) FROM pr_files WHERE pr_number = 10") == [(300,)]
    assert query(db, "SELECT count(*) FROM pr_comments WHERE pr_number = 10") == [(150 + 176,)]
    assert query(db, "SELECT count(*) FROM pr_check_runs WHERE pr_number = 10") == [(109,)]
    assert query(db, "SELECT len(labels) FROM pull_requests WHERE number = 10") == [(101,)]
    assert query(
        db, "SELECT author_login, author_type, merged_by_login, body FROM pull_requests WHERE number = 11"
    ) == [("dependabot[bot]", "Bot", "github-actions[bot]", None)]
    assert query(db, "SELECT author_login, author_type FROM pr_commits WHERE pr_number = 11") == [
        ("dependabot[bot]", "Bot")
    ]
    assert query(db, "SELECT author_login, merged_by_login FROM pull_requests WHERE number = 12") == [(None, None)]
    assert query(db, "SELECT force_pushes FROM pr_metrics WHERE number = 13") == [(2,)]
    assert query(db, "SELECT previous_filename FROM pr_files WHERE status = 'renamed'") == [("src/old_name.py",)]
    assert query(db, "SELECT count(*), truncated_sections FROM pr_commits JOIN pull_requests p "
                 "ON p.number = pr_number WHERE pr_number = 14 GROUP BY ALL") == [(250, ["commits"])]  # fmt: skip
    # schema v3's columns, through GraphQL (equal to sync's above, but for GRAPHQL_DIFFERS)
    assert query(
        db,
        "SELECT milestone, auto_merge_enabled, auto_merge_method, auto_merge_enabled_by_login, author_association, "
        "is_cross_repository, head_repo_full_name, requested_reviewers, requested_teams, assignees "
        "FROM pull_requests WHERE number = 11",
    ) == [("v1.0", True, "squash", "dependabot[bot]", "NONE", False, "acme/widgets", None, None, None)]
    assert query(
        tmp_path / "sync.duckdb",
        "SELECT requested_reviewers, requested_teams, assignees FROM pull_requests WHERE number = 11",
    ) == [(["copilot-pull-request-reviewer[bot]", "bob"], ["core", "security"], ["alice"])]
    assert query(db, "SELECT head_repo_full_name, is_cross_repository FROM pull_requests WHERE number IN (12, 13) "
                 "ORDER BY number") == [(None, True), ("carol/widgets", True)]  # fmt: skip
    assert query(db, "SELECT count(*) FROM pull_requests WHERE github_id IS NULL OR node_id IS NULL "
                 "OR merge_commit_sha IS NULL") == [(0,)]  # fmt: skip
    assert query(
        db,
        "SELECT verified, verification_reason, committer_name FROM pr_commits WHERE pr_number = 13 "
        "ORDER BY authored_at",
    ) == [(True, "valid", "carol"), (False, "malformed_signature", "carol")]
    assert query(
        db,
        "SELECT start_line, original_line, side, original_commit_id, subject_type, is_resolved "
        "FROM pr_comments WHERE body = 'long thread'",
    ) == [(8, 7, "LEFT", sha("before the rebase"), "line", True)]
    assert query(db, "SELECT DISTINCT is_resolved FROM pr_comments WHERE comment_type = 'review' "
                 "AND body LIKE 'reply%'") == [(True,)]  # a reply is in its thread  # fmt: skip
    assert query(db, "SELECT event, label_name, rename_from, rename_to, assignee_login, source_repo, source_number, "
                 "state_reason FROM pr_events WHERE pr_number IN (12, 13) AND event IN ('labeled', 'renamed', "
                 "'assigned', 'unassigned', 'cross-referenced', 'closed') ORDER BY event") == [
        ("assigned", None, None, None, "bob", None, None, None),
        ("closed", None, None, None, None, None, None, "completed"),
        ("cross-referenced", None, None, None, None, "acme/tracker", 42, None),
        ("labeled", "good first issue", None, None, None, None, None, None),
        ("renamed", None, "WIP", "Split the parser", None, None, None, None),
        ("unassigned", None, None, None, "dependabot[bot]", None, None, None),
    ]  # fmt: skip
    assert query(db, "SELECT DISTINCT review_state FROM pr_events WHERE event = 'reviewed' ORDER BY 1") == [
        ("approved",), ("changes_requested",), ("commented",)]  # fmt: skip
    assert query(
        db,
        "SELECT output_title, output_summary, check_suite_id IS NOT NULL, details_url LIKE '%/runs/%' "
        "FROM pr_check_runs WHERE output_title IS NOT NULL",
    ) == [("2 failed", "test_parser failed", True, True)]
    assert query(db, "SELECT count(*) FROM pr_files WHERE patch IS NOT NULL") == [(0,)]  # no --patches


def test_no_query_is_invalid_and_costs_are_reported(serve, cli, tmp_path):
    server = serve(repository(*quirky_pulls()))
    run = backfill(cli, server, tmp_path / "b.duckdb")
    assert run.exit_code == 0, run.stderr
    assert server.graphql_log and not server.invalid_graphql
    charged = sum(record.cost for record in server.graphql_log)
    assert run.result["backfill"]["points"] == charged
    assert server.graphql_budget.remaining == server.graphql_budget.limit - charged


def simple_pulls(count: int):
    pulls = []
    for number in range(1, count + 1):
        pr = pull(number, created="2026-02-01 09:00", merged="2026-02-02 10:00")
        pr.updated_at = pr.merged_at = pr.closed_at = at("2026-02-02 10:00") + timedelta(minutes=number)
        pr.commits = [git_commit("2026-02-01 08:00", ALICE, ("simple", number))]
        pr.head_sha = pr.commits[0].sha
        pr.reviews = [review(BOB, "APPROVED", "2026-02-01 12:00")]
        pr.check_runs = [check_run("test", pr.head_sha)]
        pulls.append(pr)
    return pulls


def test_stops_at_the_floor_and_resume_completes_without_fetching_twice(serve, cli, tmp_path):
    server = serve(repository(*simple_pulls(60)))
    db = tmp_path / "b.duckdb"
    # an hour's budget nearly spent: 1 point to list, then ~4 a batch of 25; the floor keeps 200
    server.set_graphql_points(remaining=208, limit=1000)
    first = backfill(cli, server, db)
    assert first.exit_code == 0, first.stderr
    assert first.result["status"] == "incomplete"
    history = first.result["backfill"]
    assert history["stopped"].startswith("GraphQL points left")
    assert server.graphql_budget.remaining >= 200  # never under the floor
    stored = query(db, "SELECT count(*) FROM pull_requests")[0][0]
    assert 0 < stored < 60
    assert history["remaining"] == 60 - stored
    assert query(db, "SELECT status, prs_synced FROM backfill_checkpoints") == [("stopped", stored)]
    assert query(db, "SELECT count(*) FROM backfill_pending") == [(60 - stored,)]
    assert "stopped: GraphQL points left" in first.stderr

    server.set_graphql_points(remaining=1000, limit=1000)  # the next hour
    second = backfill(cli, server, db, "--resume")
    assert second.exit_code == 0, second.stderr
    assert second.result["status"] == "complete"
    assert second.result["backfill"]["resumed"] == 60 - stored
    assert query(db, "SELECT count(*) FROM pull_requests") == [(60,)]
    assert query(db, "SELECT status FROM backfill_checkpoints") == [("complete",)]
    fetched = server.graphql_pull_requests()
    assert sorted(fetched) == list(range(1, 61))  # every PR exactly once, over both runs
    listings = [r for r in server.graphql_log if "MergedPullRequests" in r.query]
    assert len(listings) == 1  # --resume continued the saved listing instead of listing again
    assert not [r for r in server.requests if r.method == "GET"]  # and never needed REST


def test_budget_caps_the_points_of_a_run(serve, cli, tmp_path):
    server = serve(repository(*simple_pulls(60)))
    run = backfill(cli, server, tmp_path / "b.duckdb", "--budget", "6", "--batch-size", "10")
    assert run.exit_code == 0, run.stderr
    assert run.result["backfill"]["points"] <= 6
    assert run.result["backfill"]["stopped"].startswith("budget of 6 points")
    assert run.result["status"] == "incomplete"
    again = backfill(cli, server, tmp_path / "b.duckdb", "--resume")
    assert again.result["status"] == "complete"
    assert Counter(server.graphql_pull_requests()).most_common(1)[0][1] == 1


def test_a_second_run_skips_what_is_stored(serve, cli, tmp_path):
    pulls = simple_pulls(5)
    server = serve(repository(*pulls))
    db = tmp_path / "b.duckdb"
    assert backfill(cli, server, db).exit_code == 0
    pulls[2].issue_comments.append(issue_comment(CAROL, "2026-02-03 09:00"))
    pulls[2].updated_at = at("2030-01-01 00:00")  # updated on GitHub after our fetch
    server.clear_log()
    run = backfill(cli, server, db)
    assert run.result["backfill"]["up_to_date"] == 4
    assert server.graphql_pull_requests() == [3]
    assert query(db, "SELECT count(*) FROM pr_comments WHERE pr_number = 3") == [(1,)]


def test_since_and_until_select_by_merge_date(serve, cli, tmp_path):
    server = serve(repository(*simple_pulls(5)))  # merged 10:01 .. 10:05 on 2026-02-02
    run = backfill(cli, server, tmp_path / "b.duckdb", "--since", "2026-02-02T10:02", "--until", "2026-02-02T10:04")
    assert run.exit_code == 0, run.stderr
    assert sorted(server.graphql_pull_requests()) == [2, 3]
    none = backfill(cli, server, tmp_path / "c.duckdb", "--since", "2026-02-03")
    assert none.result["backfill"]["synced"] == {} and none.result["status"] == "complete"


@pytest.mark.parametrize("fault", [Fault.server_error(502), Fault(status=404)])
def test_falls_back_to_rest_when_graphql_fails(serve, cli, tmp_path, fault):
    pulls = [pr for pr in quirky_pulls() if pr.number in (11, 12, 13)]
    server = serve(repository(*pulls))
    server.add_fault(r"^/graphql$", *[fault] * 500)
    run = backfill(cli, server, tmp_path / "b.duckdb")
    assert run.exit_code == 0, run.stderr
    history = run.result["backfill"]
    assert history["synced"] == {"complete": 3}
    assert sorted(history["over_rest"]) == [11, 12, 13]
    assert history["graphql_unavailable"]
    assert "over REST" in run.stderr
    sync_all(cli, server, tmp_path / "sync.duckdb", [11, 12, 13])
    assert_same_tables(tmp_path / "b.duckdb", tmp_path / "sync.duckdb")


def test_a_one_off_502_costs_a_retry_not_the_batch(serve, cli, tmp_path):
    server = serve(repository(*simple_pulls(30)))
    server.add_fault(r"^/graphql$", Fault.server_error(502), Fault.server_error(504))
    run = backfill(cli, server, tmp_path / "b.duckdb")
    assert run.result["status"] == "complete"
    assert run.result["backfill"]["over_rest"] == []


def test_batch_shrinks_on_timeouts_and_grows_back(serve, cli, tmp_path):
    server = serve(repository(*simple_pulls(80)))
    server.graphql_max_pull_requests = 8  # bigger queries "time out": 502, points spent
    run = backfill(cli, server, tmp_path / "b.duckdb", "--batch-size", "20")
    assert run.exit_code == 0, run.stderr
    history = run.result["backfill"]
    assert history["synced"] == {"complete": 80} and history["over_rest"] == []
    sizes = history["batch_sizes"]
    assert sizes[:2] == [10, 5]  # 20 -> 502 -> 10 -> 502 -> 5
    assert max(sizes[2:]) > 5  # calm batches grow it back, never again to a size that failed
    assert sizes[-1] <= 8
    timed_out = [r for r in server.graphql_log if r.status == 502]
    assert 2 <= len(timed_out) <= 4, sizes  # it probes upwards, a size that failed is not tried again
    assert all(r.cost > 0 for r in timed_out)  # GitHub charges them too
    failed_sizes = [r.query.count("pullRequest(") for r in timed_out]
    assert len(failed_sizes) == len(set(failed_sizes)) and min(failed_sizes) > 8


def test_graphql_on_github_enterprise_server(serve, cli, tmp_path):
    server = serve(repository(*simple_pulls(3)), api_prefix="/api/v3")
    run = backfill(cli, server, tmp_path / "b.duckdb")
    assert run.exit_code == 0, run.stderr
    assert run.result["backfill"]["over_rest"] == []
    assert sorted(server.graphql_pull_requests()) == [1, 2, 3]


def test_lookback_reconciles_recently_updated_prs(serve, cli, tmp_path):
    pulls = simple_pulls(3)
    server = serve(repository(*pulls))
    db = tmp_path / "b.duckdb"
    assert backfill(cli, server, db).exit_code == 0
    from datetime import UTC, datetime

    pulls[0].updated_at = datetime.now(UTC)  # a comment after the merge
    server.clear_log()
    run = backfill(cli, server, db, "--resume", "--lookback", "7")
    assert run.exit_code == 0, run.stderr
    assert run.result["reconcile"]["prs"] == {"1": "updated after last fetch"}
    assert server.graphql_pull_requests() == [1]


def test_usage_errors(cli, tmp_path):
    run = cli(None, "backfill", "--repo", REPO, "--batch-size", "500", "--db", str(tmp_path / "x.duckdb"))
    assert run.exit_code == 2 and "--batch-size" in run.stderr
    run = cli(None, "backfill", "--repo", REPO, "--since", "yesterday")
    assert run.exit_code == 2


def test_progress_lines_when_not_a_terminal(serve, cli, tmp_path):
    server = serve(repository(*simple_pulls(3)))
    run = backfill(cli, server, tmp_path / "b.duckdb")
    assert "backfill acme/widgets: 3 PRs to sync" in run.stderr
    assert "backfill acme/widgets: 3/3 PRs" in run.stderr
    assert json.loads(run.stdout)["backfill"]["points_per_pr"] is not None


def test_batched_store_writes_what_one_by_one_writes(serve, tmp_path):
    """store.write_pull_requests (backfill's path) against write_pull_request per PR: the same
    tables, including a section that failed (its old rows kept) and a check run two PRs share."""
    from datetime import UTC, datetime

    from fetcher.collect.rest import ClientSettings, GitHubSource
    from fetcher.db import safe_open, store
    from fetcher.extract.records import SectionError

    pulls = simple_pulls(4)
    pulls[3].head_sha = pulls[2].head_sha  # PRs 3 and 4 share a head commit: one check run, keyed by id
    pulls[3].check_runs = []
    server = serve(repository(*pulls))
    client = GitHubSource(ClientSettings(server.api_url, "ghs_fakeTokenThatMustNeverBePrinted0123456789", 0))
    bundles = [client.fetch_pull_request(REPO, pr.number) for pr in pulls]
    again = client.fetch_pull_request(REPO, 1)
    del again.sections["reviews"]
    again.errors.append(SectionError("reviews", 502, "HTTP 502"))

    ids = iter(range(100))

    def run(number):
        now = datetime(2026, 5, 1, tzinfo=UTC)
        return store.SyncRun(f"run-{next(ids)}", REPO, number, "test", now, now)

    now = datetime(2026, 5, 1, tzinfo=UTC)
    with safe_open.open_migrated(tmp_path / "one.duckdb") as con:
        for bundle in [*bundles, again]:
            store.write_pull_request(con, bundle, run(bundle.number), now)
    with safe_open.open_migrated(tmp_path / "many.duckdb") as con:
        store.write_pull_requests(con, [(b, run(b.number), now) for b in bundles])
        store.write_pull_requests(con, [(again, run(1), now), (bundles[1], run(2), now)])
        store.write_pull_request(con, bundles[1], run(2), now)  # (the batch above rewrote #2: same rows)
    for table in (*TABLES, "sync_runs"):
        exclude = ("computed_at",) if table == "pr_metrics" else ()
        if table == "sync_runs":
            assert len(table_rows(tmp_path / "many.duckdb", table)) == 7
            continue
        assert table_rows(tmp_path / "one.duckdb", table, exclude) == table_rows(
            tmp_path / "many.duckdb", table, exclude
        )
    assert query(
        tmp_path / "many.duckdb", "SELECT pr_number FROM pr_check_runs WHERE head_sha = ?", [pulls[2].head_sha]
    ) == [(4,)]
    assert query(
        tmp_path / "many.duckdb", "SELECT sync_status, failed_sections FROM pull_requests WHERE number = 1"
    ) == [("partial", ["reviews"])]
    assert query(tmp_path / "many.duckdb", "SELECT count(*) FROM pr_reviews WHERE pr_number = 1") == [(1,)]
