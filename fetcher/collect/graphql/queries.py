"""The text of mergelens's GraphQL queries, and what GitHub charges for them.

One batch query asks for up to ``batch_size`` PRs by number (aliases ``p0``, ``p1``, …) with the
first page of each of their lists, and for the check suites of each PR's head commit
(``object(oid: headRefOid)``: the check runs of the head SHA, as REST sync reads them, re-runs
included with ``filterBy: {checkType: ALL}``). A list longer than its first page is completed
with follow-up queries on that connection's cursor (``node(id:) { … on PullRequest {
files(first: 100, after: $cursor) } }``); follow-ups of many PRs share one query.

Cost (GitHub: requests per connection, parents x children, / 100, rounded): a PR costs its seven
lists + one request per review thread asked for + the head commit's suites and one per suite:
7 + THREADS + 1 + SUITES = 17 requests, 0.17 points, when its lists fit their first pages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fetcher.collect.graphql.paging import Page

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
# A login of whatever kind of account a union names (a bot's without REST's "[bot]").
_LOGINS = "__typename ... on User { login } ... on Bot { login } ... on Mannequin { login }"
_ISSUE_OR_PULL = "number repository { nameWithOwner }"
# Fields beyond `actor` and `createdAt` that some event types carry.
_EVENT_EXTRAS = {
    "LabeledEvent": "label { name }",
    "UnlabeledEvent": "label { name }",
    "RenamedTitleEvent": "previousTitle currentTitle",
    "AssignedEvent": f"assignee {{ {_LOGINS} ... on Organization {{ login }} }}",
    "UnassignedEvent": f"assignee {{ {_LOGINS} ... on Organization {{ login }} }}",
    "CrossReferencedEvent": f"source {{ __typename ... on Issue {{ {_ISSUE_OR_PULL} }} "
    f"... on PullRequest {{ {_ISSUE_OR_PULL} }} }}",
    "ReviewRequestedEvent": "requestedReviewer { __typename ... on User { login } ... on Bot { login } "
    "... on Mannequin { login } ... on Team { slug } }",
    "ReviewRequestRemovedEvent": "requestedReviewer { __typename ... on User { login } ... on Bot { login } "
    "... on Mannequin { login } ... on Team { slug } }",
    "MergedEvent": "commit { oid }",
    "ReferencedEvent": "commit { oid }",
    "HeadRefForcePushedEvent": "afterCommit { oid }",
    "ClosedEvent": "closer { __typename ... on Commit { oid } } stateReason",
}


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
        f"... on PullRequestReview {{ fullDatabaseId author {ACTOR} state submittedAt commit {{ oid }} }}",
        f"... on IssueComment {{ fullDatabaseId author {ACTOR} createdAt }}",
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
# Not asked for: PullRequest.assignees and .reviewRequests are connections, each one more request
# per PR (0.01 point), which takes backfill past its goal of 0.2 points per PR (docs/data-contract.md:
# pull_requests.requested_reviewers, requested_teams and assignees are NULL from backfill).
PR_FIELDS = (
    f"id number title body url state isDraft author {ACTOR} baseRefName headRefName baseRefOid headRefOid "
    f"createdAt updatedAt closedAt mergedAt mergedBy {ACTOR} additions deletions changedFiles "
    f"fullDatabaseId authorAssociation mergeCommit {{ oid }} milestone {{ title }} "
    "headRepository { databaseId nameWithOwner } baseRepository { databaseId nameWithOwner } "
    f"autoMergeRequest {{ mergeMethod enabledBy {ACTOR} }}"
)


def connection(name: str, size: int, after: str | None) -> str:
    extra, selection = PR_LISTS[name]
    arguments = ", ".join(a for a in (f"first: {size}", after and f"after: {after}", extra) if a)
    return f"{name}({arguments}) {{ {PAGE_INFO} {selection} }}"


# Named fragments: a batch asks for the same fields of every PR; written once, the query stays
# small (GitHub limits a query's size too) and quick to parse.
FRAGMENTS: dict[str, str] = {
    "CommitFields": "on Commit { oid message author { name email date user { login } } "
    "committer { name email date user { login } } signature { state } }",
    "ReviewFields": f"on PullRequestReview {{ fullDatabaseId author {ACTOR} authorAssociation state body "
    "submittedAt commit { oid } }",
    "ReviewCommentFields": f"on PullRequestReviewComment {{ fullDatabaseId author {ACTOR} authorAssociation body "
    "createdAt updatedAt path line originalLine startLine commit { oid } originalCommit { oid } subjectType "
    "replyTo { fullDatabaseId } pullRequestReview { fullDatabaseId } }",
    "IssueCommentFields": f"on IssueComment {{ fullDatabaseId author {ACTOR} authorAssociation body createdAt "
    "updatedAt }",
    "CheckRunFields": "on CheckRun { databaseId name status conclusion startedAt completedAt url detailsUrl title "
    "summary }",
    "SuiteFields": f"on CheckSuite {{ id databaseId app {{ slug }} "
    f"checkRuns(first: {PAGE}, filterBy: {{checkType: ALL}}) {{ {PAGE_INFO} nodes {{ ...CheckRunFields }} }} }}",
    "ThreadFields": f"on PullRequestReviewThread {{ id isResolved diffSide comments(first: {PAGE}) {{ {PAGE_INFO} "
    "nodes { ...ReviewCommentFields } } }",
    "TimelineFields": f"on PullRequestTimelineItems {{ {_TIMELINE_NODE} }}",
    "PullRequestFields": "on PullRequest { "
    + PR_FIELDS
    + " "
    + " ".join(connection(name, THREADS if name == "reviewThreads" else PAGE, None) for name in PR_LISTS)
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


def follow_up_requests(kind: str) -> int:
    """Connection requests one follow-up page of ``kind`` costs (its nested connections included)."""
    return {"reviewThreads": 1 + FOLLOW_THREADS, "suites": 1 + FOLLOW_SUITES}.get(kind, 1)


def follow_up_selection(kind: str, index: int) -> str:
    """The next page of connection ``kind`` (a PR_LISTS name, or thread_comments | suites |
    suite_runs) of the node aliased ``f{index}``, after the cursor ``$a{index}``."""
    after = f"$a{index}"
    if kind in PR_LISTS:
        size = FOLLOW_THREADS if kind == "reviewThreads" else PAGE
        return f"... on PullRequest {{ {connection(kind, size, after)} }}"
    if kind == "thread_comments":
        return (
            f"... on PullRequestReviewThread {{ comments(first: {PAGE}, after: {after}) "
            f"{{ {PAGE_INFO} nodes {{ ...ReviewCommentFields }} }} }}"
        )
    if kind == "suites":
        return (
            f"... on Commit {{ oid checkSuites(first: {FOLLOW_SUITES}, after: {after}) "
            f"{{ {PAGE_INFO} nodes {{ ...SuiteFields }} }} }}"
        )
    return (
        f"... on CheckSuite {{ checkRuns(first: {PAGE}, after: {after}, filterBy: {{checkType: ALL}}) "
        f"{{ {PAGE_INFO} nodes {{ ...CheckRunFields }} }} }}"
    )


def follow_up_query(pages: Sequence[Page]) -> tuple[str, dict[str, Any]]:
    variables = ", ".join(f"$id{i}: ID!, $a{i}: String!" for i in range(len(pages)))
    parts = " ".join(
        f"f{i}: node(id: $id{i}) {{ {follow_up_selection(page.kind, i)} }}" for i, page in enumerate(pages)
    )
    values: dict[str, Any] = {}
    for i, page in enumerate(pages):
        values[f"id{i}"], values[f"a{i}"] = page.node_id, page.cursor
    return with_fragments(f"query FollowUp({variables}) {{ {RATE_LIMIT} {parts} }}"), values
