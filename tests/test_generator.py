"""The sample repository generator: deterministic, big enough, and full of real-world quirks."""

from __future__ import annotations

import dataclasses
import re
import statistics
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.fake_github.generator import (
    COPILOT,
    DEPENDABOT,
    GITHUB_ACTIONS,
    generate_bulk,
    generate_repository,
)
from tests.support.fake_github.model import PullRequest, Repository, User

END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def repo() -> Repository:
    return generate_repository()


def _pulls(repo: Repository) -> list[PullRequest]:
    return sorted(repo.pulls.values(), key=lambda pr: pr.number)


def _merged(repo: Repository) -> list[PullRequest]:
    return [pr for pr in _pulls(repo) if pr.merged_at is not None]


def _is_bot(user: User | None) -> bool:
    return user is not None and (user.type == "Bot" or user.login.endswith("[bot]"))


def _human_reviews(pr: PullRequest) -> list:
    """Submitted reviews by non-bots other than the author (docs/metrics.md)."""
    return [
        r for r in pr.reviews if r.state != "PENDING" and not _is_bot(r.user) and (r.user is None or r.user != pr.user)
    ]


def _review_rounds(pr: PullRequest) -> int:
    return sum(
        1
        for r in _human_reviews(pr)
        if r.state == "CHANGES_REQUESTED" and any(c.committed_at > r.submitted_at for c in pr.commits)
    )


def _datetimes(pr: PullRequest) -> Iterator[datetime]:
    for kind in ("commits", "reviews", "review_comments", "issue_comments", "events", "check_runs"):
        for obj in [pr, *getattr(pr, kind)]:
            for f in dataclasses.fields(obj):
                value = getattr(obj, f.name)
                if isinstance(value, datetime):
                    yield value


# --------------------------------------------------------------------------- determinism and size


def test_same_seed_gives_the_same_repository() -> None:
    assert generate_repository(seed=7) == generate_repository(seed=7)


def test_different_seeds_give_different_repositories() -> None:
    a, b = generate_repository(seed=7), generate_repository(seed=8)
    assert a != b
    assert {pr.head_sha for pr in a.pulls.values()}.isdisjoint(pr.head_sha for pr in b.pulls.values())


def test_owner_name_and_period_are_honoured() -> None:
    end = datetime(2025, 3, 1, tzinfo=UTC)
    repo = generate_repository(seed=3, n_prs=60, owner="octo", name="demo", end=end, months=2)
    assert repo.full_name == "octo/demo"
    assert len(repo.pulls) == 60
    for pr in repo.pulls.values():
        assert all(t <= end for t in _datetimes(pr))
        assert pr.created_at >= end - timedelta(days=2 * 31 + 7)


def test_at_least_150_merged_prs_over_six_months(repo: Repository) -> None:
    merged = _merged(repo)
    assert len(repo.pulls) == 180
    assert len(merged) >= 150
    assert 3 <= sum(1 for pr in repo.pulls.values() if pr.state == "closed" and pr.merged_at is None) <= 20
    per_month = Counter((pr.merged_at.year, pr.merged_at.month) for pr in merged)
    assert len(per_month) >= 6
    assert min(per_month[m] for m in sorted(per_month)[1:-1]) >= 15  # full months are all busy
    first = min(pr.created_at for pr in merged)
    last = max(pr.merged_at for pr in merged)
    assert first <= END - timedelta(days=170)
    assert last >= END - timedelta(days=7)


def test_total_data_stays_modest(repo: Repository) -> None:
    pulls = list(repo.pulls.values())
    assert sum(len(pr.commits) for pr in pulls) < 2_000
    assert sum(len(pr.files) for pr in pulls) < 2_000
    assert sum(len(pr.review_comments) + len(pr.issue_comments) for pr in pulls) < 2_000


def test_small_and_bulk_repositories_build() -> None:
    for n in (1, 5, 25):
        assert len(generate_repository(seed=n, n_prs=n).pulls) == n
    bulk = generate_bulk(n_prs=400)
    assert len(bulk.pulls) == 400
    assert sum(pr.merged_at is not None for pr in bulk.pulls.values()) >= 350


# --------------------------------------------------------------------------- the team


def test_team_has_eight_humans_with_different_habits(repo: Repository) -> None:
    merged = _merged(repo)
    humans = {pr.user.login for pr in merged if pr.user is not None and not _is_bot(pr.user)}
    assert len(humans) >= 7  # plus the deleted former employee
    pickup: dict[str, list[float]] = {}
    for pr in merged:
        reviews = _human_reviews(pr)
        if reviews and reviews[0].user is not None:
            hours = (reviews[0].submitted_at - pr.created_at).total_seconds() / 3600
            pickup.setdefault(reviews[0].user.login, []).append(hours)
    medians = [statistics.median(v) for v in pickup.values() if len(v) >= 5]
    assert max(medians) > 3 * min(medians)  # fast and slow reviewers


def test_weekends_are_quieter(repo: Repository) -> None:
    days = Counter(pr.created_at.weekday() for pr in repo.pulls.values())
    weekday_rate = sum(days[d] for d in range(5)) / 5
    weekend_rate = (days[5] + days[6]) / 2
    assert weekend_rate * 4 < weekday_rate


# --------------------------------------------------------------------------- bots


def test_dependabot_bumps_are_small_and_merged_fast(repo: Repository) -> None:
    bumps = [pr for pr in _merged(repo) if pr.user == DEPENDABOT]
    assert len(bumps) >= 10
    assert DEPENDABOT.type == "Bot"
    for pr in bumps:
        assert len(pr.commits) == 1 and len(pr.files) <= 2
        assert "dependencies" in pr.labels
        assert pr.title.startswith("build(deps")
    assert statistics.median((pr.merged_at - pr.created_at).total_seconds() / 3600 for pr in bumps) < 24
    assert any(r.user == GITHUB_ACTIONS and r.state == "APPROVED" for pr in bumps for r in pr.reviews)


def test_github_actions_posts_coverage_comments(repo: Repository) -> None:
    with_report = [pr for pr in repo.pulls.values() if any(c.user == GITHUB_ACTIONS for c in pr.issue_comments)]
    assert len(with_report) >= len(repo.pulls) // 2
    comment = next(c for c in with_report[0].issue_comments if c.user == GITHUB_ACTIONS)
    assert "Coverage" in comment.body
    assert any(c.updated_at > c.created_at for pr in with_report for c in pr.issue_comments)


def test_ai_reviewer_leaves_commented_reviews_and_inline_comments(repo: Repository) -> None:
    assert COPILOT.type == "Bot" and COPILOT.login == "copilot-pull-request-reviewer[bot]"
    reviewed = [pr for pr in repo.pulls.values() if any(r.user == COPILOT for r in pr.reviews)]
    assert len(reviewed) >= 30
    for pr in reviewed:
        copilot_reviews = {r.id for r in pr.reviews if r.user == COPILOT}
        assert all(r.state == "COMMENTED" and r.body for r in pr.reviews if r.user == COPILOT)
        for c in pr.review_comments:
            if c.user == COPILOT:
                assert c.pull_request_review_id in copilot_reviews
    assert sum(1 for pr in reviewed for c in pr.review_comments if c.user == COPILOT) >= 30


# --------------------------------------------------------------------------- people and review habits


def test_deleted_former_employee_appears_as_none(repo: Repository) -> None:
    pulls = _pulls(repo)
    authored = [pr for pr in pulls if pr.user is None]
    assert len(authored) >= 3
    assert any(r.user is None for pr in pulls for r in pr.reviews)
    assert any(c.user is None for pr in pulls for c in [*pr.issue_comments, *pr.review_comments])
    assert any(e.actor is None for pr in pulls for e in pr.events)
    for pr in authored:
        assert all(c.author is None and c.author_name for c in pr.commits)
    midpoint = END - timedelta(days=91)
    assert all(pr.created_at < midpoint for pr in authored)  # they left a while ago


def test_drafts_are_marked_ready_later(repo: Repository) -> None:
    merged = _merged(repo)
    drafted = [pr for pr in merged if any(e.event == "ready_for_review" for e in pr.events)]
    assert len(drafted) >= 10
    assert not any(pr.draft for pr in merged)
    for pr in drafted:
        ready = [e.created_at for e in pr.events if e.event == "ready_for_review"]
        assert pr.created_at < ready[0] < pr.merged_at
    back_and_forth = [pr for pr in drafted if any(e.event == "convert_to_draft" for e in pr.events)]
    assert back_and_forth
    for pr in back_and_forth:
        converted = next(e.created_at for e in pr.events if e.event == "convert_to_draft")
        assert any(e.event == "ready_for_review" and e.created_at > converted for e in pr.events)
    assert any(pr.draft and pr.state == "open" for pr in repo.pulls.values())


def test_review_requested_events_name_the_reviewer(repo: Repository) -> None:
    requested = [e for pr in repo.pulls.values() for e in pr.events if e.event == "review_requested"]
    assert len(requested) >= 100
    assert any(e.requested_reviewer is not None and not _is_bot(e.requested_reviewer) for e in requested)
    assert any(e.requested_reviewer == COPILOT for e in requested)


def test_change_request_rounds_are_followed_by_fix_commits(repo: Repository) -> None:
    merged = _merged(repo)
    rounds = Counter(_review_rounds(pr) for pr in merged)
    assert rounds[0] >= 30 and rounds[1] >= 20 and rounds[2] >= 5
    assert max(rounds) <= 3
    for pr in merged:
        requested = [r for r in pr.reviews if r.state == "CHANGES_REQUESTED"]
        if requested:
            last = max(r.submitted_at for r in requested)
            assert any(r.state == "APPROVED" and r.submitted_at > last for r in pr.reviews)


def test_some_prs_merge_without_human_review_and_some_authors_review_themselves(repo: Repository) -> None:
    merged = _merged(repo)
    assert sum(1 for pr in merged if not _human_reviews(pr) and pr.user != DEPENDABOT) >= 5
    self_reviews = [r for pr in merged for r in pr.reviews if pr.user is not None and r.user == pr.user]
    assert any(r.body for r in self_reviews)  # notes for reviewers
    assert any(not r.body for r in self_reviews)  # the wrapper of a reply to an inline comment
    assert any(c.user == pr.user for pr in merged if pr.user is not None for c in pr.issue_comments)


def test_force_pushes_rewrite_committer_dates(repo: Repository) -> None:
    pushed = [pr for pr in _merged(repo) if any(e.event == "head_ref_force_pushed" for e in pr.events)]
    assert len(pushed) >= 8
    for pr in pushed:
        push_times = {e.created_at for e in pr.events if e.event == "head_ref_force_pushed"}
        assert any(c.committed_at in push_times for c in pr.commits)
    assert any(
        c.committed_at in {e.created_at for e in pr.events if e.event == "head_ref_force_pushed"}
        and c.authored_at < c.committed_at - timedelta(hours=1)
        for pr in pushed
        for c in pr.commits
    )
    # The caveat the dashboard flags: a rebase after the first review makes every commit look late.
    assert any(
        _human_reviews(pr)
        and all(c.committed_at > min(r.submitted_at for r in _human_reviews(pr)) for c in pr.commits)
        and _review_rounds(pr) == 0
        for pr in pushed
    )


def test_flaky_checks_are_rerun_and_pass(repo: Repository) -> None:
    rerun = 0
    for pr in _merged(repo):
        assert len({r.name for r in pr.check_runs}) >= 3
        by_name: dict[str, list] = {}
        for run in pr.check_runs:
            by_name.setdefault(run.name, []).append(run)
        for runs in by_name.values():
            if len(runs) == 2:
                old, new = sorted(runs, key=lambda r: r.started_at)
                assert (old.conclusion, new.conclusion) == ("failure", "success")
                assert old.completed_at < new.started_at
                rerun += 1
    assert rerun >= 5
    assert any(
        run.conclusion == "failure" and sum(r.name == run.name for r in pr.check_runs) == 1
        for pr in repo.pulls.values()
        for run in pr.check_runs
    )


def test_a_huge_refactor_and_a_long_branch(repo: Repository) -> None:
    big = [pr for pr in _merged(repo) if len(pr.files) > 100]
    assert len(big) == 1
    files = big[0].files
    assert len({f.filename for f in files}) == len(files)
    renamed = [f for f in files if f.status == "renamed"]
    assert len(renamed) >= 10 and all(f.previous_filename for f in renamed)
    assert all(f.previous_filename is None for f in files if f.status != "renamed")
    assert any(len(pr.commits) > 100 for pr in _merged(repo))


def test_replies_pending_reviews_and_comments_after_merge(repo: Repository) -> None:
    pulls = _pulls(repo)
    replies = 0
    for pr in pulls:
        by_id = {c.id: c for c in pr.review_comments}
        review_ids = {r.id for r in pr.reviews}
        for c in pr.review_comments:
            assert c.pull_request_review_id in review_ids
            if c.in_reply_to_id is not None:
                parent = by_id[c.in_reply_to_id]
                assert parent.created_at <= c.created_at and parent.path == c.path
                replies += 1
    assert replies >= 10
    pending = [r for pr in pulls for r in pr.reviews if r.state == "PENDING"]
    assert pending and all(r.submitted_at is None for r in pending)
    late = [pr for pr in _merged(repo) if any(c.created_at > pr.merged_at for c in pr.issue_comments)]
    assert late and all(pr.updated_at > pr.merged_at for pr in late)


def test_titles_and_bodies_exercise_safe_rendering(repo: Repository) -> None:
    pulls = _pulls(repo)
    assert any("<script>" in pr.title for pr in pulls)
    assert any("<b>" in pr.title for pr in pulls)
    assert any(pr.body and "<script>" in pr.body for pr in pulls)
    assert any(pr.body is None for pr in pulls)
    conventional = re.compile(r"^(feat|fix|refactor|chore|docs|test|perf|ci|build)(\([\w-]+\))?!?: ")
    assert sum(1 for pr in pulls if conventional.match(pr.title)) >= 0.9 * len(pulls)


# --------------------------------------------------------------------------- invariants


@pytest.mark.parametrize("seed", [7, 1, 42])
def test_time_ordering_invariants(seed: int) -> None:
    repo = generate_repository(seed=seed)
    for pr in repo.pulls.values():
        assert all(t.utcoffset() == timedelta(0) and t <= END for t in _datetimes(pr))
        assert pr.updated_at == max(_datetimes(pr))
        finished = pr.merged_at or pr.closed_at or pr.updated_at
        if pr.merged_at is not None:
            assert pr.state == "closed" and pr.closed_at == pr.merged_at and not pr.draft
            assert pr.created_at < pr.merged_at <= pr.updated_at
            merged_events = [e for e in pr.events if e.event == "merged"]
            assert len(merged_events) == 1 and merged_events[0].created_at == pr.merged_at
        elif pr.state == "closed":
            assert pr.closed_at is not None and pr.created_at < pr.closed_at and pr.merged_by is None
        else:
            assert pr.state == "open" and pr.closed_at is None
        assert pr.commits and pr.head_sha == pr.commits[-1].sha
        for c in pr.commits:
            assert c.authored_at <= c.committed_at <= finished
        for r in pr.reviews:
            assert (r.state == "PENDING") == (r.submitted_at is None)
            if r.submitted_at is not None:
                assert pr.created_at < r.submitted_at <= finished
        for c in pr.review_comments:
            assert pr.created_at < c.created_at <= c.updated_at <= finished
        for c in pr.issue_comments:
            assert pr.created_at < c.created_at <= c.updated_at <= pr.updated_at
        for e in pr.events:
            assert pr.created_at <= e.created_at <= pr.updated_at
        for run in pr.check_runs:
            assert run.head_sha == pr.head_sha
            assert run.started_at < run.completed_at <= finished


@pytest.mark.parametrize("seed", [7, 1])
def test_ids_are_unique_and_numbers_follow_creation(seed: int) -> None:
    repo = generate_repository(seed=seed)
    pulls = _pulls(repo)
    kinds = {
        "reviews": [r.id for pr in pulls for r in pr.reviews],
        "review_comments": [c.id for pr in pulls for c in pr.review_comments],
        "issue_comments": [c.id for pr in pulls for c in pr.issue_comments],
        "events": [e.id for pr in pulls for e in pr.events],
        "check_runs": [r.id for pr in pulls for r in pr.check_runs],
    }
    seen: set[int] = set()
    for ids in kinds.values():
        assert len(set(ids)) == len(ids)
        assert seen.isdisjoint(ids)
        seen.update(ids)
    shas = [c.sha for pr in pulls for c in pr.commits]
    assert len(set(shas)) == len(shas)
    assert all(re.fullmatch(r"[0-9a-f]{40}", sha) for sha in shas + [pr.base_sha for pr in pulls])
    created = [pr.created_at for pr in pulls]
    assert created == sorted(created) and len(set(created)) == len(created)
    for pr in pulls:  # ids grow with time inside a PR, as on GitHub
        events = [e.id for e in sorted(pr.events, key=lambda e: (e.created_at, e.id))]
        assert events == sorted(events)
