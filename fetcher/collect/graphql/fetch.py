"""The merged PRs of one repository over GraphQL: listed a page at a time, fetched in batches.

A batch is one query for its PRs and their head commits' check suites, then follow-up queries
until every list is complete (fetcher.collect.graphql.paging keeps track). A PR whose head moved since
it was listed has its check suites asked for again, by the head the batch answer gives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from fetcher.collect.graphql import queries
from fetcher.collect.graphql.client import GraphQLClient, GraphQLFailed
from fetcher.collect.graphql.paging import Page, PullPages, pack
from fetcher.extract.records import parse_time


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
            parse_time(node.get("mergedAt")),
            parse_time(node.get("updatedAt")),
            node.get("headRefOid"),
        )
        for node in nodes
        if node
    ]


class MergedPullRequests:
    def __init__(self, client: GraphQLClient, repo: str) -> None:
        self.client = client
        self.owner, self.name = repo.split("/", 1)

    def page(self, cursor: str | None) -> tuple[list[ListedPullRequest], str | None]:
        """Merged PRs, most recently updated first, after ``cursor``; and the cursor of the next
        page (None: this was the last). A query that times out is tried again."""
        variables = {"owner": self.owner, "name": self.name, "cursor": cursor}
        data = self.client.retrying(partial(self.client.query, queries.LIST_QUERY, variables, 1))
        connection = ((data.get("repository") or {}).get("pullRequests")) or {}
        info = connection.get("pageInfo") or {}
        return listed(connection.get("nodes") or []), info.get("endCursor") if info.get("hasNextPage") else None

    def fetch(self, batch: list[ListedPullRequest]) -> list[PullPages]:
        """Every list of every PR of ``batch``, complete. Raises what GraphQLClient.query raises."""
        heads = [pr for pr in batch if pr.head_sha]
        query = queries.batch_query(len(batch), len(heads))
        variables: dict[str, Any] = {"owner": self.owner, "name": self.name}
        variables.update({f"n{i}": pr.number for i, pr in enumerate(batch)})
        variables.update({f"o{i}": pr.head_sha for i, pr in enumerate(heads)})
        estimate = queries.points(queries.batch_requests(len(batch), len(heads)))
        data = self.client.query(query, variables, estimate)
        repository = data.get("repository") or {}
        pages, follow = [], []
        by_number: dict[int, PullPages] = {}
        for i, pr in enumerate(batch):
            node = repository.get(f"p{i}")
            if node is None:
                raise GraphQLFailed(f"PR #{pr.number} not in the answer")
            pull = PullPages(pr.number, pr.head_sha, pr=node)
            for name in queries.PR_LISTS:
                follow += pull.absorb(name, node.get(name) or {}, node.get("id"))
            pages.append(pull)
            by_number[pr.number] = pull
        for i, pr in enumerate(heads):
            commit = repository.get(f"c{i}")
            pull = by_number[pr.number]
            if commit is not None and commit.get("oid") == (pull.pr or {}).get("headRefOid"):
                pull.head_checked = True
                follow += pull.absorb("suites", commit.get("checkSuites") or {}, commit.get("id"))
        moved = [pull for pull in pages if not pull.head_checked and (pull.pr or {}).get("headRefOid")]
        if moved:  # the head changed since the listing (or was unknown): its check runs, asked again
            follow += self._head_checks(moved)
        self._follow(follow)
        return pages

    def _head_checks(self, pulls: list[PullPages]) -> list[Page]:
        query = queries.batch_query(0, len(pulls))
        variables: dict[str, Any] = {"owner": self.owner, "name": self.name}
        variables.update({f"o{i}": (pull.pr or {}).get("headRefOid") for i, pull in enumerate(pulls)})
        data = self.client.query(query, variables, queries.points(queries.batch_requests(0, len(pulls))))
        repository = data.get("repository") or {}
        follow: list[Page] = []
        for i, pull in enumerate(pulls):
            pull.suites, pull.head_checked = [], True
            commit = repository.get(f"c{i}")
            if commit is not None:
                follow += pull.absorb("suites", commit.get("checkSuites") or {}, commit.get("id"))
        return follow

    def _follow(self, pages: list[Page]) -> None:
        while pages:
            upcoming: list[Page] = []
            for group in pack(pages):
                query, variables = queries.follow_up_query(group)
                estimate = queries.points(sum(page.requests for page in group))
                data = self.client.retrying(partial(self.client.query, query, variables, estimate))
                for i, page in enumerate(group):
                    node = data.get(f"f{i}")
                    if node is not None:
                        upcoming += page.pull.absorb_follow_up(page, node)
            pages = upcoming
