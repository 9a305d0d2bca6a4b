"""Real api.github.com responses of two public repositories, loaded into the fake GitHub.

The recordings live in ``../shared/realdata`` (never in this repository; each folder's README says
where they come from and what they lack). Each loader returns a ``RecordedRepository``, which the
fake serves item for item as GitHub sent it:

- ``devlake-ants``: panjf2000/ants as Apache DevLake recorded it (JSON lines, one API item per
  line, with the PR or issue ``number`` it belongs to). Its PRs are the items of the PR *list*, so
  ``GET /pulls/{n}`` serves a list-shaped PR (no ``merged``, ``merged_by``, ``additions``,
  ``commits``...): nothing is made up for what was not recorded. The repository-wide review and
  issue comments are split per PR by their ``number``; a PR's timeline is its issue events
  without their ``issue`` key, oldest first; files and check runs were not recorded (empty).
- ``pygithub-replay``: two PRs of PyGithub/PyGithub as PyGithub's test suite recorded them
  (``prs.json``: the single-PR payload and the seven lists of each).

Plain stdlib, no pytest: the tests find the folders with ``tests.conftest.shared_data``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.fake_github import RecordedPull, RecordedRepository

ANTS = "devlake-ants"
PYGITHUB = "pygithub-replay"

Json = dict[str, Any]


def _jsonl(path: Path) -> list[Json]:
    """The rows of one DevLake raw table, in the order DevLake read the pages (``raw_id``)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return sorted(rows, key=lambda row: row["raw_id"])


def _by_number(rows: list[Json]) -> dict[int, list[Json]]:
    grouped: dict[int, list[Json]] = defaultdict(list)
    for row in rows:
        grouped[row["number"]].append(row["data"])
    return grouped


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def load_ants(folder: Path) -> RecordedRepository:
    """panjf2000/ants from ``../shared/realdata/devlake-ants``."""
    pulls = _jsonl(folder / "pulls.jsonl")
    commits = _by_number(_jsonl(folder / "pull_commits.jsonl"))
    reviews = _by_number(_jsonl(folder / "pull_reviews.jsonl"))
    review_comments = _by_number(_jsonl(folder / "pull_review_comments.jsonl"))
    issue_comments = _by_number(_jsonl(folder / "issue_comments.jsonl"))
    events = _by_number(_jsonl(folder / "issue_events.jsonl"))
    owner, name = pulls[0]["data"]["base"]["repo"]["full_name"].split("/")
    repo = RecordedRepository(owner, name)
    for row in pulls:
        number = row["number"]
        # The timeline lists an issue's events oldest first, without the "issue" object that the
        # repository-wide events list adds to say which issue each belongs to.
        timeline = [{key: value for key, value in event.items() if key != "issue"} for event in events[number]]
        timeline.sort(key=lambda event: (_instant(event["created_at"]), event["id"]))
        repo.add_pull(
            RecordedPull(
                pull=row["data"],
                commits=commits[number],
                reviews=reviews[number],
                review_comments=review_comments[number],
                issue_comments=issue_comments[number],
                timeline=timeline,
            )
        )
    return repo


def load_pygithub(folder: Path) -> RecordedRepository:
    """Two PRs of PyGithub/PyGithub from ``../shared/realdata/pygithub-replay/prs.json``."""
    document = json.loads((folder / "prs.json").read_text(encoding="utf-8"))
    owner, name = document["source"]["repository"].split("/")
    repo = RecordedRepository(owner, name)
    for recorded in document["pulls"].values():
        lists = {key: value for key, value in recorded.items() if key != "pr"}
        repo.add_pull(RecordedPull(pull=recorded["pr"], **lists))
    return repo


def merged_pulls(repo: RecordedRepository) -> list[RecordedPull]:
    """The recorded PRs that were merged, by number."""
    return [pull for _, pull in sorted(repo.pulls.items()) if pull.pull.get("merged_at")]
