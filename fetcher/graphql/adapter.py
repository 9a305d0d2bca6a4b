"""GraphQL answers as the REST payloads records.py reads, so backfill's rows are sync's rows.

A bot's GraphQL login gains its ``[bot]`` suffix, enums are lower-cased, ``fullDatabaseId``
strings become ids …; each payload then goes through the very functions ``sync`` uses. Where
GraphQL cannot give what REST gives, the section is read over REST: the files of a PR with a
renamed or copied file (GraphQL's changed files have no previous path). Nothing is truncated
except where REST truncates too (250 commits, 3,000 files), and then the same warning is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fetcher import github_policy, records
from fetcher.github import capped_sections_warnings
from fetcher.graphql.paging import PullPages
from fetcher.graphql.queries import TIMELINE_EVENTS
from fetcher.records import PullRequestBundle

_CHANGE_TYPES = {
    "ADDED": "added",
    "DELETED": "removed",
    "MODIFIED": "modified",
    "RENAMED": "renamed",
    "COPIED": "copied",
    "CHANGED": "changed",
}
_BOT_NOREPLY = re.compile(r"^\d+\+(?P<login>[^@]+\[bot\])@users\.noreply\.github\.com$", re.IGNORECASE)


def to_bundle(
    pull: PullPages, repo: str, rest_files: Callable[[int], list[dict[str, Any]]] | None = None
) -> PullRequestBundle:
    """One PR's answers as the bundle REST sync would have fetched; ``rest_files`` reads the files
    section over REST when GraphQL's lacks what REST gives (see the module docstring)."""
    assert pull.pr is not None
    payload = pull_request_payload(pull.pr, pull.lists["labels"], pull.commits_total)
    result = PullRequestBundle(repo, pull.number, records.pull_request_row(repo, payload))
    threads = pull.lists["reviewThreads"]
    comments = [comment for thread in threads for comment in thread]
    timeline = [item for item in (timeline_payload(node) for node in pull.lists["timelineItems"]) if item]
    head = pull.pr.get("headRefOid")
    runs = [check_run_payload(run, head, slug) for slug, suite_runs in pull.suites for run in suite_runs]
    result.sections = {
        "commits": [records.commit_row(i, commit_payload(c)) for i, c in enumerate(pull.lists["commits"])],
        "files": [records.file_row(file_payload(f)) for f in pull.lists["files"]],
        "reviews": [records.review_row(review_payload(r)) for r in pull.lists["reviews"]],
        "review_comments": [records.review_comment_row(review_comment_payload(c)) for c in comments],
        "issue_comments": [records.issue_comment_row(issue_comment_payload(c)) for c in pull.lists["comments"]],
        "timeline": [records.timeline_row(seq, item) for seq, item in enumerate(timeline)],
        "check_runs": [records.check_run_row(run) for run in runs],
    }
    if "files" in pull.rest_sections and rest_files is not None:
        try:
            result.sections["files"] = [records.file_row(p) for p in rest_files(pull.number)]
        except Exception as exc:  # the section fails alone, as in sync
            del result.sections["files"]
            result.errors.append(github_policy.classify(exc).section_error("files"))
    result.warnings.extend(capped_sections_warnings(result, payload))
    return result


def rest_user(actor: dict[str, Any] | None) -> dict[str, Any] | None:
    """An Actor as REST's simple user. GraphQL names a bot ``dependabot``; REST ``dependabot[bot]``."""
    if not actor or actor.get("login") is None:
        return None
    typename = actor.get("__typename") or "User"
    login = actor["login"]
    if typename == "Bot":
        return {"login": login if login.endswith("[bot]") else f"{login}[bot]", "type": "Bot"}
    return {"login": login, "type": typename if typename in ("User", "Organization", "Mannequin") else "User"}


def git_account(git_actor: dict[str, Any] | None) -> dict[str, Any] | None:
    """The account REST links to a git author/committer. GraphQL's ``GitActor.user`` is a User
    only: for a bot it is null, but a bot commits with its noreply address ``ID+NAME[bot]@…``."""
    if not git_actor:
        return None
    if git_actor.get("user"):
        return {"login": git_actor["user"]["login"], "type": "User"}
    match = _BOT_NOREPLY.match(git_actor.get("email") or "")
    return {"login": match["login"], "type": "Bot"} if match else None


def _id(value: Any) -> int | None:
    return int(value) if value is not None else None


def pull_request_payload(pr: dict[str, Any], labels: list[dict[str, Any]], commits: int | None) -> dict[str, Any]:
    return {
        "number": pr["number"],
        "title": pr.get("title"),
        # PullRequest.body is String! in GraphQL; REST sends null for an empty description.
        "body": pr.get("body") or None,
        "user": rest_user(pr.get("author")),
        "state": "open" if pr.get("state") == "OPEN" else "closed",
        "draft": pr.get("isDraft"),
        "base": {"ref": pr.get("baseRefName"), "sha": pr.get("baseRefOid")},
        "head": {"ref": pr.get("headRefName"), "sha": pr.get("headRefOid")},
        "created_at": pr.get("createdAt"),
        "updated_at": pr.get("updatedAt"),
        "closed_at": pr.get("closedAt"),
        "merged_at": pr.get("mergedAt"),
        "merged_by": rest_user(pr.get("mergedBy")),
        "additions": pr.get("additions"),
        "deletions": pr.get("deletions"),
        "changed_files": pr.get("changedFiles"),
        "commits": commits,
        "labels": [{"name": label["name"]} for label in labels],
        "html_url": pr.get("url"),
    }


def commit_payload(commit: dict[str, Any]) -> dict[str, Any]:
    """No "parents": ``Commit.parents`` is a connection under each commit, 100 requests a PR
    (1.16 points a PR instead of 0.16, docs/data-contract.md): parents stay NULL."""
    author, committer = commit.get("author") or {}, commit.get("committer") or {}
    return {
        "sha": commit["oid"],
        "commit": {
            "author": {key: author.get(key) for key in ("name", "email", "date")},
            "committer": {key: committer.get(key) for key in ("name", "email", "date")},
            "message": commit.get("message"),
        },
        "author": git_account(author),
        "committer": git_account(committer),
    }


def file_payload(file: dict[str, Any]) -> dict[str, Any]:
    additions, deletions = file.get("additions") or 0, file.get("deletions") or 0
    return {
        "filename": file["path"],
        "status": _CHANGE_TYPES.get(file.get("changeType") or "", (file.get("changeType") or "").lower()),
        "additions": additions,
        "deletions": deletions,
        "changes": additions + deletions,
    }


def review_payload(review: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(review["fullDatabaseId"]),
        "user": rest_user(review.get("author")),
        "state": review.get("state"),
        "body": review.get("body"),
        "submitted_at": review.get("submittedAt"),
        "commit_id": (review.get("commit") or {}).get("oid"),
        "author_association": review.get("authorAssociation"),
    }


def review_comment_payload(comment: dict[str, Any]) -> dict[str, Any]:
    payload = {
        "id": int(comment["fullDatabaseId"]),
        "user": rest_user(comment.get("author")),
        "body": comment.get("body"),
        "created_at": comment.get("createdAt"),
        "updated_at": comment.get("updatedAt"),
        "path": comment.get("path"),
        "line": comment.get("line"),
        "pull_request_review_id": _id((comment.get("pullRequestReview") or {}).get("fullDatabaseId")),
        "author_association": comment.get("authorAssociation"),
    }
    if comment.get("replyTo"):
        payload["in_reply_to_id"] = _id(comment["replyTo"].get("fullDatabaseId"))
    return payload


def issue_comment_payload(comment: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(comment["fullDatabaseId"]),
        "user": rest_user(comment.get("author")),
        "body": comment.get("body"),
        "created_at": comment.get("createdAt"),
        "updated_at": comment.get("updatedAt"),
        "author_association": comment.get("authorAssociation"),
    }


def timeline_payload(node: dict[str, Any]) -> dict[str, Any] | None:
    """A timeline item as the REST timeline shows it (records.timeline_row reads it)."""
    typename = node.get("__typename") or ""
    event = TIMELINE_EVENTS.get(typename)
    if event is None:
        return None
    if typename == "PullRequestCommit":
        commit = node.get("pullCommit") or {}
        return {"event": event, "sha": commit.get("oid"), "committer": commit.get("committer") or {}}
    if typename == "PullRequestReview":
        if node.get("state") == "PENDING" or not node.get("submittedAt"):
            return None  # REST's timeline shows submitted reviews only
        return {
            "event": event,
            "user": rest_user(node.get("author")),
            "submitted_at": node.get("submittedAt"),
            "commit_id": (node.get("commit") or {}).get("oid"),
        }
    if typename == "IssueComment":
        return {"event": event, "actor": rest_user(node.get("author")), "created_at": node.get("createdAt")}
    commit = node.get("commit") or node.get("afterCommit") or {}
    closer = node.get("closer") or {}
    item: dict[str, Any] = {
        "event": event,
        "actor": rest_user(node.get("actor")),
        "created_at": node.get("createdAt"),
        "commit_id": commit.get("oid") or (closer.get("oid") if closer.get("__typename") == "Commit" else None),
    }
    reviewer = node.get("requestedReviewer")
    if "requestedReviewer" in node and (reviewer or {}).get("__typename") != "Team":
        # REST names a requested team in "requested_team" and has no "requested_reviewer"
        item["requested_reviewer"] = rest_user(reviewer)
    return item


def check_run_payload(run: dict[str, Any], head_sha: str | None, slug: str | None) -> dict[str, Any]:
    return {
        "id": int(run["databaseId"]),
        "head_sha": head_sha,
        "name": run.get("name"),
        "status": (run.get("status") or "").lower() or None,
        "conclusion": (run.get("conclusion") or "").lower() or None,
        "started_at": run.get("startedAt"),
        "completed_at": run.get("completedAt"),
        "app": {"slug": slug} if slug else None,
        "html_url": run.get("url"),
    }
