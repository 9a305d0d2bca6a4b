"""Flatten GitHub REST payloads into the narrow rows of the data contract.

Every function takes one payload dict exactly as GitHub sent it (PyGithub's ``_rawData``)
and returns one plain row. Nothing here talks to GitHub or to DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeGuard

from fetcher.extract.sections import SECTION_NAMES

Payload = dict[str, Any]
Row = dict[str, Any]

# GitHub's own caps on two PR lists (REST docs, "List commits/files on a pull request").
COMMITS_CAP = 250
FILES_CAP = 3000

# pull_requests.number is an INTEGER column: a PR number is 1 to 2**31 - 1.
MAX_PR_NUMBER = 2**31 - 1


def is_pr_number(value: object) -> TypeGuard[int]:
    """A number we can ask GitHub for and store (JSON ``true`` is not 1: bool is excluded)."""
    return type(value) is int and 1 <= value <= MAX_PR_NUMBER


@dataclass
class SectionError:
    section: str
    status: int | None
    message: str
    request_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "status": self.status,
            "message": self.message,
            "request_id": self.request_id,
        }


@dataclass
class PullRequestBundle:
    """Everything fetched for one PR: the PR row and the rows of each section that succeeded."""

    repo: str
    number: int
    pull_request: Row
    sections: dict[str, list[Row]] = field(default_factory=dict)
    errors: list[SectionError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "partial" if self.errors else "complete"

    def counts(self) -> dict[str, int | None]:
        """Rows fetched per section; None for a section that failed."""
        return {name: (len(self.sections[name]) if name in self.sections else None) for name in SECTION_NAMES}


def parse_time(value: str | None) -> datetime | None:
    # GitHub sends ISO 8601 in UTC with a trailing "Z".
    return datetime.fromisoformat(value) if value else None


# GitHub's stand-in for a deleted account. The REST timeline names a deleted account with this
# user object ({"login": "ghost", "id": 10137, "html_url": "https://github.com/ghost"}); the other
# lists (and GraphQL) send null. Both are stored one way: a NULL login and type, and a
# ``*_deleted`` flag. GitHub reserves the login: no living account has it.
GHOST_LOGIN = "ghost"


def login_of(user: Payload | None) -> str | None:
    # A deleted account: "user": null, or the "ghost" user.
    return user.get("login") if user and not is_ghost(user) else None


def type_of(user: Payload | None) -> str | None:
    # 2012 user objects have no "type": NULL with a login is a living account of unknown type.
    return user.get("type") if user and not is_ghost(user) else None


def is_ghost(user: Payload) -> bool:
    return user.get("login") == GHOST_LOGIN


def deleted(payload: Payload, key: str) -> bool:
    """The account ``payload[key]`` names is a deleted one: the key is there (an account is
    expected) and holds null or GitHub's ghost user."""
    if key not in payload:
        return False
    user = payload[key]
    return user is None or is_ghost(user)


def pull_request_row(repo: str, pr: Payload) -> Row:
    head, base = pr.get("head") or {}, pr.get("base") or {}
    auto_merge = pr.get("auto_merge")
    return {
        "repo": repo,
        "number": pr["number"],
        "title": pr.get("title"),
        "body": pr.get("body"),
        "author_login": login_of(pr.get("user")),
        "author_type": type_of(pr.get("user")),
        "author_deleted": deleted(pr, "user"),
        "state": pr.get("state"),
        "draft": bool(pr.get("draft")),
        "base_ref": (pr.get("base") or {}).get("ref"),
        "head_ref": (pr.get("head") or {}).get("ref"),
        "head_sha": (pr.get("head") or {}).get("sha"),
        "base_sha": (pr.get("base") or {}).get("sha"),
        "created_at": parse_time(pr.get("created_at")),
        "updated_at": parse_time(pr.get("updated_at")),
        "closed_at": parse_time(pr.get("closed_at")),
        "merged_at": parse_time(pr.get("merged_at")),
        "merged_by_login": login_of(pr.get("merged_by")),
        # null on an unmerged PR, and absent from a PR of the list: only a merged PR's is a deleted account.
        "merged_by_deleted": bool(pr.get("merged_at")) and deleted(pr, "merged_by"),
        "additions": pr.get("additions"),
        "deletions": pr.get("deletions"),
        "changed_files": pr.get("changed_files"),
        "commits_count": pr.get("commits"),
        "labels": [label.get("name") for label in pr.get("labels") or []],
        "html_url": pr.get("html_url"),
        "github_id": pr.get("id"),
        "node_id": pr.get("node_id"),
        "merge_commit_sha": pr.get("merge_commit_sha"),
        "author_association": pr.get("author_association"),
        # Requests still open when fetched: GitHub drops a reviewer from the list once they review.
        "requested_reviewers": names(pr, "requested_reviewers", "login"),
        "requested_teams": names(pr, "requested_teams", "slug"),
        "assignees": names(pr, "assignees", "login"),
        "milestone": (pr.get("milestone") or {}).get("title"),
        # A fork deleted since is "head.repo": null.
        "head_repo_full_name": (head.get("repo") or {}).get("full_name"),
        "is_cross_repository": is_cross_repository(head, base),
        "auto_merge_enabled": auto_merge is not None if "auto_merge" in pr else None,
        "auto_merge_method": (auto_merge or {}).get("merge_method"),
        "auto_merge_enabled_by_login": login_of((auto_merge or {}).get("enabled_by")),
    }


def names(payload: Payload, key: str, name: str) -> list[str | None] | None:
    """The ``name`` of each item of the list ``key``; None when the payload has no such list
    (backfill does not ask GraphQL for some: unknown, not empty)."""
    if key not in payload:
        return None
    return [item.get(name) if item else None for item in payload[key] or []]


def is_cross_repository(head: Payload, base: Payload) -> bool | None:
    """Whether the head branch lives in another repository than the base (a fork's PR), as
    GraphQL's ``isCrossRepository`` says. REST tells it by the two repositories; a head
    repository deleted since (``"repo": null``) was a fork: a PR's own repository cannot be gone."""
    head_repo, base_repo = head.get("repo"), base.get("repo")
    if not base_repo:
        return None
    if not head_repo:
        return True if "repo" in head else None
    if head_repo.get("id") is not None and base_repo.get("id") is not None:
        return bool(head_repo["id"] != base_repo["id"])
    return bool(head_repo.get("full_name") != base_repo.get("full_name"))


def commit_row(position: int, commit: Payload) -> Row:
    """A commit at ``position`` of the PR's list (0: the first GitHub lists, oldest first)."""
    git = commit.get("commit") or {}
    git_author = git.get("author") or {}
    git_committer = git.get("committer") or {}
    verification = git.get("verification") or {}
    return {
        "sha": commit["sha"],
        "position": position,
        # A merge commit has two or more; NULL when not fetched (GraphQL backfill: data-contract.md).
        "parents": [parent.get("sha") for parent in commit["parents"]] if "parents" in commit else None,
        # "author" is the GitHub account linked to the commit email; null when none is.
        "author_login": login_of(commit.get("author")),
        "author_type": type_of(commit.get("author")),
        "author_name": git_author.get("name"),
        "author_email": git_author.get("email"),
        "committer_login": login_of(commit.get("committer")),
        "authored_at": parse_time(git_author.get("date")),
        # The git committer date: a rebase or force push rewrites it.
        "committed_at": parse_time(git_committer.get("date")),
        "message": git.get("message"),
        "committer_name": git_committer.get("name"),
        "committer_email": git_committer.get("email"),
        "verified": verification.get("verified"),
        "verification_reason": verification.get("reason"),
    }


def file_row(file: Payload, patches: bool = False) -> Row:
    """``patches``: keep the diff text (``--patches``; GitHub leaves it out for binary files
    and very large diffs: NULL)."""
    return {
        "filename": file["filename"],
        "status": file.get("status"),
        "additions": file.get("additions"),
        "deletions": file.get("deletions"),
        "changes": file.get("changes"),
        # Only renamed files carry this key.
        "previous_filename": file.get("previous_filename"),
        "sha": file.get("sha"),
        "patch": file.get("patch") if patches else None,
    }


def review_row(review: Payload) -> Row:
    return {
        "id": review["id"],
        "reviewer_login": login_of(review.get("user")),
        "reviewer_type": type_of(review.get("user")),
        "reviewer_deleted": deleted(review, "user"),
        "state": review.get("state"),
        "body": review.get("body"),
        # A PENDING review has no submitted_at.
        "submitted_at": parse_time(review.get("submitted_at")),
        "commit_id": review.get("commit_id"),
        "author_association": review.get("author_association"),
    }


def _comment_row(comment_type: str, comment: Payload) -> Row:
    """What an issue comment and a review (diff) comment share."""
    return {
        "comment_type": comment_type,
        "id": comment["id"],
        "author_login": login_of(comment.get("user")),
        "author_type": type_of(comment.get("user")),
        "author_deleted": deleted(comment, "user"),
        "body": comment.get("body"),
        "created_at": parse_time(comment.get("created_at")),
        "updated_at": parse_time(comment.get("updated_at")),
        "author_association": comment.get("author_association"),
    }


def review_comment_row(comment: Payload) -> Row:
    return {
        **_comment_row("review", comment),
        "path": comment.get("path"),
        "line": comment.get("line"),
        # GitHub omits in_reply_to_id on top-level comments. Reading it from the payload,
        # not from the PyGithub object, avoids PyGithub re-fetching the comment to "complete" it.
        "in_reply_to_id": comment.get("in_reply_to_id"),
        "review_id": comment.get("pull_request_review_id"),
        "original_line": comment.get("original_line"),
        "start_line": comment.get("start_line"),
        "side": comment.get("side"),
        "commit_id": comment.get("commit_id"),
        "original_commit_id": comment.get("original_commit_id"),
        "subject_type": comment.get("subject_type"),
        # REST does not say whether the thread was resolved (GraphQL does: the adapter adds it).
        "is_resolved": comment.get("is_resolved"),
    }


# pr_comments columns only a review (diff) comment has (besides path, line, in_reply_to_id, review_id).
REVIEW_COMMENT_ONLY = (
    "original_line",
    "start_line",
    "side",
    "commit_id",
    "original_commit_id",
    "subject_type",
    "is_resolved",
)


def issue_comment_row(comment: Payload) -> Row:
    no_diff = dict.fromkeys(("path", "line", "in_reply_to_id", "review_id", *REVIEW_COMMENT_ONLY))
    return {**_comment_row("issue", comment), **no_diff}


def timeline_row(seq: int, item: Payload) -> Row:
    """One timeline item. GitHub's items differ in shape by event:
    ``committed`` has a git author/committer and no actor or created_at, ``reviewed`` has
    ``user`` and ``submitted_at``, ``line-commented`` wraps a list of review comments."""
    event = item.get("event")
    actor_key = "actor" if "actor" in item else "user"
    actor, holder = item.get(actor_key), item
    created_at = item.get("created_at") or item.get("submitted_at")
    commit_id = item.get("commit_id")
    if event == "committed":
        created_at = (item.get("committer") or {}).get("date")
        commit_id = item.get("sha")
    elif event == "line-commented" and item.get("comments"):
        first = item["comments"][0]
        actor, created_at, actor_key, holder = first.get("user"), first.get("created_at"), "user", first
    # cross-referenced: the issue or PR that mentions this one
    source_issue = (item.get("source") or {}).get("issue") or {} if event == "cross-referenced" else {}
    return {
        "seq": seq,
        "event": event,
        "actor_login": login_of(actor),
        "actor_type": type_of(actor),
        "actor_deleted": deleted(holder, actor_key),
        "created_at": parse_time(created_at),
        "commit_id": commit_id,
        "requested_reviewer_login": login_of(item.get("requested_reviewer")),
        # the item's own id: an issue event's; `reviewed`: the review's; `commented`: the comment's
        "github_id": item.get("id") if event != "committed" else None,
        "label_name": (item.get("label") or {}).get("name"),
        "rename_from": (item.get("rename") or {}).get("from"),
        "rename_to": (item.get("rename") or {}).get("to"),
        "review_state": item.get("state") if event == "reviewed" else None,
        "assignee_login": login_of(item.get("assignee")),
        "source_number": source_issue.get("number"),
        "source_repo": repository_name(source_issue),
        "state_reason": item.get("state_reason"),
        "requested_reviewer_deleted": deleted(item, "requested_reviewer"),
        # a team request names the team in "requested_team" and has no "requested_reviewer"
        "requested_reviewer_type": type_of(item.get("requested_reviewer")),
        "requested_team_slug": (item.get("requested_team") or {}).get("slug"),
    }


def repository_name(issue: Payload) -> str | None:
    """``owner/name`` of an issue object: its ``repository`` when embedded, else its API URL's end."""
    repository = issue.get("repository") or {}
    if repository.get("full_name"):
        return str(repository["full_name"])
    url = issue.get("repository_url") or ""
    return "/".join(url.rstrip("/").split("/")[-2:]) if "/repos/" in url else None


def check_run_row(run: Payload) -> Row:
    return {
        "id": run["id"],
        "head_sha": run.get("head_sha"),
        "name": run.get("name"),
        "status": run.get("status"),
        "conclusion": run.get("conclusion"),
        "started_at": parse_time(run.get("started_at")),
        "completed_at": parse_time(run.get("completed_at")),
        "app_slug": (run.get("app") or {}).get("slug"),
        "html_url": run.get("html_url"),
        "check_suite_id": (run.get("check_suite") or {}).get("id"),
        "details_url": run.get("details_url"),
        "output_title": (run.get("output") or {}).get("title"),
        "output_summary": (run.get("output") or {}).get("summary"),
    }
