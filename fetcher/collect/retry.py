"""The retries under every REST request: urllib3's ``Retry``, applying fetcher.collect.policy.

PyGithub hands an urllib3 ``Retry`` to the requests adapter under every call, so the
policy runs for every page PyGithub fetches, including the pages its own ``PaginatedList``
follows through ``Link`` headers. PyGithub's ``GithubRetry`` is not used because (checked in
2.10's source) it only inspects 403s: a 429 without ``Retry-After`` is not retried at all, a 429
for an exhausted primary limit does not wait for the reset, and urllib3's first retry of a 5xx
happens with no delay.

This module is the mechanism: it counts attempts (:class:`ApiUsage`), backs off with jitter
and sleeps. What is retried, how long a rate limit is waited for and what is final is
fetcher.collect.policy's: ``RETRIED_STATUSES`` and ``retry_wait``.

- 5xx, dropped connections, connection errors and read timeouts: up to ``retries`` times,
  exponential backoff with jitter.
- 403/429: as ``policy.retry_wait`` says (wait, raise RateLimitExhausted, or raise
  GitHub's error at once).
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import dataclass
from typing import Any

from urllib3 import Retry
from urllib3.exceptions import InvalidHeader
from urllib3.response import BaseHTTPResponse

from fetcher.collect import policy
from fetcher.collect.policy import RATE_LIMIT_STATUSES, RETRIED_STATUSES

log = logging.getLogger("mergelens")

# No single wait is longer: a primary rate limit resets within the hour.
LONGEST_WAIT_S = 3600.0


def bounded_wait(seconds: float) -> float:
    """What time.sleep is given: ``seconds`` from 0 to LONGEST_WAIT_S. NaN and negative waits (a
    bug: the CLI refuses such settings) are 0, so a retry loop ends after its retries instead of
    hanging; anything longer, +inf included, is LONGEST_WAIT_S."""
    if 0 <= seconds <= LONGEST_WAIT_S:
        return seconds
    return LONGEST_WAIT_S if seconds > LONGEST_WAIT_S else 0.0


@dataclass
class ApiUsage:
    """What one client sent: every HTTP attempt counts, retries included."""

    requests: int = 0
    retries: int = 0
    waited_s: float = 0.0


class GitHubRetry(Retry):
    """urllib3 retry policy that knows GitHub's rate limits (see the module docstring)."""

    def __init__(
        self,
        *,
        usage: ApiUsage | None = None,
        max_rate_limit_wait: float = 60.0,
        secondary_rate_wait: float = 60.0,
        retries: int = 3,
        backoff_factor: float = 1.0,
        backoff_jitter: float = 1.0,
        backoff_max: float = 120.0,
        forced_wait: float | None = None,
        **kwargs: Any,
    ) -> None:
        for name, value in (
            ("max_rate_limit_wait", max_rate_limit_wait),
            ("secondary_rate_wait", secondary_rate_wait),
            ("backoff_factor", backoff_factor),
            ("backoff_jitter", backoff_jitter),
            ("backoff_max", backoff_max),
        ):
            if not (math.isfinite(value) and value >= 0):  # the CLI checks its options: this is a bug
                raise ValueError(f"GitHubRetry: {name} must be a finite number of seconds, not {value!r}")
        self.usage = usage if usage is not None else ApiUsage()
        self.max_rate_limit_wait = max_rate_limit_wait
        self.secondary_rate_wait = secondary_rate_wait
        self.retries = retries
        self.forced_wait = forced_wait
        kwargs.setdefault("total", retries)
        kwargs.setdefault("connect", retries)
        kwargs.setdefault("read", retries)
        kwargs.setdefault("status", retries)
        kwargs.setdefault("other", 0)
        kwargs.setdefault("redirect", 0)
        kwargs.setdefault("status_forcelist", RETRIED_STATUSES)
        kwargs.setdefault("allowed_methods", frozenset({"GET", "HEAD"}))
        # Give the final response back to PyGithub so it raises GithubException with GitHub's
        # own status and message instead of urllib3's MaxRetryError.
        kwargs.setdefault("raise_on_status", False)
        kwargs.setdefault("respect_retry_after_header", True)
        super().__init__(
            backoff_factor=backoff_factor, backoff_jitter=backoff_jitter, backoff_max=backoff_max, **kwargs
        )

    def new(self, **kw: Any) -> GitHubRetry:
        kw.setdefault("forced_wait", None)
        kw.update(
            usage=self.usage,
            max_rate_limit_wait=self.max_rate_limit_wait,
            secondary_rate_wait=self.secondary_rate_wait,
            retries=self.retries,
        )
        return super().new(**kw)

    # urllib3 asks this once for every response it receives: the place to count requests.
    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        self.usage.requests += 1
        return super().is_retry(method, status_code, has_retry_after)

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Retry:
        if error is not None:
            self.usage.requests += 1  # an attempt that got no response still went out
        wait: float | None = None
        if response is not None and response.status in RATE_LIMIT_STATUSES:
            wait = self._rate_limit_wait(response)
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        assert isinstance(retry, GitHubRetry)
        retry.forced_wait = wait
        self.usage.retries += 1
        what = f"HTTP {response.status}" if response is not None else type(error).__name__
        request_id = policy.request_id(response.headers) if response is not None else None
        if request_id:
            what += f" [X-GitHub-Request-Id {request_id}]"
        log.info("retry %d of %s after %s", len(retry.history), url, what)
        return retry

    def _rate_limit_wait(self, response: BaseHTTPResponse) -> float | None:
        """Seconds to wait before retrying a 403/429 (None: sleep() honours Retry-After itself),
        or raise when it must not be retried: policy.retry_wait decides."""
        return policy.retry_wait(
            response.status,
            response.headers,
            _response_message(response),
            len(self.history),
            max_wait=self.max_rate_limit_wait,
            secondary_wait=self.secondary_rate_wait,
        )

    def get_backoff_time(self) -> float:
        if self.forced_wait is not None:
            return self.forced_wait
        attempts = len(self.history)
        if attempts == 0:
            return 0.0
        backoff = self.backoff_factor * 2 ** (attempts - 1) + random.uniform(0, self.backoff_jitter)
        return min(self.backoff_max, backoff)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        try:
            told = self.get_retry_after(response) if response is not None else None
        except InvalidHeader:  # a Retry-After that is neither seconds nor a date ("nan", "-5"): none
            told = None
        # A 403/429's Retry-After past max_rate_limit_wait was refused (policy.retry_wait);
        # a 503's is not looked at there: it waits at most as long.
        wait = min(told, self.max_rate_limit_wait) if told is not None else self.get_backoff_time()
        wait = bounded_wait(wait)
        self.usage.waited_s += wait
        if wait > 0:
            time.sleep(wait)


def _response_message(response: BaseHTTPResponse) -> str:
    try:
        body = json.loads(response.data or b"{}")
    except ValueError:
        return ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""
