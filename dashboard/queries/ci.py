"""The CI page: check runs per name, failure rates, checks that failed and then passed (likely flaky)."""

from __future__ import annotations

import pandas as pd

from dashboard.queries.common import Connection, Filters, filtered_frame

FAILED_SQL = "is_failed_check(c.conclusion)"


# The share of check runs with a conclusion that failed (an aggregate over ``checks c``).
FAILURE_RATE_SQL = f"count(*) FILTER (WHERE {FAILED_SQL}) / nullif(count(*) FILTER (WHERE c.conclusion IS NOT NULL), 0)"


CHECKS_CTE = """checks AS (
    SELECT c.repo, c.pr_number, c.id, c.name, c.head_sha, c.conclusion, c.started_at, c.completed_at, c.html_url,
           coalesce(c.completed_at, c.started_at) AS at
    FROM pr_check_runs c JOIN filtered f ON c.repo = f.repo AND c.pr_number = f.number
)"""


FLAKY_CTE = f"""flaky AS (  -- a check that failed and later passed on the same PR
    SELECT c.repo, c.pr_number, c.name,
           count(*) FILTER (WHERE {FAILED_SQL}) AS failures,
           min(c.at) FILTER (WHERE {FAILED_SQL}) AS first_failure_at,
           max(c.at) FILTER (WHERE c.conclusion = 'success') AS passed_at,
           arg_max(c.html_url, c.at) FILTER (WHERE c.conclusion = 'success') AS passed_url
    FROM checks c GROUP BY ALL
    HAVING first_failure_at < passed_at
)"""


def check_summary(con: Connection, filters: Filters) -> pd.DataFrame:
    """Per check name: runs, failures, failure rate (of runs with a conclusion), median duration,
    and on how many PRs it failed and then passed (likely flaky)."""
    return filtered_frame(
        con,
        filters,
        f""", {CHECKS_CTE}, {FLAKY_CTE}
        SELECT c.name, count(*) AS runs, count(DISTINCT (c.repo, c.pr_number)) AS prs,
               count(*) FILTER (WHERE {FAILED_SQL}) AS failures,
               {FAILURE_RATE_SQL} AS failure_rate,
               median(epoch(c.completed_at) - epoch(c.started_at)) AS median_duration_s,
               coalesce(any_value(fl.flaky_prs), 0) AS flaky_prs
        FROM checks c
        LEFT JOIN (SELECT name, count(*) AS flaky_prs FROM flaky GROUP BY name) fl ON fl.name = c.name
        GROUP BY c.name ORDER BY failures DESC, c.name""",
    )


def flaky_checks(con: Connection, filters: Filters) -> pd.DataFrame:
    """Each (PR, check) that failed and then passed; ``same_commit``: a failed run and a later
    passing run share a head commit (a re-run of the same code: flaky rather than fixed)."""
    return filtered_frame(
        con,
        filters,
        f""", {CHECKS_CTE}, {FLAKY_CTE},
        same_commit AS (
            SELECT DISTINCT a.repo, a.pr_number, a.name
            FROM checks a JOIN checks b
              ON a.repo = b.repo AND a.pr_number = b.pr_number AND a.name = b.name AND a.head_sha = b.head_sha
            WHERE is_failed_check(a.conclusion)
              AND b.conclusion = 'success' AND b.at > a.at
        )
        SELECT fl.repo, fl.pr_number AS number, f.title, fl.name, fl.failures, fl.first_failure_at, fl.passed_at,
               s.name IS NOT NULL AS same_commit, fl.passed_url AS html_url  -- the passing run
        FROM flaky fl JOIN filtered f ON f.repo = fl.repo AND f.number = fl.pr_number
        LEFT JOIN same_commit s ON s.repo = fl.repo AND s.pr_number = fl.pr_number AND s.name = fl.name
        ORDER BY fl.passed_at DESC, fl.name""",
    )
