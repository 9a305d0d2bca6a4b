"""In-memory state of the fake GitHub: plain dataclasses that tests build and mutate.

The server reads these objects on every request, so a test can delete a comment or edit a
body between two syncs and the next request serves the live state. All datetimes are UTC
(``tzinfo=timezone.utc``). A deleted GitHub account is ``None`` wherever a ``User`` is
expected; GitHub then sends ``"user": null`` (or ``"actor": null``, ``"author": null``).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class User:
    login: str
    id: int
    type: str = "User"  # "User" | "Bot" | "Organization"


@dataclass
class Commit:
    sha: str
    author: User | None  # the GitHub account linked to the git author (None -> "author": null)
    author_name: str
    author_email: str
    authored_at: datetime
    committed_at: datetime  # git committer date: after a rebase this is the rewrite date
    message: str
    committer: User | None = None  # payload "committer" is this account, else the author's
    # REST's commit.verification.reason ("valid": verified); GraphQL's signature.state upper-cased,
    # and no signature at all for "unsigned"
    signature: str = "unsigned"
    # a merge commit's parents besides the previous commit (e.g. the base branch's head merged in)
    merged_parents: tuple[str, ...] = ()


@dataclass
class FileChange:
    filename: str
    status: str = "modified"  # added|removed|modified|renamed|copied|changed|unchanged
    additions: int = 0
    deletions: int = 0
    previous_filename: str | None = None  # GitHub sends the key only for renamed files
    patch: str | None = None  # GitHub omits "patch" for binary files and very large diffs


@dataclass
class Review:
    id: int
    user: User | None
    state: str  # APPROVED|CHANGES_REQUESTED|COMMENTED|DISMISSED|PENDING
    body: str
    submitted_at: datetime | None  # None for PENDING: GitHub leaves "submitted_at" out
    commit_id: str


@dataclass
class ReviewComment:
    id: int
    user: User | None
    body: str
    created_at: datetime
    updated_at: datetime
    path: str
    commit_id: str
    line: int | None = None
    pull_request_review_id: int | None = None
    in_reply_to_id: int | None = None  # GitHub omits the key on top-level comments
    original_line: int | None = None  # None: the same as line
    start_line: int | None = None  # a comment on a range of lines: its first line
    side: str = "RIGHT"  # LEFT (the old side of the diff) | RIGHT; a thread's comments share it
    original_commit_id: str | None = None  # None: the same as commit_id
    resolved: bool = False  # the thread's (GraphQL isResolved; REST does not tell)


@dataclass
class IssueComment:
    id: int
    user: User | None
    body: str
    created_at: datetime
    updated_at: datetime


@dataclass
class TimelineEvent:
    id: int
    # ready_for_review|review_requested|review_request_removed|head_ref_force_pushed|
    # convert_to_draft|labeled|merged|closed|head_ref_deleted|...
    event: str
    actor: User | None
    created_at: datetime
    commit_id: str | None = None
    requested_reviewer: User | None = None  # review_requested / review_request_removed
    requested_team: str | None = None  # the same, for a team (its slug): then no requested_reviewer
    label: str | None = None  # labeled / unlabeled
    rename: tuple[str, str] | None = None  # renamed: (from, to)
    assignee: User | None = None  # assigned / unassigned
    source: tuple[str, int] | None = None  # cross-referenced: the issue's (repository, number)
    state_reason: str | None = None  # closed: completed | not_planned | …


@dataclass
class CheckRun:
    id: int
    name: str
    head_sha: str
    status: str = "completed"  # queued|in_progress|completed
    # success|failure|neutral|cancelled|skipped|timed_out|action_required|None
    conclusion: str | None = "success"
    started_at: datetime | None = None
    completed_at: datetime | None = None
    app_slug: str = "github-actions"
    output_title: str | None = None
    output_summary: str | None = None


@dataclass
class PullRequest:
    number: int
    title: str
    user: User | None
    created_at: datetime
    updated_at: datetime
    head_sha: str
    body: str | None = ""
    state: str = "closed"
    draft: bool = False
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merged_by: User | None = None
    base_ref: str = "main"
    head_ref: str = "feature"
    base_sha: str = "0" * 40
    labels: list[str] = field(default_factory=list)
    requested_reviewers: list[User] = field(default_factory=list)  # requests still open
    requested_teams: list[str] = field(default_factory=list)  # team slugs
    assignees: list[User] = field(default_factory=list)
    milestone: str | None = None  # its title
    fork: str | None = None  # the head repository's full name when it is a fork; None: this repository
    fork_deleted: bool = False  # the fork was deleted since: REST "head.repo": null
    auto_merge: tuple[str, User | None] | None = None  # (merge|squash|rebase, who enabled it)
    # GraphQL's mergeability of an open PR: MERGEABLE | CONFLICTING | UNKNOWN (GitHub computes it
    # in the background), and mergeStateStatus (None: derived from draft, conflicts and checks)
    mergeable: str = "MERGEABLE"
    merge_state_status: str | None = None
    review_decision: str | None = None  # APPROVED | CHANGES_REQUESTED | REVIEW_REQUIRED; None: no rule
    commits: list[Commit] = field(default_factory=list)
    files: list[FileChange] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    review_comments: list[ReviewComment] = field(default_factory=list)
    issue_comments: list[IssueComment] = field(default_factory=list)
    events: list[TimelineEvent] = field(default_factory=list)
    check_runs: list[CheckRun] = field(default_factory=list)

    @property
    def merged(self) -> bool:
        return self.merged_at is not None


def zip_archive(files: dict[str, bytes]) -> bytes:
    """A zip holding ``files`` (name -> bytes), as GitHub serves an artifact's archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


@dataclass
class Artifact:
    """A workflow artifact and the run that uploaded it. ``content`` is its zip archive (what
    archive_download_url serves); an ``expired`` artifact is still listed but its zip answers
    410, as on GitHub. The run is served at GET /actions/runs/{id} (404 once ``run_deleted``).

    The run's head side is what GitHub records for its ``event``: for ``schedule``,
    ``workflow_dispatch`` and ``push`` the branch of this repository that ran; for
    ``pull_request`` and ``pull_request_target`` the PR's head branch and head repository (a
    fork's, for a fork's PR), although a ``pull_request_target`` run executes the base
    branch's code and its head_sha is the base branch's commit. A run for a tag
    (``head_ref_type="tag"``) records the tag's name as head_branch, as GitHub does.

    The run's commit is on a branch of the repository (``payloads.branch_commits``) when the
    run is one of that branch: a ``pull_request_target`` run of ``base_branch`` (default: the
    repository's default branch), or a run of ``schedule``, ``workflow_dispatch``, ``push``,
    ``workflow_run`` or ``repository_dispatch`` for a branch (not a tag) of this repository."""

    id: int
    name: str
    created_at: datetime
    content: bytes
    expired: bool = False
    workflow_run_id: int | None = None  # None: derived from the id
    head_branch: str = "main"
    head_repository_id: int | None = None  # None: the repository itself (not a fork)
    has_workflow_run: bool = True  # False: "workflow_run": null (GitHub's schema allows it)
    event: str = "schedule"  # what triggered the uploading run
    head_repository_name: str | None = None  # its full name; None: ours, or "fork-{id}/{name}" for a fork
    head_sha: str | None = None  # None: derived from the run id
    run_deleted: bool = False  # the run was deleted since the artifact was listed
    retention_days: int = 90  # upload-artifact's retention-days: expires_at is created_at + this
    workflow_path: str = ".github/workflows/mergelens.yml"  # the run's ``path``: its workflow file
    head_ref_type: str = "branch"  # or "tag": head_branch is then a tag's name
    base_branch: str | None = None  # a pull_request_target run's base branch (None: the default one)

    @classmethod
    def from_file(
        cls,
        id: int,
        name: str,
        path: str | Path,
        created_at: datetime,
        expired: bool = False,
        member: str = "",
        **run: Any,
    ) -> Artifact:
        """An artifact whose zip holds the file at ``path`` (named ``member``, default its own name),
        like ``actions/upload-artifact`` with ``path: that-file``. ``run``: the uploading run's
        fields (event, head_branch, head_repository_id, head_repository_name, head_sha, workflow_run_id,
        has_workflow_run, run_deleted, workflow_path, head_ref_type, base_branch)."""
        path = Path(path)
        return cls(id, name, created_at, zip_archive({member or path.name: path.read_bytes()}), expired, **run)


@dataclass
class Repository:
    owner: str
    name: str
    id: int
    private: bool = False
    default_branch: str = "main"
    archived: bool = False
    pulls: dict[int, PullRequest] = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)
    next_artifact_id: int = 10_000  # upload_artifact's next id (never reused, as on GitHub)
    # plain issues (not PRs) by number, with the comments posted to them (POST /issues/{n}/comments)
    issues: dict[int, list[IssueComment]] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def add_pull(self, pr: PullRequest) -> PullRequest:
        self.pulls[pr.number] = pr
        return pr

    def upload_artifact(self, name: str, path: str | Path, created_at: datetime, **run: Any) -> Artifact:
        """What ``actions/upload-artifact`` does (through its own service, not the REST API): a new
        artifact with a fresh id holding the file at ``path``. ``run``: as ``Artifact.from_file``
        (the uploading run's event, head side, ``workflow_run_id``) and ``retention_days``."""
        self.next_artifact_id += 1
        artifact = Artifact.from_file(self.next_artifact_id, name, path, created_at, **run)
        self.artifacts.append(artifact)
        return artifact


# --- recorded data ---------------------------------------------------------------------------
# Real api.github.com responses are served as they were recorded, not rebuilt from the model:
# GitHub's payloads carry what no model reproduces (2012 users without "type", list-shaped PRs,
# git dates with UTC offsets, "ghost" actors).


@dataclass
class RecordedPull:
    """One PR as GitHub answered for it: ``pull`` is what ``GET /pulls/{n}`` serves, each list the
    items of one endpoint in the order GitHub sent them; a list not recorded stays empty."""

    pull: dict[str, Any]
    commits: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    review_comments: list[dict[str, Any]] = field(default_factory=list)
    issue_comments: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    check_runs: list[dict[str, Any]] = field(default_factory=list)  # the runs of the head commit

    @property
    def number(self) -> int:
        return int(self.pull["number"])

    @property
    def head_sha(self) -> str:
        return str(self.pull["head"]["sha"])


@dataclass
class RecordedRepository:
    """A repository served from recorded payloads (``routes.recorded_reply``), beside the model's
    ``Repository``. It answers the PR, its seven lists and its head's check runs; anything else
    is a 404."""

    owner: str
    name: str
    pulls: dict[int, RecordedPull] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def add_pull(self, pull: RecordedPull) -> RecordedPull:
        self.pulls[pull.number] = pull
        return pull
