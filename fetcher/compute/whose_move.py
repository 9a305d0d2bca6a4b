"""Whose move is it: each open PR of the latest snapshot, classified (docs/metrics.md, "Now: whose move").

One SQL query over ``open_pr_snapshots`` (no VIEW: a DB file holds tables only), first rule that
holds wins: ``draft``, ``stale``, ``waiting_for_author``, ``waiting_for_checks``,
``ready_to_merge``, ``waiting_for_reviewer``, ``waiting_for_first_review``. Working days are
counted in one place, :func:`working_days_sql`, by the stored working-hours calendar
(``fetcher.compute.work_calendar``; Monday to Friday, UTC, when none is stored).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from fetcher.compute import work_calendar

STALE_WORKING_DAYS = 5
MOVES = (
    "draft",
    "stale",
    "waiting_for_author",
    "waiting_for_checks",
    "ready_to_merge",
    "waiting_for_reviewer",
    "waiting_for_first_review",
)


def working_days_sql(start: str, end: str) -> str:
    """SQL for the working days after the local date of ``start`` up to and including the local date
    of ``end``: dates in the stored calendar's time zone, counting its working weekdays and not its
    holidays (``fetcher.compute.work_calendar``; none stored: Monday to Friday, UTC). An activity on Friday
    seen on Monday is 1 day old. NULL when either is NULL. ``start`` and ``end`` (SQL expressions of
    the caller's row) must not name the calendar's columns (tz, days, holidays, ...).

    A correlated subquery, not a lambda over the dates: DuckDB binds no subquery inside a lambda."""
    local = "timezone(cal.tz, ({})::TIMESTAMPTZ)::DATE"
    return (
        f"(CASE WHEN ({start}) IS NOT NULL AND ({end}) IS NOT NULL THEN ("
        f"SELECT count(*) FROM ({work_calendar.CALENDAR_SQL}) cal, "
        f"generate_series({local.format(start)} + 1, {local.format(end)}, INTERVAL 1 DAY) dates(day) "
        "WHERE list_contains(cal.days, isodow(dates.day)) AND NOT list_contains(cal.holidays, dates.day::DATE)) END)"
    )


# A human review: a reviewer's latest submitted review, by a person (not a bot) other than the author.
_HUMAN = "lambda r: coalesce(r.reviewer_type, '') <> 'Bot' AND r.reviewer_login IS DISTINCT FROM author_login"

WHOSE_MOVE_SQL = f"""
WITH latest AS (  -- each repository's latest snapshot run (a run that found no open PR counts)
    SELECT repo, max(snapshot_at) AS snapshot_at FROM open_pr_snapshot_runs
    WHERE $repo IS NULL OR repo = $repo GROUP BY repo
), prs AS (
    SELECT s.*, list_filter(s.latest_reviews, {_HUMAN}) AS human_reviews,
        greatest(s.head_committed_at, s.last_force_push_at) AS last_push_at
    FROM open_pr_snapshots s JOIN latest USING (repo, snapshot_at)
), facts AS (
    SELECT *,
        -- the latest change request whose reviewer was not asked again since
        list_max(list_transform(list_filter(human_reviews,
            lambda r: r.state = 'CHANGES_REQUESTED' AND NOT list_contains(coalesce(requested_reviewers, []),
                                                                          r.reviewer_login)),
            lambda r: r.submitted_at)) AS change_request_at,
        len(list_filter(human_reviews, lambda r: r.state = 'APPROVED')) AS approvals,
        len(list_filter(human_reviews, lambda r: r.state = 'CHANGES_REQUESTED')) AS change_requests,
        greatest(created_at, ready_for_review_at, last_push_at, last_author_activity_at,
                 last_reviewer_activity_at) AS last_activity_at
    FROM prs
), classified AS (
    SELECT *,
        {working_days_sql("last_activity_at", "$as_of")} AS idle_working_days,
        CASE
            WHEN draft THEN 'draft'
            WHEN {working_days_sql("last_activity_at", "$as_of")} >= $stale_days THEN 'stale'
            WHEN checks_state IN ('FAILURE', 'ERROR') OR mergeable = 'CONFLICTING'
                OR (change_request_at IS NOT NULL AND (last_push_at IS NULL OR last_push_at <= change_request_at))
                THEN 'waiting_for_author'
            WHEN review_decision = 'APPROVED'
                OR (review_decision IS NULL AND approvals > 0 AND change_requests = 0)
                THEN CASE WHEN checks_state IN ('PENDING', 'EXPECTED') THEN 'waiting_for_checks'
                          ELSE 'ready_to_merge' END
            WHEN len(human_reviews) > 0 THEN 'waiting_for_reviewer'
            ELSE 'waiting_for_first_review'
        END AS move
    FROM facts
)
SELECT repo, number, title, html_url, author_login, snapshot_at, move,
    CASE move WHEN 'draft' THEN created_at
              WHEN 'waiting_for_first_review' THEN coalesce(ready_for_review_at, created_at)
              ELSE last_activity_at END AS waiting_since,
    last_activity_at, idle_working_days, requested_reviewers, requested_teams, checks_state, mergeable,
    author_type, draft, created_at, ready_for_review_at, additions, deletions, len(human_reviews) AS human_reviews
FROM classified
ORDER BY repo, waiting_since, number
"""


def whose_move(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    repo: str | None = None,
    stale_days: int = STALE_WORKING_DAYS,
) -> list[dict[str, Any]]:
    """Every PR of each repository's latest snapshot (or ``repo``'s) with its ``move`` as of
    ``as_of``, longest waiting first."""
    cursor = con.execute(WHOSE_MOVE_SQL, {"repo": repo, "as_of": as_of, "stale_days": stale_days})
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
