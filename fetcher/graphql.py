"""Fetch merged PRs in batches through GitHub's GraphQL API, as the same rows REST sync makes.

One batch query asks for up to ``batch_size`` PRs by number (aliases ``p0``, ``p1``, …) with the
first page of each of their lists, and for the check suites of each PR's head commit
(``object(oid: headRefOid)``: the check runs of the head SHA, as REST sync reads them, re-runs
included with ``filterBy: {checkType: ALL}``). A list longer than its first page is completed
with follow-up queries on that connection's cursor (``node(id:) { … on PullRequest {
files(first: 100, after: $cursor) } }``); follow-ups of many PRs share one query. Nothing is
truncated except where REST truncates too (250 commits, 3,000 files), and then the same warning
is given.

Each answer is turned into the REST payload records.py reads (a bot's GraphQL login gains its
``[bot]`` suffix, enums are lower-cased, ``fullDatabaseId`` strings become ids …) and goes
through the very functions ``sync`` uses, so the rows are identical. Where GraphQL cannot
give what REST gives, the section is read over REST: the files of a PR with a renamed or copied
file (GraphQL's changed files have no previous path).

Cost (GitHub: requests per connection, parents x children, / 100, rounded): a PR costs its seven
lists + one request per review thread asked for + the head commit's suites and one per suite:
7 + THREADS + 1 + SUITES = 17 requests, 0.17 points, when its lists fit their first pages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fetcher import records
from fetcher.github import capped_sections_warnings
from fetcher.records import PullRequestBundle

PAGE = 100
THREADS = 6  # review threads in the batch query: each one's comments is a connection, counted per PR
SUITES = 3  # check suites of the head commit in the batch query: each one's runs likewise
FOLLOW_THREADS = 50  # review threads per follow-up page
FOLLOW_SUITES = 10
MAX_FOLLOW_UP_REQUESTS = 149  # pack follow-ups into queries of at most ~1 point
MAX_FOLLOW_UP_ALIASES = 40

# GraphQL timeline type -> the REST timeline event it is. Only types that exist in both APIs.
TIMELINE_EVENTS: dict[str, str] = {
    "PullRequestCommit": "committed",
    "PullRequestReview": "reviewed",
    "IssueComment": "commented",
    "LabeledEvent": "labeled",
    "UnlabeledEvent": "unlabeled",
    "ReadyForReviewEvent": "ready_for_review",
    "ConvertToDraftEvent": "convert_to_draft",
    "ReviewRequestedEvent": "review_requested",
    "ReviewRequestRemovedEvent": "review_request_removed",
    "ReviewDismissedEvent": "review_dismissed",
    "HeadRefForcePushedEvent": "head_ref_force_pushed",
    "HeadRefDeletedEvent": "head_ref_deleted",
    "HeadRefRestoredEvent": "head_ref_restored",
    "BaseRefChangedEvent": "base_ref_changed",
    "BaseRefForcePushedEvent": "base_ref_force_pushed",
    "MergedEvent": "merged",
    "ClosedEvent": "closed",
    "ReopenedEvent": "reopened",
    "AssignedEvent": "assigned",
    "UnassignedEvent": "unassigned",
    "MilestonedEvent": "milestoned",
    "DemilestonedEvent": "demilestoned",
    "RenamedTitleEvent": "renamed",
    "LockedEvent": "locked",
    "UnlockedEvent": "unlocked",
    "ReferencedEvent": "referenced",
    "CrossReferencedEvent": "cross-referenced",
    "MentionedEvent": "mentioned",
    "SubscribedEvent": "subscribed",
    "UnsubscribedEvent": "unsubscribed",
    "AutoMergeEnabledEvent": "auto_merge_enabled",
    "AutoMergeDisabledEvent": "auto_merge_disabled",
}
# Fields beyond `actor` and `createdAt` that some event types carry.
_EVENT_EXTRAS = {
    "ReviewRequestedEvent": "requestedReviewer { __typename ... on User { login } ... on Bot { login } "
    "... on Mannequin { login } }",
    "ReviewRequestRemovedEvent": "requestedReviewer { __typename ... on User { login } ... on Bot { login } "
    "... on Mannequin { login } }",
    "MergedEvent": "commit { oid }",
    "ReferencedEvent": "commit { oid }",
    "HeadRefForcePushedEvent": "afterCommit { oid }",
    "ClosedEvent": "closer { __typename ... on Commit { oid } }",
}
_CHANGE_TYPES = {
    "ADDED": "added",
    "DELETED": "removed",
    "MODIFIED": "modified",
    "RENAMED": "renamed",
    "COPIED": "copied",
    "CHANGED": "changed",
}
_BOT_NOREPLY = re.compile(r"^\d+\+(?P<login>[^@]+\[bot\])@users\.noreply\.github\.com$", re.IGNORECASE)


def _enum(typename: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", typename).upper()


ITEM_TYPES = ", ".join(_enum(name) for name in TIMELINE_EVENTS)
ACTOR = "{ __typename login }"
PAGE_INFO = "pageInfo { hasNextPage endCursor }"
_TIMELINE_NODE = " ".join(
    [
        "__typename",
        # aliased: PullRequestCommit.commit is Commit!, the events' `commit` is Commit
        "... on PullRequestCommit { pullCommit: commit { oid committer { date } } }",
        f"... on PullRequestReview {{ author {ACTOR} state submittedAt commit {{ oid }} }}",
        f"... on IssueComment {{ author {ACTOR} createdAt }}",
    ]
    + [
        f"... on {name} {{ actor {ACTOR} createdAt {_EVENT_EXTRAS.get(name, '')} }}"
        for name in TIMELINE_EVENTS
        if name.endswith("Event")
    ]
)

# The lists of a PR: connection field -> (arguments besides first/after, selection of a page).
PR_LISTS: dict[str, tuple[str, str]] = {
    "labels": ("", "nodes { name }"),
    "commits": ("", "totalCount nodes { commit { ...CommitFields } }"),
    "files": ("", "nodes { path additions deletions changeType }"),
    "reviews": ("", "nodes { ...ReviewFields }"),
    "reviewThreads": ("", "nodes { ...ThreadFields }"),
    "comments": ("", "nodes { ...IssueCommentFields }"),
    "timelineItems": (f"itemTypes: [{ITEM_TYPES}]", "nodes { ...TimelineFields }"),
}
PR_FIELDS = (
    f"id number title body url state isDraft author {ACTOR} baseRefName headRefName baseRefOid headRefOid "
    f"createdAt updatedAt closedAt mergedAt mergedBy {ACTOR} additions deletions changedFiles"
)


def _connection(name: str, size: int, after: str | None) -> str:
    extra, selection = PR_LISTS[name]
    arguments = ", ".join(a for a in (f"first: {size}", after and f"after: {after}", extra) if a)
    return f"{name}({arguments}) {{ {PAGE_INFO} {selection} }}"


# Named fragments: a batch asks for the same fields of every PR; written once, the query stays
# small (GitHub limits a query's size too) and quick to parse.
FRAGMENTS: dict[str, str] = {
    "CommitFields": "on Commit { oid message author { name email date user { login } } "
    "committer { name email date user { login } } }",
    "ReviewFields": f"on PullRequestReview {{ fullDatabaseId author {ACTOR} authorAssociation state body "
    "submittedAt commit { oid } }",
    "ReviewCommentFields": f"on PullRequestReviewComment {{ fullDatabaseId author {ACTOR} authorAssociation body "
    "createdAt updatedAt path line replyTo { fullDatabaseId } pullRequestReview { fullDatabaseId } }",
    "IssueCommentFields": f"on IssueComment {{ fullDatabaseId author {ACTOR} authorAssociation body createdAt "
    "updatedAt }",
    "CheckRunFields": "on CheckRun { databaseId name status conclusion startedAt completedAt url }",
    "SuiteFields": f"on CheckSuite {{ id app {{ slug }} checkRuns(first: {PAGE}, filterBy: {{checkType: ALL}}) "
    f"{{ {PAGE_INFO} nodes {{ ...CheckRunFields }} }} }}",
    "ThreadFields": f"on PullRequestReviewThread {{ id comments(first: {PAGE}) {{ {PAGE_INFO} "
    "nodes { ...ReviewCommentFields } } }",
    "TimelineFields": f"on PullRequestTimelineItems {{ {_TIMELINE_NODE} }}",
    "PullRequestFields": "on PullRequest { "
    + PR_FIELDS
    + " "
    + " ".join(_connection(name, THREADS if name == "reviewThreads" else PAGE, None) for name in PR_LISTS)
    + " }",
    "HeadChecks": f"on Commit {{ id oid checkSuites(first: {SUITES}) {{ {PAGE_INFO} nodes {{ ...SuiteFields }} }} }}",
}


def with_fragments(operation: str) -> str:
    """The operation followed by the fragments it uses (GraphQL rejects unused ones)."""
    needed: list[str] = []
    todo = re.findall(r"\.\.\.(\w+)", operation)
    while todo:
        name = todo.pop()
        if name != "on" and name not in needed:
            needed.append(name)
            todo += re.findall(r"\.\.\.(\w+)", FRAGMENTS[name])
    return "\n".join([operation] + [f"fragment {name} {FRAGMENTS[name]}" for name in sorted(needed)])


RATE_LIMIT = "rateLimit { cost remaining resetAt }"

LIST_QUERY = f"""query MergedPullRequests($owner: String!, $name: String!, $cursor: String) {{
  {RATE_LIMIT}
  repository(owner: $owner, name: $name) {{
    pullRequests(states: [MERGED], first: {PAGE}, after: $cursor, orderBy: {{field: UPDATED_AT, direction: DESC}}) {{
      {PAGE_INFO}
      nodes {{ number mergedAt updatedAt headRefOid }}
    }}
  }}
}}"""


def points(requests: int) -> int:
    """GitHub's charge for a query needing ``requests`` connection requests."""
    return max(1, math.floor(requests / 100 + 0.5))


def batch_requests(prs: int, heads: int) -> int:
    return prs * (len(PR_LISTS) + THREADS) + heads * (1 + SUITES)


def batch_query(prs: int, heads: int) -> str:
    """PRs by number ($n0…) with the first page of every list, and the check suites of head
    commits ($o0…)."""
    variables = ["$owner: String!", "$name: String!"]
    variables += [f"$n{i}: Int!" for i in range(prs)] + [f"$o{i}: GitObjectID!" for i in range(heads)]
    parts = [f"p{i}: pullRequest(number: $n{i}) {{ ...PullRequestFields }}" for i in range(prs)]
    parts += [f"c{i}: object(oid: $o{i}) {{ ...HeadChecks }}" for i in range(heads)]
    return with_fragments(
        f"query Backfill({', '.join(variables)}) {{ {RATE_LIMIT} "
        f"repository(owner: $owner, name: $name) {{ {' '.join(parts)} }} }}"
    )


@dataclass
class Page:
    """One follow-up page: connection ``kind`` of the node ``node_id``, after ``cursor``."""

    pull: PullPages
    kind: str  # a PR_LISTS name, or thread_comments | suites | suite_runs
    node_id: str
    cursor: str
    slug: str | None = None  # suite_runs: the suite's app
    thread: list[dict[str, Any]] | None = None  # thread_comments: where the comments go

    @property
    def requests(self) -> int:
        return {"reviewThreads": 1 + FOLLOW_THREADS, "suites": 1 + FOLLOW_SUITES}.get(self.kind, 1)

    def selection(self, index: int) -> str:
        after = f"$a{index}"
        if self.kind in PR_LISTS:
            size = FOLLOW_THREADS if self.kind == "reviewThreads" else PAGE
            return f"... on PullRequest {{ {_connection(self.kind, size, after)} }}"
        if self.kind == "thread_comments":
            return (
                f"... on PullRequestReviewThread {{ comments(first: {PAGE}, after: {after}) "
                f"{{ {PAGE_INFO} nodes {{ ...ReviewCommentFields }} }} }}"
            )
        if self.kind == "suites":
            return (
                f"... on Commit {{ oid checkSuites(first: {FOLLOW_SUITES}, after: {after}) "
                f"{{ {PAGE_INFO} nodes {{ ...SuiteFields }} }} }}"
            )
        return (
            f"... on CheckSuite {{ checkRuns(first: {PAGE}, after: {after}, filterBy: {{checkType: ALL}}) "
            f"{{ {PAGE_INFO} nodes {{ ...CheckRunFields }} }} }}"
        )


def follow_up_query(pages: list[Page]) -> tuple[str, dict[str, Any]]:
    variables = ", ".join(f"$id{i}: ID!, $a{i}: String!" for i in range(len(pages)))
    parts = " ".join(f"f{i}: node(id: $id{i}) {{ {page.selection(i)} }}" for i, page in enumerate(pages))
    values: dict[str, Any] = {}
    for i, page in enumerate(pages):
        values[f"id{i}"], values[f"a{i}"] = page.node_id, page.cursor
    return with_fragments(f"query FollowUp({variables}) {{ {RATE_LIMIT} {parts} }}"), values


def pack(pages: list[Page]) -> list[list[Page]]:
    """Follow-ups grouped so each query costs about one point (a query costs at least one)."""
    groups: list[list[Page]] = []
    current: list[Page] = []
    for page in pages:
        if current and (
            sum(p.requests for p in current) + page.requests > MAX_FOLLOW_UP_REQUESTS
            or len(current) >= MAX_FOLLOW_UP_ALIASES
        ):
            groups.append(current)
            current = []
        current.append(page)
    if current:
        groups.append(current)
    return groups


# --- one PR's answers, accumulated -------------------------------------------------------


@dataclass
class PullPages:
    """Everything the queries returned for one PR so far."""

    number: int
    head_sha: str | None  # the head commit whose check runs were asked for
    pr: dict[str, Any] | None = None
    lists: dict[str, list[Any]] = field(default_factory=lambda: {name: [] for name in PR_LISTS})
    commits_total: int | None = None
    suites: list[tuple[str | None, list[dict[str, Any]]]] = field(default_factory=list)
    head_checked: bool = False
    rest_sections: set[str] = field(default_factory=set)

    def absorb(self, kind: str, connection: dict[str, Any], node_id: str | None) -> list[Page]:
        """Add a page of ``kind``; return the follow-ups it calls for."""
        follow: list[Page] = []
        nodes = [node for node in connection.get("nodes") or [] if node is not None]
        info = connection.get("pageInfo") or {}
        if kind == "commits" and connection.get("totalCount") is not None:
            self.commits_total = connection["totalCount"]
        if kind == "reviewThreads":
            for thread in nodes:
                comments: list[dict[str, Any]] = []
                self.lists["reviewThreads"].append(comments)
                follow += self._absorb_list(comments, "thread_comments", thread["comments"], thread["id"])
            follow += self._more(kind, info, node_id)
        elif kind == "suites":
            for suite in nodes:
                runs: list[dict[str, Any]] = []
                slug = (suite.get("app") or {}).get("slug")
                self.suites.append((slug, runs))
                follow += self._absorb_list(runs, "suite_runs", suite["checkRuns"], suite["id"], slug)
            follow += self._more(kind, info, node_id)
        elif kind in PR_LISTS:
            target = self.lists[kind]
            target.extend(node["commit"] if kind == "commits" else node for node in nodes)
            if kind == "files" and any(node.get("changeType") in ("RENAMED", "COPIED") for node in nodes):
                self.rest_sections.add("files")  # no previous path in GraphQL: read this section over REST
            cap = {"commits": records.COMMITS_CAP, "files": records.FILES_CAP}.get(kind)
            if cap is not None and len(target) >= cap:
                del target[cap:]
                return follow  # REST stops here too (and says so)
            if kind == "files" and "files" in self.rest_sections:
                return follow  # read over REST anyway
            follow += self._more(kind, info, node_id)
        return follow

    def _absorb_list(
        self, target: list[dict[str, Any]], kind: str, connection: dict[str, Any], node_id: str, slug: str | None = None
    ) -> list[Page]:
        target.extend(node for node in connection.get("nodes") or [] if node is not None)
        info = connection.get("pageInfo") or {}
        if info.get("hasNextPage"):
            return [Page(self, kind, node_id, info["endCursor"], slug=slug, thread=target)]
        return []

    def _more(self, kind: str, info: dict[str, Any], node_id: str | None) -> list[Page]:
        if info.get("hasNextPage") and node_id:
            return [Page(self, kind, node_id, info["endCursor"])]
        return []

    def absorb_follow_up(self, page: Page, node: dict[str, Any]) -> list[Page]:
        if page.kind in PR_LISTS:
            return self.absorb(page.kind, node[page.kind], page.node_id)
        if page.kind == "suites":
            return self.absorb("suites", node["checkSuites"], page.node_id)
        key = "comments" if page.kind == "thread_comments" else "checkRuns"
        assert page.thread is not None
        return self._absorb_list(page.thread, page.kind, node[key], page.node_id, page.slug)

    # --- to REST payloads and rows ---------------------------------------------------------

    def bundle(self, repo: str, rest_files: Callable[[int], list[dict[str, Any]]] | None = None) -> PullRequestBundle:
        assert self.pr is not None
        payload = pull_request_payload(self.pr, self.lists["labels"], self.commits_total)
        bundle = PullRequestBundle(repo, self.number, records.pull_request_row(repo, payload))
        threads = self.lists["reviewThreads"]
        comments = [comment for thread in threads for comment in thread]
        timeline = [item for item in (timeline_payload(node) for node in self.lists["timelineItems"]) if item]
        head = self.pr.get("headRefOid")
        runs = [check_run_payload(run, head, slug) for slug, suite_runs in self.suites for run in suite_runs]
        bundle.sections = {
            "commits": [records.commit_row(commit_payload(c)) for c in self.lists["commits"]],
            "files": [records.file_row(file_payload(f)) for f in self.lists["files"]],
            "reviews": [records.review_row(review_payload(r)) for r in self.lists["reviews"]],
            "review_comments": [records.review_comment_row(review_comment_payload(c)) for c in comments],
            "issue_comments": [records.issue_comment_row(issue_comment_payload(c)) for c in self.lists["comments"]],
            "timeline": [records.timeline_row(seq, item) for seq, item in enumerate(timeline)],
            "check_runs": [records.check_run_row(run) for run in runs],
        }
        if "files" in self.rest_sections and rest_files is not None:
            from fetcher.github import describe_failure

            try:
                bundle.sections["files"] = [records.file_row(p) for p in rest_files(self.number)]
            except Exception as exc:  # the section fails alone, as in sync
                del bundle.sections["files"]
                failure = describe_failure(exc)
                bundle.errors.append(records.SectionError("files", failure.status, failure.message, failure.request_id))
        bundle.warnings.extend(capped_sections_warnings(bundle, payload))
        return bundle


# --- GraphQL answer -> REST payload ------------------------------------------------------------


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
    if "requestedReviewer" in node:
        item["requested_reviewer"] = rest_user(node.get("requestedReviewer"))
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


# --- listing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListedPullRequest:
    number: int
    merged_at: datetime | None
    updated_at: datetime | None
    head_sha: str | None


def listed(nodes: Iterable[dict[str, Any]]) -> list[ListedPullRequest]:
    return [
        ListedPullRequest(
            node["number"],
            records.parse_time(node.get("mergedAt")),
            records.parse_time(node.get("updatedAt")),
            node.get("headRefOid"),
        )
        for node in nodes
        if node
    ]
