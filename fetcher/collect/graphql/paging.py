"""What the GraphQL queries returned for each PR so far, and which pages are still to fetch.

A batch answer is absorbed into one :class:`PullPages` per PR; every connection with a next page
becomes a :class:`Page` to follow up, and :func:`pack` groups follow-ups into queries of about
one point. Nothing here talks to GitHub or knows REST's shapes (fetcher.collect.graphql.adapter does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fetcher.collect.graphql.queries import MAX_FOLLOW_UP_ALIASES, MAX_FOLLOW_UP_REQUESTS, PR_LISTS, follow_up_requests
from fetcher.extract import records


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
        return follow_up_requests(self.kind)


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


@dataclass
class PullPages:
    """Everything the queries returned for one PR so far."""

    number: int
    head_sha: str | None  # the head commit whose check runs were asked for
    pr: dict[str, Any] | None = None
    lists: dict[str, list[Any]] = field(default_factory=lambda: {name: [] for name in PR_LISTS})
    commits_total: int | None = None
    # each review thread's own fields (isResolved, diffSide), in the order of lists["reviewThreads"]
    threads: list[dict[str, Any]] = field(default_factory=list)
    # the head commit's check suites (their fields but checkRuns) and each one's runs
    suites: list[tuple[dict[str, Any], list[dict[str, Any]]]] = field(default_factory=list)
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
                self.threads.append({key: value for key, value in thread.items() if key != "comments"})
                follow += self._absorb_list(comments, "thread_comments", thread["comments"], thread["id"])
            follow += self._more(kind, info, node_id)
        elif kind == "suites":
            for suite in nodes:
                runs: list[dict[str, Any]] = []
                slug = (suite.get("app") or {}).get("slug")
                self.suites.append(({key: value for key, value in suite.items() if key != "checkRuns"}, runs))
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
