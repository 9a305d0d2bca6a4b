"""Flatten GitHub REST payloads into the narrow rows of the data contract.

Every function takes one payload dict exactly as GitHub sent it (PyGithub's ``_rawData``)
and returns one plain row. Nothing here talks to GitHub or to DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeGuard

from fetcher.sections import SECTION_NAMES

Payload = dict[str, Any]
Row = dict[str, Any]

# The seven lists fetched for every PR, in the order they are fetched (fetcher.sections).
SECTIONS: tuple[str, ...] = SECTION_NAMES

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
        return {name: (len(self.sections[name]) if name in self.sections else None) for name in SECTIONS}


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
    }


def commit_row(position: int, commit: Payload) -> Row:
    """A commit at ``position`` of the PR's list (0: the first GitHub lists, oldest first)."""
    git = commit.get("commit") or {}
    git_author = git.get("author") or {}
    git_committer = git.get("committer") or {}
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
    }


def file_row(file: Payload) -> Row:
    return {
        "filename": file["filename"],
        "status": file.get("status"),
        "additions": file.get("additions"),
        "deletions": file.get("deletions"),
        "changes": file.get("changes"),
        # Only renamed files carry this key.
        "previous_filename": file.get("previous_filename"),
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


def review_comment_row(comment: Payload) -> Row:
    return {
        "comment_type": "review",
        "id": comment["id"],
        "author_login": login_of(comment.get("user")),
        "author_type": type_of(comment.get("user")),
        "author_deleted": deleted(comment, "user"),
        "body": comment.get("body"),
        "created_at": parse_time(comment.get("created_at")),
        "updated_at": parse_time(comment.get("updated_at")),
        "path": comment.get("path"),
        "line": comment.get("line"),
        # GitHub omits in_reply_to_id on top-level comments. Reading it from the payload,
        # not from the PyGithub object, avoids PyGithub re-fetching the comment to "complete" it.
        "in_reply_to_id": comment.get("in_reply_to_id"),
        "review_id": comment.get("pull_request_review_id"),
        "author_association": comment.get("author_association"),
    }


def issue_comment_row(comment: Payload) -> Row:
    return {
        "comment_type": "issue",
        "id": comment["id"],
        "author_login": login_of(comment.get("user")),
        "author_type": type_of(comment.get("user")),
        "author_deleted": deleted(comment, "user"),
        "body": comment.get("body"),
        "created_at": parse_time(comment.get("created_at")),
        "updated_at": parse_time(comment.get("updated_at")),
        "path": None,
        "line": None,
        "in_reply_to_id": None,
        "review_id": None,
        "author_association": comment.get("author_association"),
    }


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
    return {
        "seq": seq,
        "event": event,
        "actor_login": login_of(actor),
        "actor_type": type_of(actor),
        "actor_deleted": deleted(holder, actor_key),
        "created_at": parse_time(created_at),
        "commit_id": commit_id,
        "requested_reviewer_login": login_of(item.get("requested_reviewer")),
        "requested_reviewer_deleted": deleted(item, "requested_reviewer"),
    }


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
    }
