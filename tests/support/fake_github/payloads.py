"""Model -> JSON, shaped key for key like GitHub's REST payloads.

The key sets follow the recordings in ``shared/github-samples`` (``pull.json``,
``pull_commits.json``, ``pull_files.json``, ``pull_reviews*.json``,
``pull_review_comments.json``, ``issue_comments.json``, ``check_runs.json``); the builders are
written out here so the fake runs without those files. Every ``url``/``*_url`` points at the
fake server (``api`` is its API root, no trailing slash), because PyGithub follows payload
URLs as given.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from .model import (
    Artifact,
    CheckRun,
    Commit,
    FileChange,
    IssueComment,
    PullRequest,
    Repository,
    Review,
    ReviewComment,
    TimelineEvent,
    User,
)

Json = dict[str, Any]

DOCS_URL = "https://docs.github.com/rest"
# A fixed creation date for fake repositories and apps (GitHub always sends one).
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


# --- small helpers -------------------------------------------------------------------------


def iso(dt: datetime | None) -> str | None:
    """GitHub's timestamp format: UTC, seconds, a literal Z ("2026-03-01T12:00:00Z")."""
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stable_id(*parts: object) -> int:
    """A deterministic positive id for objects GitHub numbers but the model does not."""
    return zlib.crc32("/".join(map(str, parts)).encode()) or 1


def fake_sha(*parts: object) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()


def node_id(kind: str, number: int) -> str:
    """Legacy-style global node id, e.g. base64("04:User636602") like GitHub's older ids."""
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def web_root(api: str) -> str:
    """The html side of an API root: scheme://host[:port] (GHES's /api/v3 dropped)."""
    parts = urlsplit(api)
    host = parts.netloc.removeprefix("api.")  # api.github.com -> github.com
    return f"{parts.scheme}://{host}"


def error_payload(message: str, status: int, documentation_url: str = DOCS_URL) -> Json:
    # GitHub's error bodies carry the status as a string since 2024.
    return {"message": message, "documentation_url": documentation_url, "status": str(status)}


# --- users and repositories ----------------------------------------------------------------


def user_payload(user: User | None, api: str, *, view_type: bool = True) -> Json | None:
    """GitHub's "simple user". A deleted account is ``null``. ``user_view_type`` appeared in
    2024; ``view_type=False`` reproduces the recordings made before it."""
    if user is None:
        return None
    u = f"{api}/users/{user.login}"
    payload: Json = {
        "login": user.login,
        "id": user.id,
        "node_id": node_id(user.type, user.id),
        "avatar_url": f"{web_root(api)}/avatars/u/{user.id}?v=4",
        "gravatar_id": "",
        "url": u,
        "html_url": f"{web_root(api)}/{user.login}",
        "followers_url": f"{u}/followers",
        "following_url": f"{u}/following{{/other_user}}",
        "gists_url": f"{u}/gists{{/gist_id}}",
        "starred_url": f"{u}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{u}/subscriptions",
        "organizations_url": f"{u}/orgs",
        "repos_url": f"{u}/repos",
        "events_url": f"{u}/events{{/privacy}}",
        "received_events_url": f"{u}/received_events",
        "type": user.type,
    }
    if view_type:
        payload["user_view_type"] = "public"
    payload["site_admin"] = False
    return payload


def owner_user(repo: Repository) -> User:
    return User(login=repo.owner, id=stable_id("owner", repo.owner), type="Organization")


def author_association(repo: Repository, user: User | None) -> str:
    if user is None or user.type == "Bot":
        return "NONE"
    return "OWNER" if user.login.lower() == repo.owner.lower() else "CONTRIBUTOR"


def _repo_dates(repo: Repository) -> tuple[datetime, datetime]:
    latest = max((pr.updated_at for pr in repo.pulls.values()), default=EPOCH)
    return EPOCH, latest


def repo_payload(repo: Repository, api: str) -> Json:
    """The repository object embedded in a PR's head/base (same keys as pull.json)."""
    r = f"{api}/repos/{repo.full_name}"
    web = web_root(api)
    created, latest = _repo_dates(repo)
    open_count = sum(1 for pr in repo.pulls.values() if pr.state == "open")
    return {
        "id": repo.id,
        "node_id": node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
        "owner": user_payload(owner_user(repo), api),
        "html_url": f"{web}/{repo.full_name}",
        "description": f"Fake repository {repo.full_name}",
        "fork": False,
        "url": r,
        "forks_url": f"{r}/forks",
        "keys_url": f"{r}/keys{{/key_id}}",
        "collaborators_url": f"{r}/collaborators{{/collaborator}}",
        "teams_url": f"{r}/teams",
        "hooks_url": f"{r}/hooks",
        "issue_events_url": f"{r}/issues/events{{/number}}",
        "events_url": f"{r}/events",
        "assignees_url": f"{r}/assignees{{/user}}",
        "branches_url": f"{r}/branches{{/branch}}",
        "tags_url": f"{r}/tags",
        "blobs_url": f"{r}/git/blobs{{/sha}}",
        "git_tags_url": f"{r}/git/tags{{/sha}}",
        "git_refs_url": f"{r}/git/refs{{/sha}}",
        "trees_url": f"{r}/git/trees{{/sha}}",
        "statuses_url": f"{r}/statuses/{{sha}}",
        "languages_url": f"{r}/languages",
        "stargazers_url": f"{r}/stargazers",
        "contributors_url": f"{r}/contributors",
        "subscribers_url": f"{r}/subscribers",
        "subscription_url": f"{r}/subscription",
        "commits_url": f"{r}/commits{{/sha}}",
        "git_commits_url": f"{r}/git/commits{{/sha}}",
        "comments_url": f"{r}/comments{{/number}}",
        "issue_comment_url": f"{r}/issues/comments{{/number}}",
        "contents_url": f"{r}/contents/{{+path}}",
        "compare_url": f"{r}/compare/{{base}}...{{head}}",
        "merges_url": f"{r}/merges",
        "archive_url": f"{r}/{{archive_format}}{{/ref}}",
        "downloads_url": f"{r}/downloads",
        "issues_url": f"{r}/issues{{/number}}",
        "pulls_url": f"{r}/pulls{{/number}}",
        "milestones_url": f"{r}/milestones{{/number}}",
        "notifications_url": f"{r}/notifications{{?since,all,participating}}",
        "labels_url": f"{r}/labels{{/name}}",
        "releases_url": f"{r}/releases{{/id}}",
        "deployments_url": f"{r}/deployments",
        "created_at": iso(created),
        "updated_at": iso(latest),
        "pushed_at": iso(latest),
        "git_url": f"git://{urlsplit(web).netloc}/{repo.full_name}.git",
        "ssh_url": f"git@{urlsplit(web).hostname}:{repo.full_name}.git",
        "clone_url": f"{web}/{repo.full_name}.git",
        "svn_url": f"{web}/{repo.full_name}",
        "homepage": "",
        "size": 1024,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": "Python",
        "has_issues": True,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": True,
        "has_pages": False,
        "has_discussions": False,
        "forks_count": 0,
        "mirror_url": None,
        "archived": repo.archived,
        "disabled": False,
        "open_issues_count": open_count,
        "license": {
            "key": "mit",
            "name": "MIT License",
            "spdx_id": "MIT",
            "url": f"{api}/licenses/mit",
            "node_id": "MDc6TGljZW5zZTEz",
        },
        "allow_forking": True,
        "is_template": False,
        "web_commit_signoff_required": False,
        "topics": [],
        "visibility": "private" if repo.private else "public",
        "forks": 0,
        "open_issues": open_count,
        "watchers": 0,
        "default_branch": repo.default_branch,
    }


def full_repo_payload(repo: Repository, api: str) -> Json:
    """GET /repos/{o}/{r}: the embedded shape plus the fields only the full object has."""
    payload = repo_payload(repo, api)
    payload.update(
        {
            "permissions": {"admin": False, "maintain": False, "push": False, "triage": False, "pull": True},
            "network_count": 0,
            "subscribers_count": 0,
        }
    )
    return payload


# --- pull requests -------------------------------------------------------------------------


def label_payload(repo: Repository, name: str, api: str) -> Json:
    label_id = stable_id("label", repo.full_name, name)
    return {
        "id": label_id,
        "node_id": node_id("Label", label_id),
        "url": f"{api}/repos/{repo.full_name}/labels/{name}",
        "name": name,
        "color": f"{label_id & 0xFFFFFF:06x}",
        "default": False,
        "description": "",
    }


def _branch_payload(repo: Repository, ref: str, sha: str, api: str) -> Json:
    return {
        "label": f"{repo.owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": user_payload(owner_user(repo), api),
        "repo": repo_payload(repo, api),
    }


def event_label(event: TimelineEvent) -> str | None:
    """A labeled/unlabeled event's label (GitHub always names one; the model may leave it out)."""
    return (event.label or "bug") if event.event in ("labeled", "unlabeled") else None


def event_rename(event: TimelineEvent) -> tuple[str, str] | None:
    return (event.rename or ("Old title", "New title")) if event.event == "renamed" else None


def event_source(event: TimelineEvent) -> tuple[str, int] | None:
    """A cross-referenced event's source issue (repository, number)."""
    return (event.source or ("acme/tracker", 1)) if event.event == "cross-referenced" else None


def fork_of(repo: Repository, full_name: str) -> Repository:
    """The fork a PR's head lives in (the model names it only)."""
    owner, name = full_name.split("/", 1)
    return Repository(owner, name, stable_id("fork", full_name))


def _head_payload(repo: Repository, pr: PullRequest, api: str) -> Json:
    if pr.fork is None:
        return _branch_payload(repo, pr.head_ref, pr.head_sha, api)
    fork = fork_of(repo, pr.fork)
    head = _branch_payload(fork, pr.head_ref, pr.head_sha, api)
    head["repo"] = None if pr.fork_deleted else {**repo_payload(fork, api), "fork": True}
    return head


def team_payload(repo: Repository, slug: str, api: str) -> Json:
    team_id = stable_id("team", repo.owner, slug)
    return {
        "id": team_id,
        "node_id": node_id("Team", team_id),
        "url": f"{api}/organizations/{stable_id('owner', repo.owner)}/team/{team_id}",
        "html_url": f"{web_root(api)}/orgs/{repo.owner}/teams/{slug}",
        "name": slug,
        "slug": slug,
        "description": None,
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "permission": "pull",
        "members_url": f"{api}/organizations/{stable_id('owner', repo.owner)}/team/{team_id}/members{{/member}}",
        "repositories_url": f"{api}/organizations/{stable_id('owner', repo.owner)}/team/{team_id}/repos",
        "parent": None,
    }


def milestone_payload(repo: Repository, title: str, api: str) -> Json:
    number = stable_id("milestone", repo.full_name, title) % 1000 + 1
    return {
        "url": f"{api}/repos/{repo.full_name}/milestones/{number}",
        "html_url": f"{web_root(api)}/{repo.full_name}/milestone/{number}",
        "id": stable_id("milestone", repo.full_name, title),
        "node_id": node_id("Milestone", number),
        "number": number,
        "title": title,
        "description": None,
        "creator": user_payload(owner_user(repo), api),
        "open_issues": 0,
        "closed_issues": 1,
        "state": "open",
        "created_at": iso(EPOCH),
        "updated_at": iso(EPOCH),
        "due_on": None,
        "closed_at": None,
    }


def pull_payload(repo: Repository, pr: PullRequest, api: str, *, full: bool = True) -> Json:
    """GET /pulls/{n} (``full=True``, keys of pull.json) or an item of GET /pulls, which
    GitHub sends without merged/mergeable/counts ("pull-request-simple")."""
    r = f"{api}/repos/{repo.full_name}"
    pr_url = f"{r}/pulls/{pr.number}"
    issue_url = f"{r}/issues/{pr.number}"
    html = f"{web_root(api)}/{repo.full_name}/pull/{pr.number}"
    statuses_url = f"{r}/statuses/{pr.head_sha}"
    pr_id = stable_id("pull", repo.id, pr.number)
    payload: Json = {
        "url": pr_url,
        "id": pr_id,
        "node_id": node_id("PullRequest", pr_id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_url,
        "number": pr.number,
        "state": pr.state,
        "locked": False,
        "title": pr.title,
        "user": user_payload(pr.user, api),
        "body": pr.body,
        "created_at": iso(pr.created_at),
        "updated_at": iso(pr.updated_at),
        "closed_at": iso(pr.closed_at),
        "merged_at": iso(pr.merged_at),
        "merge_commit_sha": fake_sha("merge", repo.full_name, pr.number),
        "assignee": user_payload(pr.assignees[0], api) if pr.assignees else None,
        "assignees": [user_payload(user, api) for user in pr.assignees],
        "requested_reviewers": [user_payload(user, api) for user in pr.requested_reviewers],
        "requested_teams": [team_payload(repo, slug, api) for slug in pr.requested_teams],
        "labels": [label_payload(repo, name, api) for name in pr.labels],
        "milestone": milestone_payload(repo, pr.milestone, api) if pr.milestone else None,
        "draft": pr.draft,
        "commits_url": f"{pr_url}/commits",
        "review_comments_url": f"{pr_url}/comments",
        "review_comment_url": f"{r}/pulls/comments{{/number}}",
        "comments_url": f"{issue_url}/comments",
        "statuses_url": statuses_url,
        "head": _head_payload(repo, pr, api),
        "base": _branch_payload(repo, pr.base_ref, pr.base_sha, api),
        "_links": {
            "self": {"href": pr_url},
            "html": {"href": html},
            "issue": {"href": issue_url},
            "comments": {"href": f"{issue_url}/comments"},
            "review_comments": {"href": f"{pr_url}/comments"},
            "review_comment": {"href": f"{r}/pulls/comments{{/number}}"},
            "commits": {"href": f"{pr_url}/commits"},
            "statuses": {"href": statuses_url},
        },
        "author_association": author_association(repo, pr.user),
        "auto_merge": (
            {
                "enabled_by": user_payload(pr.auto_merge[1], api),
                "merge_method": pr.auto_merge[0],
                "commit_title": None,
                "commit_message": None,
            }
            if pr.auto_merge
            else None
        ),
        "active_lock_reason": None,
    }
    if not full:
        return payload
    payload.update(
        {
            "merged": pr.merged,
            # GitHub computes mergeability lazily; closed PRs answer null / "unknown".
            "mergeable": None,
            "rebaseable": None,
            "mergeable_state": "unknown",
            "merged_by": user_payload(pr.merged_by, api) if pr.merged else None,
            "comments": len(pr.issue_comments),
            "review_comments": len(pr.review_comments),
            "maintainer_can_modify": False,
            # The full count, although GET /pulls/{n}/commits stops at 250.
            "commits": len(pr.commits),
            "additions": sum(f.additions for f in pr.files),
            "deletions": sum(f.deletions for f in pr.files),
            "changed_files": len(pr.files),
        }
    )
    return payload


# --- commits and files ---------------------------------------------------------------------


def git_committer(commit: Commit) -> tuple[str, str]:
    if commit.committer is None:
        return commit.author_name, commit.author_email
    c = commit.committer
    return c.login, f"{c.id}+{c.login}@users.noreply.github.com"


def unsigned_verification() -> Json:
    return {"verified": False, "reason": "unsigned", "signature": None, "payload": None, "verified_at": None}


def verification(commit: Commit) -> Json:
    """REST's commit.verification for the model's signature reason."""
    if commit.signature == "unsigned":
        return unsigned_verification()
    signature = f"-----BEGIN PGP SIGNATURE-----\n{fake_sha('sig', commit.sha)}\n-----END PGP SIGNATURE-----"
    verified = commit.signature == "valid"
    return {
        "verified": verified,
        "reason": commit.signature,
        "signature": signature,
        "payload": f"tree {fake_sha('tree', commit.sha)}\n",
        "verified_at": iso(commit.committed_at) if verified else None,
    }


def commit_payload(repo: Repository, commit: Commit, parent_sha: str, api: str) -> Json:
    """An item of GET /pulls/{n}/commits (keys of pull_commits.json)."""
    r = f"{api}/repos/{repo.full_name}"
    web = f"{web_root(api)}/{repo.full_name}"
    committer_name, committer_email = git_committer(commit)
    tree_sha = fake_sha("tree", commit.sha)
    return {
        "sha": commit.sha,
        "node_id": node_id("Commit", stable_id("commit", commit.sha)),
        "commit": {
            "author": {
                "name": commit.author_name,
                "email": commit.author_email,
                "date": iso(commit.authored_at),
            },
            "committer": {"name": committer_name, "email": committer_email, "date": iso(commit.committed_at)},
            "message": commit.message,
            "tree": {"sha": tree_sha, "url": f"{r}/git/trees/{tree_sha}"},
            "url": f"{r}/git/commits/{commit.sha}",
            "comment_count": 0,
            "verification": verification(commit),
        },
        "url": f"{r}/commits/{commit.sha}",
        "html_url": f"{web}/commit/{commit.sha}",
        "comments_url": f"{r}/commits/{commit.sha}/comments",
        "author": user_payload(commit.author, api),
        "committer": user_payload(commit.committer or commit.author, api),
        "parents": [
            {"sha": sha, "url": f"{r}/commits/{sha}", "html_url": f"{web}/commit/{sha}"}
            for sha in (parent_sha, *commit.merged_parents)
        ],
    }


def commit_payloads(repo: Repository, pr: PullRequest, api: str) -> list[Json]:
    """All of a PR's commits, oldest first; each one's parent is the previous commit, the
    first one's is the base sha."""
    # each commit's parent is the one before it; the first one's is the base (none: no commits)
    parents = [pr.base_sha, *(c.sha for c in pr.commits)][: len(pr.commits)]
    return [commit_payload(repo, c, p, api) for c, p in zip(pr.commits, parents, strict=True)]


def file_payload(repo: Repository, pr: PullRequest, change: FileChange, api: str) -> Json:
    """An item of GET /pulls/{n}/files (keys of pull_files.json)."""
    web = f"{web_root(api)}/{repo.full_name}"
    payload: Json = {
        "sha": fake_sha("blob", repo.full_name, pr.number, change.filename),
        "filename": change.filename,
        "status": change.status,
        "additions": change.additions,
        "deletions": change.deletions,
        "changes": change.additions + change.deletions,
        "blob_url": f"{web}/blob/{pr.head_sha}/{change.filename}",
        "raw_url": f"{web}/raw/{pr.head_sha}/{change.filename}",
        "contents_url": f"{api}/repos/{repo.full_name}/contents/{change.filename}?ref={pr.head_sha}",
    }
    if change.patch is not None:  # absent for binary files and oversized diffs
        payload["patch"] = change.patch
    if change.status == "renamed":  # only renamed files carry previous_filename
        payload["previous_filename"] = change.previous_filename
    return payload


# --- reviews and comments ------------------------------------------------------------------


def review_payload(repo: Repository, pr: PullRequest, review: Review, api: str) -> Json:
    """An item of GET /pulls/{n}/reviews in the default media type (no body_html/body_text).
    Users have no ``user_view_type`` here, as in the recordings of this endpoint."""
    pr_url = f"{api}/repos/{repo.full_name}/pulls/{pr.number}"
    html = f"{web_root(api)}/{repo.full_name}/pull/{pr.number}#pullrequestreview-{review.id}"
    payload: Json = {
        "id": review.id,
        "node_id": node_id("PullRequestReview", review.id),
        "user": user_payload(review.user, api, view_type=False),
        "body": review.body,
        "state": review.state,
        "html_url": html,
        "pull_request_url": pr_url,
        "author_association": author_association(repo, review.user),
        "_links": {"html": {"href": html}, "pull_request": {"href": pr_url}},
    }
    if review.state != "PENDING" and review.submitted_at is not None:  # a pending review has none
        payload["submitted_at"] = iso(review.submitted_at)
    payload["commit_id"] = review.commit_id
    return payload


def _reactions(url: str) -> Json:
    return {
        "url": url,
        "total_count": 0,
        "+1": 0,
        "-1": 0,
        "laugh": 0,
        "hooray": 0,
        "confused": 0,
        "heart": 0,
        "rocket": 0,
        "eyes": 0,
    }


def review_comment_payload(repo: Repository, pr: PullRequest, comment: ReviewComment, api: str) -> Json:
    """An item of GET /pulls/{n}/comments (keys of pull_review_comments.json)."""
    r = f"{api}/repos/{repo.full_name}"
    url = f"{r}/pulls/comments/{comment.id}"
    pr_url = f"{r}/pulls/{pr.number}"
    html = f"{web_root(api)}/{repo.full_name}/pull/{pr.number}#discussion_r{comment.id}"
    payload: Json = {
        "url": url,
        "pull_request_review_id": comment.pull_request_review_id,
        "id": comment.id,
        "node_id": node_id("PullRequestReviewComment", comment.id),
        "diff_hunk": f"@@ -1,3 +1,3 @@\n context\n-old line\n+new line in {comment.path}",
        "path": comment.path,
        "commit_id": comment.commit_id,
        "original_commit_id": comment.original_commit_id or comment.commit_id,
        "user": user_payload(comment.user, api, view_type=False),
        "body": comment.body,
        "created_at": iso(comment.created_at),
        "updated_at": iso(comment.updated_at),
        "html_url": html,
        "pull_request_url": pr_url,
        "author_association": author_association(repo, comment.user),
        "_links": {"self": {"href": url}, "html": {"href": html}, "pull_request": {"href": pr_url}},
        "reactions": _reactions(f"{url}/reactions"),
        "start_line": comment.start_line,
        "original_start_line": comment.start_line,
        "start_side": comment.side if comment.start_line is not None else None,
        "line": comment.line,
        "original_line": comment.original_line if comment.original_line is not None else comment.line,
        "side": comment.side,
        "original_position": comment.line or 1,
        "position": comment.line,
        # A comment on a whole file has no line.
        "subject_type": "line" if comment.line is not None else "file",
    }
    if comment.in_reply_to_id is not None:  # GitHub omits the key on top-level comments
        payload["in_reply_to_id"] = comment.in_reply_to_id
    return payload


def issue_comment_payload(repo: Repository, pr: PullRequest, comment: IssueComment, api: str) -> Json:
    """An item of GET /issues/{n}/comments (keys of issue_comments.json); on a PR the html_url
    has /pull/N#issuecomment-ID."""
    r = f"{api}/repos/{repo.full_name}"
    url = f"{r}/issues/comments/{comment.id}"
    return {
        "url": url,
        "html_url": f"{web_root(api)}/{repo.full_name}/pull/{pr.number}#issuecomment-{comment.id}",
        "issue_url": f"{r}/issues/{pr.number}",
        "id": comment.id,
        "node_id": node_id("IssueComment", comment.id),
        "user": user_payload(comment.user, api),
        "created_at": iso(comment.created_at),
        "updated_at": iso(comment.updated_at),
        "body": comment.body,
        "author_association": author_association(repo, comment.user),
        "reactions": _reactions(f"{url}/reactions"),
        "performed_via_github_app": None,
    }


# --- check runs ----------------------------------------------------------------------------

_APP_EVENTS = ["check_run", "check_suite", "pull_request", "push", "workflow_dispatch", "workflow_run"]
_READ_ONLY = ("metadata", "vulnerability_alerts")
_APP_PERMISSIONS = [
    "actions",
    "checks",
    "contents",
    "deployments",
    "issues",
    "metadata",
    "packages",
    "pages",
    "pull_requests",
    "repository_hooks",
    "repository_projects",
    "security_events",
    "statuses",
    "vulnerability_alerts",
]


def app_payload(slug: str, api: str) -> Json:
    app_id = 15368 if slug == "github-actions" else stable_id("app", slug)
    web = web_root(api)
    return {
        "id": app_id,
        "slug": slug,
        "node_id": node_id("App", app_id),
        "owner": user_payload(User(login="github", id=9919, type="Organization"), api, view_type=False),
        "name": "GitHub Actions" if slug == "github-actions" else slug,
        "description": f"Fake app {slug}",
        "external_url": f"{web}/apps/{slug}/about",
        "html_url": f"{web}/apps/{slug}",
        "created_at": iso(EPOCH),
        "updated_at": iso(EPOCH),
        "permissions": {p: "read" if p in _READ_ONLY else "write" for p in _APP_PERMISSIONS},
        "events": list(_APP_EVENTS),
    }


def check_run_payload(repo: Repository, run: CheckRun, api: str) -> Json:
    """An item of ``check_runs`` in GET /commits/{sha}/check-runs (keys of check_runs.json)."""
    url = f"{api}/repos/{repo.full_name}/check-runs/{run.id}"
    html = f"{web_root(api)}/{repo.full_name}/runs/{run.id}"
    return {
        "id": run.id,
        "node_id": node_id("CheckRun", run.id),
        "head_sha": run.head_sha,
        "external_id": fake_sha("external", run.id)[:32],
        "url": url,
        "html_url": html,
        "details_url": html,
        "status": run.status,
        "conclusion": run.conclusion if run.status == "completed" else None,
        "started_at": iso(run.started_at),
        "completed_at": iso(run.completed_at),
        "output": {
            "title": run.output_title,
            "summary": run.output_summary,
            "text": None,
            "annotations_count": 0,
            "annotations_url": f"{url}/annotations",
        },
        "name": run.name,
        "check_suite": {"id": stable_id("suite", run.head_sha, run.app_slug)},
        "app": app_payload(run.app_slug, api),
        "pull_requests": [],
    }


# Artifacts are kept for the repository's retention period (90 days by default).


def artifact_payload(repo: Repository, artifact: Artifact, api: str) -> Json:
    """An item of ``artifacts`` in GET /repos/{o}/{r}/actions/artifacts (keys of GitHub's REST docs)."""
    url = f"{api}/repos/{repo.full_name}/actions/artifacts/{artifact.id}"
    expires_at = artifact.created_at + timedelta(days=artifact.retention_days)
    if artifact.expired:
        expires_at = min(expires_at, datetime.now(UTC))
    run_id = artifact_run_id(artifact)
    return {
        "id": artifact.id,
        "node_id": node_id("Artifact", artifact.id),
        "name": artifact.name,
        "size_in_bytes": len(artifact.content),
        "url": url,
        "archive_download_url": f"{url}/zip",
        "expired": artifact.expired,
        "digest": "sha256:" + hashlib.sha256(artifact.content).hexdigest(),
        "created_at": iso(artifact.created_at),
        "updated_at": iso(artifact.created_at),
        "expires_at": iso(expires_at),
        # The run that uploaded it. A `pull_request` run for a fork's PR is listed under this
        # repository (repository_id ours) but its head is the fork: head_repository_id is the
        # fork's id and head_branch the fork's branch, named as the fork likes ("main" too).
        "workflow_run": {
            "id": run_id,
            "repository_id": repo.id,
            "head_repository_id": artifact.head_repository_id or repo.id,
            "head_branch": artifact.head_branch,
            "head_sha": run_head_sha(artifact),
        }
        if artifact.has_workflow_run
        else None,
    }


def artifact_run_id(artifact: Artifact) -> int:
    return artifact.workflow_run_id or stable_id("run", artifact.id)


def run_head_sha(artifact: Artifact) -> str:
    return artifact.head_sha or fake_sha("run", artifact_run_id(artifact))


# The events whose runs execute the head branch's code (fetcher/storage/trust.py).
_BRANCH_EVENTS = ("schedule", "workflow_dispatch", "push", "workflow_run", "repository_dispatch")


def run_branch(repo: Repository, artifact: Artifact) -> str | None:
    """The branch of ``repo`` whose commit the artifact's run executed; None when none of ours
    (a pull request's code, a fork's branch, a tag)."""
    if artifact.event == "pull_request_target":
        return artifact.base_branch or repo.default_branch
    ours = artifact.head_repository_id in (None, repo.id)
    if artifact.event in _BRANCH_EVENTS and artifact.head_ref_type == "branch" and ours:
        return artifact.head_branch
    return None


def branch_commits(repo: Repository, branch: str) -> list[str] | None:
    """The commits of ``branch``, oldest first, its tip last: a root commit, then those its runs
    executed (by the artifacts' creation); None when ``repo`` has no such branch (the default
    branch always exists)."""
    runs = sorted((a for a in repo.artifacts if a.has_workflow_run), key=lambda a: (a.created_at, a.id))
    commits = list(dict.fromkeys(run_head_sha(a) for a in runs if run_branch(repo, a) == branch))
    if not commits and branch != repo.default_branch:
        return None
    return [fake_sha("root", repo.full_name, branch), *commits]


def branch_payload(repo: Repository, branch: str, sha: str, api: str) -> Json:
    """GET /repos/{o}/{r}/branches/{branch} (GitHub's "branch with protection", unprotected)."""
    url = f"{api}/repos/{repo.full_name}/branches/{branch}"
    return {
        "name": branch,
        "commit": _comparison_commit(repo, sha, api),
        "_links": {"self": url, "html": f"{web_root(api)}/{repo.full_name}/tree/{branch}"},
        "protected": False,
        "protection": {"enabled": False, "required_status_checks": {"enforcement_level": "off", "contexts": []}},
        "protection_url": f"{url}/protection",
    }


def comparison_payload(repo: Repository, base: str, head: str, status: str, ahead: int, behind: int, api: str) -> Json:
    """GET /repos/{o}/{r}/compare/{base}...{head}: ``status`` is identical, ahead, behind or
    diverged (the commits and files lists are not modelled: empty)."""
    url = f"{api}/repos/{repo.full_name}/compare/{base}...{head}"
    html = f"{web_root(api)}/{repo.full_name}/compare/{base}...{head}"
    return {
        "url": url,
        "html_url": html,
        "permalink_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "base_commit": _comparison_commit(repo, base, api),
        "merge_base_commit": _comparison_commit(repo, head if status == "behind" else base, api),
        "status": status,
        "ahead_by": ahead,
        "behind_by": behind,
        "total_commits": ahead,
        "commits": [],
        "files": [],
    }


def _comparison_commit(repo: Repository, sha: str, api: str) -> Json:
    url = f"{api}/repos/{repo.full_name}/commits/{sha}"
    person = {"name": repo.owner, "email": f"{repo.owner}@example.com", "date": "2026-01-01T00:00:00Z"}
    tree = fake_sha("tree", sha)
    return {
        "sha": sha,
        "node_id": node_id("Commit", stable_id("commit", sha)),
        "commit": {
            "author": person,
            "committer": person,
            "message": "mergelens",
            "tree": {"sha": tree, "url": f"{api}/repos/{repo.full_name}/git/trees/{tree}"},
            "url": f"{api}/repos/{repo.full_name}/git/commits/{sha}",
            "comment_count": 0,
        },
        "url": url,
        "html_url": f"{web_root(api)}/{repo.full_name}/commit/{sha}",
        "comments_url": f"{url}/comments",
        "author": None,
        "committer": None,
        "parents": [],
    }


def _minimal_repo_payload(repo: Repository, api: str, *, fork: bool = False) -> Json:
    """GitHub's "minimal repository" of a workflow run: the embedded repository's keys up to
    ``deployments_url`` (no counts, dates or settings)."""
    payload = repo_payload(repo, api)
    keys = list(payload)
    minimal = {key: payload[key] for key in keys[: keys.index("deployments_url") + 1]}
    minimal["fork"] = fork
    return minimal


def _head_repository(repo: Repository, artifact: Artifact) -> Repository:
    """The run's head repository: ours, or the fork the model names (a made-up full name if none)."""
    if artifact.head_repository_id in (None, repo.id):
        return repo
    full_name = artifact.head_repository_name or f"fork-{artifact.head_repository_id}/{repo.name}"
    owner, _, name = full_name.partition("/")
    return Repository(owner, name, artifact.head_repository_id)


def workflow_run_payload(repo: Repository, artifact: Artifact, api: str) -> Json:
    """GET /repos/{o}/{r}/actions/runs/{id}: the run that uploaded ``artifact`` (keys of GitHub's
    REST docs). ``event`` says what triggered it; head_branch/head_repository are the head side
    GitHub records for that event (see ``Artifact``); repository is always ours."""
    run_id = artifact_run_id(artifact)
    url = f"{api}/repos/{repo.full_name}/actions/runs/{run_id}"
    html = f"{web_root(api)}/{repo.full_name}/actions/runs/{run_id}"
    workflow_id = stable_id("workflow", repo.full_name, "mergelens.yml")
    head = _head_repository(repo, artifact)
    head_sha = run_head_sha(artifact)
    started = artifact.created_at - timedelta(minutes=1)
    actor = user_payload(owner_user(repo), api)
    return {
        "id": run_id,
        "name": "mergelens",
        "node_id": node_id("WorkflowRun", run_id),
        "head_branch": artifact.head_branch,
        "head_sha": head_sha,
        "path": artifact.workflow_path,
        "display_title": "mergelens",
        "run_number": run_id % 1000 + 1,
        "event": artifact.event,
        "status": "completed",
        "conclusion": "success",
        "workflow_id": workflow_id,
        "check_suite_id": stable_id("suite", run_id),
        "check_suite_node_id": node_id("CheckSuite", stable_id("suite", run_id)),
        "url": url,
        "html_url": html,
        "pull_requests": [],  # GitHub leaves a fork's PRs out of this list
        "created_at": iso(started),
        "updated_at": iso(artifact.created_at),
        "actor": actor,
        "run_attempt": 1,
        "referenced_workflows": [],
        "run_started_at": iso(started),
        "triggering_actor": actor,
        "jobs_url": f"{url}/jobs",
        "logs_url": f"{url}/logs",
        "check_suite_url": f"{api}/repos/{repo.full_name}/check-suites/{stable_id('suite', run_id)}",
        "artifacts_url": f"{url}/artifacts",
        "cancel_url": f"{url}/cancel",
        "rerun_url": f"{url}/rerun",
        "previous_attempt_url": None,
        "workflow_url": f"{api}/repos/{repo.full_name}/actions/workflows/{workflow_id}",
        "head_commit": {
            "id": head_sha,
            "tree_id": fake_sha("tree", head_sha),
            "message": "mergelens",
            "timestamp": iso(started),
            "author": {"name": repo.owner, "email": f"{repo.owner}@example.com"},
            "committer": {"name": "GitHub", "email": "noreply@github.com"},
        },
        "repository": _minimal_repo_payload(repo, api),
        "head_repository": _minimal_repo_payload(head, api, fork=head is not repo),
    }
