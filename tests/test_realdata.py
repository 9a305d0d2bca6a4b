"""Real GitHub data through the real fetcher: every merged PR of two recorded public repositories
(panjf2000/ants as Apache DevLake recorded it, two PRs of PyGithub/PyGithub as PyGithub recorded
them; ``../shared/realdata``) is synced from the fake GitHub, which serves the recorded payloads
verbatim, into a real DuckDB file. Each stored column is compared with the recorded field it comes
from (docs/data-contract.md), for every row of every table the fetcher writes.

The expected rows are built here from the contract, not with ``fetcher/extract/records.py``: a column that
the fetcher fills from the wrong field, or not at all, fails on its own (one test per column)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from fetcher.cli import main
from fetcher.compute import metrics
from fetcher.compute.rules import use_rules
from fetcher.config import Environment
from tests.conftest import FAST, REALDATA, TOKEN, environment, query, shared_data
from tests.support.fake_github import FakeGitHub, RecordedPull, RecordedRepository
from tests.support.realdata import ANTS, PYGITHUB, load_ants, load_pygithub, merged_pulls
from tests.test_extract_records import V3_COLUMNS

Json = dict[str, Any]
Key = tuple[Any, ...]


@dataclass
class Synced:
    db: Path
    repos: list[RecordedRepository]
    results: dict[tuple[str, int], tuple[int, Json]]  # (repo, number) -> exit code, --json result
    requests: list[tuple[str, int]]  # (path, status) of every request the fetcher made


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """Every merged PR of both recordings synced once, with ``python -m fetcher sync`` in-process."""
    repos = [load_ants(shared_data(REALDATA / ANTS)), load_pygithub(shared_data(REALDATA / PYGITHUB))]
    db = tmp_path_factory.mktemp("realdata") / "mergelens.duckdb"
    results: dict[tuple[str, int], tuple[int, Json]] = {}
    with FakeGitHub(list(repos), token=TOKEN) as server:
        for repo in repos:
            for pull in merged_pulls(repo):
                argv = ["sync", "--repo", repo.full_name, "--pr", str(pull.number), "--db", str(db), "--json", *FAST]
                out = io.StringIO()
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                    code = main(argv, environment(server))
                results[repo.full_name, pull.number] = (code, json.loads(out.getvalue()))
        requests = [(record.path, record.status) for record in server.requests]
    yield Synced(db, repos, results, requests)


# --- what the recording says each column holds (docs/data-contract.md) ------------------------


GHOST = {"login": "ghost", "id": 10137}  # GitHub's stand-in for a deleted account (REST timeline)


def is_ghost(user: Json | None) -> bool:
    return user is not None and (user["login"], user["id"]) == (GHOST["login"], GHOST["id"])


def login(user: Json | None) -> str | None:
    return user["login"] if user and not is_ghost(user) else None  # a deleted account: NULL


def user_type(user: Json | None) -> str | None:
    return user.get("type") if user and not is_ghost(user) else None  # 2012 user objects have no "type"


def deleted(holder: Json, key: str) -> bool:
    """An account is expected there (the key is sent) and it is null or the ghost user."""
    return key in holder and (holder[key] is None or is_ghost(holder[key]))


def instant(value: str | None) -> datetime | None:
    """The same instant, whatever UTC offset GitHub wrote it with (git dates keep the author's)."""
    return datetime.fromisoformat(value) if value else None


def pull_request_columns(repo: str, pull: RecordedPull) -> dict[Key, Json]:
    pr = pull.pull
    row = {
        "title": pr["title"],
        "body": pr["body"],
        "author_login": login(pr["user"]),
        "author_type": user_type(pr["user"]),
        "author_deleted": deleted(pr, "user"),
        "state": pr["state"],
        "draft": pr["draft"],
        "base_ref": pr["base"]["ref"],
        "head_ref": pr["head"]["ref"],
        "head_sha": pr["head"]["sha"],
        "base_sha": pr["base"]["sha"],
        "created_at": instant(pr["created_at"]),
        "updated_at": instant(pr["updated_at"]),
        "closed_at": instant(pr["closed_at"]),
        "merged_at": instant(pr["merged_at"]),
        # A PR item of the list (ants) has none of these: not recorded, NULL.
        "merged_by_login": login(pr.get("merged_by")),
        "merged_by_deleted": pr["merged_at"] is not None and deleted(pr, "merged_by"),
        "additions": pr.get("additions"),
        "deletions": pr.get("deletions"),
        "changed_files": pr.get("changed_files"),
        "commits_count": pr.get("commits"),
        "labels": [label["name"] for label in pr["labels"]],
        "html_url": pr["html_url"],
        "sync_status": "complete",
        "failed_sections": [],
        "truncated_sections": [],
        # schema v3
        "github_id": pr["id"],
        "node_id": pr["node_id"],
        "merge_commit_sha": pr["merge_commit_sha"],
        "author_association": pr["author_association"],
        "requested_reviewers": [user["login"] for user in pr["requested_reviewers"]],
        "requested_teams": [team.get("slug") for team in pr["requested_teams"]],  # PyGithub #31: {"id": 123}
        "assignees": [user["login"] for user in pr["assignees"]],
        "milestone": (pr["milestone"] or {}).get("title"),  # PyGithub #31 records {"number": 1}
        "head_repo_full_name": pr["head"]["repo"]["full_name"] if pr["head"]["repo"] else None,  # null: fork deleted
        "is_cross_repository": pr["head"]["repo"] is None or pr["head"]["repo"]["id"] != pr["base"]["repo"]["id"],
        # older recordings have no auto_merge key at all: not recorded, NULL
        "auto_merge_enabled": pr["auto_merge"] is not None if "auto_merge" in pr else None,
        "auto_merge_method": (pr.get("auto_merge") or {}).get("merge_method"),
        "auto_merge_enabled_by_login": login((pr.get("auto_merge") or {}).get("enabled_by")),
    }
    return {(repo, pull.number): row}


def commit_columns(repo: str, pull: RecordedPull) -> dict[Key, Json]:
    return {
        (repo, pull.number, c["sha"]): {
            "position": position,  # GitHub's order, oldest first
            "parents": [parent["sha"] for parent in c["parents"]],
            "author_login": login(c["author"]),
            "author_type": user_type(c["author"]),
            "author_name": c["commit"]["author"]["name"],
            "author_email": c["commit"]["author"]["email"],
            "committer_login": login(c["committer"]),
            "authored_at": instant(c["commit"]["author"]["date"]),
            "committed_at": instant(c["commit"]["committer"]["date"]),
            "message": c["commit"]["message"],
            "committer_name": c["commit"]["committer"]["name"],
            "committer_email": c["commit"]["committer"]["email"],
            "verified": c["commit"]["verification"]["verified"] if "verification" in c["commit"] else None,
            "verification_reason": c["commit"]["verification"]["reason"] if "verification" in c["commit"] else None,
        }
        for position, c in enumerate(pull.commits)
    }


def file_columns(repo: str, pull: RecordedPull) -> dict[Key, Json]:
    return {
        (repo, pull.number, f["filename"]): {
            "status": f["status"],
            "additions": f["additions"],
            "deletions": f["deletions"],
            "changes": f["changes"],
            "previous_filename": f.get("previous_filename"),  # only renamed/copied files carry it
            "sha": f["sha"],
            "patch": None,  # only with --patches
        }
        for f in pull.files
    }


def review_columns(repo: str, pull: RecordedPull) -> dict[Key, Json]:
    return {
        (repo, r["id"]): {
            "pr_number": pull.number,
            "reviewer_login": login(r["user"]),
            "reviewer_type": user_type(r["user"]),
            "reviewer_deleted": deleted(r, "user"),
            "state": r["state"],
            "body": r["body"],
            "submitted_at": instant(r.get("submitted_at")),
            "commit_id": r["commit_id"],
            "author_association": r["author_association"],
        }
        for r in pull.reviews
    }


def comment_author_columns(pull: RecordedPull, c: Json) -> Json:
    """The columns a review comment and an issue comment fill alike."""
    return {
        "pr_number": pull.number,
        "author_login": login(c["user"]),
        "author_type": user_type(c["user"]),
        "author_deleted": deleted(c, "user"),
        "body": c["body"],
        "created_at": instant(c["created_at"]),
        "updated_at": instant(c["updated_at"]),
        "author_association": c.get("author_association"),
    }


def comment_columns(repo: str, pull: RecordedPull) -> dict[Key, Json]:
    rows: dict[Key, Json] = {}
    for c in pull.review_comments:
        rows[repo, "review", c["id"]] = {
            **comment_author_columns(pull, c),
            "path": c["path"],
            "line": c["line"],  # null on an outdated comment
            "in_reply_to_id": c.get("in_reply_to_id"),  # absent on the first comment of a thread
            "review_id": c["pull_request_review_id"],  # null before reviews existed (2012)
            # null or absent on comments older than multi-line comments (2019)
            "original_line": c.get("original_line"),
            "start_line": c.get("start_line"),
            "side": c.get("side"),
            "commit_id": c["commit_id"],
            "original_commit_id": c["original_commit_id"],
            "subject_type": c.get("subject_type"),
            "is_resolved": None,  # REST does not tell
        }
    for c in pull.issue_comments:
        rows[repo, "issue", c["id"]] = {
            **comment_author_columns(pull, c),
            **dict.fromkeys(("path", "line", "in_reply_to_id", "review_id")),
            **dict.fromkeys(REVIEW_ONLY),
        }
    return rows


REVIEW_ONLY = ("original_line", "start_line", "side", "commit_id", "original_commit_id", "subject_type", "is_resolved")


def event_columns(repo: str, pull: RecordedPull) -> dict[Key, Json]:
    rows: dict[Key, Json] = {}
    for seq, item in enumerate(pull.timeline):
        event = item["event"]
        if event == "committed":  # a git commit: no actor, the committer date
            actor, created_at, commit_id = None, item["committer"]["date"], item["sha"]
            actor_deleted = False
        elif event == "reviewed":
            actor, created_at, commit_id = item["user"], item["submitted_at"], item["commit_id"]
            actor_deleted = deleted(item, "user")
        elif event == "line-commented":
            first = item["comments"][0]
            actor, created_at, commit_id = first["user"], first["created_at"], item.get("commit_id")
            actor_deleted = deleted(first, "user")
        else:
            actor, created_at, commit_id = item["actor"], item["created_at"], item.get("commit_id")
            actor_deleted = deleted(item, "actor")
        rows[repo, pull.number, seq] = {
            "event": event,
            "actor_login": login(actor),
            "actor_type": user_type(actor),
            "actor_deleted": actor_deleted,
            "created_at": instant(created_at),
            "commit_id": commit_id,
            "requested_reviewer_login": login(item.get("requested_reviewer")),
            "github_id": item.get("id") if event != "committed" else None,  # cross-referenced: none
            "label_name": item["label"]["name"] if event in ("labeled", "unlabeled") else None,
            "rename_from": item["rename"]["from"] if event == "renamed" else None,
            "rename_to": item["rename"]["to"] if event == "renamed" else None,
            "review_state": item["state"] if event == "reviewed" else None,
            "assignee_login": login(item["assignee"]) if event in ("assigned", "unassigned") else None,
            "source_number": item["source"]["issue"]["number"] if event == "cross-referenced" else None,
            "source_repo": item["source"]["issue"]["repository"]["full_name"] if event == "cross-referenced" else None,
            "state_reason": item.get("state_reason"),
            "requested_reviewer_deleted": deleted(item, "requested_reviewer"),
            "requested_reviewer_type": user_type(item.get("requested_reviewer")),
            "requested_team_slug": (item.get("requested_team") or {}).get("slug"),
        }
    return rows


def check_run_columns(repo: str, pull: RecordedPull) -> dict[Key, Json]:
    return {
        (repo, run["id"]): {
            "pr_number": pull.number,
            "head_sha": run["head_sha"],  # the run's own, as recorded
            "name": run["name"],
            "status": run["status"],
            "conclusion": run["conclusion"],
            "started_at": instant(run["started_at"]),
            "completed_at": instant(run["completed_at"]),
            "app_slug": run["app"]["slug"],
            "html_url": run["html_url"],
            "check_suite_id": run["check_suite"]["id"],
            "details_url": run["details_url"],
            "output_title": run["output"]["title"],
            "output_summary": run["output"]["summary"],
        }
        for run in pull.check_runs
    }


@dataclass(frozen=True)
class Table:
    key: tuple[str, ...]
    columns: tuple[str, ...]  # every other column but fetched_at (test_every_column_is_compared)
    expected: Callable[[str, RecordedPull], dict[Key, Json]]


TABLES: dict[str, Table] = {
    "pull_requests": Table(
        ("repo", "number"),
        (
            "title",
            "body",
            "author_login",
            "author_type",
            "author_deleted",
            "state",
            "draft",
            "base_ref",
            "head_ref",
            "head_sha",
            "base_sha",
            "created_at",
            "updated_at",
            "closed_at",
            "merged_at",
            "merged_by_login",
            "merged_by_deleted",
            "additions",
            "deletions",
            "changed_files",
            "commits_count",
            "labels",
            "html_url",
            "sync_status",
            "failed_sections",
            "truncated_sections",
            *V3_COLUMNS["pull_requests"],
        ),
        pull_request_columns,
    ),
    "pr_commits": Table(
        ("repo", "pr_number", "sha"),
        (
            "position",
            "parents",
            "author_login",
            "author_type",
            "author_name",
            "author_email",
            "committer_login",
            "authored_at",
            "committed_at",
            "message",
            *V3_COLUMNS["pr_commits"],
        ),
        commit_columns,
    ),
    "pr_files": Table(
        ("repo", "pr_number", "filename"),
        ("status", "additions", "deletions", "changes", "previous_filename", *V3_COLUMNS["pr_files"]),
        file_columns,
    ),
    "pr_reviews": Table(
        ("repo", "id"),
        (
            "pr_number",
            "reviewer_login",
            "reviewer_type",
            "reviewer_deleted",
            "state",
            "body",
            "submitted_at",
            "commit_id",
            "author_association",
        ),
        review_columns,
    ),
    "pr_comments": Table(
        ("repo", "comment_type", "id"),
        (
            "pr_number",
            "author_login",
            "author_type",
            "author_deleted",
            "body",
            "created_at",
            "updated_at",
            "path",
            "line",
            "in_reply_to_id",
            "review_id",
            "author_association",
            *REVIEW_ONLY,
        ),
        comment_columns,
    ),
    "pr_events": Table(
        ("repo", "pr_number", "seq"),
        (
            "event",
            "actor_login",
            "actor_type",
            "actor_deleted",
            "created_at",
            "commit_id",
            "requested_reviewer_login",
            "requested_reviewer_deleted",
            "requested_reviewer_type",
            "requested_team_slug",
            *V3_COLUMNS["pr_events"],
        ),
        event_columns,
    ),
    "pr_check_runs": Table(
        ("repo", "id"),
        (
            "pr_number",
            "head_sha",
            "name",
            "status",
            "conclusion",
            "started_at",
            "completed_at",
            "app_slug",
            "html_url",
            *V3_COLUMNS["pr_check_runs"],
        ),
        check_run_columns,
    ),
}

# (table, column) -> why today's code stores something else than the recording.
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {}


def expected_rows(synced: Synced, table: str) -> dict[Key, Json]:
    rows: dict[Key, Json] = {}
    for repo in synced.repos:
        for pull in merged_pulls(repo):
            rows.update(TABLES[table].expected(repo.full_name, pull))
    return rows


def stored_rows(synced: Synced, table: str) -> dict[Key, Json]:
    names = [name for (name,) in query(synced.db, f"SELECT column_name FROM (DESCRIBE {table})")]
    rows = [dict(zip(names, row, strict=True)) for row in query(synced.db, f"SELECT * FROM {table}")]
    return {tuple(row[k] for k in TABLES[table].key): row for row in rows}


def table_columns() -> list[Any]:
    return [
        pytest.param(
            table,
            column,
            id=f"{table}.{column}",
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_DIFFERENCES[table, column])]
            if (table, column) in KNOWN_DIFFERENCES
            else [],
        )
        for table, spec in TABLES.items()
        for column in spec.columns
    ]


# --- the tests ---------------------------------------------------------------------------------


def test_every_merged_pr_syncs_complete_from_recorded_payloads(synced: Synced) -> None:
    assert len(synced.results) == 26 + 2  # ants: 26 merged PRs; PyGithub: #31 and #3370
    for (repo, number), (code, result) in synced.results.items():
        assert (code, result["status"], result["errors"]) == (0, "complete", []), (repo, number)
        pull = next(r for r in synced.repos if r.full_name == repo).pulls[number]
        served = {
            "commits": pull.commits,
            "files": pull.files,
            "reviews": pull.reviews,
            "review_comments": pull.review_comments,
            "issue_comments": pull.issue_comments,
            "timeline": pull.timeline,
            "check_runs": pull.check_runs,
        }
        assert result["counts"] == {section: len(items) for section, items in served.items()}, (repo, number)
        assert result["api_requests"] == 8  # every list fits one page of 100
    # Every request was one the recordings answer (no 404 or 422 on an unrecorded route).
    assert {status for _, status in synced.requests} == {200}
    assert len(synced.requests) == 8 * len(synced.results)


@pytest.mark.parametrize("table", list(TABLES))
def test_every_column_is_compared(synced: Synced, table: str) -> None:
    names = {name for (name,) in query(synced.db, f"SELECT column_name FROM (DESCRIBE {table})")}
    assert names - {"fetched_at"} == {*TABLES[table].key, *TABLES[table].columns}


@pytest.mark.parametrize("table", list(TABLES))
def test_every_recorded_row_is_stored_once(synced: Synced, table: str) -> None:
    expected = expected_rows(synced, table)
    assert expected  # every table has recorded rows (files: PyGithub's; check runs: #3370's)
    assert sorted(stored_rows(synced, table), key=repr) == sorted(expected, key=repr)


@pytest.mark.parametrize(("table", "column"), table_columns())
def test_stored_column_equals_recorded_field(synced: Synced, table: str, column: str) -> None:
    stored = stored_rows(synced, table)
    expected = expected_rows(synced, table)
    differences = {
        key: (stored[key][column], row[column])
        for key, row in expected.items()
        if key in stored and stored[key][column] != row[column]
    }
    assert not differences, f"{len(differences)} rows differ (stored, recorded): {dict(list(differences.items())[:5])}"


# --- the quirks the recordings are kept for, spelled out ----------------------------------------

ANTS_REPO = "panjf2000/ants"
PYGITHUB_REPO = "PyGithub/PyGithub"


def test_git_dates_with_utc_offsets_are_stored_as_the_same_instant(synced: Synced) -> None:
    # PyGithub#31's first commit: "2012-05-27T00:33:23-07:00" on GitHub.
    ((authored, committed),) = query(
        synced.db,
        "SELECT authored_at, committed_at FROM pr_commits WHERE repo = ? AND pr_number = 31 AND sha LIKE '4aadfff2%'",
        [PYGITHUB_REPO],
    )
    assert authored == committed == datetime(2012, 5, 27, 7, 33, 23, tzinfo=UTC)
    # The timeline's committed items carry the same dates (mixed with "Z" times in one list).
    assert query(
        synced.db,
        "SELECT created_at FROM pr_events WHERE repo = ? AND pr_number = 31 AND event = 'committed' ORDER BY seq",
        [PYGITHUB_REPO],
    ) == [(datetime(2012, 5, 27, h, m, s, tzinfo=UTC),) for h, m, s in ((7, 33, 23), (7, 37, 17), (9, 7, 47))]


def test_commits_without_a_linked_account(synced: Synced) -> None:
    # "author": null / "committer": null: git identities GitHub links to no account (#172, #206).
    rows = query(
        synced.db,
        "SELECT pr_number, author_name, author_login, author_type, committer_login FROM pr_commits "
        "WHERE repo = ? AND pr_number IN (172, 206) ORDER BY pr_number, author_name",
        [ANTS_REPO],
    )
    assert rows == [
        (172, "Jeffrey Damick", None, None, None),
        (172, "Jeffrey Damick", None, None, None),
        (172, "jdamick", "jdamick", "User", None),
        (206, "Bright Hsu", "bright2227", "User", None),
        (206, "bright.hsu", None, None, None),
    ]


def test_deleted_accounts_are_a_null_login_and_a_flag_everywhere(synced: Synced) -> None:
    # The timeline names a deleted account with GitHub's "ghost" user object, where the other
    # lists send null: both are stored as a NULL login and type, flagged deleted.
    assert query(
        synced.db,
        "SELECT actor_login, actor_type, actor_deleted FROM pr_events "
        "WHERE repo = ? AND pr_number = 31 AND event = 'assigned'",
        [PYGITHUB_REPO],
    ) == [(None, None, True)]
    assert query(synced.db, "SELECT count(*) FROM pr_events WHERE actor_login = 'ghost'") == [(0,)]
    # A git commit has no actor: NULL, and no deleted account.
    assert query(synced.db, "SELECT DISTINCT actor_login, actor_deleted FROM pr_events WHERE event = 'committed'") == [
        (None, False)
    ]
    # 2012 user objects have no "type": a NULL type with a login is a living account.
    assert query(
        synced.db,
        "SELECT author_login, author_type, author_deleted FROM pr_comments WHERE repo = ? AND pr_number = 31 "
        "AND comment_type = 'issue' AND author_type IS NULL",
        [PYGITHUB_REPO],
    ) == [("jacquev6", None, False)]


def test_review_comments_outdated_replies_and_from_before_reviews(synced: Synced) -> None:
    rows = query(
        synced.db,
        "SELECT id, line, in_reply_to_id, review_id FROM pr_comments "
        "WHERE comment_type = 'review' AND id IN (1580134, 307667007, 307672417, 307686223) ORDER BY id",
    )
    assert rows == [
        (1580134, 73, None, None),  # PyGithub#31, 2012: "pull_request_review_id": null
        (307667007, None, None, 267089136),  # ants#40: outdated ("line": null), a thread's first
        (307672417, None, 307667007, 267095785),  # replies to it
        (307686223, None, 307667007, 267113847),
    ]


def test_bots_as_github_types_them(synced: Synced) -> None:
    assert query(
        synced.db,
        "SELECT DISTINCT author_login, author_type FROM pr_comments "
        "WHERE author_login IN ('codecov[bot]', 'golangcibot') ORDER BY 1",
    ) == [("codecov[bot]", "Bot"), ("golangcibot", "User")]  # golangcibot is a bot GitHub types User
    assert query(
        synced.db,
        "SELECT author_login, author_type, merged_by_login, labels FROM pull_requests WHERE repo = ? AND number = 3370",
        [PYGITHUB_REPO],
    ) == [("dependabot[bot]", "Bot", "JLLeitschuh", ["dependencies", "github_actions"])]


def test_list_shaped_prs_and_windows_without_commits(synced: Synced) -> None:
    # ants' PRs come from the PR list: no counts, no merged_by. Some merged PRs fell outside the
    # window the commits were recorded in: no commits, and nothing made up for them.
    rows = query(
        synced.db,
        "SELECT number, length(title) = 1188, merged_by_login, additions, changed_files, commits_count, "
        "(SELECT count(*) FROM pr_commits c WHERE c.repo = p.repo AND c.pr_number = p.number) "
        "FROM pull_requests p WHERE repo = ? AND number IN (4, 13, 14, 15, 19, 39) ORDER BY number",
        [ANTS_REPO],
    )
    assert rows == [
        (4, True, None, None, None, None, 1),  # the 1,188-character title, whole
        (13, False, None, None, None, None, 0),
        (14, False, None, None, None, None, 0),
        (15, False, None, None, None, None, 0),
        (19, False, None, None, None, None, 0),
        (39, False, None, None, None, None, 0),
    ]


def test_check_runs_keep_their_own_head_sha(synced: Synced) -> None:
    # #3370's recorded runs belong to another commit (README): served as its head's, stored as sent.
    rows = query(synced.db, "SELECT DISTINCT pr_number, head_sha FROM pr_check_runs")
    head = query(synced.db, "SELECT head_sha FROM pull_requests WHERE repo = ? AND number = 3370", [PYGITHUB_REPO])
    assert [(number, sha[:8]) for number, sha in rows] == [(3370, "6bc9ecc8")]
    assert head != [(rows[0][1],)]


# --- metrics on the real data (docs/metrics.md) -------------------------------------------------


def pr_metric(db: Path, repo: str, number: int, column: str) -> Any:
    ((value,),) = query(db, f"SELECT {column} FROM pr_metrics WHERE repo = ? AND number = ?", [repo, number])
    return value


def test_merge_commits_are_stored_with_their_parents_and_are_no_fixes(synced: Synced) -> None:
    # ants#53: 14 commits committed after the first review (16:56:26), 3 of them merges of the base
    # branch into the PR's (two parents each): 11 count.
    merges = query(
        synced.db,
        "SELECT left(sha, 8), len(parents) FROM pr_commits WHERE repo = ? AND pr_number = 53 AND len(parents) > 1 "
        "ORDER BY position",
        [ANTS_REPO],
    )
    assert merges == [("2516ada0", 2), ("2709c0cb", 2), ("cc7281cc", 2)]
    assert query(
        synced.db, "SELECT count(*) FROM pr_commits WHERE repo = ? AND pr_number = 53 AND len(parents) = 1", [ANTS_REPO]
    ) == [(13,)]
    assert pr_metric(synced.db, ANTS_REPO, 53, "commits_after_first_review") == 14 - 3
    # Its three rounds were answered by ordinary commits first: unchanged.
    assert pr_metric(synced.db, ANTS_REPO, 53, "review_rounds") == 3
    assert pr_metric(synced.db, ANTS_REPO, 53, "avg_fix_response_hours") == pytest.approx(10.4, abs=0.05)


def test_commit_positions_follow_githubs_list(synced: Synced) -> None:
    for repo in synced.repos:
        for pull in merged_pulls(repo):
            stored = query(
                synced.db,
                "SELECT sha FROM pr_commits WHERE repo = ? AND pr_number = ? ORDER BY position",
                [repo.full_name, pull.number],
            )
            assert stored == [(c["sha"],) for c in pull.commits], (repo.full_name, pull.number)


def test_reviews_after_the_merge_are_no_first_review(synced: Synced) -> None:
    # PyGithub#31: merged 2012-05-27 10:29, first reviewed 2018-03-21 (2,124 days later): no review
    # before the merge, so no first review, pickup or first response (its comments came later too).
    for column in ("first_review_at", "time_to_first_review_hours", "pickup_hours", "first_response_at"):
        assert pr_metric(synced.db, PYGITHUB_REPO, 31, column) is None, column
    opened = datetime(2012, 5, 27, 9, 25, 36, tzinfo=UTC)
    assert pr_metric(synced.db, PYGITHUB_REPO, 31, "ready_for_review_at") == opened


def test_first_response_is_the_first_comment_or_review_by_someone_else(synced: Synced) -> None:
    # ants#40: no review recorded, but panjf2000's review comments from 09:38:21 (opened 07:07:06).
    assert pr_metric(synced.db, ANTS_REPO, 40, "first_review_at") is None
    assert pr_metric(synced.db, ANTS_REPO, 40, "first_response_at") == datetime(2019, 7, 26, 9, 38, 21, tzinfo=UTC)
    assert pr_metric(synced.db, ANTS_REPO, 40, "time_to_first_response_hours") == pytest.approx(2.52, abs=0.005)
    # ants#4: codecov[bot] commented first; the first person answered 2.5 h after the PR opened.
    first = query(
        synced.db,
        "SELECT author_login FROM pr_comments WHERE repo = ? AND pr_number = 4 ORDER BY created_at LIMIT 1",
        [ANTS_REPO],
    )
    assert first == [("codecov[bot]",)]
    assert pr_metric(synced.db, ANTS_REPO, 4, "time_to_first_response_hours") == pytest.approx(2.5, abs=0.05)
    # ants#53: the first response is the first review (a change request).
    assert pr_metric(synced.db, ANTS_REPO, 53, "first_response_at") == pr_metric(
        synced.db, ANTS_REPO, 53, "first_review_at"
    )


STAGES = ("stage_draft_hours", "stage_pickup_hours", "stage_review_hours", "stage_merge_hours")


@pytest.mark.parametrize("clock", ["", "_work"])
def test_stages_add_up_to_the_cycle_time_on_every_real_pr(synced: Synced, clock: str) -> None:
    stages = " + ".join(name.replace("_hours", f"{clock}_hours") for name in STAGES)
    rows = query(
        synced.db,
        f"SELECT repo, number, {stages}, cycle_time{clock}_hours, least({', '.join(STAGES)}) FROM pr_metrics",
    )
    assert len(rows) == sum(len(merged_pulls(repo)) for repo in synced.repos)
    for repo, number, total, cycle, smallest in rows:
        assert total == pytest.approx(cycle, abs=1e-9) and smallest >= 0, (repo, number)


def test_stages_of_a_real_pr_by_hand(synced: Synced) -> None:
    # ants#53 by KevinBaiSg: opened Monday 2019-10-07 08:17:20, never a draft; panjf2000 requested
    # changes at 16:56:26 (the first response), last reviewed (a change request) Wednesday 12:58:59
    # (KevinBaiSg's own later reviews are the author's), merged 16:59:19. Nobody approved.
    values = {name: pr_metric(synced.db, ANTS_REPO, 53, name) for name in STAGES}
    assert values == {
        "stage_draft_hours": 0,
        "stage_pickup_hours": pytest.approx(8 + 39 / 60 + 6 / 3600),
        "stage_review_hours": pytest.approx(44 + 2 / 60 + 33 / 3600),
        "stage_merge_hours": pytest.approx(4 + 20 / 3600),
    }
    # Mon-Fri 09:00-17:00 UTC (no calendar set): Monday 8 h, Tuesday 8 h, Wednesday 7:59:19.
    assert pr_metric(synced.db, ANTS_REPO, 53, "cycle_time_work_hours") == pytest.approx(16 + 7 + 59 / 60 + 19 / 3600)
    # The first commit was authored on Saturday 2019-10-05 18:02:40: 38:14:40 before the PR, none of it work.
    assert pr_metric(synced.db, ANTS_REPO, 53, "coding_hours") == pytest.approx(38 + 14 / 60 + 40 / 3600)
    assert pr_metric(synced.db, ANTS_REPO, 53, "coding_work_hours") == 0
    assert pr_metric(synced.db, ANTS_REPO, 53, "coding_reliable") is True


def test_extra_bots_are_stored_and_kept_by_a_recompute_without_the_setting(
    synced: Synced, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # ants#41: golangcibot (a bot GitHub types User) commented 03:25:26, a minute after the PR opened.
    db = tmp_path / "bots.duckdb"
    db.write_bytes(synced.db.read_bytes())
    assert pr_metric(db, ANTS_REPO, 41, "time_to_first_response_hours") == pytest.approx(0.02, abs=0.005)
    assert pr_metric(db, ANTS_REPO, 41, "total_comments") == 7

    def recompute(*argv: str, bots: str | None = None) -> None:
        env = Environment.from_environ({} if bots is None else {"MERGELENS_BOTS": bots})
        assert main(["metrics", "--recompute", "--db", str(db), *argv], env) == 0
        capsys.readouterr()

    recompute(bots="GolangCIBot, golangcibot")  # MERGELENS_BOTS; logins are case-insensitive
    assert query(db, "SELECT login FROM bot_logins") == [("golangcibot",)]
    assert pr_metric(db, ANTS_REPO, 41, "total_comments") == 6
    first_response = datetime(2019, 8, 20, 3, 59, tzinfo=UTC)  # panjf2000, after the bot
    assert pr_metric(db, ANTS_REPO, 41, "first_response_at") == first_response
    recompute()  # no setting: the stored list stays
    assert pr_metric(db, ANTS_REPO, 41, "first_response_at") == first_response
    recompute(bots=" ")  # MERGELENS_BOTS empty (an unset Actions variable): the stored list stays too
    assert query(db, "SELECT login FROM bot_logins") == [("golangcibot",)]
    recompute("--bots", "")  # an explicit empty --bots clears it
    assert query(db, "SELECT count(*) FROM bot_logins") == [(0,)]
    assert pr_metric(db, ANTS_REPO, 41, "total_comments") == 7


def test_the_explorers_evidence_agrees_with_the_stored_metrics(synced: Synced) -> None:
    """The dashboard re-derives each metric from the rows it shows: merges, reviews after the merge
    and the first response included, on every real PR."""
    from dashboard import db as dashboard_db
    from dashboard import queries
    from tests.test_dashboard_queries import assert_first_response_evidence

    con = dashboard_db.connect(synced.db)
    try:
        for repo, number in synced.results:
            evidence = {e.metric: e for e in queries.metric_evidence(con, repo, number)}
            for metric in ("commits_after_first_review", "review_rounds", "total_comments"):
                assert evidence[metric].rows["counted"].sum() == evidence[metric].value, (repo, number, metric)
            assert_first_response_evidence(evidence, f"{repo}#{number}")
        ants53 = {e.metric: e for e in queries.metric_evidence(con, ANTS_REPO, 53)}["commits_after_first_review"]
        assert ants53.rows["merge_commit"].sum() == 3 and ants53.value == 11
        pr31 = {e.metric: e for e in queries.metric_evidence(con, PYGITHUB_REPO, 31)}["first_review_at"]
        assert pr31.rows["excluded_because"].tolist() == ["after the merge", "after the merge"]
    finally:
        con.close()


def test_first_time_contributors_on_the_real_recording(synced: Synced) -> None:
    # ants' 26 merged PRs were fetched long after their merge: GitHub calls 23 authors CONTRIBUTOR, 2 NONE
    # and panjf2000 OWNER, none a first-time contributor. The rule (docs/metrics.md) finds each person's
    # earliest merged PR instead: choleraehyq's #23 (2019-01-22), not #41 or #51; thinkgos's #107, not
    # #174; TwiN's #185, not #186; never the owner's #48. The other 18 authors have one merged PR each.
    with duckdb.connect(str(synced.db), read_only=True) as con:
        use_rules(con)  # the bot rule the SQL reads
        rows = con.execute(f"SELECT number, first_time FROM ({metrics.FIRST_TIME_CONTRIBUTOR_SQL}) WHERE repo = ?",
                           [ANTS_REPO]).fetchall()  # fmt: skip
    flags = dict(rows)
    assert len(flags) == 26 and sum(flags.values()) == 21
    assert {n for n, first in flags.items() if not first} == {41, 51, 174, 186, 48}
    assert query(
        synced.db,
        "SELECT count(*) FROM pull_requests WHERE repo = ? AND author_association LIKE 'FIRST_TIME%'",
        [ANTS_REPO],
    ) == [(0,)]  # what GitHub's association alone would have found
