"""The Repositories page: each repository's figures side by side, as the other pages define them."""

from __future__ import annotations

import pandas as pd

from dashboard.queries.ci import CHECKS_CTE, FAILURE_RATE_SQL
from dashboard.queries.common import Connection, Filters, filtered_frame
from dashboard.queries.now import latest_snapshot, open_queue
from dashboard.queries.overview import OVERVIEW_METRICS
from fetcher.compute.metrics import STAGES


def _overview_aggregate(key: str) -> str:
    return next(sql for name, _, sql, _, _ in OVERVIEW_METRICS if name == key)


# (column, SQL aggregate over ``filtered``): what the Repositories page compares, each figure as
# the Overview cards, the stage medians and the weekly trends define it.
REPOSITORY_FIGURES: tuple[tuple[str, str], ...] = (
    ("merged_prs", _overview_aggregate("merged_prs")),
    ("cycle_time_median", _overview_aggregate("cycle_time_median")),
    *((f"{name}_median", f"median({name})") for name in STAGES),
    ("first_review_median", _overview_aggregate("first_review_median")),
    ("review_rounds_median", "median(review_rounds)"),
    ("review_rounds_mean", _overview_aggregate("review_rounds_mean")),
    # the stages' means (as weekly_stages): how a repository's PR time divides among them
    *((f"{name}_mean", f"avg({name})") for name in STAGES),
)


def repository_comparison(con: Connection, filters: Filters) -> pd.DataFrame:
    """One row per repository of the filtered PRs (``total`` false), then one for all of them
    together (``total`` true, ``repo`` NULL): REPOSITORY_FIGURES, the CI failure rate of their
    check runs (``ci_failure_rate``, as ``check_summary``'s), and when open-PR snapshots exist the
    open PRs of the latest ones (``open_prs``, as ``open_queue`` lists them: the merge dates do not
    apply). The total is computed over every PR (GROUPING SETS: the median of all PRs, not a
    median of the repositories' medians); a repository with open PRs and no merge gets a row."""
    figures = ", ".join(f"{sql} AS {name}" for name, sql in REPOSITORY_FIGURES)
    frame = filtered_frame(
        con,
        filters,
        f""", {CHECKS_CTE},
        prs AS (SELECT repo, grouping(repo) = 1 AS total, {figures} FROM filtered GROUP BY GROUPING SETS ((repo), ())),
        ci AS (SELECT c.repo, grouping(c.repo) = 1 AS total, {FAILURE_RATE_SQL} AS ci_failure_rate
               FROM checks c GROUP BY GROUPING SETS ((c.repo), ()))
        SELECT prs.*, ci.ci_failure_rate
        FROM prs LEFT JOIN ci ON ci.total = prs.total AND ci.repo IS NOT DISTINCT FROM prs.repo
        ORDER BY prs.total, prs.repo""",
    )
    if latest_snapshot(con, filters.repos) is None:
        return frame
    queue = open_queue(con, filters)
    waiting = queue.groupby("repo").size() if not queue.empty else pd.Series(dtype="int64")
    unmerged = sorted(set(waiting.index) - set(frame.loc[~frame["total"], "repo"]))
    if unmerged:
        rows = pd.DataFrame({"repo": unmerged, "total": False, "merged_prs": 0})
        frame = pd.concat([frame, rows], ignore_index=True).sort_values(["total", "repo"], ignore_index=True)
    return frame.assign(
        open_prs=[
            len(queue) if total else int(waiting.get(repo, 0))
            for repo, total in zip(frame["repo"], frame["total"], strict=True)
        ]
    )
