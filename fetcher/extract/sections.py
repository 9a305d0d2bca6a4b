"""The seven lists fetched for every PR, declared once: what each is called (in the bundle, the
counts, the errors), which table holds its rows, and which rows of a PR a fresh fetch replaces.

records.py (counts), db/schema.py (the child tables) and collect/rest.py (the fetch order) all read this."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Section:
    name: str  # as in PullRequestBundle.sections, the run's counts and a failed section's error
    table: str
    key: tuple[str, ...]  # the table's primary key: a row fetched twice is stored once
    scope: dict[str, Any] = field(default_factory=dict)  # extra filter of a shared table, e.g. comment_type


# In the order they are fetched (and counted).
SECTIONS: tuple[Section, ...] = (
    Section("commits", "pr_commits", ("repo", "pr_number", "sha")),
    Section("files", "pr_files", ("repo", "pr_number", "filename")),
    Section("reviews", "pr_reviews", ("repo", "id")),
    Section("review_comments", "pr_comments", ("repo", "comment_type", "id"), {"comment_type": "review"}),
    Section("issue_comments", "pr_comments", ("repo", "comment_type", "id"), {"comment_type": "issue"}),
    Section("timeline", "pr_events", ("repo", "pr_number", "seq")),
    Section("check_runs", "pr_check_runs", ("repo", "id")),
)

SECTION_NAMES: tuple[str, ...] = tuple(section.name for section in SECTIONS)
BY_NAME: dict[str, Section] = {section.name: section for section in SECTIONS}
