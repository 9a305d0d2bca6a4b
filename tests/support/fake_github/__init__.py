"""A loopback HTTP server that speaks the GitHub REST API, for tests and ``make demo``.

Plain stdlib (no pytest): build a ``Repository`` of ``PullRequest`` objects, start
``FakeGitHub([repo])`` and point PyGithub's ``base_url`` at ``api_url``. A ``RecordedRepository``
serves real recorded payloads verbatim instead (``tests/support/realdata.py`` loads them).
"""

from __future__ import annotations

from .apps import FakeApp
from .faults import Fault
from .model import (
    Artifact,
    CheckRun,
    Commit,
    FileChange,
    IssueComment,
    PullRequest,
    RecordedPull,
    RecordedRepository,
    Repository,
    Review,
    ReviewComment,
    TimelineEvent,
    User,
    zip_archive,
)
from .parity import key_differences, sample_keys_match
from .server import FakeGitHub, RequestRecord, take_defects

__all__ = [
    "Artifact",
    "CheckRun",
    "Commit",
    "FakeApp",
    "FakeGitHub",
    "Fault",
    "FileChange",
    "IssueComment",
    "PullRequest",
    "RecordedPull",
    "RecordedRepository",
    "Repository",
    "RequestRecord",
    "Review",
    "ReviewComment",
    "TimelineEvent",
    "User",
    "key_differences",
    "sample_keys_match",
    "take_defects",
    "zip_archive",
]
