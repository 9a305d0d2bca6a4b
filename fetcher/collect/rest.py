"""Fetch one pull request completely through PyGithub, section by section.

Cost of one PR: 1 request for the PR, then one request per page of each of its seven
lists (100 items a page). No ``GET /repos/...`` to build the repository object
(``lazy=True``) and no ``totalCount`` probes, so a PR whose lists all fit in one page
costs exactly 8 requests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import requests
from github import Auth, Github, GithubException
from github.CheckRun import CheckRun
from github.PaginatedList import PaginatedList
from github.PullRequest import PullRequest
from github.Repository import Repository

from fetcher.collect import policy
from fetcher.collect.policy import Failure, Kind
from fetcher.collect.retry import ApiUsage, GitHubRetry, bounded_wait
from fetcher.errors import MergelensError
from fetcher.extract import records
from fetcher.extract.records import PullRequestBundle
from fetcher.extract.sections import SECTION_NAMES

log = logging.getLogger("mergelens")

PER_PAGE = 100  # GitHub's maximum; the default of 30 would triple the requests


@dataclass(frozen=True)
class ClientSettings:
    api_url: str
    token: str
    request_interval: float = 0.25  # PyGithub's default pause between requests (serial, as GitHub asks)
    timeout: float = 15.0
    max_rate_limit_wait: float = 60.0
    secondary_rate_wait: float = 60.0
    retries: int = 3
    backoff_factor: float = 1.0
    patches: bool = False  # store each file's diff text (pr_files.patch): --patches, MERGELENS_STORE_PATCHES=1


class FetchFailed(MergelensError):
    """The PR itself could not be fetched: nothing is written. ``failure`` says why."""

    def __init__(self, message: str, failure: Failure) -> None:
        super().__init__(message)
        self.failure = failure

    @property
    def for_log(self) -> str:
        rid = self.failure.request_id
        return f"{self} [X-GitHub-Request-Id {rid}]" if rid else str(self)


class GitHubSource:
    """A PyGithub client configured for mergelens, and the fetch of one PR."""

    def __init__(self, settings: ClientSettings, auth: Auth.Auth | None = None) -> None:
        """``auth``: how requests authenticate (fetcher.collect.credentials: a GitHub App's installation
        token); None: ``settings.token``."""
        self.settings = settings
        self.usage = ApiUsage()
        # The retry under every request of this client; also mountable on a requests session for
        # what PyGithub cannot send (the artifact store's archive download).
        self.retry = retry = GitHubRetry(
            usage=self.usage,
            retries=settings.retries,
            backoff_factor=settings.backoff_factor,
            backoff_jitter=settings.backoff_factor,
            max_rate_limit_wait=settings.max_rate_limit_wait,
            secondary_rate_wait=settings.secondary_rate_wait,
        )
        self.github = Github(
            auth=auth or Auth.Token(settings.token),
            base_url=settings.api_url.rstrip("/"),
            per_page=PER_PAGE,
            retry=retry,
            timeout=int(max(1, settings.timeout)),
            seconds_between_requests=settings.request_interval or None,
            # GraphQL queries are POSTs, which PyGithub paces as writes (1 s apart by default);
            # mergelens writes nothing to GitHub, so its queries get the same pause as the rest.
            seconds_between_writes=settings.request_interval or None,
            # lazy: objects are built from what we know (repo name, PR number) without a
            # request; the PR itself is fetched once, explicitly, by complete().
            lazy=True,
        )

    def close(self) -> None:
        self.github.close()

    def __enter__(self) -> GitHubSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def repository(self, full_name: str) -> Repository:
        # No GET /repos/{owner}/{repo}: the client is lazy.
        return self.github.get_repo(full_name)

    def fetch_pull_request(self, full_name: str, number: int) -> PullRequestBundle:
        repo = self.repository(full_name)
        try:
            pr = repo.get_pull(number).complete()  # GET /repos/{owner}/{repo}/pulls/{number}
        except Exception as exc:
            failure = policy.classify(exc)
            raise FetchFailed(self._pull_request_failure(full_name, number, failure), failure) from exc
        payload: dict[str, Any] = pr.raw_data  # complete: reading it costs no request
        bundle = PullRequestBundle(full_name, number, records.pull_request_row(full_name, payload))
        fetchers = self._section_fetchers(repo, pr)
        for section in SECTION_NAMES:  # in the declared order
            try:
                bundle.sections[section] = fetchers[section]()
                log.info("%s#%d %-15s %5d rows", full_name, number, section, len(bundle.sections[section]))
            except Exception as exc:  # whatever it was, this section fails alone
                failure = policy.classify(exc)
                bundle.errors.append(failure.section_error(section))
                log.warning("%s#%d %-15s FAILED %s", full_name, number, section, failure.for_log)
        bundle.warnings.extend(capped_sections_warnings(bundle, payload))
        return bundle

    def closed_pull_requests(self, full_name: str) -> Iterator[dict[str, Any]]:
        """Closed PRs, most recently updated first (list payloads: no additions/commits counts).

        Pages are fetched as the caller iterates, so stopping early saves requests."""
        pulls = self.repository(full_name).get_pulls(state="closed", sort="updated", direction="desc")
        try:
            yield from payloads(pulls)
        except (GithubException, requests.RequestException) as exc:
            failure = policy.classify(exc)
            if failure.kind is Kind.UNAUTHORIZED:
                raise MergelensError(failure.token_rejected()) from None
            raise MergelensError(f"could not list the closed PRs of {full_name}: {failure.message}") from None

    def repositories(self, org: str, installation: bool) -> list[dict[str, Any]]:
        """The repositories of ``org`` these credentials read (payloads): a GitHub App's
        installation lists its own (``GET /installation/repositories``: only the repositories it
        was granted), a token those of the organisation (``GET /orgs/{org}/repos``)."""
        requester = self.github.requester
        if installation:
            listed = PaginatedList(Repository, requester, "/installation/repositories", None, list_item="repositories")
        else:
            listed = PaginatedList(Repository, requester, f"/orgs/{org}/repos", {"type": "all"})
        try:
            return list(payloads(listed))
        except (GithubException, requests.RequestException) as exc:
            failure = policy.classify(exc)
            if failure.kind is Kind.UNAUTHORIZED:
                raise MergelensError(failure.token_rejected()) from None
            raise MergelensError(f"could not list the repositories of {org}: {failure.message}") from None

    def _section_fetchers(self, repo: Repository, pr: PullRequest) -> dict[str, Callable[[], list[dict]]]:
        head_sha = pr.raw_data["head"]["sha"]
        # Check runs hang off the head commit, not the PR. filter=all keeps re-runs, so a
        # check that failed and then passed on the same commit stays visible.
        check_runs = PaginatedList(
            CheckRun,
            pr.requester,
            f"{repo.url}/commits/{head_sha}/check-runs",
            {"filter": "all"},
            list_item="check_runs",
        )
        return {
            "commits": lambda: [records.commit_row(i, p) for i, p in enumerate(payloads(pr.get_commits()))],
            "files": lambda: [records.file_row(p, self.settings.patches) for p in payloads(pr.get_files())],
            "reviews": lambda: [records.review_row(p) for p in payloads(pr.get_reviews())],
            "review_comments": lambda: [records.review_comment_row(p) for p in payloads(pr.get_review_comments())],
            "issue_comments": lambda: [records.issue_comment_row(p) for p in payloads(pr.get_issue_comments())],
            "timeline": lambda: [
                records.timeline_row(seq, p) for seq, p in enumerate(payloads(pr.get_issue_timeline()))
            ],
            "check_runs": lambda: [records.check_run_row(p) for p in payloads(check_runs)],
        }

    def graphql_query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """POST one query to GitHub's GraphQL endpoint, paced and counted like every request; GitHub's
        JSON answer. Raises what PyGithub raises (policy.classify_graphql reads it)."""
        _, body = self.github.requester.graphql_query(query, variables)
        return body

    def wait_before_retry(self, attempt: int) -> None:
        """Back off before retrying what the HTTP layer does not retry itself (a GraphQL POST):
        ``backoff_factor`` x 2^attempt seconds."""
        time.sleep(bounded_wait(self.settings.backoff_factor * 2**attempt))

    def _pull_request_failure(self, full_name: str, number: int, failure: Failure) -> str:
        if failure.kind is Kind.UNAUTHORIZED:
            return failure.token_rejected()
        if failure.status == 404:
            # Same 404 for a missing PR and a missing (or invisible) repository: one more request,
            # only on this failure path, tells the user which.
            if self._repository_exists(full_name):
                return f"PR #{number} not found in {full_name} (HTTP 404)"
            return (
                f"repository {full_name} not found (HTTP 404): check --repo and that the token "
                "(GITHUB_TOKEN) can read it"
            )
        return f"could not fetch PR {full_name}#{number}: {failure.message}"

    def _repository_exists(self, full_name: str) -> bool:
        try:
            self.repository(full_name).complete()
        except GithubException:
            return False
        return True


def payloads(items: Iterable[Any]) -> Iterable[dict[str, Any]]:
    """The JSON of each item of a PyGithub list, as GitHub sent it.

    PyGithub objects from a list are not "completed": reading an attribute their list payload
    lacks (``in_reply_to_id`` on a top-level review comment) or ``raw_data`` makes PyGithub GET
    the item again, one request per item. ``_rawData`` is the payload already in hand.
    """
    for item in items:
        yield item._rawData


def capped_sections_warnings(bundle: PullRequestBundle, pr: dict[str, Any]) -> list[str]:
    """GitHub returns at most 250 commits and 3,000 files for a PR: say so, never undercount silently."""
    warnings = []
    for section, total, cap in (
        ("commits", pr.get("commits"), records.COMMITS_CAP),
        ("files", pr.get("changed_files"), records.FILES_CAP),
    ):
        fetched = len(bundle.sections.get(section, []))
        if section in bundle.sections and total is not None and total > fetched and fetched >= cap:
            warnings.append(f"{section}: GitHub returns at most {cap} {section} for a PR; stored {fetched} of {total}")
            bundle.pull_request.setdefault("truncated_sections", []).append(section)
    return warnings
