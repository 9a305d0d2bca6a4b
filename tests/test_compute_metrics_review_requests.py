"""Reviewer response from the request (pr_review_requests, docs/metrics.md), by hand.

The PRs are served by the fake GitHub and synced through the real CLI, so the requests are
derived from rows exactly as the fetcher stores them.
"""

from __future__ import annotations

import duckdb
import pytest

from fetcher.compute import metrics
from fetcher.compute.rules import use_rules
from fetcher.db import safe_open, schema
from tests.conftest import query
from tests.support.factories import ALICE, BOB, CAROL, COPILOT, DAVE, GHOST, at, event, issue_comment, pull, review

COLUMNS = "requested_at, reviewer_login, reviewer_deleted, team_slug, ended_at, outcome, answered_by_login"


def requests_pr():
    """alice's PR, opened 2 March 09:00, merged 4 March 12:00; requests at 10:00 to bob, carol,
    dave, the team core, a deleted account and Copilot (a bot)."""
    pr = pull(1, author=ALICE, created="2026-03-02 09:00", merged="2026-03-04 12:00")
    pr.reviews = [
        review(COPILOT, "COMMENTED", "2026-03-02 10:30"),  # a bot: answers nobody, not even the team
        review(BOB, "CHANGES_REQUESTED", "2026-03-02 13:00"),  # answers bob (3 h) and core (3 h)
        review(BOB, "APPROVED", "2026-03-05 09:00"),  # after the merge: no answer
    ]
    pr.issue_comments = [
        issue_comment(ALICE, "2026-03-02 10:45"),  # the author: answers nobody
        issue_comment(GHOST, "2026-03-02 15:30"),  # a deleted account answers the deleted account asked (5.5 h)
        issue_comment(BOB, "2026-03-03 10:30"),  # answers bob's re-request (1.5 h)
    ]
    pr.events = [
        event("review_requested", "2026-03-02 10:00", requested_reviewer=BOB),
        event("review_requested", "2026-03-02 10:00", requested_reviewer=CAROL),
        event("review_requested", "2026-03-02 10:00", requested_reviewer=DAVE),
        event("review_requested", "2026-03-02 10:00", requested_team="core"),
        event("review_requested", "2026-03-02 10:00", requested_reviewer=GHOST),
        event("review_requested", "2026-03-02 10:00", requested_reviewer=COPILOT),  # a bot: left out
        event("review_request_removed", "2026-03-02 11:00", requested_reviewer=CAROL),
        event("review_requested", "2026-03-02 12:00", requested_reviewer=DAVE),  # dave's is pending: a repeat
        event("review_requested", "2026-03-03 09:00", requested_reviewer=BOB),  # a re-request after his review
        event("review_requested", "2026-03-03 09:00", requested_team="security"),
        event("review_request_removed", "2026-03-03 09:30", requested_team="security"),  # before bob's comment
        event("review_requested", "2026-03-05 10:00", requested_reviewer=CAROL),  # after the merge: left out
    ]
    return pr


def test_each_outcome_by_hand(synced):
    db = synced(requests_pr())
    rows = query(db, f"SELECT {COLUMNS}, response_hours FROM pr_review_requests ORDER BY seq")
    merged = at("2026-03-04 12:00")
    ten = at("2026-03-02 10:00")
    assert [row[:7] for row in rows] == [  # in timeline order
        (ten, "bob", False, None, at("2026-03-02 13:00"), "reviewed", "bob"),
        (ten, "carol", False, None, at("2026-03-02 11:00"), "removed", None),
        (ten, "dave", False, None, merged, "merged", None),  # once: the request at 12:00 repeats it
        (ten, None, False, "core", at("2026-03-02 13:00"), "reviewed", "bob"),  # anyone answers for a team
        (ten, None, True, None, at("2026-03-02 15:30"), "commented", None),
        (at("2026-03-03 09:00"), "bob", False, None, at("2026-03-03 10:30"), "commented", "bob"),
        (at("2026-03-03 09:00"), None, False, "security", at("2026-03-03 09:30"), "removed", None),
    ]
    assert [row[7] for row in rows] == [pytest.approx(3.0), None, None, pytest.approx(3.0), pytest.approx(5.5),
                                        pytest.approx(1.5), None]  # fmt: skip  # no answer: no response time


def test_open_request_on_an_unmerged_pr(synced):
    pr = pull(2, author=ALICE, created="2026-03-02 09:00", merged=None)
    pr.events = [event("review_requested", "2026-03-02 10:00", requested_reviewer=BOB)]
    db = synced(pr)
    assert query(db, "SELECT reviewer_login, ended_at, outcome, response_hours FROM pr_review_requests") == [
        ("bob", None, "open", None)
    ]


def test_per_reviewer_response(synced):
    db = synced(requests_pr())
    with duckdb.connect(str(db), read_only=True) as con:
        use_rules(con)
        frame = con.execute(metrics.reviewer_response_sql()).df().set_index("reviewer")
    bob = frame.loc["bob"]
    assert (bob["requests"], bob["answered"], bob["reviewed"], bob["commented"]) == (2, 2, 1, 1)
    assert bob["median_response_hours"] == pytest.approx((3.0 + 1.5) / 2)
    assert bob["p90_response_hours"] == pytest.approx(1.5 + 0.9 * (3.0 - 1.5))  # linear interpolation
    assert (frame.loc["carol", "removed"], frame.loc["carol", "answered"]) == (1, 0)
    assert frame.loc["dave", "merged_unanswered"] == 1 and pd_isna(frame.loc["dave", "median_response_hours"])
    assert frame.loc["acme/core", "is_team"] and frame.loc["acme/core", "answered"] == 1
    assert frame.loc["acme/security", "removed"] == 1
    assert frame.loc["ghost", "commented"] == 1
    assert "Copilot" not in frame.index and COPILOT.login not in frame.index
    assert int(frame["requests"].sum()) == 7


def pd_isna(value: object) -> bool:
    return value is None or value != value  # NaN


def test_extra_bot_is_no_requested_reviewer(synced, serve, cli):
    db = synced(requests_pr())
    with safe_open.open_migrated(db) as con:
        assert metrics.use_settings(con, ("dave",))
        assert con.execute("SELECT count(*) FROM pr_review_requests WHERE reviewer_login = 'dave'").fetchone() == (0,)


def test_migration_to_4_derives_the_requests(tmp_path):
    """A version-3 file gets the table on its first write, filled from the rows it holds; a team
    request stored before version 4 names no team and is left out."""
    path = tmp_path / "v3.duckdb"
    con = duckdb.connect(str(path))
    schema.ensure_schema(con, 3)
    con.execute(
        "INSERT INTO pull_requests (repo, number, author_login, created_at, merged_at, fetched_at, sync_status) "
        "VALUES ('acme/widgets', 1, 'alice', '2026-03-02 09:00+00', '2026-03-02 18:00+00', now(), 'complete')"
    )
    con.execute(
        "INSERT INTO pr_events (repo, pr_number, seq, event, created_at, requested_reviewer_login, "
        "requested_reviewer_deleted) VALUES ('acme/widgets', 1, 0, 'review_requested', '2026-03-02 10:00+00', "
        "'bob', false), ('acme/widgets', 1, 1, 'review_requested', '2026-03-02 10:00+00', NULL, false)"
    )
    con.close()
    with safe_open.open_migrated(path) as con:
        assert con.execute("SELECT seq, reviewer_login, outcome FROM pr_review_requests").fetchall() == [
            (0, "bob", "merged")
        ]


# --- response in working hours: the same clock as pr_metrics's twins (docs/metrics.md, "Working hours")


def test_a_response_over_the_weekend_counts_working_hours_only(synced):
    """Asked Friday 16:00, answered Monday 10:00 (Mon-Fri 09:00-17:00 UTC): 66 h, of which 2 working."""
    pr = pull(3, author=ALICE, created="2026-03-06 15:00", merged="2026-03-09 12:00")
    pr.events = [
        event("review_requested", "2026-03-06 16:00", requested_reviewer=BOB),
        event("review_requested", "2026-03-06 16:00", requested_reviewer=CAROL),  # never answered
    ]
    pr.reviews = [review(BOB, "APPROVED", "2026-03-09 10:00")]
    rows = query(
        synced(pr), "SELECT reviewer_login, response_hours, response_work_hours FROM pr_review_requests ORDER BY seq"
    )
    assert rows == [("bob", 66, 2), ("carol", None, None)]  # no answer: no response time on either clock


@pytest.mark.parametrize(
    ("requested", "answered", "hours", "work_hours"),
    [
        # spring forward (Sunday 29 March 2026): Friday 16:00 CET is 15:00 UTC, Monday 09:30 CEST 07:30 UTC
        ("2026-03-27 15:00", "2026-03-30 07:30", 64.5, 1.5),
        # fall back (Sunday 25 October 2026): Friday 16:00 CEST is 14:00 UTC, Monday 09:30 CET 08:30 UTC
        ("2026-10-23 14:00", "2026-10-26 08:30", 66.5, 1.5),
    ],
)
def test_a_response_across_a_clock_change_follows_the_zone(synced, requested, answered, hours, work_hours):
    pr = pull(4, author=ALICE, created=requested, merged=f"{answered[:10]} 12:00")
    pr.events = [event("review_requested", requested, requested_reviewer=BOB)]
    pr.issue_comments = [issue_comment(BOB, answered)]
    db = synced(pr, calendar="tz=Europe/Berlin")
    assert query(db, "SELECT outcome, response_hours, response_work_hours FROM pr_review_requests") == [
        ("commented", hours, work_hours)
    ]
    with duckdb.connect(str(db), read_only=True) as con:
        use_rules(con)
        frame = con.execute(metrics.reviewer_response_sql(response="response_work_hours")).df()
    assert frame["median_response_hours"].tolist() == [work_hours]


def test_migration_to_6_fills_the_working_hours_response(tmp_path):
    """A version-5 file has no response_work_hours: its first write adds it and recomputes every request."""
    path = tmp_path / "v5.duckdb"
    con = duckdb.connect(str(path))
    schema.ensure_schema(con, 5)
    con.execute(
        "INSERT INTO pull_requests (repo, number, author_login, created_at, merged_at, fetched_at, sync_status) "
        "VALUES ('acme/widgets', 1, 'alice', '2026-03-06 15:00+00', '2026-03-09 12:00+00', now(), 'complete')"
    )
    con.execute(
        "INSERT INTO pr_events (repo, pr_number, seq, event, created_at, requested_reviewer_login) "
        "VALUES ('acme/widgets', 1, 0, 'review_requested', '2026-03-06 16:00+00', 'bob')"
    )
    con.execute(
        "INSERT INTO pr_reviews (repo, id, pr_number, reviewer_login, state, submitted_at) "
        "VALUES ('acme/widgets', 7, 1, 'bob', 'APPROVED', '2026-03-09 10:00+00')"
    )
    con.close()
    with safe_open.open_migrated(path) as con:
        assert con.execute("SELECT response_hours, response_work_hours FROM pr_review_requests").fetchall() == [(66, 2)]


def test_the_response_column_is_one_of_the_two():
    with pytest.raises(ValueError):
        metrics.reviewer_response_sql(response="1; DROP TABLE pr_metrics")
