"""POST /graphql (GHES: /api/graphql): GitHub's GraphQL API over the same model the REST routes serve.

Every query is first validated against GitHub's published schema
(``../shared/github-samples/github-schema.graphql``) with graphql-core; an invalid query is
answered the way GitHub answers it (200 with ``errors``) and is also kept in
``FakeGitHub.invalid_graphql`` so the test fails. Valid queries run through graphql-core's
executor with a small resolver: the objects are dicts whose connection fields are functions
of their arguments (``first``/``after``/``last``/``before``, ``states``, ``orderBy``,
``itemTypes``, ``filterBy``), for exactly the fields mergelens asks for. An argument the
fake does not model (``reviews(states: [APPROVED])``: it would answer every review) is an
error in the answer and a defect of the request (``GraphQLRecord.defects``), as is any other
exception in a resolver (a bug of the fake): tests/conftest.py fails the test that met one.

Cost, as GitHub computes it (docs: "Rate limits and query limits for the GraphQL API"): add up
the requests each connection needs, assuming every ``first``/``last`` is reached (a connection
under a list of 50 counts 50 times), divide by 100, round, minimum 1. The points come off a
budget (``limit``/``remaining``/``reset_at``) that ``rateLimit`` reports after the deduction.
A query whose cost exceeds what remains is refused with a ``RATE_LIMITED`` error.

GitHub quirks reproduced: a bot's ``login`` has no ``[bot]`` suffix in GraphQL; a git actor's
``user`` is a ``User`` only (null for a bot or an unlinked email); ``body`` is never null (an
empty PR description is ``""``); changed files have no previous path; database ids of reviews
and review/issue comments are ``fullDatabaseId`` (a BigInt, sent as a string).
"""

from __future__ import annotations

import base64
import inspect
import json
import math
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from .model import CheckRun, Commit, IssueComment, PullRequest, Repository, Review, ReviewComment, User
from .payloads import (
    author_association,
    event_label,
    event_rename,
    event_source,
    fake_sha,
    fork_of,
    git_committer,
    iso,
    node_id,
    stable_id,
    web_root,
)
from .timeline import timeline_items

# Where CI keeps the shared samples: beside the checkout, as tests.conftest.SAMPLES says.
SCHEMA_PATH = Path(__file__).resolve().parents[4] / "shared" / "github-samples" / "github-schema.graphql"

MAX_PAGE = 100  # GitHub: first/last must be 1..100
MAX_NODES = 500_000

Json = dict[str, Any]


class SchemaMissing(Exception):
    pass


@lru_cache(maxsize=2)
def load_schema(path: Path = SCHEMA_PATH) -> Any:
    """GitHub's schema as graphql-core reads it (see the samples' README: the SDL is not strictly
    valid, so it is built with ``assume_valid_sdl`` and its own validation errors are cleared)."""
    from graphql import build_schema

    if not path.is_file():
        raise SchemaMissing(f"GitHub's GraphQL schema not found at {path} (../shared/github-samples)")
    schema = build_schema(path.read_text(encoding="utf-8"), assume_valid_sdl=True)
    schema._validation_errors = []  # type: ignore[attr-defined]
    return schema


def validation_errors(query: str | Any, path: Path = SCHEMA_PATH) -> list[str]:
    """Why ``query`` (text or a parsed document) is not a valid query against GitHub's schema
    (empty: it is valid)."""
    from graphql import GraphQLError, parse, validate

    try:
        document = parse(query) if isinstance(query, str) else query
    except GraphQLError as exc:
        return [exc.message]
    return [error.message for error in validate(load_schema(path), document)]


# --- cost --------------------------------------------------------------------------------


def _argument(node: Any, name: str, variables: dict[str, Any]) -> Any:
    from graphql import IntValueNode, VariableNode

    for argument in node.arguments or ():
        if argument.name.value == name:
            value = argument.value
            if isinstance(value, VariableNode):
                return variables.get(value.name.value)
            if isinstance(value, IntValueNode):
                return int(value.value)
            return getattr(value, "value", None)
    return None


def _walk(selection_set: Any, fragments: dict[str, Any], variables: dict[str, Any], multiplier: int) -> tuple[int, int]:
    """(requests, nodes) of the connections below ``selection_set``, each counted ``multiplier`` times."""
    from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode

    requests = nodes = 0
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            size = _argument(selection, "first", variables) or _argument(selection, "last", variables)
            if size:
                requests += multiplier
                nodes += multiplier * int(size)
                inner = multiplier * int(size)
            else:
                inner = multiplier
            r, n = _walk(selection.selection_set, fragments, variables, inner)
            requests, nodes = requests + r, nodes + n
        elif isinstance(selection, InlineFragmentNode):
            r, n = _walk(selection.selection_set, fragments, variables, multiplier)
            requests, nodes = requests + r, nodes + n
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments[selection.name.value]
            r, n = _walk(fragment.selection_set, fragments, variables, multiplier)
            requests, nodes = requests + r, nodes + n
    return requests, nodes


def query_cost(query: str | Any, variables: dict[str, Any] | None = None) -> tuple[int, int]:
    """(points, nodes) GitHub charges for ``query`` (text or parsed): sum of the requests of every
    connection (parents x children), / 100, rounded (half up), at least 1."""
    from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

    document = parse(query) if isinstance(query, str) else query
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    requests = nodes = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            r, n = _walk(definition.selection_set, fragments, variables or {}, 1)
            requests, nodes = requests + r, nodes + n
    return max(1, math.floor(requests / 100 + 0.5)), nodes


# --- model -> GraphQL objects --------------------------------------------------------------


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _index(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    match = re.fullmatch(r"cursor:v2:(\d+)", base64.b64decode(cursor.encode()).decode())
    if match is None:
        raise GraphQLFault(f"`{cursor}` does not appear to be a valid cursor.")
    return int(match[1])


class GraphQLFault(Exception):
    """A GitHub-style error in a resolver (answered in ``errors``, with the data that resolved)."""


class Unmodelled(Exception):
    """The query gives an argument the fake does not model: answering as if it were absent
    would hide a wrong query, so the fake refuses it (a defect, not a GitHub answer)."""


PAGING = frozenset({"first", "after", "last", "before"})


def modelled(field: Callable[..., Any]) -> frozenset[str]:
    """The arguments a field's function models: its named parameters (a pager's: the paging
    arguments and its items' own)."""
    declared = getattr(field, "modelled", None)
    if declared is not None:
        return frozenset(declared)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return frozenset(name for name, p in inspect.signature(field).parameters.items() if p.kind in kinds)


def connection(
    items: list[Any],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Json:
    """A Relay connection over ``items``: nodes, edges, pageInfo, totalCount."""
    if first is None and last is None:
        raise GraphQLFault("You must provide a `first` or `last` value to properly paginate the connection.")
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 1 <= value <= MAX_PAGE:
            raise GraphQLFault(
                f"Requesting {value} records on the connection exceeds the `{name}` limit of {MAX_PAGE} records."
                if value > MAX_PAGE
                else f"`{name}` on the connection must be between 1 and {MAX_PAGE}."
            )
    start = (_index(after) + 1) if after is not None else 0
    end = _index(before) if before is not None else len(items)
    window = list(range(start, min(end, len(items))))
    if first is not None:
        window = window[:first]
    if last is not None:
        window = window[-last:]
    edges = [{"cursor": _cursor(i), "node": items[i]} for i in window]
    return {
        "totalCount": len(items),
        "nodes": [items[i] for i in window],
        "edges": edges,
        "pageInfo": {
            "hasNextPage": bool(window) and window[-1] < min(end, len(items)) - 1,
            "hasPreviousPage": bool(window) and window[0] > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def _pager(items: Callable[..., list[Any]]) -> Callable[..., Json]:
    """A connection field: its function takes GitHub's paging arguments plus the field's own."""

    def field(
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        **arguments: Any,
    ) -> Json:
        return connection(items(**arguments), first, after, last, before)

    field.modelled = PAGING | modelled(items)  # type: ignore[attr-defined]
    return field


def actor(user: User | None, api: str) -> Json | None:
    """An Actor. GitHub's GraphQL names a bot without the ``[bot]`` suffix REST shows."""
    if user is None:
        return None
    typename = {"Bot": "Bot", "Organization": "Organization"}.get(user.type, "User")
    login = user.login.removesuffix("[bot]") if typename == "Bot" else user.login
    return {
        "__typename": typename,
        "login": login,
        "id": node_id(typename, user.id),
        "url": f"{web_root(api)}/{user.login}",
    }


def _camel_to_enum(typename: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", typename).upper()


# REST timeline event -> GraphQL timeline type (only those GitHub has in both APIs).
TIMELINE_TYPES = {
    "labeled": "LabeledEvent",
    "unlabeled": "UnlabeledEvent",
    "ready_for_review": "ReadyForReviewEvent",
    "convert_to_draft": "ConvertToDraftEvent",
    "review_requested": "ReviewRequestedEvent",
    "review_request_removed": "ReviewRequestRemovedEvent",
    "review_dismissed": "ReviewDismissedEvent",
    "head_ref_force_pushed": "HeadRefForcePushedEvent",
    "head_ref_deleted": "HeadRefDeletedEvent",
    "head_ref_restored": "HeadRefRestoredEvent",
    "base_ref_changed": "BaseRefChangedEvent",
    "base_ref_force_pushed": "BaseRefForcePushedEvent",
    "merged": "MergedEvent",
    "closed": "ClosedEvent",
    "reopened": "ReopenedEvent",
    "assigned": "AssignedEvent",
    "unassigned": "UnassignedEvent",
    "milestoned": "MilestonedEvent",
    "demilestoned": "DemilestonedEvent",
    "renamed": "RenamedTitleEvent",
    "locked": "LockedEvent",
    "unlocked": "UnlockedEvent",
    "referenced": "ReferencedEvent",
    "cross-referenced": "CrossReferencedEvent",
    "mentioned": "MentionedEvent",
    "subscribed": "SubscribedEvent",
    "unsubscribed": "UnsubscribedEvent",
    "auto_merge_enabled": "AutoMergeEnabledEvent",
    "auto_merge_disabled": "AutoMergeDisabledEvent",
}

_CHANGE_TYPES = {
    "added": "ADDED",
    "removed": "DELETED",
    "modified": "MODIFIED",
    "renamed": "RENAMED",
    "copied": "COPIED",
    "changed": "CHANGED",
}


# REST's verification reason -> GraphQL's GitSignatureState, where it is not just upper-cased
_SIGNATURE_STATES = {"malformed_signature": "MALFORMED_SIG", "unknown_signature_type": "UNKNOWN_SIG_TYPE"}


class GraphObjects:
    """Builds the GraphQL objects of one repository from the live model, on demand."""

    def __init__(self, repo: Repository, api: str, fetched: Callable[[int], None]) -> None:
        self.repo, self.api, self.fetched = repo, api, fetched
        self.web = f"{web_root(api)}/{repo.full_name}"
        self._index: tuple[dict[str, Commit], dict[str, list[CheckRun]], set[str]] | None = None

    def index(self) -> tuple[dict[str, Commit], dict[str, list[CheckRun]], set[str]]:
        """sha -> commit, sha -> check runs, every sha the repository knows (built once a request)."""
        if self._index is None:
            commits: dict[str, Commit] = {}
            runs: dict[str, list[CheckRun]] = {}
            known: set[str] = set()
            for pr in self.repo.pulls.values():
                known.update((pr.head_sha, pr.base_sha))
                for commit in pr.commits:
                    commits.setdefault(commit.sha, commit)
                for run in pr.check_runs:
                    runs.setdefault(run.head_sha, []).append(run)
            self._index = commits, runs, known | set(commits) | set(runs)
        return self._index

    # ids ------------------------------------------------------------------------------

    def pr_id(self, pr: PullRequest) -> str:
        return node_id("PullRequest", stable_id("pull", self.repo.id, pr.number))

    def find_node(self, global_id: str) -> Json | None:
        try:
            decoded = base64.b64decode(global_id.encode()).decode()
        except ValueError:
            return None
        match = re.fullmatch(r"0(\d+):(.+)", decoded)
        if match is None:
            return None
        kind, key = match[2][: int(match[1])], match[2][int(match[1]) :]
        if kind == "PullRequest":
            for pr in self.repo.pulls.values():
                if str(stable_id("pull", self.repo.id, pr.number)) == key:
                    return self.pull_request(pr, count_fetch=False)
        elif kind == "PullRequestReviewThread":
            for pr in self.repo.pulls.values():
                for thread in self.threads(pr):
                    if str(thread[0].id) == key:
                        return self.thread(pr, thread)
        elif kind == "CheckSuite":
            sha, _, slug = key.partition("/")
            commit = self.commit_object(sha)
            if commit is not None:
                return next((s for s in commit["_suites"] if s["app"]["slug"] == slug), None)
        elif kind == "Commit":
            return self.commit_object(key)
        return None

    # pull requests ----------------------------------------------------------------------

    def pulls(self, states: list[str] | None = None, orderBy: Json | None = None) -> list[Json]:
        def state(pr: PullRequest) -> str:
            return "MERGED" if pr.merged else ("CLOSED" if pr.state == "closed" else "OPEN")

        pulls = [pr for pr in self.repo.pulls.values() if not states or state(pr) in states]
        order = orderBy or {"field": "CREATED_AT", "direction": "ASC"}
        key = {"UPDATED_AT": lambda pr: (pr.updated_at, pr.number), "CREATED_AT": lambda pr: (pr.created_at, pr.number)}
        pulls.sort(key=key[order["field"]], reverse=order.get("direction") == "DESC")
        return [self.pull_request(pr, count_fetch=False) for pr in pulls]

    def pull_request(self, pr: PullRequest, count_fetch: bool = True) -> Json:
        if count_fetch:
            self.fetched(pr.number)
        return {
            "__typename": "PullRequest",
            "id": self.pr_id(pr),
            "number": pr.number,
            "title": pr.title,
            "body": pr.body or "",  # String!: never null
            "url": f"{self.web}/pull/{pr.number}",
            "state": "MERGED" if pr.merged else ("CLOSED" if pr.state == "closed" else "OPEN"),
            "isDraft": pr.draft,
            "author": actor(pr.user, self.api),
            "baseRefName": pr.base_ref,
            "headRefName": pr.head_ref,
            "baseRefOid": pr.base_sha,
            "headRefOid": pr.head_sha,
            "createdAt": iso(pr.created_at),
            "updatedAt": iso(pr.updated_at),
            "closedAt": iso(pr.closed_at),
            "mergedAt": iso(pr.merged_at),
            "merged": pr.merged,
            "mergedBy": actor(pr.merged_by, self.api) if pr.merged else None,
            "additions": sum(f.additions for f in pr.files),
            "deletions": sum(f.deletions for f in pr.files),
            "changedFiles": len(pr.files),
            "fullDatabaseId": str(stable_id("pull", self.repo.id, pr.number)),  # BigInt: a string
            "authorAssociation": author_association(self.repo, pr.user),
            "mergeCommit": {"oid": fake_sha("merge", self.repo.full_name, pr.number)} if pr.merged else None,
            "milestone": {"title": pr.milestone} if pr.milestone else None,
            "baseRepository": self.repository(self.repo),
            "headRepository": self.head_repository(pr),
            "autoMergeRequest": (
                {"mergeMethod": pr.auto_merge[0].upper(), "enabledBy": actor(pr.auto_merge[1], self.api)}
                if pr.auto_merge
                else None
            ),
            "mergeable": pr.mergeable,
            "mergeStateStatus": self.merge_state_status(pr),
            "reviewDecision": pr.review_decision,
            "totalCommentsCount": len(pr.issue_comments) + len(pr.review_comments),
            "statusCheckRollup": self.check_rollup(pr),
            "headRef": self.head_ref(pr),
            "latestReviews": _pager(lambda: [self.review(r) for r in latest_reviews(pr)]),
            "assignees": _pager(lambda: [actor(user, self.api) for user in pr.assignees]),
            "reviewRequests": _pager(
                lambda: (
                    [{"requestedReviewer": actor(user, self.api)} for user in pr.requested_reviewers]
                    + [{"requestedReviewer": {"__typename": "Team", "slug": slug}} for slug in pr.requested_teams]
                )
            ),
            "labels": _pager(lambda: [{"name": name} for name in pr.labels]),
            "commits": _pager(lambda: [self.pull_request_commit(pr, c) for c in pr.commits]),
            "files": _pager(lambda: [self.file(f) for f in pr.files]),
            "reviews": _pager(lambda: [self.review(r) for r in pr.reviews]),
            "reviewThreads": _pager(lambda: [self.thread(pr, t) for t in self.threads(pr)]),
            "comments": _pager(lambda: [self.issue_comment(c) for c in pr.issue_comments]),
            "timelineItems": _pager(lambda itemTypes=None: self.timeline(pr, itemTypes)),
        }

    @staticmethod
    def check_rollup(pr: PullRequest) -> Json | None:
        """The head commit's StatusCheckRollup (null without checks): the newest run of each name
        decides; a failed one makes it FAILURE, one still running PENDING, else SUCCESS."""
        newest: dict[str, CheckRun] = {}
        for run in pr.check_runs:
            if run.head_sha == pr.head_sha:
                best = newest.get(run.name)
                if best is None or (run.started_at, run.id) > (best.started_at, best.id):  # type: ignore[operator]
                    newest[run.name] = run
        if not newest:
            return None
        runs = newest.values()
        if any(r.status == "completed" and r.conclusion in _FAILING for r in runs):
            return {"state": "FAILURE"}
        if any(r.status != "completed" for r in runs):
            return {"state": "PENDING"}
        return {"state": "SUCCESS"}

    def merge_state_status(self, pr: PullRequest) -> str:
        if pr.merge_state_status is not None:
            return pr.merge_state_status
        if pr.draft:
            return "DRAFT"
        if pr.mergeable == "CONFLICTING":
            return "DIRTY"
        if pr.mergeable == "UNKNOWN":
            return "UNKNOWN"
        return "UNSTABLE" if (self.check_rollup(pr) or {}).get("state") == "FAILURE" else "CLEAN"

    def head_ref(self, pr: PullRequest) -> Json | None:
        """The head branch's Ref; its target is the head commit (null once the branch is gone)."""
        head = next((c for c in pr.commits if c.sha == pr.head_sha), None)
        if head is None or pr.state != "open":
            return None
        return {"name": pr.head_ref, "target": self.commit(head)}

    @staticmethod
    def repository(repo: Repository) -> Json:
        return {"databaseId": repo.id, "nameWithOwner": repo.full_name}

    def head_repository(self, pr: PullRequest) -> Json | None:
        if pr.fork is None:
            return self.repository(self.repo)
        return None if pr.fork_deleted else self.repository(fork_of(self.repo, pr.fork))

    def git_actor(self, name: str, email: str, date: datetime | None, user: User | None) -> Json:
        # GitActor.user is a User: a bot (or an email linked to no account) gives null.
        linked = actor(user, self.api) if user is not None and user.type == "User" else None
        return {"name": name, "email": email, "date": iso(date), "user": linked}

    def commit(self, commit: Commit) -> Json:
        committer_name, committer_email = git_committer(commit)
        return {
            **self.commit_object(commit.sha, known=commit),
            "message": commit.message,
            "authoredDate": iso(commit.authored_at),
            "committedDate": iso(commit.committed_at),
            "author": self.git_actor(commit.author_name, commit.author_email, commit.authored_at, commit.author),
            "committer": self.git_actor(
                committer_name, committer_email, commit.committed_at, commit.committer or commit.author
            ),
            # GitSignature (an interface): null for an unsigned commit
            "signature": None
            if commit.signature == "unsigned"
            else {
                "__typename": "GpgSignature",
                "state": _SIGNATURE_STATES.get(commit.signature, commit.signature.upper()),
            },
        }

    def pull_request_commit(self, pr: PullRequest, commit: Commit) -> Json:
        return {"__typename": "PullRequestCommit", "commit": self.commit(commit)}

    def file(self, change: Any) -> Json:
        return {
            "path": change.filename,
            "additions": change.additions,
            "deletions": change.deletions,
            "changeType": _CHANGE_TYPES.get(change.status, "CHANGED"),
        }

    def review(self, review: Review) -> Json:
        return {
            "__typename": "PullRequestReview",
            "fullDatabaseId": str(review.id),
            "author": actor(review.user, self.api),
            "authorAssociation": author_association(self.repo, review.user),
            "state": review.state,
            "body": review.body or "",
            "submittedAt": iso(review.submitted_at) if review.state != "PENDING" else None,
            "commit": {"oid": review.commit_id},
        }

    def threads(self, pr: PullRequest) -> list[list[ReviewComment]]:
        """Review comments grouped by their thread (a top-level comment and its replies)."""
        by_id = {c.id: c for c in pr.review_comments}
        roots: dict[int, list[ReviewComment]] = {}
        for comment in pr.review_comments:
            root = comment
            seen = set()
            while root.in_reply_to_id in by_id and root.id not in seen:
                seen.add(root.id)
                root = by_id[root.in_reply_to_id]  # type: ignore[index]
            roots.setdefault(root.id, []).append(comment)
        return list(roots.values())

    def thread(self, pr: PullRequest, comments: list[ReviewComment]) -> Json:
        return {
            "__typename": "PullRequestReviewThread",
            "id": node_id("PullRequestReviewThread", comments[0].id),
            "isResolved": comments[0].resolved,
            "diffSide": comments[0].side,
            "comments": _pager(lambda: [self.review_comment(c) for c in comments]),
        }

    def review_comment(self, comment: ReviewComment) -> Json:
        return {
            "fullDatabaseId": str(comment.id),
            "author": actor(comment.user, self.api),
            "authorAssociation": author_association(self.repo, comment.user),
            "body": comment.body,
            "createdAt": iso(comment.created_at),
            "updatedAt": iso(comment.updated_at),
            "path": comment.path,
            "line": comment.line,
            "originalLine": comment.original_line if comment.original_line is not None else comment.line,
            "startLine": comment.start_line,
            "commit": {"oid": comment.commit_id},
            "originalCommit": {"oid": comment.original_commit_id or comment.commit_id},
            "subjectType": "LINE" if comment.line is not None else "FILE",
            "replyTo": {"fullDatabaseId": str(comment.in_reply_to_id)} if comment.in_reply_to_id else None,
            "pullRequestReview": (
                {"fullDatabaseId": str(comment.pull_request_review_id)} if comment.pull_request_review_id else None
            ),
        }

    def issue_comment(self, comment: IssueComment) -> Json:
        return {
            "__typename": "IssueComment",
            "fullDatabaseId": str(comment.id),
            "author": actor(comment.user, self.api),
            "authorAssociation": author_association(self.repo, comment.user),
            "body": comment.body,
            "createdAt": iso(comment.created_at),
            "updatedAt": iso(comment.updated_at),
        }

    def timeline(self, pr: PullRequest, item_types: list[str] | None) -> list[Json]:
        """The REST timeline's items, in the same order, as GraphQL timeline items; REST events
        without a GraphQL counterpart are not shown."""
        reviews = {r.id: r for r in pr.reviews}
        comments = {c.id: c for c in pr.issue_comments}
        commits = {c.sha: c for c in pr.commits}
        items: list[Json] = []
        for item in timeline_items(self.repo, pr, self.api):
            event = item["event"]
            if event == "committed":
                node = self.pull_request_commit(pr, commits[item["sha"]])
            elif event == "reviewed":
                node = self.review(reviews[item["id"]])
            elif event == "commented":
                node = self.issue_comment(comments[item["id"]])
            elif event in TIMELINE_TYPES:
                model = next(
                    e
                    for e in pr.events
                    if e.id == item.get("id")
                    or (e.event == event == "cross-referenced" and iso(e.created_at) == item["created_at"])
                )
                commit = {"oid": model.commit_id} if model.commit_id else None
                source, label, rename = None, event_label(model), event_rename(model)
                if (where := event_source(model)) is not None:  # the model says not whether issue or PR
                    source = {"__typename": "Issue", "number": where[1], "repository": {"nameWithOwner": where[0]}}
                node = {
                    "__typename": TIMELINE_TYPES[event],
                    "actor": actor(model.actor, self.api),
                    "createdAt": iso(model.created_at),
                    "requestedReviewer": {"__typename": "Team", "slug": model.requested_team}
                    if model.requested_team is not None
                    else actor(model.requested_reviewer, self.api),
                    "commit": commit,
                    "afterCommit": commit,
                    "closer": {"__typename": "Commit", **commit} if commit else None,
                    "label": {"name": label} if label is not None else None,
                    "previousTitle": rename[0] if rename else None,
                    "currentTitle": rename[1] if rename else None,
                    "assignee": actor(model.assignee, self.api),
                    "source": source,
                    "stateReason": model.state_reason.upper() if model.state_reason else None,
                }
            else:
                continue
            if item_types is None or _camel_to_enum(node["__typename"]) in item_types:
                items.append(node)
        return items

    # commits and check runs -----------------------------------------------------------

    def commit_object(self, sha: str, known: Commit | None = None) -> Json | None:
        commits, runs_on, shas = self.index()
        if known is None:
            if sha in commits:
                return self.commit(commits[sha])
            if sha not in shas:
                return None
        runs = runs_on.get(sha, [])
        slugs = list(dict.fromkeys(run.app_slug for run in runs))
        suites = [self.suite(sha, slug, [r for r in runs if r.app_slug == slug]) for slug in slugs]
        return {
            "__typename": "Commit",
            "id": node_id("Commit", sha),  # type: ignore[arg-type]
            "oid": sha,
            "_suites": suites,
            "checkSuites": _pager(lambda: suites),
        }

    def suite(self, sha: str, slug: str, runs: list[CheckRun]) -> Json:
        def listed(filterBy: Json | None = None) -> list[Json]:
            chosen = runs
            if (filterBy or {}).get("checkType", "LATEST") == "LATEST":
                newest: dict[str, CheckRun] = {}
                for run in runs:
                    best = newest.get(run.name)
                    if best is None or (run.started_at, run.id) > (best.started_at, best.id):  # type: ignore[operator]
                        newest[run.name] = run
                chosen = [run for run in runs if newest.get(run.name) is run]
            return [self.check_run(run) for run in chosen]

        return {
            "__typename": "CheckSuite",
            "id": node_id("CheckSuite", f"{sha}/{slug}"),  # type: ignore[arg-type]
            "databaseId": stable_id("suite", sha, slug),  # REST's check_suite.id
            "app": {"slug": slug},
            "checkRuns": _pager(listed),
        }

    def check_run(self, run: CheckRun) -> Json:
        return {
            "databaseId": run.id,
            "name": run.name,
            "status": run.status.upper(),
            "conclusion": run.conclusion.upper() if run.conclusion and run.status == "completed" else None,
            "startedAt": iso(run.started_at),
            "completedAt": iso(run.completed_at),
            "url": f"{self.web}/runs/{run.id}",
            "detailsUrl": f"{self.web}/runs/{run.id}",
            "title": run.output_title,
            "summary": run.output_summary,
        }


_FAILING = {"failure", "timed_out", "cancelled", "action_required", "startup_failure"}


def latest_reviews(pr: PullRequest) -> list[Review]:
    """GitHub's latestReviews: the latest submitted (not pending) review of each reviewer."""
    latest: dict[object, Review] = {}
    for review in pr.reviews:
        if review.state != "PENDING" and review.submitted_at is not None:
            key = review.user.login if review.user else None
            if key not in latest or review.submitted_at >= latest[key].submitted_at:  # type: ignore[operator]
                latest[key] = review
    return sorted(latest.values(), key=lambda r: (r.submitted_at, r.id))


# --- the endpoint ------------------------------------------------------------------------


@dataclass
class GraphQLRecord:
    """One GraphQL request as the fake saw it."""

    query: str
    variables: dict[str, Any]
    status: int
    cost: int
    pull_requests: list[int] = field(default_factory=list)  # PRs fetched by `pullRequest(number:)`
    errors: list[str] = field(default_factory=list)
    invalid: bool = False  # failed validation against GitHub's schema
    defects: list[str] = field(default_factory=list)  # the fake's own: an unmodelled argument, a bug


@dataclass
class GraphQLBudget:
    limit: int = 5000
    remaining: int = 5000
    reset_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _executor() -> Any:
    from graphql.execution.executor import Executor

    class LenientInts(Executor):
        """GitHub sends database ids beyond 32 bits as Int (check runs); graphql-core would refuse."""

        @staticmethod
        def complete_leaf_value(return_type: Any, result: Any) -> Any:
            if return_type.name == "Int" and isinstance(result, int):
                return result
            return Executor.complete_leaf_value(return_type, result)

    return LenientInts


def _resolve(source: Any, info: Any, **arguments: Any) -> Any:
    value = source.get(info.field_name) if isinstance(source, dict) else getattr(source, info.field_name, None)
    # the arguments the query gives (graphql-core adds the schema's defaults to ``arguments``)
    given = {argument.name.value for node in info.field_nodes for argument in node.arguments or ()}
    unmodelled = given - (modelled(value) if callable(value) else frozenset())
    if unmodelled:
        raise Unmodelled(
            f"fake_github does not model the argument(s) {', '.join(sorted(unmodelled))} of "
            f"{info.parent_type.name}.{info.field_name}"
        )
    return value(**{name: arguments[name] for name in given}) if callable(value) else value


def _type_of(value: Any, info: Any, abstract_type: Any) -> str | None:
    return value.get("__typename") if isinstance(value, dict) else None


def answer(
    repos: Iterable[Repository],
    body: bytes,
    api: str,
    budget: GraphQLBudget,
    now: float,
    max_pull_requests: int | None = None,
    schema_path: Path = SCHEMA_PATH,
) -> tuple[int, Json, GraphQLRecord]:
    """(status, JSON body, log record) for one POST /graphql."""
    from graphql import execute, parse

    try:
        request = json.loads(body or b"{}")
        query, variables = request["query"], request.get("variables") or {}
    except (ValueError, KeyError, TypeError):
        return 400, {"message": "Problems parsing JSON"}, GraphQLRecord("", {}, 400, 0)
    record = GraphQLRecord(query, variables, 200, 0)
    from graphql import GraphQLError

    try:
        document = parse(query)
    except GraphQLError as exc:
        record.errors, record.invalid = [exc.message], True
        return 200, {"errors": [{"message": exc.message}]}, record
    try:
        errors = validation_errors(document, schema_path)
    except SchemaMissing as exc:
        record.status, record.errors, record.defects = 500, [str(exc)], [str(exc)]
        return 500, {"message": f"fake_github: {exc}"}, record
    if errors:
        record.errors, record.invalid = errors, True
        return 200, {"errors": [{"message": message} for message in errors]}, record

    cost, nodes = query_cost(document, variables)
    record.cost = cost
    if nodes > MAX_NODES:
        message = f"This query requests up to {nodes:,} possible nodes which exceeds the maximum limit of 500,000."
        record.errors = [message]
        return 200, {"errors": [{"type": "MAX_NODE_LIMIT_EXCEEDED", "message": message}]}, record
    with budget.lock:
        if now >= budget.reset_at:
            budget.remaining, budget.reset_at = budget.limit, now + 3600
        if cost > budget.remaining:
            record.errors = ["RATE_LIMITED"]
            return (
                200,
                {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit already exceeded for user ID 1."}]},
                record,
            )
        budget.remaining -= cost
        rate = {
            "cost": cost,
            "limit": budget.limit,
            "remaining": budget.remaining,
            "used": budget.limit - budget.remaining,
            "resetAt": iso(datetime.fromtimestamp(budget.reset_at, UTC)),
            "nodeCount": nodes,
        }

    asked = len(re.findall(r"\bpullRequest\s*\(", query))
    if max_pull_requests is not None and asked > max_pull_requests:
        # GitHub gives up on queries that run longer than ~10 s: 502, points spent all the same.
        record.status = 502
        return 502, {"message": "Server Error"}, record

    repo_list = list(repos)

    def repository(owner: str, name: str) -> Json | None:
        repo = next((r for r in repo_list if r.full_name.lower() == f"{owner}/{name}".lower()), None)
        if repo is None:
            raise GraphQLFault(f"Could not resolve to a Repository with the name '{owner}/{name}'.")
        objects = GraphObjects(repo, api, record.pull_requests.append)
        return {
            "__typename": "Repository",
            "nameWithOwner": repo.full_name,
            "pullRequests": _pager(objects.pulls),
            "pullRequest": lambda number: objects.pull_request(repo.pulls[number]) if number in repo.pulls else None,
            "object": lambda oid: objects.commit_object(oid),  # `expression` is not modelled
        }

    def node(id: str) -> Json | None:
        for repo in repo_list:
            found = GraphObjects(repo, api, record.pull_requests.append).find_node(id)
            if found is not None:
                return found
        return None

    root = {"rateLimit": rate, "repository": repository, "node": node}
    result = execute(
        load_schema(schema_path),
        document,
        root_value=root,
        variable_values=variables,
        field_resolver=_resolve,
        type_resolver=_type_of,
        executor_class=_executor(),
    )
    payload: Json = {"data": result.data}
    if result.errors:
        payload["errors"] = [
            {"type": "NOT_FOUND" if "Could not resolve" in e.message else "INVALID", "message": e.message}
            for e in result.errors
        ]
        record.errors = [e.message for e in result.errors]
        record.defects = [e.message for e in result.errors if not isinstance(e.original_error, GraphQLFault)]
    return 200, payload, record
