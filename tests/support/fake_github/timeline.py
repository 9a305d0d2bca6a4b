"""GET /repos/{o}/{r}/issues/{n}/timeline, following GitHub's REST docs ("Timeline events").

No recording exists in shared/github-samples. GitHub mixes the PR's issue events
(``ready_for_review``, ``review_requested``, ``head_ref_force_pushed`` ...) with items it
synthesises from other objects: ``committed`` (a git commit: no actor, no created_at),
``reviewed`` (a submitted review, lower-case state) and ``commented`` (an issue comment).
"""

from __future__ import annotations

from datetime import datetime

from .model import Commit, IssueComment, PullRequest, Repository, Review, TimelineEvent, User
from .payloads import (
    Json,
    author_association,
    event_label,
    event_rename,
    event_source,
    fake_sha,
    git_committer,
    iso,
    node_id,
    stable_id,
    team_payload,
    user_payload,
    verification,
    web_root,
)


def _camel(event: str) -> str:
    return "".join(part.capitalize() for part in event.split("_")) + "Event"


def event_item(repo: Repository, event: TimelineEvent, api: str) -> Json:
    """A plain issue event as the timeline shows it."""
    r = f"{api}/repos/{repo.full_name}"
    item: Json = {
        "id": event.id,
        "node_id": node_id(_camel(event.event), event.id),
        "url": f"{r}/issues/events/{event.id}",
        "actor": user_payload(event.actor, api),
        "event": event.event,
        "commit_id": event.commit_id,
        "commit_url": f"{r}/commits/{event.commit_id}" if event.commit_id else None,
        "created_at": iso(event.created_at),
        "performed_via_github_app": None,
    }
    if event.event in ("review_requested", "review_request_removed"):
        # The actor is the one who asked; the reviewer is a user, or a team (then no requested_reviewer).
        item["review_requester"] = user_payload(event.actor, api)
        if event.requested_team is not None:
            item["requested_team"] = team_payload(repo, event.requested_team, api)
        else:
            item["requested_reviewer"] = user_payload(event.requested_reviewer, api)
    label, rename = event_label(event), event_rename(event)
    if label is not None:
        item["label"] = {"name": label, "color": f"{stable_id('label', label) & 0xFFFFFF:06x}"}
    if rename is not None:
        item["rename"] = {"from": rename[0], "to": rename[1]}
    if event.event in ("assigned", "unassigned"):
        item["assignee"] = user_payload(event.assignee, api)
        item["assigner"] = user_payload(event.actor, api)
    if event.event == "closed":
        item["state_reason"] = event.state_reason
    return item


def cross_referenced_item(repo: Repository, event: TimelineEvent, api: str) -> Json:
    """A ``cross-referenced`` item: no id, no commit; ``source.issue`` is the issue (or PR) that
    mentions this one, with its repository."""
    source = event_source(event)
    assert source is not None
    source_repo, number = source
    owner, name = source_repo.split("/", 1)
    r = f"{api}/repos/{source_repo}"
    issue_id = stable_id("issue", source_repo, number)
    return {
        "actor": user_payload(event.actor, api),
        "created_at": iso(event.created_at),
        "updated_at": iso(event.created_at),
        "source": {
            "type": "issue",
            "issue": {
                "url": f"{r}/issues/{number}",
                "repository_url": r,
                "id": issue_id,
                "node_id": node_id("Issue", issue_id),
                "number": number,
                "title": f"Issue {number}",
                "user": user_payload(event.actor, api),
                "state": "open",
                "repository": {
                    "id": stable_id("repo", source_repo),
                    "name": name,
                    "full_name": source_repo,
                    "owner": user_payload(User(owner, stable_id("owner", owner), "Organization"), api),
                },
            },
        },
        "event": "cross-referenced",
    }


def committed_item(repo: Repository, commit: Commit, parent_sha: str, api: str) -> Json:
    """A ``committed`` item: the git commit object, without GitHub accounts or a created_at."""
    r = f"{api}/repos/{repo.full_name}"
    web = f"{web_root(api)}/{repo.full_name}"
    committer_name, committer_email = git_committer(commit)
    tree_sha = fake_sha("tree", commit.sha)
    return {
        "sha": commit.sha,
        "node_id": node_id("Commit", stable_id("commit", commit.sha)),
        "url": f"{r}/git/commits/{commit.sha}",
        "html_url": f"{web}/commit/{commit.sha}",
        "author": {"name": commit.author_name, "email": commit.author_email, "date": iso(commit.authored_at)},
        "committer": {"name": committer_name, "email": committer_email, "date": iso(commit.committed_at)},
        "tree": {"sha": tree_sha, "url": f"{r}/git/trees/{tree_sha}"},
        "message": commit.message,
        "parents": [
            {"sha": sha, "url": f"{r}/git/commits/{sha}", "html_url": f"{web}/commit/{sha}"}
            for sha in (parent_sha, *commit.merged_parents)
        ],
        "verification": verification(commit),
        "event": "committed",
    }


def reviewed_item(repo: Repository, pr: PullRequest, review: Review, api: str) -> Json:
    """A ``reviewed`` item: the review with its state in lower case ("changes_requested")."""
    pr_url = f"{api}/repos/{repo.full_name}/pulls/{pr.number}"
    html = f"{web_root(api)}/{repo.full_name}/pull/{pr.number}#pullrequestreview-{review.id}"
    return {
        "id": review.id,
        "node_id": node_id("PullRequestReview", review.id),
        "user": user_payload(review.user, api),
        "body": review.body,
        "commit_id": review.commit_id,
        "submitted_at": iso(review.submitted_at),
        "state": review.state.lower(),
        "html_url": html,
        "pull_request_url": pr_url,
        "author_association": author_association(repo, review.user),
        "_links": {"html": {"href": html}, "pull_request": {"href": pr_url}},
        "event": "reviewed",
    }


def commented_item(repo: Repository, pr: PullRequest, comment: IssueComment, api: str) -> Json:
    """A ``commented`` item: the issue comment plus ``actor`` (its author) and ``event``."""
    r = f"{api}/repos/{repo.full_name}"
    return {
        "url": f"{r}/issues/comments/{comment.id}",
        "html_url": f"{web_root(api)}/{repo.full_name}/pull/{pr.number}#issuecomment-{comment.id}",
        "issue_url": f"{r}/issues/{pr.number}",
        "id": comment.id,
        "node_id": node_id("IssueComment", comment.id),
        "user": user_payload(comment.user, api),
        "created_at": iso(comment.created_at),
        "updated_at": iso(comment.updated_at),
        "author_association": author_association(repo, comment.user),
        "body": comment.body,
        "performed_via_github_app": None,
        "event": "commented",
        "actor": user_payload(comment.user, api),
    }


def timeline_items(repo: Repository, pr: PullRequest, api: str) -> list[Json]:
    """The PR's timeline in chronological order: commits by committer date, reviews by
    submitted_at (pending reviews are not shown), everything else by created_at."""
    dated: list[tuple[datetime, Json]] = [
        (
            e.created_at,
            cross_referenced_item(repo, e, api) if e.event == "cross-referenced" else event_item(repo, e, api),
        )
        for e in pr.events
    ]
    # each commit's parent is the one before it; the first one's is the base (none: no commits)
    parents = [pr.base_sha, *(c.sha for c in pr.commits)][: len(pr.commits)]
    dated += [(c.committed_at, committed_item(repo, c, p, api)) for c, p in zip(pr.commits, parents, strict=True)]
    dated += [
        (rv.submitted_at, reviewed_item(repo, pr, rv, api))
        for rv in pr.reviews
        if rv.state != "PENDING" and rv.submitted_at is not None
    ]
    dated += [(c.created_at, commented_item(repo, pr, c, api)) for c in pr.issue_comments]
    dated.sort(key=lambda pair: pair[0])  # stable: ties keep the order above
    return [item for _, item in dated]
