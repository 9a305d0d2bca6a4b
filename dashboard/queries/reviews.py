"""The Review dynamics page: review rounds and fix responses, reviewers' load and response to requests,
first-time contributors, PRs merged without a review."""

from __future__ import annotations

import pandas as pd

from dashboard.queries.common import Connection, Filters, clocked, filtered_frame
from fetcher.compute.metrics import FIRST_TIME_CONTRIBUTOR_SQL, metrics_scope, reviewer_response_sql


def review_rounds_distribution(con: Connection, filters: Filters) -> pd.DataFrame:
    return filtered_frame(
        con,
        filters,
        "SELECT review_rounds, count(*) AS prs FROM filtered GROUP BY ALL ORDER BY review_rounds",
    )


# reviewer activity on the filtered PRs (the rules' human_reviews())
HUMAN_REVIEWS = """human_reviews AS (
    SELECT r.* FROM human_reviews() r JOIN filtered f ON r.repo = f.repo AND r.pr_number = f.number
)"""


def fix_responses(con: Connection, filters: Filters) -> pd.DataFrame:
    """Each review round of the filtered PRs (the rules' ``review_rounds()``: a change request answered by a
    later commit; requests of the same second are one round) and how long the fix took, under the filters' clock."""
    with metrics_scope(con):
        return filtered_frame(
            con,
            filters,
            f""", rounds AS (
                SELECT r.*, hours_between(r.submitted_at, r.fix_at) AS fix_response_hours,
                       work_hours_between(r.submitted_at, r.fix_at) AS fix_response_work_hours
                FROM review_rounds() r JOIN filtered f ON r.repo = f.repo AND r.pr_number = f.number
            )
            SELECT repo, pr_number AS number, reviewers AS reviewer, submitted_at AS requested_at, fix_at AS fixed_at,
                   {clocked("fix_response_hours", filters.clock)} AS fix_response_hours
            FROM rounds ORDER BY requested_at, repo, number""",
        )


def reviewer_load(con: Connection, filters: Filters) -> pd.DataFrame:
    """Per human reviewer: PRs reviewed, reviews by state, how often first, median pickup.

    A reviewer's pickup on a PR (``pickup_hours``, and ``pickup_work_hours`` in working hours) runs from
    the PR's ready_for_review_at to their first review on it; the median is read under the filters' clock."""
    with metrics_scope(con):
        return filtered_frame(
            con,
            filters,
            f""", {HUMAN_REVIEWS},
            per_pr AS (
                SELECT repo, pr_number, login_or_ghost(reviewer_login) AS reviewer,
                       min(submitted_at) AS first_at, count(*) AS reviews,
                       count(*) FILTER (WHERE state = 'CHANGES_REQUESTED') AS changes_requested,
                       count(*) FILTER (WHERE state = 'APPROVED') AS approvals
                FROM human_reviews GROUP BY ALL
            ),
            pickups AS (
                SELECT pp.*, f.first_review_at, hours_between(f.ready_for_review_at, pp.first_at) AS pickup_hours,
                       work_hours_between(f.ready_for_review_at, pp.first_at) AS pickup_work_hours
                FROM per_pr pp JOIN filtered f ON f.repo = pp.repo AND f.number = pp.pr_number
            )
            SELECT reviewer, count(*) AS prs_reviewed, sum(reviews)::BIGINT AS reviews,
                   sum(changes_requested)::BIGINT AS changes_requested, sum(approvals)::BIGINT AS approvals,
                   count(*) FILTER (WHERE first_at = first_review_at) AS first_reviewer,
                   median({clocked("pickup_hours", filters.clock)}) AS median_pickup_hours
            FROM pickups GROUP BY reviewer ORDER BY prs_reviewed DESC, reviewer""",
        )


def reviewer_response(con: Connection, filters: Filters) -> pd.DataFrame:
    """Per requested reviewer (a person, or a team as ``owner/slug``), over the review requests of
    the filtered PRs: requests, answered, removed, unanswered at the merge, and the median and p90
    hours from a request to its answer under the filters' clock (``fetcher.compute.metrics.reviewer_response_sql``;
    docs/metrics.md). The PRs are merged, so no request here is still open."""
    return filtered_frame(
        con,
        filters,
        f""", requests AS (
            SELECT q.* FROM pr_review_requests q JOIN filtered f ON f.repo = q.repo AND f.number = q.pr_number
        )
        {reviewer_response_sql("requests", clocked("response_hours", filters.clock))}""",
    )


FIRST_TIME_GROUPS = ("first-time contributors", "everyone else", "not known")


def first_time_contributors(con: Connection, filters: Filters) -> pd.DataFrame:
    """First-time contributors' PRs against the rest: PRs, median cycle time and pickup, review
    rounds (mean, and the share of PRs with any). A first-time contributor's PR by
    ``fetcher.compute.metrics.FIRST_TIME_CONTRIBUTOR_SQL`` (docs/metrics.md); "not known": a PR stored before
    schema version 3 (no author_association)."""
    first, rest, unknown = FIRST_TIME_GROUPS
    return filtered_frame(
        con,
        filters,
        f"""SELECT CASE WHEN ft.first_time THEN '{first}' WHEN ft.first_time IS NULL THEN '{unknown}'
                        ELSE '{rest}' END AS authors,
                   count(*) AS prs, median(cycle_time_hours) AS median_cycle_time_hours,
                   median(pickup_hours) AS median_pickup_hours, avg(review_rounds) AS review_rounds_mean,
                   avg((review_rounds > 0)::INTEGER) AS share_with_rounds
            FROM filtered f LEFT JOIN ({FIRST_TIME_CONTRIBUTOR_SQL}) ft ON ft.repo = f.repo AND ft.number = f.number
            GROUP BY 1
            ORDER BY list_position(['{first}', '{rest}', '{unknown}'], authors)""",
    )


def unreviewed_prs(con: Connection, filters: Filters) -> pd.DataFrame:
    """PRs merged without a human review (no first_review_at)."""
    return filtered_frame(
        con,
        filters,
        """SELECT repo, number, html_url, title, author, merged_by_login AS merged_by, merged_at, size, changed_files
           FROM filtered WHERE first_review_at IS NULL ORDER BY merged_at DESC""",
    )
