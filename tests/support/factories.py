"""Small, readable builders of fake-GitHub state for the fetcher's tests."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime

from tests.support.fake_github.model import (
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

ALICE = User("alice", 101)
BOB = User("bob", 102)
CAROL = User("carol", 103)
DAVE = User("dave", 104)
DEPENDABOT = User("dependabot[bot]", 49699333, "Bot")
ACTIONS_BOT = User("github-actions[bot]", 41898282, "Bot")
COPILOT = User("copilot-pull-request-reviewer[bot]", 175728472, "Bot")
GHOST = None  # a deleted account

_ids = itertools.count(1_000_000)


def at(text: str) -> datetime:
    """'2026-03-02 09:00' -> an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def sha(seed: object) -> str:
    return hashlib.sha1(str(seed).encode()).hexdigest()


def next_id() -> int:
    return next(_ids)


def commit(
    when: str, author: User | None = ALICE, seed: object = None, authored: str | None = None, merges: str = ""
) -> Commit:
    """A commit; ``merges``: a merge commit whose second parent is that SHA (the base merged in)."""
    return Commit(
        sha=sha(seed if seed is not None else (when, next_id())),
        author=author,
        author_name=author.login if author else "Former Employee",
        author_email=f"{author.login if author else 'former'}@example.com",
        authored_at=at(authored or when),
        committed_at=at(when),
        message=f"Merge {merges} into the branch" if merges else f"change at {when}",
        merged_parents=(merges,) if merges else (),
    )


def review(user: User | None, state: str, when: str | None, body: str = "", commit_id: str = "") -> Review:
    return Review(next_id(), user, state, body, at(when) if when else None, commit_id or sha("head"))


def issue_comment(user: User | None, when: str, body: str = "a comment") -> IssueComment:
    return IssueComment(next_id(), user, body, at(when), at(when))


def review_comment(user: User | None, when: str, body: str = "nit", reply_to: int | None = None) -> ReviewComment:
    return ReviewComment(
        next_id(), user, body, at(when), at(when), "src/app.py", sha("head"), line=10, in_reply_to_id=reply_to
    )


def event(name: str, when: str, actor: User | None = ALICE, **extra: object) -> TimelineEvent:
    return TimelineEvent(next_id(), name, actor, at(when), **extra)  # type: ignore[arg-type]


def check_run(name: str, head_sha: str, conclusion: str = "success", start: str = "2026-03-02 09:05") -> CheckRun:
    started = at(start)
    return CheckRun(next_id(), name, head_sha, "completed", conclusion, started, started.replace(minute=30))


def pull(
    number: int,
    author: User | None = ALICE,
    created: str = "2026-03-02 09:00",
    merged: str | None = "2026-03-03 16:00",
    title: str | None = None,
) -> PullRequest:
    head = sha(("head", number))
    return PullRequest(
        number=number,
        title=title or f"Change number {number}",
        user=author,
        created_at=at(created),
        updated_at=at(merged or created),
        head_sha=head,
        body="Body of the change.",
        state="closed" if merged else "open",
        closed_at=at(merged) if merged else None,
        merged_at=at(merged) if merged else None,
        merged_by=BOB if merged else None,
        head_ref=f"feature-{number}",
    )


def busy_pull(number: int, items: int) -> PullRequest:
    """A PR holding ``items`` entries in every one of its seven lists (for pagination)."""
    pr = pull(number)
    base = at("2026-03-01 00:00")
    for i in range(items):
        when = base.replace(hour=i % 24, minute=i % 60)
        pr.commits.append(commit(when.strftime("%Y-%m-%d %H:%M"), seed=(number, "c", i)))
        pr.files.append(FileChange(f"src/module_{i:04d}.py", "modified", 3, 1))
        pr.reviews.append(review(BOB, "COMMENTED", "2026-03-02 10:00", body=f"review {i}"))
        pr.review_comments.append(review_comment(CAROL, "2026-03-02 10:00", body=f"inline {i}"))
        pr.issue_comments.append(issue_comment(DAVE, "2026-03-02 11:00", body=f"comment {i}"))
        pr.events.append(event("labeled", "2026-03-02 08:00"))
        pr.check_runs.append(check_run(f"check {i}", pr.head_sha))
    return pr


def repository(*pulls: PullRequest, owner: str = "acme", name: str = "widgets") -> Repository:
    repo = Repository(owner, name, 4242)
    for pr in pulls:
        repo.add_pull(pr)
    return repo
