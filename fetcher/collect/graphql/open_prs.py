"""The open PRs of a repository as they are now, and how the ones that left the queue were closed.

One listing query reads 100 open PRs a page with everything "whose move is it" needs. Its cost
(GitHub: requests per connection, parents x children, / 100, rounded) is the listing itself plus
three connections per PR: review requests, the latest review of each reviewer, and the last
``TIMELINE`` activity items; the head commit's check rollup (``statusCheckRollup``), mergeability,
the review decision and the comment count are plain fields, free. A page of 100 PRs needs
1 + 100 x 3 = 301 requests: 3 points, 0.03 a PR (a repository with 500 open PRs: 15 points).

PRs that were open in the previous snapshot and are not now are asked for by number, in one query
per ``CLOSED_BATCH``: state, closedAt, mergedAt and the last ``ClosedEvent`` (its ``stateReason``:
GitHub has no close reason on the PR itself), one connection each: 100 PRs a point.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import partial
from typing import Any

from fetcher.collect.graphql import queries
from fetcher.collect.graphql.adapter import rest_user
from fetcher.collect.graphql.client import GraphQLClient
from fetcher.extract.records import login_of, parse_time, type_of

PAGE = 100
REQUESTS = 10  # review requests per PR (people and teams)
REVIEWERS = 20  # latest reviews per PR: one per reviewer
TIMELINE = 30  # latest activity items per PR: who did something last, and when
CLOSED_BATCH = 100
CONNECTIONS_PER_PR = 3

_ACTIVITY = (
    "ISSUE_COMMENT, PULL_REQUEST_REVIEW, READY_FOR_REVIEW_EVENT, CONVERT_TO_DRAFT_EVENT, "
    "REVIEW_REQUESTED_EVENT, HEAD_REF_FORCE_PUSHED_EVENT"
)
_ACTOR = queries.ACTOR
_REVIEWER = (
    "requestedReviewer { __typename ... on User { login } ... on Bot { login } ... on Mannequin { login } "
    "... on Team { slug } }"
)
OPEN_PRS_QUERY = f"""query OpenPullRequests($owner: String!, $name: String!, $cursor: String) {{
  {queries.RATE_LIMIT}
  repository(owner: $owner, name: $name) {{
    pullRequests(states: [OPEN], first: {PAGE}, after: $cursor, orderBy: {{field: CREATED_AT, direction: ASC}}) {{
      {queries.PAGE_INFO}
      nodes {{
        number title url isDraft author {_ACTOR} createdAt updatedAt additions deletions changedFiles
        baseRefName headRefOid mergeable mergeStateStatus reviewDecision totalCommentsCount
        statusCheckRollup {{ state }}
        headRef {{ target {{ ... on Commit {{ committedDate }} }} }}
        reviewRequests(first: {REQUESTS}) {{ nodes {{ {_REVIEWER} }} }}
        latestReviews(first: {REVIEWERS}) {{ nodes {{ author {_ACTOR} state submittedAt }} }}
        timelineItems(last: {TIMELINE}, itemTypes: [{_ACTIVITY}]) {{
          nodes {{
            __typename
            ... on IssueComment {{ author {_ACTOR} createdAt }}
            ... on PullRequestReview {{ author {_ACTOR} submittedAt }}
            ... on ReadyForReviewEvent {{ actor {_ACTOR} createdAt }}
            ... on ConvertToDraftEvent {{ actor {_ACTOR} createdAt }}
            ... on ReviewRequestedEvent {{ actor {_ACTOR} createdAt }}
            ... on HeadRefForcePushedEvent {{ actor {_ACTOR} createdAt }}
          }}
        }}
      }}
    }}
  }}
}}"""


def page_requests(prs: int = PAGE) -> int:
    """Connection requests of one listing page of ``prs`` PRs (GitHub assumes a full page)."""
    return 1 + prs * CONNECTIONS_PER_PR


def closed_query(count: int) -> str:
    """The PRs ``$n0``… by number: how each one left the queue."""
    variables = ", ".join(["$owner: String!", "$name: String!"] + [f"$n{i}: Int!" for i in range(count)])
    fields = (
        "number state closedAt mergedAt timelineItems(last: 1, itemTypes: [CLOSED_EVENT]) "
        f"{{ nodes {{ ... on ClosedEvent {{ actor {_ACTOR} createdAt stateReason }} }} }}"
    )
    parts = " ".join(f"p{i}: pullRequest(number: $n{i}) {{ {fields} }}" for i in range(count))
    repository = f"repository(owner: $owner, name: $name) {{ {parts} }}"
    return f"query ClosedPullRequests({variables}) {{ {queries.RATE_LIMIT} {repository} }}"


class OpenPullRequests:
    """Reads a repository's open PRs, and the close of those that left, through ``client``."""

    def __init__(self, client: GraphQLClient, repo: str) -> None:
        self.client = client
        self.repo = repo
        self.owner, self.name = repo.split("/", 1)

    def snapshot(self, at: datetime) -> Iterator[dict[str, Any]]:
        """Every open PR as a row of ``open_pr_snapshots`` taken ``at``, page by page."""
        cursor: str | None = None
        while True:
            variables = {"owner": self.owner, "name": self.name, "cursor": cursor}
            estimate = queries.points(page_requests())
            data = self.client.retrying(partial(self.client.query, OPEN_PRS_QUERY, variables, estimate))
            connection = (data.get("repository") or {}).get("pullRequests") or {}
            for node in connection.get("nodes") or []:
                if node:
                    yield snapshot_row(self.repo, node, at)
            info = connection.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return
            cursor = info.get("endCursor")

    def closures(self, numbers: list[int], detected_at: datetime) -> list[dict[str, Any]]:
        """Rows of ``open_pr_closures`` for the PRs ``numbers`` that are closed or merged now
        (a PR GitHub no longer answers for is left out)."""
        rows = []
        for start in range(0, len(numbers), CLOSED_BATCH):
            batch = numbers[start : start + CLOSED_BATCH]
            variables: dict[str, Any] = {"owner": self.owner, "name": self.name}
            variables.update({f"n{i}": number for i, number in enumerate(batch)})
            estimate = queries.points(len(batch))
            data = self.client.retrying(partial(self.client.query, closed_query(len(batch)), variables, estimate))
            repository = data.get("repository") or {}
            for i in range(len(batch)):
                node = repository.get(f"p{i}")
                if node and node.get("state") in ("CLOSED", "MERGED"):
                    rows.append(closure_row(self.repo, node, detected_at))
        return rows


def _user(actor: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(login, type) as REST names them (a bot's login with its ``[bot]``)."""
    user = rest_user(actor)
    return login_of(user), type_of(user)


def snapshot_row(repo: str, pr: dict[str, Any], at: datetime) -> dict[str, Any]:
    author, author_type = _user(pr.get("author"))
    people, teams = [], []
    for request in (pr.get("reviewRequests") or {}).get("nodes") or []:
        reviewer = (request or {}).get("requestedReviewer") or {}
        if reviewer.get("__typename") == "Team":
            teams.append(reviewer.get("slug"))
        elif reviewer:
            people.append(_user(reviewer)[0])
    reviews = []
    for review in (pr.get("latestReviews") or {}).get("nodes") or []:
        if review and review.get("submittedAt"):
            login, kind = _user(review.get("author"))
            reviews.append(
                {
                    "reviewer_login": login,
                    "reviewer_type": kind,
                    "state": review.get("state"),
                    "submitted_at": parse_time(review.get("submittedAt")),
                }
            )
    head = ((pr.get("headRef") or {}).get("target")) or {}
    activity = _activity(pr, author)
    return {
        "repo": repo,
        "number": pr["number"],
        "snapshot_at": at,
        "title": pr.get("title"),
        "html_url": pr.get("url"),
        "author_login": author,
        "author_type": author_type,
        "draft": bool(pr.get("isDraft")),
        "created_at": parse_time(pr.get("createdAt")),
        "updated_at": parse_time(pr.get("updatedAt")),
        "additions": pr.get("additions"),
        "deletions": pr.get("deletions"),
        "changed_files": pr.get("changedFiles"),
        "base_ref": pr.get("baseRefName"),
        "head_sha": pr.get("headRefOid"),
        "requested_reviewers": people,
        "requested_teams": teams,
        "latest_reviews": reviews,
        "review_decision": pr.get("reviewDecision"),
        "checks_state": (pr.get("statusCheckRollup") or {}).get("state"),
        "mergeable": pr.get("mergeable"),
        "merge_state_status": pr.get("mergeStateStatus"),
        "comments_count": pr.get("totalCommentsCount"),
        "head_committed_at": parse_time(head.get("committedDate")),
        **activity,
    }


def _activity(pr: dict[str, Any], author: str | None) -> dict[str, datetime | None]:
    """When the author, and anyone else but bots, last did something on the PR (among its last
    ``TIMELINE`` activity items; older activity is not seen), and the last push, ready and review
    request."""
    last: dict[str, datetime | None] = {
        "last_author_activity_at": None,
        "last_reviewer_activity_at": None,
        "last_force_push_at": None,
        "ready_for_review_at": None,
        "last_review_request_at": None,
    }

    def later(key: str, at: datetime | None) -> None:
        if at is not None and (last[key] is None or at > last[key]):  # type: ignore[operator]
            last[key] = at

    for item in ((pr.get("timelineItems") or {}).get("nodes")) or []:
        if not item:
            continue
        kind = item.get("__typename")
        login, user_type = _user(item.get("author") or item.get("actor"))
        at = parse_time(item.get("submittedAt") or item.get("createdAt"))
        if kind == "HeadRefForcePushedEvent":
            later("last_force_push_at", at)
        elif kind == "ReadyForReviewEvent":
            later("ready_for_review_at", at)
        elif kind == "ReviewRequestedEvent":
            later("last_review_request_at", at)
        if login is not None and login == author:
            later("last_author_activity_at", at)
        elif login is not None and user_type != "Bot" and kind in ("IssueComment", "PullRequestReview"):
            later("last_reviewer_activity_at", at)
    return last


def closure_row(repo: str, pr: dict[str, Any], detected_at: datetime) -> dict[str, Any]:
    events = ((pr.get("timelineItems") or {}).get("nodes")) or []
    closed: dict[str, Any] = next((event for event in reversed(events) if event), {})
    login, _ = _user(closed.get("actor"))
    merged = pr.get("state") == "MERGED"
    reason = closed.get("stateReason")
    return {
        "repo": repo,
        "number": pr["number"],
        "closed_at": parse_time(pr.get("mergedAt") if merged else pr.get("closedAt")),
        "merged": merged,
        "state_reason": reason.lower() if isinstance(reason, str) and not merged else None,
        "closed_by_login": None if merged else login,
        "detected_at": detected_at,
    }
