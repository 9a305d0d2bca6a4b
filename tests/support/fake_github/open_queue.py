"""Open PRs in every state "whose move is it" knows, for the fake GitHub (tests and the demo).

``add_open_queue(repo, now)`` adds one open PR per case to ``repo``, dated relative to ``now``
(a weekday), and returns case name -> PR number. ``EXPECTED`` is each case's class as worked
out by hand from docs/metrics.md ("Now: whose move"), with the default of 5 working days.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from .model import CheckRun, Commit, IssueComment, PullRequest, Repository, Review, TimelineEvent, User

MAYA = User("maya-chen", 4811203)
LENA = User("lena-kowalski", 12004981)
RAJ = User("rajpatel", 20457812)
SOFIA = User("sofia-ruiz", 31877450)
COPILOT = User("copilot-pull-request-reviewer[bot]", 175728472, "Bot")

# case -> the class its latest snapshot gets
EXPECTED = {
    "draft": "draft",
    "first_review": "waiting_for_first_review",
    "changes_requested": "waiting_for_author",
    "pushed_after_changes": "waiting_for_reviewer",
    "re_requested": "waiting_for_reviewer",
    "failing_ci": "waiting_for_author",
    "conflicts": "waiting_for_author",
    "approved_green": "ready_to_merge",
    "approved_checks_running": "waiting_for_checks",
    "stale": "stale",
}
_TITLES = {
    "draft": "wip: experiment with the new scheduler",
    "first_review": "feat(api): paginate <b>webhooks</b> & *runs*",
    "changes_requested": "fix(sync): retry on 502",
    "pushed_after_changes": "feat(cli): --dry-run for syncs",
    "re_requested": "refactor(storage): one writer per file",
    "failing_ci": "chore: bump the linter",
    "conflicts": "feat(ui): dark mode",
    "approved_green": "docs: explain the cost of a sync",
    "approved_checks_running": "fix(auth): refresh tokens early",
    "stale": "feat(telemetry): sample traces",
}
_ids = itertools.count(3_800_000_000)


def _sha(*parts: object) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()


def add_open_queue(repo: Repository, now: datetime, first_number: int = 9001) -> dict[str, int]:
    """One open PR per case of ``EXPECTED`` in ``repo``; case -> its number."""
    day = timedelta(days=1)
    numbers: dict[str, int] = {}
    for offset, case in enumerate(EXPECTED):
        number = first_number + offset
        created = now - 3 * day
        pr = PullRequest(
            number,
            _TITLES[case],
            MAYA,
            created,
            created,
            head_sha=_sha(repo.full_name, number, "head"),
            state="open",
            head_ref=f"maya/{case}",
            requested_reviewers=[RAJ],
        )

        def push(when: datetime, pr: PullRequest = pr) -> None:
            sha = _sha(repo.full_name, pr.number, when.isoformat())
            pr.commits.append(Commit(sha, MAYA, "Maya Chen", "maya@acme.dev", when, when, "work"))
            pr.head_sha = sha

        def checks(conclusion: str | None = "success", pr: PullRequest = pr) -> None:
            status = "completed" if conclusion else "in_progress"
            start = pr.commits[-1].committed_at + timedelta(minutes=1)
            pr.check_runs.append(
                CheckRun(next(_ids), "test", pr.head_sha, status, conclusion, start, start if conclusion else None)
            )

        def review(user: User, state: str, when: datetime, pr: PullRequest = pr) -> None:
            pr.reviews.append(Review(next(_ids), user, state, "", when, pr.head_sha))
            if user in pr.requested_reviewers:  # GitHub drops the request when the review comes in
                pr.requested_reviewers.remove(user)

        push(created)
        if case == "draft":
            pr.draft, pr.requested_reviewers = True, []
            checks()
        elif case == "first_review":
            pr.requested_teams = ["backend"]
            checks()
            review(COPILOT, "COMMENTED", created + timedelta(minutes=5))  # a bot: not a review by a person
        elif case == "changes_requested":
            checks()
            review(RAJ, "CHANGES_REQUESTED", now - day)
        elif case == "pushed_after_changes":
            review(RAJ, "CHANGES_REQUESTED", now - 2 * day)
            push(now - day)
            checks()
        elif case == "re_requested":
            checks()
            review(RAJ, "CHANGES_REQUESTED", now - 2 * day)
            pr.issue_comments.append(IssueComment(next(_ids), MAYA, "Answered inline, PTAL", now - day, now - day))
            pr.requested_reviewers.append(RAJ)  # asked again, no push
            pr.events.append(TimelineEvent(next(_ids), "review_requested", MAYA, now - day, requested_reviewer=RAJ))
        elif case == "failing_ci":
            checks("failure")
        elif case == "conflicts":
            checks()
            review(RAJ, "APPROVED", now - day)
            pr.mergeable = "CONFLICTING"
        elif case == "approved_green":
            checks()
            review(LENA, "COMMENTED", now - 2 * day)
            review(RAJ, "APPROVED", now - day)
            pr.review_decision = "APPROVED"
        elif case == "approved_checks_running":
            review(RAJ, "APPROVED", now - day)
            push(now - timedelta(hours=2))
            checks(None)
        elif case == "stale":  # ready, asked for a review two working weeks ago, nothing since
            pr.created_at = pr.updated_at = now - 14 * day
            pr.commits.clear()
            push(now - 14 * day)
            checks()
        pr.updated_at = max([pr.created_at, *(c.committed_at for c in pr.commits)])
        repo.add_pull(pr)
        numbers[case] = number
    return numbers


@contextmanager
def rewound(repo: Repository, when: datetime) -> Iterator[None]:
    """``repo`` as its open-PR listing looked at ``when``: a PR opened by then and not yet closed is
    open, a later one is not listed. Only which PRs are open is rewound (their reviews, checks and
    activity stay as they are now): enough for the demo's snapshot history, whose older snapshots
    only count the queue."""
    saved = {number: (pr.state, pr.merged_at, pr.closed_at) for number, pr in repo.pulls.items()}
    try:
        for pr in repo.pulls.values():
            if pr.created_at > when:
                pr.state, pr.merged_at = "closed", None
            elif pr.closed_at is None or pr.closed_at > when:
                pr.state, pr.merged_at, pr.closed_at = "open", None, None
        yield
    finally:
        for number, (state, merged_at, closed_at) in saved.items():
            pr = repo.pulls[number]
            pr.state, pr.merged_at, pr.closed_at = state, merged_at, closed_at
