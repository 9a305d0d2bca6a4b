"""Injected failures: what a flaky network, a busy GitHub or a rate limiter sends."""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

SECONDARY_RATE_LIMIT_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
PRIMARY_RATE_LIMIT_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"


def primary_rate_limit_message(request_id: str = "{request_id}") -> str:
    # PyGithub's GithubRetry recognises a primary limit by the prefix "API rate limit exceeded".
    return (
        "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, "
        f"please include the request ID {request_id}."
    )


@dataclass
class Fault:
    """One bad answer. ``drop_connection`` closes the socket without a response;
    ``delay_s`` waits first. A fault with a status below 400 and no body only delays (and
    adds ``headers``): the request is then served normally. In ``body["message"]`` the text
    ``{request_id}`` is replaced by the response's x-github-request-id."""

    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    drop_connection: bool = False
    delay_s: float = 0.0

    @property
    def passes_through(self) -> bool:
        return not self.drop_connection and self.status < 400 and self.body is None

    @classmethod
    def server_error(cls, status: int = 502) -> Fault:
        return cls(status=status)

    @classmethod
    def dropped(cls) -> Fault:
        return cls(drop_connection=True)

    @classmethod
    def slow(cls, delay_s: float) -> Fault:
        """Serve the real answer, late (to trip a client timeout)."""
        return cls(status=200, delay_s=delay_s)

    @classmethod
    def secondary_rate_limit(cls, retry_after: int = 1, status: int = 403) -> Fault:
        """GitHub's secondary ("abuse") limit: 403 (or 429) with Retry-After."""
        message = (
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
            "If you reach out to GitHub Support for help, please include the request ID {request_id}."
        )
        return cls(
            status=status,
            headers={"retry-after": str(retry_after)},
            body={"message": message, "documentation_url": SECONDARY_RATE_LIMIT_DOCS, "status": str(status)},
        )

    @classmethod
    def primary_rate_limit(cls, reset_epoch: int, status: int = 403) -> Fault:
        """An exhausted primary limit: remaining 0 until ``reset_epoch``, no Retry-After."""
        return cls(
            status=status,
            headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset_epoch)},
            body={
                "message": primary_rate_limit_message(),
                "documentation_url": PRIMARY_RATE_LIMIT_DOCS,
                "status": str(status),
            },
        )


@dataclass
class _Rule:
    pattern: re.Pattern[str]
    faults: deque[Fault]


class FaultPlan:
    """Rules in the order added; a request takes the next fault of the first rule whose
    regex matches (``re.search`` on the path without the API prefix) and still has faults."""

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()

    def add(self, path_regex: str, *faults: Fault) -> None:
        with self._lock:
            self._rules.append(_Rule(re.compile(path_regex), deque(faults)))

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.faults and rule.pattern.search(path):
                    return rule.faults.popleft()
        return None

    def pending(self) -> int:
        with self._lock:
            return sum(len(rule.faults) for rule in self._rules)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
