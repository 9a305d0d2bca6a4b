"""A loopback HTTP server that speaks the GitHub REST API, for tests and ``make demo``.

Plain stdlib (no pytest): build a ``Repository`` of ``PullRequest`` objects, start
``FakeGitHub([repo])`` and point PyGithub's ``base_url`` at ``api_url``.
"""

from __future__ import annotations

from .faults import Fault
from .model import (
    CheckRun,
    Commit,
    FileChange,
    IssueComment,
    PullRequest,
    Repository,
    Review,
    ReviewComment,
    TimelineEvent,
    User,
)
from .parity import key_differences, sample_keys_match
from .server import FakeGitHub, RequestRecord

__all__ = [
    "CheckRun",
    "Commit",
    "FakeGitHub",
    "Fault",
    "FileChange",
    "IssueComment",
    "PullRequest",
    "Repository",
    "RequestRecord",
    "Review",
    "ReviewComment",
    "TimelineEvent",
    "User",
    "key_differences",
    "sample_keys_match",
]
