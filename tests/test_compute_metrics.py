"""Each metric of docs/metrics.md against a small case computed by hand.

The PRs are served by the fake GitHub and synced through the real CLI, so the metrics are
computed from rows exactly as the fetcher stores them.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.conftest import query
from tests.support.factories import (
    ACTIONS_BOT,
    ALICE,
    BOB,
    CAROL,
    COPILOT,
    DAVE,
    DEPENDABOT,
    GHOST,
    at,
    commit,
    event,
    issue_comment,
    pull,
    repository,
    review,
    review_comment,
    sha,
)

METRIC_COLUMNS = (
    "total_comments, commits_after_first_review, review_rounds, avg_fix_response_hours, cycle_time_hours, "
    "time_to_first_review_hours, first_review_at, ready_for_review_at, pickup_hours, force_pushes, "
    "first_response_at, time_to_first_response_hours"
)


def iteration_pr():
    """alice opens a draft at 09:00 on 2 March, marks it ready at 12:00; bob requests changes
    twice, each answered by commits; bots and the author chime in; merged 3 March 16:00."""
    pr = pull(1, author=ALICE, created="2026-03-02 09:00", merged="2026-03-03 16:00")
    pr.commits = [
        commit("2026-03-02 08:30"),
        commit("2026-03-02 16:00"),  # 2 h after the first change request
        commit("2026-03-02 17:00"),
        commit("2026-03-03 11:30"),  # 1.5 h after the second change request
    ]
    pr.reviews = [
        review(COPILOT, "COMMENTED", "2026-03-02 10:00", body="AI summary of the change"),  # bot: ignored
        review(ALICE, "COMMENTED", "2026-03-02 11:00", body="note to reviewers"),  # the author: not a review
        review(BOB, "CHANGES_REQUESTED", "2026-03-02 14:00", body="please fix the loop"),  # first review
        review(CAROL, "PENDING", None),  # not submitted
        review(BOB, "CHANGES_REQUESTED", "2026-03-03 10:00"),
        review(BOB, "APPROVED", "2026-03-03 15:00"),
    ]
    top = review_comment(BOB, "2026-03-02 14:00", body="this loop never ends")
    pr.review_comments = [
        top,
        review_comment(ALICE, "2026-03-02 16:05", body="fixed", reply_to=top.id),
        review_comment(COPILOT, "2026-03-02 10:00", body="consider a guard clause"),  # bot
    ]
    pr.issue_comments = [
        issue_comment(DAVE, "2026-03-02 15:00"),
        issue_comment(ACTIONS_BOT, "2026-03-02 09:10", body="coverage 91%"),  # bot
        issue_comment(GHOST, "2026-03-02 15:30", body="a comment by a deleted account"),  # a person
    ]
    pr.events = [
        event("ready_for_review", "2026-03-02 12:00"),
        event("review_requested", "2026-03-02 12:01", requested_reviewer=BOB),
        event("head_ref_force_pushed", "2026-03-02 16:30"),
    ]
    return pr


def metrics_of(db, number: int) -> dict:
    names = [name.strip() for name in METRIC_COLUMNS.split(",")]
    rows = query(db, f"SELECT {METRIC_COLUMNS} FROM pr_metrics WHERE number = ?", [number])
    assert len(rows) == 1
    return dict(zip(names, rows[0], strict=True))


def test_iteration_metrics_by_hand(synced):
    db = synced(iteration_pr())
    m = metrics_of(db, 1)
    assert m["first_review_at"] == at("2026-03-02 14:00")  # bob; not copilot (bot), not alice (author)
    assert m["time_to_first_review_hours"] == pytest.approx(5.0)  # 09:00 -> 14:00
    assert m["cycle_time_hours"] == pytest.approx(31.0)  # 2 Mar 09:00 -> 3 Mar 16:00
    assert m["commits_after_first_review"] == 3  # 16:00, 17:00 and 11:30 next day
    assert m["review_rounds"] == 2
    assert m["avg_fix_response_hours"] == pytest.approx((2.0 + 1.5) / 2)
    # issue: dave + deleted account = 2; review comments: bob + alice = 2;
    # review bodies: alice's note + bob's first change request = 2 (copilot is a bot, the rest empty)
    assert m["total_comments"] == 6
    assert m["ready_for_review_at"] == at("2026-03-02 12:00")
    assert m["pickup_hours"] == pytest.approx(2.0)  # ready 12:00 -> first review 14:00
    assert m["force_pushes"] == 1
    # the first comment or review by another person: dave's comment at 15:00 comes after bob's review
    assert m["first_response_at"] == at("2026-03-02 14:00")
    assert m["time_to_first_response_hours"] == pytest.approx(5.0)


def test_pr_without_human_review(synced):
    pr = pull(2, author=DEPENDABOT, created="2026-03-05 06:00", merged="2026-03-05 07:30")
    pr.commits = [commit("2026-03-05 05:59", author=DEPENDABOT)]
    pr.reviews = [review(COPILOT, "APPROVED", "2026-03-05 06:10", body="looks fine")]
    m = metrics_of(synced(pr), 2)
    assert m["first_review_at"] is None
    assert m["time_to_first_review_hours"] is None
    assert m["pickup_hours"] is None
    assert m["review_rounds"] == 0
    assert m["avg_fix_response_hours"] is None
    assert m["commits_after_first_review"] == 0
    assert m["total_comments"] == 0  # copilot's body does not count
    assert m["ready_for_review_at"] == at("2026-03-05 06:00")  # never a draft: created_at
    assert m["cycle_time_hours"] == pytest.approx(1.5)
    assert m["force_pushes"] == 0


def test_change_request_without_a_later_commit_is_not_a_round(synced):
    pr = pull(3, created="2026-03-10 09:00", merged="2026-03-10 18:00")
    pr.commits = [commit("2026-03-10 08:00")]
    pr.reviews = [
        review(BOB, "CHANGES_REQUESTED", "2026-03-10 10:00", body="needs a test"),
        review(CAROL, "APPROVED", "2026-03-10 17:00"),
    ]
    m = metrics_of(synced(pr), 3)
    assert m["review_rounds"] == 0
    assert m["avg_fix_response_hours"] is None
    assert m["commits_after_first_review"] == 0


def test_ready_for_review_after_first_review_falls_back_to_created_at(synced):
    # Reviewed while still a draft, marked ready later: no ready event before the first review.
    pr = pull(4, created="2026-03-12 09:00", merged="2026-03-13 09:00")
    pr.commits = [commit("2026-03-12 08:00")]
    pr.reviews = [review(BOB, "COMMENTED", "2026-03-12 10:00", body="early look")]
    pr.events = [event("ready_for_review", "2026-03-12 15:00")]
    m = metrics_of(synced(pr), 4)
    assert m["ready_for_review_at"] == at("2026-03-12 09:00")
    assert m["pickup_hours"] == pytest.approx(1.0)


def test_last_ready_for_review_before_the_first_review_counts(synced):
    # Draft -> ready -> back to draft -> ready again, then reviewed.
    pr = pull(5, created="2026-03-14 09:00", merged="2026-03-16 09:00")
    pr.commits = [commit("2026-03-14 08:00")]
    pr.events = [
        event("ready_for_review", "2026-03-14 10:00"),
        event("convert_to_draft", "2026-03-14 11:00"),
        event("ready_for_review", "2026-03-15 09:00"),
    ]
    pr.reviews = [review(CAROL, "APPROVED", "2026-03-15 13:00")]
    m = metrics_of(synced(pr), 5)
    assert m["ready_for_review_at"] == at("2026-03-15 09:00")
    assert m["pickup_hours"] == pytest.approx(4.0)
    assert m["time_to_first_review_hours"] == pytest.approx(28.0)


def test_bot_detected_by_login_suffix_even_when_typed_as_user(synced):
    from tests.support.fake_github.model import User

    renovate = User("renovate[bot]", 2740337, "User")  # login says bot, type does not
    pr = pull(6, created="2026-03-20 09:00", merged="2026-03-20 12:00")
    pr.commits = [commit("2026-03-20 08:00"), commit("2026-03-20 10:30")]
    pr.reviews = [
        review(renovate, "CHANGES_REQUESTED", "2026-03-20 10:00", body="bump me"),
        review(DAVE, "APPROVED", "2026-03-20 11:00"),
    ]
    pr.issue_comments = [issue_comment(renovate, "2026-03-20 09:30")]
    m = metrics_of(synced(pr), 6)
    assert m["first_review_at"] == at("2026-03-20 11:00")
    assert m["review_rounds"] == 0
    assert m["total_comments"] == 0


def test_recompute_command_redoes_every_pr(synced, cli, db_path):
    import duckdb

    quick = pull(7, created="2026-03-02 09:00", merged="2026-03-02 10:00")
    quick.commits = [commit("2026-03-02 08:00")]
    db = synced(iteration_pr(), quick)
    before = query(db, "SELECT * EXCLUDE (computed_at) FROM pr_metrics ORDER BY number")
    with duckdb.connect(str(db)) as con:  # a metric definition "changed": wipe and corrupt
        con.execute("UPDATE pr_metrics SET review_rounds = 99")
        con.execute("DELETE FROM pr_metrics WHERE number = 7")
    run = cli(None, "metrics", "--recompute", "--db", str(db))
    assert run.exit_code == 0, run.stderr
    assert "recomputed metrics of 2 PRs" in run.stderr
    assert query(db, "SELECT * EXCLUDE (computed_at) FROM pr_metrics ORDER BY number") == before


def test_metric_times_are_utc(synced):
    db = synced(iteration_pr())
    (value,) = query(db, "SELECT first_review_at FROM pr_metrics")[0]
    assert isinstance(value, datetime)
    assert value.utcoffset().total_seconds() == 0


def test_merge_commits_are_no_fixes(synced):
    # bob requests changes at 10:00; alice merges main into her branch at 11:00 (two parents), then
    # fixes at 13:00. The merge is no commit after the review and does not answer it.
    pr = pull(8, created="2026-03-16 09:00", merged="2026-03-16 18:00")
    pr.commits = [
        commit("2026-03-16 08:00"),
        commit("2026-03-16 11:00", merges=sha("main")),
        commit("2026-03-16 13:00"),
    ]
    pr.reviews = [review(BOB, "CHANGES_REQUESTED", "2026-03-16 10:00")]
    db = synced(pr)
    assert query(db, "SELECT position, len(parents) FROM pr_commits ORDER BY position") == [(0, 1), (1, 2), (2, 1)]
    m = metrics_of(db, 8)
    assert m["commits_after_first_review"] == 1  # 13:00 only; the merge stays in pr_commits
    assert m["review_rounds"] == 1
    assert m["avg_fix_response_hours"] == pytest.approx(3.0)  # 10:00 -> 13:00, not the 11:00 merge


def test_only_activity_before_the_merge_counts(synced):
    # Merged at 12:00 with no review; bob reviews (changes requested) and comments after it.
    pr = pull(9, created="2026-03-17 09:00", merged="2026-03-17 12:00")
    pr.commits = [commit("2026-03-17 08:00"), commit("2026-03-18 09:00")]
    pr.reviews = [review(BOB, "CHANGES_REQUESTED", "2026-03-18 08:00", body="too late")]
    pr.issue_comments = [issue_comment(CAROL, "2026-03-17 12:30")]
    m = metrics_of(synced(pr), 9)
    assert (m["first_review_at"], m["time_to_first_review_hours"], m["pickup_hours"]) == (None, None, None)
    assert (m["first_response_at"], m["time_to_first_response_hours"]) == (None, None)
    assert (m["review_rounds"], m["avg_fix_response_hours"], m["commits_after_first_review"]) == (0, None, 0)
    assert m["total_comments"] == 2  # counts stay whole: carol's comment and bob's review body


def test_first_response_by_hand(synced):
    # Opened 09:00. A bot at 09:01 and the author at 09:30 do not answer; dave's review comment at
    # 10:15 does, before bob's first review at 11:00.
    pr = pull(10, author=ALICE, created="2026-03-18 09:00", merged="2026-03-18 17:00")
    pr.commits = [commit("2026-03-18 08:00")]
    pr.issue_comments = [
        issue_comment(ACTIONS_BOT, "2026-03-18 09:01"),
        issue_comment(ALICE, "2026-03-18 09:30"),
    ]
    pr.review_comments = [review_comment(DAVE, "2026-03-18 10:15")]
    pr.reviews = [review(BOB, "APPROVED", "2026-03-18 11:00")]
    m = metrics_of(synced(pr), 10)
    assert m["first_response_at"] == at("2026-03-18 10:15")
    assert m["time_to_first_response_hours"] == pytest.approx(1.25)
    assert m["first_review_at"] == at("2026-03-18 11:00")


def test_first_response_is_the_first_review_when_nobody_comments(synced):
    pr = pull(11, created="2026-03-19 09:00", merged="2026-03-19 17:00")
    pr.commits = [commit("2026-03-19 08:00")]
    pr.reviews = [review(CAROL, "APPROVED", "2026-03-19 13:30")]
    m = metrics_of(synced(pr), 11)
    assert m["first_response_at"] == m["first_review_at"] == at("2026-03-19 13:30")
    assert m["time_to_first_response_hours"] == pytest.approx(4.5)


def test_extra_bots_from_a_sync_recompute_every_pr(serve, cli, db_path):
    # dave is a bot GitHub types as a user. PR 1 is synced without the list; syncing PR 7 with
    # --bots dave stores the list and recomputes PR 1 too: dave's 15:00 comment no longer counts.
    quick = pull(7, created="2026-03-02 09:00", merged="2026-03-02 10:00")
    quick.commits = [commit("2026-03-02 08:00")]
    server = serve(repository(iteration_pr(), quick))
    assert cli(server, "sync", "--repo", "acme/widgets", "--pr", "1", "--db", str(db_path)).exit_code == 0
    assert metrics_of(db_path, 1)["total_comments"] == 6
    run = cli(server, "sync", "--repo", "acme/widgets", "--pr", "7", "--db", str(db_path), "--bots", "dave")
    assert run.exit_code == 0, run.stderr
    assert "extra bots now dave: recomputed every PR's metrics" in run.stderr
    assert metrics_of(db_path, 1)["total_comments"] == 5
    assert query(db_path, "SELECT login FROM bot_logins") == [("dave",)]
    # a sync without the setting keeps it
    assert cli(server, "sync", "--repo", "acme/widgets", "--pr", "1", "--db", str(db_path)).exit_code == 0
    assert metrics_of(db_path, 1)["total_comments"] == 5


def test_a_bot_list_that_is_no_list_of_logins_is_a_usage_error(cli, db_path):
    run = cli(None, "metrics", "--recompute", "--db", str(db_path), "--bots", "ok-bot, not a login")
    assert run.exit_code == 2
    assert run.stderr.strip().splitlines() == [
        "mergelens: error: --bots / MERGELENS_BOTS: 'not a login' is not a GitHub login"
    ]
