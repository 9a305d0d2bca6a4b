"""What mergelens makes of GitHub's errors: the one place that decides it.

Every failure talking to GitHub, REST or GraphQL, becomes a :class:`Failure` of one
:class:`Kind` with a one-line message and GitHub's ``X-GitHub-Request-Id`` (what GitHub Support
asks for). The kind says what to do:

- ``TRANSIENT`` (5xx, timeouts, dropped connections): retried (fetcher.collect.retry for REST, the
  GraphQL client for queries); still failing, the section fails (REST) or the batch shrinks
  (GraphQL).
- ``PRIMARY_RATE_LIMIT`` (``x-ratelimit-remaining: 0``, GraphQL's ``RATE_LIMITED``): wait for
  ``reset_at`` when that is soon enough (REST), else stop cleanly and say when it resets.
- ``SECONDARY_RATE_LIMIT`` (403/429 with ``Retry-After`` or GitHub's secondary-limit message, a
  bare 429): wait as told, else ``secondary_rate_wait`` doubled each time (REST); stop (GraphQL).
- ``UNAUTHORIZED`` (401): fatal, the token is wrong.
- ``NOT_FOUND`` (404/410), ``FORBIDDEN`` (any other 403), ``REJECTED`` (other 4xx, an error in a
  GraphQL answer): final, retrying the same request cannot help; a section fails alone.
- ``QUERY_TOO_BIG`` (GraphQL: node limit, a query that timed out on GitHub's side): shrink it.
- ``UNAVAILABLE`` (GraphQL only: the endpoint is missing or refused): use REST instead.
- ``UNEXPECTED``: not a GitHub answer at all (a bug, a payload we did not expect).

:func:`classify` handles what PyGithub and requests raise (REST, and what the artifact client
needs); :func:`classify_graphql` the same for a GraphQL query; :func:`retry_wait` is the rule
fetcher.collect.retry applies to a 403/429 before PyGithub sees it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

import requests
from github import GithubException
from github.Requester import Requester

from fetcher.extract.records import SectionError

RATE_LIMIT_STATUSES = frozenset({403, 429})
RETRIED_STATUSES = frozenset(range(500, 600)) | RATE_LIMIT_STATUSES  # what fetcher.collect.retry looks at again
MAX_MESSAGE = 500  # a runaway error body never floods a log line or a stored error


class Kind(StrEnum):
    TRANSIENT = "transient"
    PRIMARY_RATE_LIMIT = "primary_rate_limit"
    SECONDARY_RATE_LIMIT = "secondary_rate_limit"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    REJECTED = "rejected"
    QUERY_TOO_BIG = "query_too_big"
    UNAVAILABLE = "unavailable"
    UNEXPECTED = "unexpected"


class RateLimitExhausted(Exception):
    """A rate limit asks for a longer wait than this run may spend (``max_rate_limit_wait``)."""

    def __init__(self, status: int, wait_s: float, max_wait_s: float, reset_at: datetime | None = None) -> None:
        self.status = status
        self.reset_at = reset_at
        self.wait_s = wait_s
        limit = f"the {max_wait_s:.0f} s this run may wait"
        if reset_at is not None:
            message = (
                f"GitHub API rate limit exhausted; it resets at {reset_at:%Y-%m-%d %H:%M:%S} UTC "
                f"(in {wait_s:.0f} s, more than {limit})"
            )
        else:
            message = f"GitHub secondary rate limit: asked to retry after {wait_s:.0f} s, more than {limit}"
        super().__init__(message)


@dataclass(frozen=True)
class Failure:
    kind: Kind
    status: int | None
    message: str  # one line
    request_id: str | None = None  # X-GitHub-Request-Id
    reset_at: datetime | None = None  # primary rate limit: when it resets
    retry_after: float | None = None  # Retry-After, seconds

    @property
    def rate_limited(self) -> bool:
        return self.kind in (Kind.PRIMARY_RATE_LIMIT, Kind.SECONDARY_RATE_LIMIT)

    @property
    def for_log(self) -> str:
        """The message, with GitHub's request id when there is one (for a log line, not for storage)."""
        return f"{self.message} [X-GitHub-Request-Id {self.request_id}]" if self.request_id else self.message

    def token_rejected(self) -> str:
        """What to tell the user about a 401."""
        return f"GitHub rejected the token ({self.message}): check GITHUB_TOKEN (or GH_TOKEN)"

    def section_error(self, section: str) -> SectionError:
        """This failure as the error of one section of a PR (the section fails alone)."""
        return SectionError(section, self.status, self.message, self.request_id)


def request_id(headers: Any) -> str | None:
    """GitHub's X-GitHub-Request-Id from response headers (any case, any mapping)."""
    for key, value in dict(headers or {}).items():
        if str(key).lower() == "x-github-request-id":
            return str(value)
    return None


def one_line(message: object) -> str:
    lines = str(message or "").strip().splitlines()
    return lines[0][:MAX_MESSAGE] if lines else ""


def from_response(status: int, headers: Any, message: str) -> Failure:
    """What an HTTP error answer from GitHub (``status``, headers, the body's ``message``) is."""
    lower = {str(k).lower(): v for k, v in dict(headers or {}).items()}
    text = f"HTTP {status}: {one_line(message) or 'no message'}"
    rid = request_id(lower)
    retry_after = _retry_after(lower.get("retry-after"))
    if status in RATE_LIMIT_STATUSES:
        if lower.get("x-ratelimit-remaining") == "0" or _is_primary_limit_message(message):
            reset_at = _reset_at(lower.get("x-ratelimit-reset"))
            return Failure(Kind.PRIMARY_RATE_LIMIT, status, text, rid, reset_at, retry_after)
        if retry_after is not None or _is_secondary_limit_message(message) or status == 429:
            # GitHub: a 429 is always a rate limit; without Retry-After or remaining=0, a secondary one.
            return Failure(Kind.SECONDARY_RATE_LIMIT, status, text, rid, None, retry_after)
    if status == 401:
        return Failure(Kind.UNAUTHORIZED, status, text, rid)
    if status in (404, 410):
        return Failure(Kind.NOT_FOUND, status, text, rid)
    if status == 403:
        return Failure(Kind.FORBIDDEN, status, text, rid)
    if status >= 500:
        return Failure(Kind.TRANSIENT, status, text, rid)
    return Failure(Kind.REJECTED, status, text, rid)


def classify(exc: BaseException) -> Failure:
    """What went wrong talking to GitHub (PyGithub's GithubException, requests' exceptions,
    fetcher.collect.retry's RateLimitExhausted), classified, with a one-line message."""
    if isinstance(exc, RateLimitExhausted):
        kind = Kind.PRIMARY_RATE_LIMIT if exc.reset_at is not None else Kind.SECONDARY_RATE_LIMIT
        return Failure(kind, exc.status, str(exc), None, exc.reset_at, exc.wait_s)
    if isinstance(exc, GithubException):
        data = exc.data if isinstance(exc.data, dict) else {}
        return from_response(exc.status, exc.headers, str(data.get("message") or exc.message or ""))
    if isinstance(exc, requests.Timeout):
        return Failure(Kind.TRANSIENT, None, "timed out talking to GitHub after retries")
    if isinstance(exc, requests.ConnectionError):
        return Failure(Kind.TRANSIENT, None, "could not reach GitHub after retries (connection failed or dropped)")
    if isinstance(exc, requests.RequestException):
        return Failure(Kind.TRANSIENT, None, one_line(f"{type(exc).__name__}: {exc}"))
    return Failure(Kind.UNEXPECTED, None, one_line(f"{type(exc).__name__}: {exc}"))


def classify_graphql(exc: BaseException) -> Failure:
    """What went wrong with one GraphQL query. PyGithub raises an error in a 200 answer as a
    GithubException of status 400 (404 for a lone NOT_FOUND error) carrying the answer; its
    ``errors`` decide before the status does."""
    if isinstance(exc, requests.Timeout):
        return Failure(Kind.TRANSIENT, None, "GraphQL query timed out")
    if isinstance(exc, requests.ConnectionError):
        return Failure(Kind.TRANSIENT, None, "connection to GitHub failed")
    if not isinstance(exc, GithubException):
        return classify(exc)
    data = exc.data if isinstance(exc.data, dict) else {}
    errors = [error for error in data.get("errors") or [] if isinstance(error, dict)]
    types = {str(error.get("type")) for error in errors}
    raw = "; ".join(str(error.get("message")) for error in errors)
    raw = raw or str(data.get("message") or exc.message or exc.status)
    message = one_line(raw)
    rid = request_id(exc.headers)
    headers = {str(k).lower(): v for k, v in (exc.headers or {}).items()}
    if exc.status == 401:
        return Failure(Kind.UNAUTHORIZED, 401, f"HTTP 401: {message}", rid)
    if "RATE_LIMITED" in types or (exc.status in RATE_LIMIT_STATUSES and headers.get("x-ratelimit-remaining") == "0"):
        return Failure(Kind.PRIMARY_RATE_LIMIT, exc.status, message, rid, _reset_at(headers.get("x-ratelimit-reset")))
    if exc.status in RATE_LIMIT_STATUSES and (headers.get("retry-after") or _is_secondary_limit_message(raw)):
        retry_after = _retry_after(headers.get("retry-after"))
        return Failure(Kind.SECONDARY_RATE_LIMIT, exc.status, message, rid, None, retry_after)
    if errors:
        # GitHub stops a query that runs past ~10 s or asks for over 500,000 nodes; the first has no
        # type of its own, only the message "... This may be the result of a timeout ...".
        if types & {"MAX_NODE_LIMIT_EXCEEDED", "TIMEOUT"} or "timeout" in raw.lower():
            return Failure(Kind.QUERY_TOO_BIG, exc.status, message, rid)
        return Failure(Kind.REJECTED, exc.status, message, rid)
    if exc.status in (404, 403, 410, 501, 429):
        # No GraphQL here (an old GitHub Enterprise Server, a proxy) or not for this token.
        return Failure(Kind.UNAVAILABLE, exc.status, f"HTTP {exc.status}: {message}", rid)
    # 5xx (GitHub answers a query that ran too long with 502/504) and anything unexpected: try again.
    return Failure(Kind.TRANSIENT, exc.status, f"HTTP {exc.status}: {message}", rid)


def retry_wait(
    status: int, headers: Any, message: str, attempt: int, *, max_wait: float, secondary_wait: float
) -> float | None:
    """Seconds to wait before retrying a 403/429 (None: as its Retry-After says), following GitHub's
    advice: Retry-After if given; the reset if remaining is 0; else at least ``secondary_wait``,
    doubled each attempt. Raises RateLimitExhausted when the wait would exceed ``max_wait``, and
    GitHub's own error when the answer is no rate limit (a plain 403: retrying cannot help)."""
    failure = from_response(status, headers, message)
    if failure.retry_after is not None:
        if failure.retry_after > max_wait:
            raise RateLimitExhausted(status, failure.retry_after, max_wait)
        return None
    if failure.kind is Kind.PRIMARY_RATE_LIMIT and failure.reset_at is not None:
        wait_s = max(0.0, failure.reset_at.timestamp() - time.time()) + 1  # the reset second is fuzzy
        if wait_s > max_wait:
            raise RateLimitExhausted(status, wait_s, max_wait, failure.reset_at)
        return wait_s
    if failure.kind is Kind.SECONDARY_RATE_LIMIT or status == 429 or _is_secondary_limit_message(message):
        return secondary_wait * 2**attempt
    raise Requester.createException(status, dict(headers or {}), {"message": message})


def _retry_after(value: object) -> float | None:
    """Retry-After: seconds (what GitHub sends) or an HTTP date."""
    seconds = _seconds(value)
    if seconds is not None or value in (None, ""):
        return seconds
    try:
        when = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _seconds(value: object) -> float | None:
    """A header's number of seconds. GitHub sends whole non-negative numbers; anything else (a
    proxy's "nan", "inf", "-5") is as good as no header, so no wait is ever NaN or endless."""
    try:
        seconds = float(str(value)) if value not in (None, "") else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None


def _reset_at(value: object) -> datetime | None:
    """x-ratelimit-reset (epoch seconds) as a time; None when absent or past what a datetime holds."""
    seconds = _seconds(value)
    try:
        return datetime.fromtimestamp(int(seconds), UTC) if seconds is not None else None
    except (OverflowError, OSError, ValueError):
        return None


# GitHub gives no structured signal in some rate-limit answers (no x-ratelimit-remaining: 0, no
# Retry-After): its documented messages, "API rate limit exceeded for ..." and "You have exceeded
# a secondary rate limit ...", are all there is. PyGithub matches their starts; GraphQL error
# texts may carry the phrase later on.


def _is_primary_limit_message(message: str) -> bool:
    return Requester.isPrimaryRateLimitError(message)


def _is_secondary_limit_message(message: str) -> bool:
    return Requester.isSecondaryRateLimitError(message) or "secondary rate limit" in message.lower()
