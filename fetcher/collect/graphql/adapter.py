"""GraphQL answers as the REST payloads records.py reads, so backfill's rows are sync's rows.

A bot's GraphQL login gains its ``[bot]`` suffix, enums are lower-cased, ``fullDatabaseId``
strings become ids …; each payload then goes through the very functions ``sync`` uses. Where
GraphQL cannot give what REST gives, the section is read over REST: the files of a PR with a
renamed or copied file (GraphQL's changed files have no previous path), and every PR's files with
``--patches`` (no diff text either). What backfill does not ask for, or GraphQL does not have, is left
out of the payload and stored NULL (docs/data-contract.md lists those columns). Nothing is truncated
except where REST truncates too (250 commits, 3,000 files), and then the same warning is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fetcher.collect import policy
from fetcher.collect.graphql.paging import PullPages
from fetcher.collect.graphql.queries import TIMELINE_EVENTS
from fetcher.collect.rest import capped_sections_warnings
from fetcher.extract import records
from fetcher.extract.records import PullRequestBundle

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
    pull: PullPages,
    repo: str,
    rest_files: Callable[[int], list[dict[str, Any]]] | None = None,
    patches: bool = False,
) -> PullRequestBundle:
    """One PR's answers as the bundle REST sync would have fetched; ``rest_files`` reads the files
    section over REST when GraphQL's lacks what REST gives (see the module docstring), with each
    file's diff text when ``patches``."""
    assert pull.pr is not None
    payload = pull_request_payload(pull.pr, pull.lists, pull.commits_total)
    result = PullRequestBundle(repo, pull.number, records.pull_request_row(repo, payload))
    comments = [
        review_comment_payload(comment, thread)
        for thread, thread_comments in zip(pull.threads, pull.lists["reviewThreads"], strict=True)
        for comment in thread_comments
    ]
    timeline = [item for item in (timeline_payload(node) for node in pull.lists["timelineItems"]) if item]
    head = pull.pr.get("headRefOid")
    runs = [check_run_payload(run, head, suite) for suite, suite_runs in pull.suites for run in suite_runs]
    result.sections = {
        "commits": [records.commit_row(i, commit_payload(c)) for i, c in enumerate(pull.lists["commits"])],
        "files": [records.file_row(file_payload(f)) for f in pull.lists["files"]],
        "reviews": [records.review_row(review_payload(r)) for r in pull.lists["reviews"]],
        "review_comments": [records.review_comment_row(c) for c in comments],
        "issue_comments": [records.issue_comment_row(issue_comment_payload(c)) for c in pull.lists["comments"]],
        "timeline": [records.timeline_row(seq, item) for seq, item in enumerate(timeline)],
        "check_runs": [records.check_run_row(run) for run in runs],
    }
    if "files" in pull.rest_sections and rest_files is not None:
        try:
            result.sections["files"] = [records.file_row(p, patches) for p in rest_files(pull.number)]
        except Exception as exc:  # the section fails alone, as in sync
            del result.sections["files"]
            result.errors.append(policy.classify(exc).section_error("files"))
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


def pull_request_payload(pr: dict[str, Any], lists: dict[str, list[Any]], commits_total: int | None) -> dict[str, Any]:
    """The PR as REST's ``GET /pulls/{n}`` but for requested_reviewers, requested_teams and assignees,
    which backfill does not ask for (queries.PR_LISTS): left out, they are stored NULL."""
    auto_merge = pr.get("autoMergeRequest")
    head_repo, base_repo = pr.get("headRepository"), pr.get("baseRepository")
    return {
        "number": pr["number"],
        "title": pr.get("title"),
        # PullRequest.body is String! in GraphQL; REST sends null for an empty description.
        "body": pr.get("body") or None,
        "user": rest_user(pr.get("author")),
        "state": "open" if pr.get("state") == "OPEN" else "closed",
        "draft": pr.get("isDraft"),
        "base": {"ref": pr.get("baseRefName"), "sha": pr.get("baseRefOid"), "repo": rest_repository(base_repo)},
        "head": {
            "ref": pr.get("headRefName"),
            "sha": pr.get("headRefOid"),
            "repo": rest_repository(head_repo),  # null: a fork deleted since, as REST sends it
        },
        "created_at": pr.get("createdAt"),
        "updated_at": pr.get("updatedAt"),
        "closed_at": pr.get("closedAt"),
        "merged_at": pr.get("mergedAt"),
        "merged_by": rest_user(pr.get("mergedBy")),
        "additions": pr.get("additions"),
        "deletions": pr.get("deletions"),
        "changed_files": pr.get("changedFiles"),
        "commits": commits_total,
        "labels": [{"name": label["name"]} for label in lists["labels"]],
        "html_url": pr.get("url"),
        "id": _id(pr.get("fullDatabaseId")),
        "node_id": pr.get("id"),
        # REST's merge_commit_sha; GraphQL names it only once merged (backfill lists merged PRs only)
        "merge_commit_sha": (pr.get("mergeCommit") or {}).get("oid"),
        "author_association": pr.get("authorAssociation"),
        "milestone": pr.get("milestone"),
        "auto_merge": {
            "merge_method": (auto_merge.get("mergeMethod") or "").lower() or None,
            "enabled_by": rest_user(auto_merge.get("enabledBy")),
        }
        if auto_merge
        else None,
    }


def rest_repository(repository: dict[str, Any] | None) -> dict[str, Any] | None:
    if not repository:
        return None
    return {"id": repository.get("databaseId"), "full_name": repository.get("nameWithOwner")}


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
            "verification": verification(commit.get("signature")),
        },
        "author": git_account(author),
        "committer": git_account(committer),
    }


# GraphQL's GitSignatureState where it is not REST's verification reason upper-cased
_SIGNATURE_REASONS = {"MALFORMED_SIG": "malformed_signature", "UNKNOWN_SIG_TYPE": "unknown_signature_type"}


def verification(signature: dict[str, Any] | None) -> dict[str, Any]:
    """REST's ``commit.verification`` from GraphQL's ``Commit.signature`` (null: unsigned)."""
    if not signature:
        return {"verified": False, "reason": "unsigned"}
    state = signature.get("state") or ""
    return {"verified": state == "VALID", "reason": _SIGNATURE_REASONS.get(state, state.lower() or None)}


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


def review_comment_payload(comment: dict[str, Any], thread: dict[str, Any]) -> dict[str, Any]:
    """A review comment; ``thread``: its thread's fields (a comment's side is its thread's)."""
    payload = {
        "id": int(comment["fullDatabaseId"]),
        "user": rest_user(comment.get("author")),
        "body": comment.get("body"),
        "created_at": comment.get("createdAt"),
        "updated_at": comment.get("updatedAt"),
        "path": comment.get("path"),
        "line": comment.get("line"),
        "original_line": comment.get("originalLine"),
        "start_line": comment.get("startLine"),
        "side": thread.get("diffSide"),
        "commit_id": (comment.get("commit") or {}).get("oid"),
        "original_commit_id": (comment.get("originalCommit") or {}).get("oid"),
        "subject_type": (comment.get("subjectType") or "").lower() or None,
        "is_resolved": thread.get("isResolved"),  # GraphQL only: REST does not tell
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
            "id": _id(node.get("fullDatabaseId")),
            "user": rest_user(node.get("author")),
            "submitted_at": node.get("submittedAt"),
            "commit_id": (node.get("commit") or {}).get("oid"),
            "state": (node.get("state") or "").lower() or None,  # REST's timeline: lower case
        }
    if typename == "IssueComment":
        return {
            "event": event,
            "id": _id(node.get("fullDatabaseId")),
            "actor": rest_user(node.get("author")),
            "created_at": node.get("createdAt"),
        }
    commit = node.get("commit") or node.get("afterCommit") or {}
    closer = node.get("closer") or {}
    item: dict[str, Any] = {
        "event": event,
        "actor": rest_user(node.get("actor")),
        "created_at": node.get("createdAt"),
        "commit_id": commit.get("oid") or (closer.get("oid") if closer.get("__typename") == "Commit" else None),
    }
    reviewer = node.get("requestedReviewer")
    if "requestedReviewer" in node and (reviewer or {}).get("__typename") == "Team":
        # REST names a requested team in "requested_team" and has no "requested_reviewer"
        item["requested_team"] = {"slug": (reviewer or {}).get("slug")}
    elif "requestedReviewer" in node:
        item["requested_reviewer"] = rest_user(reviewer)
    if node.get("label"):
        item["label"] = {"name": node["label"].get("name")}
    if "previousTitle" in node:
        item["rename"] = {"from": node.get("previousTitle"), "to": node.get("currentTitle")}
    if "assignee" in node:
        item["assignee"] = rest_user(node.get("assignee"))
    if node.get("source"):
        source = node["source"]
        item["source"] = {
            "type": "issue",
            "issue": {
                "number": source.get("number"),
                "repository": {"full_name": (source.get("repository") or {}).get("nameWithOwner")},
            },
        }
    if "stateReason" in node:
        item["state_reason"] = (node.get("stateReason") or "").lower() or None
    return item


def check_run_payload(run: dict[str, Any], head_sha: str | None, suite: dict[str, Any]) -> dict[str, Any]:
    """A check run; ``suite``: its check suite's fields (the app that ran it, its id)."""
    slug = (suite.get("app") or {}).get("slug")
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
        "check_suite": {"id": suite.get("databaseId")},
        "details_url": run.get("detailsUrl"),
        "output": {"title": run.get("title"), "summary": run.get("summary")},
    }
