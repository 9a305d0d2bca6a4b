"""The dashboard's queries: plain typed functions over a DuckDB connection that return DataFrames, one
module per subject. The pages import the functions they show and call them through ``dashboard.ui.Query``
(cached per version of the DB); everything is also importable from here, as tests and scripts do.
"""

from __future__ import annotations

from dashboard.queries.ci import CHECKS_CTE, FAILED_SQL, FAILURE_RATE_SQL, FLAKY_CTE, check_summary, flaky_checks
from dashboard.queries.common import (
    CLOCKS,
    DURATIONS,
    Connection,
    Filters,
    clocked,
    fetch_frame,
    filtered_frame,
    filtered_prs_cte,
    run,
)
from dashboard.queries.evidence import Evidence, metric_evidence
from dashboard.queries.health import (
    artifact_copies,
    database_size,
    health_summary,
    lake_health,
    merge_runs_health,
    partial_prs,
    recent_sync_runs,
)
from dashboard.queries.now import (
    abandoned_prs,
    agreement_breaches,
    agreement_weekly,
    latest_snapshot,
    open_queue,
    queue_over_time,
)
from dashboard.queries.options import FilterOptions, extra_bots, filter_options, work_calendar_spec
from dashboard.queries.overview import (
    OVERVIEW_METRICS,
    SIZE_BUCKETS,
    overview,
    size_and_cycle_time,
    size_distribution,
    stage_medians,
    weekly_stages,
    weekly_trends,
)
from dashboard.queries.prs import (
    PR_TABLE_COLUMNS,
    STAGE_BOUNDARY_COLUMNS,
    TIMELINE_EVENTS,
    TIMELINE_KINDS,
    pr_stages,
    pr_table,
    pr_timeline,
    pull_request,
)
from dashboard.queries.repositories import REPOSITORY_FIGURES, repository_comparison
from dashboard.queries.reviews import (
    FIRST_TIME_GROUPS,
    HUMAN_REVIEWS,
    first_time_contributors,
    fix_responses,
    review_rounds_distribution,
    reviewer_load,
    reviewer_response,
    unreviewed_prs,
)

__all__ = [
    "CHECKS_CTE",
    "CLOCKS",
    "DURATIONS",
    "FAILED_SQL",
    "FAILURE_RATE_SQL",
    "FIRST_TIME_GROUPS",
    "FLAKY_CTE",
    "HUMAN_REVIEWS",
    "OVERVIEW_METRICS",
    "PR_TABLE_COLUMNS",
    "REPOSITORY_FIGURES",
    "SIZE_BUCKETS",
    "STAGE_BOUNDARY_COLUMNS",
    "TIMELINE_EVENTS",
    "TIMELINE_KINDS",
    "Connection",
    "Evidence",
    "FilterOptions",
    "Filters",
    "abandoned_prs",
    "agreement_breaches",
    "agreement_weekly",
    "artifact_copies",
    "check_summary",
    "clocked",
    "database_size",
    "extra_bots",
    "fetch_frame",
    "filter_options",
    "filtered_frame",
    "filtered_prs_cte",
    "first_time_contributors",
    "fix_responses",
    "flaky_checks",
    "health_summary",
    "lake_health",
    "latest_snapshot",
    "merge_runs_health",
    "metric_evidence",
    "open_queue",
    "overview",
    "partial_prs",
    "pr_stages",
    "pr_table",
    "pr_timeline",
    "pull_request",
    "queue_over_time",
    "recent_sync_runs",
    "repository_comparison",
    "review_rounds_distribution",
    "reviewer_load",
    "reviewer_response",
    "run",
    "size_and_cycle_time",
    "size_distribution",
    "stage_medians",
    "unreviewed_prs",
    "weekly_stages",
    "weekly_trends",
    "work_calendar_spec",
]
