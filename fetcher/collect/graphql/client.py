"""GitHub's GraphQL endpoint for backfill: one query at a time, metered in points, failures classified.

Before every query the :class:`Meter` checks that its estimated cost keeps the run inside its
budget, above the floor of points kept for merge runs and inside its time limit; after it, the
query's ``rateLimit { cost remaining }`` is charged (GitHub charges a query that timed out too:
then the estimate is). What a failure means is fetcher.collect.policy's decision; here it becomes
what backfill does next: :class:`Stop`, shrink the batch (:class:`GraphQLTimeout`), give up on
this query (:class:`GraphQLFailed`) or on GraphQL (:class:`GraphQLUnavailable`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from github import GithubException

from fetcher.collect import policy
from fetcher.collect.policy import Failure, Kind
from fetcher.collect.rest import GitHubSource
from fetcher.errors import MergelensError
from fetcher.extract.records import parse_time

TRANSIENT_ATTEMPTS = 3  # tries of a query that times out before it counts as failing


class Stop(Exception):
    """Stop cleanly: the budget, the floor, the time limit or the rate limit says so."""


class GraphQLError(Exception):
    """A query that failed; ``failure`` is the policy's classification (None: a malformed answer)."""

    def __init__(self, message: str, failure: Failure | None = None) -> None:
        super().__init__(message)
        self.failure = failure

    @property
    def for_log(self) -> str:
        return self.failure.for_log if self.failure is not None else str(self)


class GraphQLTimeout(GraphQLError):
    """502/504, a timeout, a node limit: the query was too big or GitHub was busy. Shrink, retry."""


class GraphQLFailed(GraphQLError):
    """This query failed for good (an error in the answer)."""


class GraphQLUnavailable(GraphQLError):
    """The endpoint is missing or forbidden: REST from now on."""


@dataclass
class Meter:
    """Points and requests of this run, and what GitHub says is left."""

    floor: int
    budget: int | None
    deadline: float | None
    points: int = 0
    requests: int = 0
    remaining: int | None = None
    reset_at: datetime | None = None

    def check(self, estimate: int) -> None:
        self.check_time()
        if self.budget is not None and self.points + estimate > self.budget:
            raise Stop(f"budget of {self.budget} points reached ({self.points} spent)")
        if self.remaining is not None and self.remaining - estimate < self.floor:
            raise Stop(
                f"GraphQL points left ({self.remaining}) would fall under the floor of {self.floor} kept for merge "
                f"runs; they reset at {self.reset_text()}"
            )

    def check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Stop("time limit reached")

    def reset_text(self) -> str:
        return f"{self.reset_at:%H:%M} UTC" if self.reset_at else "the top of the hour"

    def charged(self, rate: dict[str, Any] | None, estimate: int) -> None:
        if rate:
            self.points += int(rate.get("cost") or 0)
            self.remaining = rate.get("remaining", self.remaining)
            self.reset_at = parse_time(rate.get("resetAt")) or self.reset_at
        else:  # GitHub charges a query that timed out; we never learn what: count the estimate
            self.points += estimate
            if self.remaining is not None:
                self.remaining -= estimate


class GraphQLClient:
    """Queries through the source's PyGithub client: paced, counted in its usage, like REST."""

    def __init__(self, source: GitHubSource, meter: Meter) -> None:
        self.source, self.meter = source, meter

    def query(self, query: str, variables: dict[str, Any], estimate: int) -> dict[str, Any]:
        """The ``data`` of the answer. ``estimate``: the points it should cost (checked first)."""
        self.meter.check(estimate)
        self.meter.requests += 1
        try:
            body = self.source.graphql_query(query, variables)
        except (GithubException, requests.Timeout, requests.ConnectionError) as exc:
            failure = policy.classify_graphql(exc)
            self._charge_failed(exc, failure, estimate)
            raise self._consequence(failure) from exc
        data = body.get("data") or {}
        self.meter.charged(data.get("rateLimit"), estimate)
        return data

    def retrying(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``call`` (a query), tried again after a backoff when it times out, TRANSIENT_ATTEMPTS in all."""
        for attempt in range(TRANSIENT_ATTEMPTS):
            try:
                return call()
            except GraphQLTimeout:
                if attempt == TRANSIENT_ATTEMPTS - 1:
                    raise
                self.back_off(attempt)
        raise AssertionError("unreachable")

    def back_off(self, attempt: int) -> None:
        self.source.wait_before_retry(attempt)

    def _charge_failed(self, exc: Exception, failure: Failure, estimate: int) -> None:
        data = exc.data if isinstance(exc, GithubException) and isinstance(exc.data, dict) else {}
        if isinstance(data.get("data"), dict):  # an answer with errors: what it says it cost
            self.meter.charged(data["data"].get("rateLimit"), estimate)
        if failure.kind is Kind.PRIMARY_RATE_LIMIT:
            self.meter.remaining = 0
            self.meter.reset_at = failure.reset_at or self.meter.reset_at
        elif failure.kind is Kind.TRANSIENT:  # no answer (timeout, 5xx): charged all the same
            self.meter.charged(None, estimate)

    def _consequence(self, failure: Failure) -> Exception:
        """What backfill does about a failed query (github_policy decided what the failure is)."""
        match failure.kind:
            case Kind.UNAUTHORIZED:
                return MergelensError(failure.token_rejected())
            case Kind.PRIMARY_RATE_LIMIT:
                return Stop(f"GraphQL rate limit exhausted; it resets at {self.meter.reset_text()}")
            case Kind.SECONDARY_RATE_LIMIT:
                return Stop(f"GitHub's secondary rate limit (HTTP {failure.status}): resume in a few minutes")
            case Kind.QUERY_TOO_BIG | Kind.TRANSIENT:
                return GraphQLTimeout(failure.message, failure)
            case Kind.UNAVAILABLE:
                return GraphQLUnavailable(failure.message, failure)
            case _:
                return GraphQLFailed(failure.message, failure)
