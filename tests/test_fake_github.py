"""The fake GitHub server answers like GitHub: payload keys, pagination, caps, auth, faults."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import github
import pytest
import requests

from tests.conftest import recorded_sample, shared_data
from tests.support.fake_github import (
    CheckRun,
    Commit,
    FakeGitHub,
    Fault,
    FileChange,
    IssueComment,
    PullRequest,
    RecordedPull,
    RecordedRepository,
    Repository,
    Review,
    ReviewComment,
    TimelineEvent,
    User,
    key_differences,
    take_defects,
)
from tests.support.fake_github.graphql import SCHEMA_PATH

TOKEN = "test-token"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

ALICE = User("alice", 101)
BOB = User("bob", 102)
CAROL = User("carol", 103)
RENOVATE = User("renovate[bot]", 29139614, "Bot")


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def sha(n: int) -> str:
    return f"{n:040x}"


def make_commit(n: int, hours: float, author: User | None = ALICE) -> Commit:
    return Commit(
        sha=sha(n),
        author=author,
        author_name="Alice Example",
        author_email="alice@example.com",
        authored_at=at(hours),
        committed_at=at(hours),
        message=f"commit {n}",
    )


def rich_pull() -> PullRequest:
    """A merged PR with one of everything, including a deleted account and a reply."""
    head = sha(3)
    return PullRequest(
        number=7,
        title="Add the thing",
        user=ALICE,
        created_at=at(0),
        updated_at=at(30),
        head_sha=head,
        body="Adds the thing.",
        draft=False,
        closed_at=at(30),
        merged_at=at(30),
        merged_by=BOB,
        labels=["enhancement", "dependencies"],
        commits=[make_commit(1, 1), make_commit(2, 5, author=None), make_commit(3, 20)],
        files=[
            FileChange("src/thing.py", "modified", 10, 2, patch="@@ -1,2 +1,10 @@\n-a\n+b"),
            FileChange("src/new_name.py", "renamed", 0, 0, previous_filename="src/old_name.py"),
            FileChange("logo.png", "added"),
        ],
        reviews=[
            Review(501, BOB, "CHANGES_REQUESTED", "Please fix", at(3), sha(1)),
            Review(502, CAROL, "COMMENTED", "", at(6), sha(2)),
            Review(503, BOB, "APPROVED", "LGTM", at(25), head),
            Review(504, None, "PENDING", "", None, head),
        ],
        review_comments=[
            ReviewComment(601, BOB, "Rename this", at(3), at(3), "src/thing.py", sha(1), 4, 501),
            ReviewComment(602, ALICE, "Done", at(5), at(5), "src/thing.py", sha(2), 4, 510, in_reply_to_id=601),
        ],
        issue_comments=[
            IssueComment(701, CAROL, "Nice", at(2), at(2)),
            IssueComment(702, None, "from a deleted account", at(4), at(4)),
            IssueComment(703, RENOVATE, "bot noise", at(8), at(8)),
        ],
        events=[
            TimelineEvent(801, "review_requested", ALICE, at(0.5), requested_reviewer=BOB),
            TimelineEvent(802, "ready_for_review", ALICE, at(0.25)),
            TimelineEvent(803, "head_ref_force_pushed", ALICE, at(19), commit_id=head),
            TimelineEvent(804, "merged", BOB, at(30), commit_id=head),
        ],
        check_runs=[
            CheckRun(901, "test", head, conclusion="failure", started_at=at(20), completed_at=at(20.5)),
            CheckRun(902, "test", head, conclusion="success", started_at=at(21), completed_at=at(21.5)),
            CheckRun(903, "lint", head, started_at=at(20), completed_at=at(20.1)),
        ],
    )


def big_pull(number: int, n_commits: int = 0, n_comments: int = 0) -> PullRequest:
    return PullRequest(
        number=number,
        title=f"big {number}",
        user=ALICE,
        created_at=at(0),
        updated_at=at(number),
        head_sha=sha(10_000 + n_commits),
        commits=[make_commit(10_000 + i, i / 100) for i in range(1, n_commits + 1)],
        issue_comments=[IssueComment(20_000 + i, BOB, f"c{i}", at(i), at(i)) for i in range(n_comments)],
    )


def make_repo() -> Repository:
    repo = Repository(owner="octo", name="widgets", id=4242)
    repo.add_pull(rich_pull())
    repo.add_pull(big_pull(8, n_commits=300))
    repo.add_pull(big_pull(9, n_comments=250))
    return repo


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    with FakeGitHub([make_repo()], token=TOKEN) as fake:
        yield fake


def get(fake: FakeGitHub, path: str, token: str | None = TOKEN, **params: Any) -> requests.Response:
    headers = {"Authorization": f"token {token}"} if token else {}
    url = path if path.startswith("http") else f"{fake.api_url}{path}"
    return requests.get(url, headers=headers, params=params, timeout=10)


def sample(name: str) -> Any:
    return recorded_sample(name)


def assert_all_items_match(
    items: list[dict[str, Any]], recorded: dict[str, Any], allowed: frozenset[str] = frozenset()
):
    assert items
    for item in items:
        diffs = [d for d in key_differences(item, recorded) if d not in allowed]
        assert diffs == [], f"item {item.get('id', item.get('sha', item.get('filename')))}: {diffs}"


# --- key parity with the recorded samples ----------------------------------------------------


def test_pull_keys_match_sample(server: FakeGitHub) -> None:
    body = get(server, "/repos/octo/widgets/pulls/7").json()
    assert key_differences(body, sample("pull.json")) == []
    assert body["url"] == f"{server.api_url}/repos/octo/widgets/pulls/7"
    assert body["issue_url"] == f"{server.api_url}/repos/octo/widgets/issues/7"
    assert body["merged"] is True and body["merged_by"]["login"] == "bob"
    assert (body["commits"], body["additions"], body["deletions"], body["changed_files"]) == (3, 10, 2, 3)
    assert body["merged_at"] == "2026-03-02T18:00:00Z"


def test_unmerged_pull_has_null_merged_by(server: FakeGitHub) -> None:
    body = get(server, "/repos/octo/widgets/pulls/8").json()
    assert body["merged"] is False and body["merged_by"] is None and body["merged_at"] is None
    assert body["commits"] == 300  # the full count, although the commits list stops at 250


def test_commit_keys_match_sample(server: FakeGitHub) -> None:
    items = get(server, "/repos/octo/widgets/pulls/7/commits").json()
    assert_all_items_match(items, sample("pull_commits.json")[0])
    assert [c["sha"] for c in items] == [sha(1), sha(2), sha(3)]
    assert items[1]["author"] is None  # an unlinked or deleted account
    assert items[0]["parents"][0]["sha"] == "0" * 40 and items[1]["parents"][0]["sha"] == sha(1)


def test_file_keys_match_sample(server: FakeGitHub) -> None:
    items = get(server, "/repos/octo/widgets/pulls/7/files").json()
    modified, renamed, binary = items
    assert key_differences(modified, sample("pull_files.json")[0]) == []
    assert key_differences(renamed, sample("pull_files.json")[0]) == [
        "missing $.patch",
        "extra $.previous_filename",
    ]
    assert renamed["previous_filename"] == "src/old_name.py"
    assert "patch" not in binary and "previous_filename" not in binary


def test_review_keys_match_samples(server: FakeGitHub) -> None:
    items = get(server, "/repos/octo/widgets/pulls/7/reviews").json()
    submitted, pending = items[:3], items[3]
    # pull_reviews.json (2021) minus the full-media-type fields is today's default shape.
    full = sample("pull_reviews.json")[0]
    default_media = {k: v for k, v in full.items() if k not in ("body_html", "body_text")}
    assert_all_items_match(submitted, default_media)
    # The 2018 recording predates node_id on reviews and users; otherwise the same keys.
    assert_all_items_match(
        submitted,
        sample("pull_reviews_with_approval.json")[0],
        allowed=frozenset({"extra $.node_id", "extra $.user.node_id"}),
    )
    assert [r["state"] for r in items] == ["CHANGES_REQUESTED", "COMMENTED", "APPROVED", "PENDING"]
    assert "submitted_at" not in pending and pending["user"] is None


def test_review_comment_keys_match_sample(server: FakeGitHub) -> None:
    top, reply = get(server, "/repos/octo/widgets/pulls/7/comments").json()
    recorded = sample("pull_review_comments.json")[0]
    assert key_differences(top, recorded) == []
    assert key_differences(reply, recorded) == ["extra $.in_reply_to_id"]
    assert reply["in_reply_to_id"] == 601


def test_issue_comment_keys_match_sample(server: FakeGitHub) -> None:
    items = get(server, "/repos/octo/widgets/issues/7/comments").json()
    assert_all_items_match(items, sample("issue_comments.json")[0])
    assert [c["user"] and c["user"]["login"] for c in items] == ["carol", None, "renovate[bot]"]
    assert items[2]["user"]["type"] == "Bot"
    assert items[0]["html_url"].endswith("/octo/widgets/pull/7#issuecomment-701")


def test_check_run_keys_match_sample(server: FakeGitHub) -> None:
    body = get(server, f"/repos/octo/widgets/commits/{sha(3)}/check-runs", filter="all").json()
    assert key_differences(body, sample("check_runs.json")) == []
    assert_all_items_match(body["check_runs"], sample("check_runs.json")["check_runs"][0])


# --- behaviour of the endpoints --------------------------------------------------------------


def test_check_runs_filter_latest_keeps_newest_run_per_name(server: FakeGitHub) -> None:
    latest = get(server, f"/repos/octo/widgets/commits/{sha(3)}/check-runs").json()
    assert latest["total_count"] == 2
    assert sorted((r["name"], r["id"], r["conclusion"]) for r in latest["check_runs"]) == [
        ("lint", 903, "success"),
        ("test", 902, "success"),
    ]
    everything = get(server, f"/repos/octo/widgets/commits/{sha(3)}/check-runs", filter="all").json()
    assert everything["total_count"] == 3
    unknown = get(server, f"/repos/octo/widgets/commits/{'f' * 40}/check-runs")
    assert unknown.status_code == 422


def test_timeline_is_chronological_with_synthesised_items(server: FakeGitHub) -> None:
    items = get(server, "/repos/octo/widgets/issues/7/timeline", per_page=100).json()
    kinds = [i["event"] for i in items]
    assert kinds == [
        "ready_for_review",  # 0.25h
        "review_requested",  # 0.5h
        "committed",  # 1h
        "commented",  # 2h
        "reviewed",  # 3h
        "commented",  # 4h
        "committed",  # 5h
        "reviewed",  # 6h
        "commented",  # 8h
        "head_ref_force_pushed",  # 19h
        "committed",  # 20h
        "reviewed",  # 25h (the pending review is not shown)
        "merged",  # 30h
    ]
    by_kind = {i["event"]: i for i in items}
    assert set(by_kind["committed"]) == {
        "sha", "node_id", "url", "html_url", "author", "committer", "tree",
        "message", "parents", "verification", "event",
    }  # fmt: skip
    assert "actor" not in by_kind["committed"] and "created_at" not in by_kind["committed"]
    assert by_kind["reviewed"]["state"] == "approved" and items[4]["state"] == "changes_requested"
    assert set(by_kind["ready_for_review"]) == {
        "id", "node_id", "url", "actor", "event", "commit_id", "commit_url",
        "created_at", "performed_via_github_app",
    }  # fmt: skip
    requested = by_kind["review_requested"]
    assert requested["requested_reviewer"]["login"] == "bob" and requested["review_requester"]["login"] == "alice"
    assert items[5]["actor"] is None and items[5]["user"] is None  # comment by a deleted account


def test_live_state_is_served(server: FakeGitHub) -> None:
    pr = server.repos[0].pulls[7]
    pr.issue_comments.pop(0)
    pr.review_comments[0].body = "edited"
    assert [c["id"] for c in get(server, "/repos/octo/widgets/issues/7/comments").json()] == [702, 703]
    assert get(server, "/repos/octo/widgets/pulls/7/comments").json()[0]["body"] == "edited"


def test_list_pulls_by_updated_desc(server: FakeGitHub) -> None:
    resp = get(server, "/repos/octo/widgets/pulls", state="closed", sort="updated", direction="desc")
    assert [p["number"] for p in resp.json()] == [7, 9, 8]
    assert "merged" not in resp.json()[0]  # list items are "pull-request-simple"


def test_unknown_things_are_404(server: FakeGitHub) -> None:
    for path in [
        "/repos/octo/nope",
        "/repos/octo/widgets/pulls/99",
        "/repos/octo/widgets/pulls/99/files",
        "/nope",
    ]:
        resp = get(server, path)
        assert resp.status_code == 404, path
        assert resp.json()["message"] == "Not Found"
    assert get(server, "/repos/OCTO/Widgets").json()["full_name"] == "octo/widgets"  # case-insensitive


# --- pagination and caps ---------------------------------------------------------------------


def test_link_pagination_over_250_items(server: FakeGitHub) -> None:
    first = get(server, "/repos/octo/widgets/issues/9/comments", per_page=100)
    assert len(first.json()) == 100
    assert first.links["next"]["url"] == (f"{server.api_url}/repos/octo/widgets/issues/9/comments?per_page=100&page=2")
    assert first.links["last"]["url"].endswith("per_page=100&page=3")
    assert "prev" not in first.links and "first" not in first.links
    second = get(server, first.links["next"]["url"])
    assert set(second.links) == {"prev", "next", "last", "first"}
    third = get(server, second.links["next"]["url"])
    assert len(third.json()) == 50 and set(third.links) == {"prev", "first"}
    ids = [c["id"] for page in (first, second, third) for c in page.json()]
    assert ids == [20_000 + i for i in range(250)]


def test_default_per_page_is_30_and_max_100(server: FakeGitHub) -> None:
    assert len(get(server, "/repos/octo/widgets/issues/9/comments").json()) == 30
    assert len(get(server, "/repos/octo/widgets/issues/9/comments", per_page=500).json()) == 100


def test_no_link_header_when_one_page(server: FakeGitHub) -> None:
    resp = get(server, "/repos/octo/widgets/pulls/7/commits", per_page=100)
    assert "Link" not in resp.headers


def test_pull_commits_capped_at_250(server: FakeGitHub) -> None:
    shas: list[str] = []
    url = f"{server.api_url}/repos/octo/widgets/pulls/8/commits?per_page=100"
    while url:
        resp = get(server, url)
        shas += [c["sha"] for c in resp.json()]
        url = resp.links.get("next", {}).get("url")
    assert len(shas) == 250
    assert shas == [sha(10_000 + i) for i in range(1, 251)]  # oldest first, the rest cut off


# --- auth, rate limits, faults, log ----------------------------------------------------------


def test_bad_credentials(server: FakeGitHub) -> None:
    for token in (None, "wrong"):
        resp = get(server, "/repos/octo/widgets", token=token)
        assert resp.status_code == 401
        assert resp.json()["message"] == "Bad credentials" and resp.json()["status"] == "401"
    bearer = requests.get(
        f"{server.api_url}/repos/octo/widgets", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert bearer.status_code == 200


def test_no_token_check_when_token_is_none() -> None:
    with FakeGitHub([make_repo()], token=None) as fake:
        assert get(fake, "/repos/octo/widgets", token=None).status_code == 200


@pytest.mark.parametrize("status", [403, 429])
def test_primary_rate_limit(server: FakeGitHub, status: int) -> None:
    server.rate_limit_remaining = 2
    server.rate_limit_reset = 2_000_000_000
    server.rate_limit_status = status
    ok = get(server, "/repos/octo/widgets")
    assert ok.status_code == 200 and ok.headers["x-ratelimit-remaining"] == "1"
    assert ok.headers["x-ratelimit-used"] == "4999" and ok.headers["x-ratelimit-resource"] == "core"
    assert get(server, "/repos/octo/widgets").headers["x-ratelimit-remaining"] == "0"
    limited = get(server, "/repos/octo/widgets")
    assert limited.status_code == status
    assert limited.json()["message"].startswith("API rate limit exceeded")
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert limited.headers["x-ratelimit-reset"] == "2000000000"


def test_rate_limit_window_restarts_after_reset(server: FakeGitHub) -> None:
    server.rate_limit_remaining = 0
    server.rate_limit_reset = 1  # long past
    resp = get(server, "/repos/octo/widgets")
    assert resp.status_code == 200 and resp.headers["x-ratelimit-remaining"] == "4999"


def test_fault_sequence_then_success(server: FakeGitHub) -> None:
    server.add_fault(r"/pulls/7/files$", Fault(status=502), Fault.secondary_rate_limit(retry_after=3), Fault.dropped())
    path = "/repos/octo/widgets/pulls/7/files"
    assert get(server, path).status_code == 502
    limited = get(server, path)
    assert limited.status_code == 403 and limited.headers["retry-after"] == "3"
    assert limited.json()["message"].startswith("You have exceeded a secondary rate limit")
    assert limited.headers["x-github-request-id"] in limited.json()["message"]
    with pytest.raises(requests.ConnectionError):
        get(server, path)
    assert get(server, path).status_code == 200
    assert get(server, "/repos/octo/widgets/pulls/7").status_code == 200  # other paths unaffected
    assert [r.status for r in server.requests] == [502, 403, 0, 200, 200]
    assert server.pending_faults() == 0


def test_request_log(server: FakeGitHub) -> None:
    get(server, "/repos/octo/widgets/pulls/7/commits", per_page=100)
    get(server, "/repos/octo/widgets", token="wrong")
    first, second = server.requests
    assert (first.method, first.path, first.query, first.status) == (
        "GET",
        "/repos/octo/widgets/pulls/7/commits",
        {"per_page": "100"},
        200,
    )
    assert second.status == 401 and first.request_id != second.request_id
    assert TOKEN not in repr(server.requests)
    server.clear_log()
    assert server.requests == []


def test_ghes_api_prefix() -> None:
    with FakeGitHub([make_repo()], token=TOKEN, api_prefix="/api/v3") as fake:
        assert fake.api_url == f"http://127.0.0.1:{fake.port}/api/v3"
        resp = get(fake, "/repos/octo/widgets/issues/9/comments", per_page=100)
        assert resp.status_code == 200
        assert resp.links["next"]["url"].startswith(f"{fake.api_url}/repos/octo/widgets/issues/9/comments?")
        assert resp.json()[0]["url"].startswith(f"{fake.api_url}/repos/")
        unprefixed = requests.get(
            f"{fake.base_url}/repos/octo/widgets", headers={"Authorization": f"token {TOKEN}"}, timeout=10
        )
        assert unprefixed.status_code == 404
        assert [r.path for r in fake.requests] == [
            "/repos/octo/widgets/issues/9/comments",
            "/repos/octo/widgets",
        ]


# --- PyGithub against the fake ---------------------------------------------------------------


def pygithub(fake: FakeGitHub, *, lazy: bool = False) -> github.Github:
    return github.Github(
        auth=github.Auth.Token(TOKEN),
        base_url=fake.api_url,
        per_page=100,
        seconds_between_requests=0,
        lazy=lazy,
    )


# get_repo(..., lazy=True) is deprecated in PyGithub 2.10 in favour of Github(lazy=True).
@pytest.mark.filterwarnings("ignore:Argument lazy is deprecated:DeprecationWarning")
@pytest.mark.parametrize("prefix", ["", "/api/v3"])
def test_pygithub_iterates_commits_across_pages(prefix: str) -> None:
    with FakeGitHub([make_repo()], token=TOKEN, api_prefix=prefix) as fake:
        pull = pygithub(fake).get_repo("octo/widgets", lazy=True).get_pull(8)
        shas = [c.sha for c in pull.get_commits()]
        assert len(shas) == 250 and shas[0] == sha(10_001)
        # A lazy repository makes get_pull lazy too: only the three pages are requested.
        assert fake.paths() == ["/repos/octo/widgets/pulls/8/commits"] * 3
        assert [r.query for r in fake.requests] == [
            {"per_page": "100"},
            {"per_page": "100", "page": "2"},
            {"per_page": "100", "page": "3"},
        ]


def test_pygithub_reads_every_section(server: FakeGitHub) -> None:
    repo = pygithub(server).get_repo("octo/widgets")
    pull = repo.get_pull(7)
    assert pull.merged_by.login == "bob" and pull.user.type == "User"
    assert [f.filename for f in pull.get_files()] == ["src/thing.py", "src/new_name.py", "logo.png"]
    assert [r.state for r in pull.get_reviews()] == ["CHANGES_REQUESTED", "COMMENTED", "APPROVED", "PENDING"]
    assert [c.id for c in pull.get_review_comments()] == [601, 602]
    assert [c.user.login if c.user else None for c in pull.get_issue_comments()] == [
        "carol",
        None,
        "renovate[bot]",
    ]
    assert [e.event for e in pull.get_issue_timeline()][:2] == ["ready_for_review", "review_requested"]
    runs = repo.get_commit(sha(3)).get_check_runs()
    assert sorted(r.name for r in runs) == ["lint", "test"]
    assert all(r.status == 200 for r in server.requests)


@pytest.mark.parametrize(
    ("fault", "status"),
    [(Fault(status=502), 502), (Fault.dropped(), 0), (Fault.secondary_rate_limit(retry_after=1), 403)],
)
def test_pygithub_retries_transient_faults(server: FakeGitHub, fault: Fault, status: int) -> None:
    server.add_fault(r"/pulls/7$", fault)
    assert pygithub(server, lazy=True).get_repo("octo/widgets").get_pull(7).title == "Add the thing"
    assert [r.status for r in server.requests] == [status, 200]


def test_a_pr_without_commits_serves_empty_lists():
    from tests.support.factories import pull, repository

    with FakeGitHub([repository(pull(3))], token=None) as server:
        for path in ("pulls/3/commits", "issues/3/timeline"):
            answer = requests.get(f"{server.api_url}/repos/acme/widgets/{path}", timeout=10)
            assert answer.status_code == 200, answer.text
            assert answer.json() == []


# --- recorded repositories: real payloads served as they were recorded --------------------------


def recorded_repo() -> RecordedRepository:
    """A recorded-looking PR: odd keys the model never builds, api.github.com URLs, 5 commits."""
    api = "https://api.github.com/repos/rec/orded"
    pull = {
        "number": 5,
        "url": f"{api}/pulls/5",
        "issue_url": f"{api}/issues/5",
        "html_url": "https://github.com/rec/orded/pull/5",
        "head": {"sha": sha(55), "repo": None},  # a fork deleted after the merge
        "user": {"login": "old-timer", "id": 1},  # 2012: no "type"
        "merged_at": "2012-05-27T10:29:07Z",
    }
    commits = [{"sha": sha(i), "author": None, "commit": {"message": f"m{i}"}} for i in range(5)]
    runs = [{"id": 9, "head_sha": sha(66), "name": "test"}]  # its own head_sha, served as recorded
    return RecordedRepository("rec", "orded", {5: RecordedPull(pull, commits=commits, check_runs=runs)})


@pytest.mark.parametrize("prefix", ["", "/api/v3"])
def test_recorded_repository_serves_payloads_verbatim(prefix: str) -> None:
    recorded = recorded_repo()
    with FakeGitHub([make_repo(), recorded], token=TOKEN, api_prefix=prefix) as fake:
        pull = get(fake, "/repos/rec/orded/pulls/5").json()
        # The PR's own API URLs (followed by PyGithub) lead to the fake; every other field is as recorded.
        assert pull["url"] == f"{fake.api_url}/repos/rec/orded/pulls/5"
        assert pull["issue_url"] == f"{fake.api_url}/repos/rec/orded/issues/5"
        assert {k: v for k, v in pull.items() if k not in ("url", "issue_url")} == {
            k: v for k, v in recorded.pulls[5].pull.items() if k not in ("url", "issue_url")
        }
        first = get(fake, "/repos/rec/orded/pulls/5/commits", per_page=2)
        assert first.json() == recorded.pulls[5].commits[:2]
        assert first.links["next"]["url"] == f"{fake.api_url}/repos/rec/orded/pulls/5/commits?per_page=2&page=2"
        assert first.links["last"]["url"].endswith("page=3")
        last = get(fake, "/repos/rec/orded/pulls/5/commits", per_page=2, page=3)
        assert last.json() == recorded.pulls[5].commits[4:] and "next" not in last.links
        runs = get(fake, f"/repos/rec/orded/commits/{sha(55)}/check-runs", filter="latest").json()
        assert runs == {"total_count": 1, "check_runs": recorded.pulls[5].check_runs}
        assert get(fake, f"/repos/rec/orded/commits/{sha(66)}/check-runs").status_code == 422
        for path in ("pulls/5/files", "pulls/5/reviews", "pulls/5/comments", "issues/5/comments", "issues/5/timeline"):
            answer = get(fake, f"/repos/rec/orded/{path}")
            assert (answer.status_code, answer.json()) == (200, []), path  # not recorded: empty
        for path in ("/repos/rec/orded", "/repos/rec/orded/pulls/6", "/repos/rec/orded/pulls"):
            assert get(fake, path).status_code == 404, path  # no recording to answer from
        # The model's repository beside it is served as before.
        assert get(fake, "/repos/octo/widgets/pulls/7").json()["title"] == "Add the thing"


def test_pygithub_follows_a_recorded_pr_to_the_fake() -> None:
    with FakeGitHub([recorded_repo()], token=TOKEN) as fake:
        # As the fetcher does: a lazy client, the PR completed (fetched), its lists from its URLs.
        pull = pygithub(fake, lazy=True).get_repo("rec/orded").get_pull(5).complete()
        assert pull.url == f"{fake.api_url}/repos/rec/orded/pulls/5"
        assert [c.sha for c in pull.get_commits()] == [sha(i) for i in range(5)]
        assert [c.id for c in pull.get_issue_comments()] == []
        assert fake.paths() == [
            "/repos/rec/orded/pulls/5",
            "/repos/rec/orded/pulls/5/commits",
            "/repos/rec/orded/issues/5/comments",
        ]


# --- strict: what the fake does not model fails the test --------------------------------------


def graphql(fake: FakeGitHub, query: str) -> dict[str, Any]:
    reply = requests.post(
        f"{fake.api_url}/graphql", json={"query": query}, headers={"Authorization": f"token {TOKEN}"}, timeout=120
    )
    assert reply.status_code == 200
    return reply.json()


REVIEWS = (
    'query { repository(owner: "octo", name: "widgets") '
    "{ pullRequest(number: 7) { reviews(%s) { nodes { state } } } } }"
)


def test_a_graphql_argument_the_fake_does_not_model_is_an_error_and_a_defect(server: FakeGitHub) -> None:
    shared_data(SCHEMA_PATH)
    every = graphql(server, REVIEWS % "first: 100")
    states = [review["state"] for review in every["data"]["repository"]["pullRequest"]["reviews"]["nodes"]]
    assert "errors" not in every and "APPROVED" in states and set(states) != {"APPROVED"}
    assert server.defects() == []
    # valid against GitHub's schema, but the fake would answer every review, approved or not
    approved = graphql(server, REVIEWS % "first: 100, states: [APPROVED]")
    assert approved["data"]["repository"]["pullRequest"]["reviews"] is None
    assert "does not model the argument(s) states of PullRequest.reviews" in approved["errors"][0]["message"]
    defects = server.take_defects()
    assert len(defects) == 1 and "states of PullRequest.reviews" in defects[0]


def test_a_rest_query_parameter_the_fake_does_not_model_is_a_500_and_a_defect(server: FakeGitHub) -> None:
    assert get(server, "/repos/octo/widgets/pulls", state="all", sort="updated").status_code == 200
    reply = get(server, "/repos/octo/widgets/pulls", state="all", labels="bug")  # GitHub would ignore it
    assert reply.status_code == 500 and "query parameter(s) labels" in reply.json()["message"]
    assert get(server, "/rate_limit", verbose="1").status_code == 500
    defects = server.take_defects()
    assert len(defects) == 2 and "labels of /repos/octo/widgets/pulls" in defects[0] and "/rate_limit" in defects[1]


def test_a_defect_fails_whichever_server_met_it() -> None:
    """The fixture that ends every test (tests/conftest.py) sees every server of the process;
    a server used as a context manager raises on exit."""
    fake = FakeGitHub([make_repo()], token=TOKEN).start()  # neither `serve` nor `with`
    try:
        assert get(fake, "/repos/octo/widgets/pulls/7/files", sort="size").status_code == 500
    finally:
        fake.stop()
    left = take_defects()  # what tests/conftest.py's fake_github_defects checks after the test
    assert len(left) == 1 and "sort of /repos/octo/widgets/pulls/7/files" in left[0]
    with pytest.raises(AssertionError, match="fake_github met defects"), FakeGitHub([make_repo()], token=TOKEN) as fake:
        assert get(fake, "/repos/octo/widgets", fields="name").status_code == 500
    assert take_defects() == []  # taken by the raise
