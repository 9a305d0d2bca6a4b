"""Where the time went (docs/metrics.md, "Stages", "Coding time", "Working hours"): each edge case
computed by hand, synced through the real CLI from the fake GitHub.

The default calendar is Mon-Fri 09:00-17:00 UTC; 2 March 2026 is a Monday.
"""

from __future__ import annotations

import duckdb
import pytest

from fetcher.compute import work_calendar
from fetcher.config import Environment
from tests.conftest import query
from tests.support.factories import ALICE, BOB, CAROL, DAVE, commit, event, issue_comment, pull, repository, review

STAGES = ("stage_draft_hours", "stage_pickup_hours", "stage_review_hours", "stage_merge_hours")
COLUMNS = (
    *STAGES,
    "cycle_time_hours",
    "coding_hours",
    "coding_reliable",
    *(name.replace("_hours", "_work_hours") for name in STAGES),
    "cycle_time_work_hours",
    "coding_work_hours",
    "time_to_first_review_work_hours",
    "time_to_first_response_work_hours",
    "pickup_work_hours",
    "avg_fix_response_work_hours",
)


def row(db, number: int) -> dict:
    (values,) = query(db, f"SELECT {', '.join(COLUMNS)} FROM pr_metrics WHERE number = ?", [number])
    return dict(zip(COLUMNS, values, strict=True))


def stages(m: dict, clock: str = "") -> tuple:
    return tuple(m[name.replace("_hours", f"{clock}_hours")] for name in STAGES)


def full_path():
    """Draft 09:00-11:00, dave answers 12:00, bob requests changes 13:00 (fixed 15:00) and approves
    Tuesday 10:00, merged Tuesday 15:00. The first commit was written on Sunday 20:00."""
    pr = pull(1, created="2026-03-02 09:00", merged="2026-03-03 15:00")
    pr.commits = [commit("2026-03-02 08:30", authored="2026-03-01 20:00"), commit("2026-03-02 15:00")]
    pr.events = [event("ready_for_review", "2026-03-02 11:00")]
    pr.issue_comments = [issue_comment(DAVE, "2026-03-02 12:00")]
    pr.reviews = [review(BOB, "CHANGES_REQUESTED", "2026-03-02 13:00"), review(BOB, "APPROVED", "2026-03-03 10:00")]
    return pr


def test_stages_of_a_full_path_by_hand(synced):
    m = row(synced(full_path()), 1)
    assert stages(m) == (2, 1, 22, 5)  # 09-11, 11-12, Mon 12:00-Tue 10:00, 10-15
    assert m["cycle_time_hours"] == 30 == sum(stages(m))
    # working hours: Monday 09-17 and Tuesday 09-15 are work, the night is not
    assert stages(m, "_work") == (2, 1, 6, 5) and m["cycle_time_work_hours"] == 14
    assert m["time_to_first_response_work_hours"] == 3 and m["time_to_first_review_work_hours"] == 4
    assert m["pickup_work_hours"] == 2  # ready 11:00 -> first review 13:00
    assert m["avg_fix_response_work_hours"] == 2  # 13:00 -> 15:00
    assert m["coding_hours"] == 13 and m["coding_work_hours"] == 0  # Sunday 20:00 -> Monday 09:00
    assert m["coding_reliable"] is True


def test_no_review_and_no_response_pickup_runs_to_the_merge(synced):
    pr = pull(2, created="2026-03-02 09:00", merged="2026-03-02 12:00")
    pr.commits = [commit("2026-03-02 10:00")]  # written after the PR was opened: coding 0
    pr.events = [event("head_ref_force_pushed", "2026-03-02 10:30")]
    m = row(synced(pr), 2)
    assert stages(m) == (0, 3, 0, 0)
    assert m["coding_hours"] == 0 and m["coding_reliable"] is False


def test_approval_while_still_a_draft(synced):
    """Reviewed (approved) before the PR was marked ready: no ready_for_review before the first review,
    so no draft stage; the time after the approval is the merge stage."""
    pr = pull(3, created="2026-03-02 09:00", merged="2026-03-02 12:00")
    pr.reviews = [review(BOB, "APPROVED", "2026-03-02 10:00")]
    pr.events = [event("ready_for_review", "2026-03-02 11:00")]
    m = row(synced(pr), 3)
    assert stages(m) == (0, 1, 0, 2)
    assert m["coding_hours"] is None and m["coding_reliable"] is None  # no commit


def test_a_redrafted_pr_drafts_until_its_last_ready(synced):
    pr = pull(4, created="2026-03-02 09:00", merged="2026-03-02 16:00")
    pr.events = [
        event("ready_for_review", "2026-03-02 10:00"),
        event("convert_to_draft", "2026-03-02 11:00"),
        event("ready_for_review", "2026-03-02 13:00"),
    ]
    pr.reviews = [review(BOB, "COMMENTED", "2026-03-02 14:00"), review(CAROL, "COMMENTED", "2026-03-02 15:00")]
    m = row(synced(pr), 4)
    assert stages(m) == (4, 1, 1, 1)  # no approval: the review stage ends at the last review


def test_activity_after_the_merge_is_ignored(synced):
    pr = pull(5, created="2026-03-02 09:00", merged="2026-03-02 12:00")
    pr.issue_comments = [issue_comment(DAVE, "2026-03-02 10:00"), issue_comment(CAROL, "2026-03-04 10:00")]
    pr.reviews = [review(BOB, "APPROVED", "2026-03-03 10:00")]  # a day after the merge
    m = row(synced(pr), 5)
    assert stages(m) == (0, 1, 0, 2)


def test_an_open_pr_has_no_stages(synced):
    pr = pull(6, created="2026-03-02 09:00", merged=None)
    pr.reviews = [review(BOB, "APPROVED", "2026-03-02 10:00")]
    m = row(synced(pr), 6)
    assert stages(m) == (None,) * 4 == stages(m, "_work")
    assert m["time_to_first_review_work_hours"] == 1


def test_a_weekend_and_a_holiday_are_no_working_time(synced):
    pr = pull(7, author=ALICE, created="2026-03-06 16:00", merged="2026-03-09 10:00")  # Friday -> Monday
    assert row(synced(pr), 7)["cycle_time_work_hours"] == 2


def test_a_holiday_is_no_working_time(synced):
    pr = pull(8, created="2026-03-06 16:00", merged="2026-03-09 10:00")
    m = row(synced(pr, calendar="holidays=2026-03-09"), 8)
    assert m["cycle_time_hours"] == 66 and m["cycle_time_work_hours"] == 1


@pytest.mark.parametrize(
    ("created", "merged", "work_hours"),
    [
        # spring forward (Sunday 29 March 2026): Friday 09:00 CET is 08:00 UTC, Monday 09:00 CEST 07:00 UTC
        ("2026-03-27 08:00", "2026-03-30 07:30", 8.5),
        # fall back (Sunday 25 October 2026): Friday 16:00 CEST is 14:00 UTC, Monday 09:30 CET 08:30 UTC
        ("2026-10-23 14:00", "2026-10-26 08:30", 1.5),
    ],
)
def test_working_hours_follow_the_zone_across_a_clock_change(synced, created, merged, work_hours):
    m = row(synced(pull(9, created=created, merged=merged), calendar="tz=Europe/Berlin"), 9)
    assert m["cycle_time_work_hours"] == work_hours


@pytest.mark.parametrize(
    ("created", "merged", "hours"),
    [("2026-03-28 23:00", "2026-03-29 22:00", 23), ("2026-10-24 22:00", "2026-10-25 23:00", 25)],
)
def test_a_round_the_clock_calendar_counts_the_day_the_clocks_change_as_the_zone_does(synced, created, merged, hours):
    """Local midnight to midnight: 23 hours in spring, 25 in autumn."""
    calendar = "tz=Europe/Berlin;days=Mon-Sun;hours=00:00-24:00"
    m = row(synced(pull(10, created=created, merged=merged), calendar=calendar), 10)
    assert m["cycle_time_hours"] == hours == m["cycle_time_work_hours"]


def test_a_changed_calendar_recomputes_and_a_recompute_without_it_keeps_it(synced, cli, db_path):
    synced(pull(11, created="2026-03-06 16:00", merged="2026-03-09 10:00"))
    assert row(db_path, 11)["cycle_time_work_hours"] == 2
    run = cli(None, "metrics", "--recompute", "--db", str(db_path), "--work-calendar", "days=Mon-Sun")
    assert run.exit_code == 0, run.stderr
    assert row(db_path, 11)["cycle_time_work_hours"] == 18  # Fri 1 + Sat 8 + Sun 8 + Mon 1
    assert cli(None, "metrics", "--recompute", "--db", str(db_path)).exit_code == 0
    assert row(db_path, 11)["cycle_time_work_hours"] == 18
    (stored,) = query(db_path, "SELECT tz, days FROM work_calendar")
    assert stored == ("UTC", [1, 2, 3, 4, 5, 6, 7])


def test_a_foreign_file_with_an_unknown_zone_counts_the_default_zone(synced, cli, db_path):
    """A DB file the job did not write may hold any zone name: it reads as UTC, never a DuckDB error."""
    synced(pull(11, created="2026-03-06 16:00", merged="2026-03-09 10:00"), calendar="days=Mon-Sun")
    with duckdb.connect(str(db_path)) as con:
        con.execute("UPDATE work_calendar SET tz = 'Mars/Olympus'")
    run = cli(None, "metrics", "--recompute", "--db", str(db_path))
    assert run.exit_code == 0, run.stderr
    assert row(db_path, 11)["cycle_time_work_hours"] == 18  # Mon-Sun, 09:00-17:00 in UTC


def test_a_bad_calendar_is_a_usage_error(cli, db_path):
    run = cli(None, "metrics", "--recompute", "--db", str(db_path), "--work-calendar", "tz=Mars/Olympus")
    assert run.exit_code == 2
    assert run.stderr.strip().splitlines()[-1].startswith("mergelens: error: --work-calendar")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", work_calendar.DEFAULT_CALENDAR),
        (
            "tz=Europe/Berlin;days=Sun-Thu;hours=08:30-24:00;holidays=2026-12-25,2026-12-24",
            work_calendar.WorkCalendar(
                "Europe/Berlin",
                (1, 2, 3, 4, 7),
                510,
                1440,
                (work_calendar.date(2026, 12, 24), work_calendar.date(2026, 12, 25)),
            ),
        ),
        ("days=Mon,wed", work_calendar.WorkCalendar(days=(1, 3))),
    ],
)
def test_calendar_parses(text, expected):
    assert work_calendar.parse_work_calendar(text) == expected
    assert work_calendar.parse_work_calendar(expected.spec) == expected


@pytest.mark.parametrize(
    "text",
    [
        "tz=Nowhere/Else",
        "days=Funday",
        "hours=17:00-09:00",
        "hours=9-5",
        "holidays=tomorrow",
        "colour=blue",
        "tz=UTC;tz=UTC",
        "tz='; DROP TABLE x",
    ],
)
def test_calendar_refuses(text):
    with pytest.raises(ValueError):
        work_calendar.parse_work_calendar(text)


def test_a_sync_with_a_new_calendar_says_it_recomputed(serve, cli, db_path):
    server = serve(repository(pull(12, created="2026-03-06 16:00", merged="2026-03-09 10:00")))
    argv = ("sync", "--repo", "acme/widgets", "--pr", "12", "--db", str(db_path))
    assert "work calendar now" not in cli(server, *argv).stderr  # the default: nothing stored, nothing changed
    run = cli(server, *argv, work_calendar="days=Mon-Sun")  # MERGELENS_WORK_CALENDAR
    assert run.exit_code == 0, run.stderr
    assert "work calendar now tz=UTC;days=Mon-Sun;hours=09:00-17:00: recomputed every PR's metrics" in run.stderr
    assert row(db_path, 12)["cycle_time_work_hours"] == 18


def test_the_setting_is_read_from_the_environment():
    assert Environment.from_environ({"MERGELENS_WORK_CALENDAR": " tz=UTC "}).work_calendar == "tz=UTC"
    assert Environment.from_environ({"MERGELENS_WORK_CALENDAR": ""}).work_calendar is None  # unset: keep the DB's
