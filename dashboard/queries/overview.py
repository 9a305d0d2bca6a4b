"""The Overview and Trends pages: the headline metrics against the previous period, per-week figures,
the stages, PR sizes."""

from __future__ import annotations

import pandas as pd

from dashboard.queries.common import Connection, Filters, filtered_frame
from fetcher.compute.metrics import METRIC_BY_NAME, STAGES


def _label(metric: str) -> str:
    return METRIC_BY_NAME[metric].label


# (key, label, SQL aggregate over `filtered`, unit, lower is better)
OVERVIEW_METRICS: tuple[tuple[str, str, str, str, bool], ...] = (
    ("merged_prs", "Merged PRs", "count(*)", "", False),
    ("cycle_time_median", f"{_label('cycle_time_hours')}, median", "median(cycle_time_hours)", "h", True),
    ("cycle_time_p90", f"{_label('cycle_time_hours')}, p90", "quantile_cont(cycle_time_hours, 0.9)", "h", True),
    ("pickup_median", f"{_label('pickup_hours')}, median", "median(pickup_hours)", "h", True),
    (
        "first_review_median",
        f"{_label('time_to_first_review_hours')}, median",
        "median(time_to_first_review_hours)",
        "h",
        True,
    ),
    (
        "first_response_median",
        f"{_label('time_to_first_response_hours')}, median",
        "median(time_to_first_response_hours)",
        "h",
        True,
    ),
    ("review_rounds_mean", f"{_label('review_rounds')} per PR", "avg(review_rounds)", "", True),
    ("fix_response_median", f"{_label('avg_fix_response_hours')}, median", "median(avg_fix_response_hours)", "h", True),
)


def _overview_values(con: Connection, filters: Filters) -> dict[str, float | None]:
    selected = ", ".join(f"{sql} AS {key}" for key, _, sql, _, _ in OVERVIEW_METRICS)
    frame = filtered_frame(con, filters, f"SELECT {selected} FROM filtered")
    row = frame.iloc[0]
    return {key: (None if pd.isna(row[key]) else float(row[key])) for key, *_ in OVERVIEW_METRICS}


def overview(con: Connection, filters: Filters) -> pd.DataFrame:
    """One row per headline metric: this period, the previous period of equal length, the change."""
    current = _overview_values(con, filters)
    previous_filters = filters.previous()
    previous = _overview_values(con, previous_filters) if previous_filters else dict.fromkeys(current)
    rows = []
    for key, label, _, unit, lower_is_better in OVERVIEW_METRICS:
        now, before = current[key], previous[key]
        change = None if now is None or before is None else now - before
        rows.append(
            {
                "metric": key,
                "label": label,
                "unit": unit,
                "lower_is_better": lower_is_better,
                "current": now,
                "previous": before,
                "change": change,
            }
        )
    return pd.DataFrame(rows)


def weekly_trends(con: Connection, filters: Filters) -> pd.DataFrame:
    """Per ISO week (Monday, UTC) of the merge: throughput, medians of the metrics, PR size."""
    return filtered_frame(
        con,
        filters,
        """SELECT date_trunc('week', merged_at) AS week, count(*) AS merged_prs,
                  median(cycle_time_hours) AS cycle_time_hours, median(pickup_hours) AS pickup_hours,
                  median(review_rounds) AS review_rounds_median, avg(review_rounds) AS review_rounds_mean,
                  median(size) AS size_median, median(changed_files) AS changed_files_median
           FROM filtered GROUP BY ALL ORDER BY week""",
    )


def weekly_stages(con: Connection, filters: Filters) -> pd.DataFrame:
    """Per ISO week of the merge and stage (fetcher.compute.metrics.STAGES, in order): the mean hours of the
    stage. Means, not medians, so a week's stages stack up to its mean cycle time."""
    stages = ", ".join(f"avg({name}) AS {name}" for name in STAGES)
    wide = filtered_frame(
        con, filters, f"SELECT date_trunc('week', merged_at) AS week, {stages} FROM filtered GROUP BY ALL ORDER BY week"
    )
    long = wide.melt(id_vars="week", value_vars=list(STAGES), var_name="stage", value_name="hours")
    order = {name: index for index, name in enumerate(STAGES)}
    return long.assign(
        order=long["stage"].map(order), label=long["stage"].map(lambda name: METRIC_BY_NAME[name].label)
    ).sort_values(["week", "order"], ignore_index=True)


def stage_medians(con: Connection, filters: Filters) -> pd.DataFrame:
    """The median hours of each stage over the filtered PRs, in stage order, with its label."""
    medians = filtered_frame(
        con, filters, f"SELECT {', '.join(f'median({name}) AS {name}' for name in STAGES)} FROM filtered"
    )
    row = medians.iloc[0]
    return pd.DataFrame([{"stage": name, "label": METRIC_BY_NAME[name].label, "median": row[name]} for name in STAGES])


SIZE_BUCKETS = (("XS", 10), ("S", 50), ("M", 250), ("L", 1000), ("XL", None))


def size_distribution(con: Connection, filters: Filters) -> pd.DataFrame:
    """PRs per size bucket (lines added + deleted): XS ≤ 10, S ≤ 50, M ≤ 250, L ≤ 1000, XL more."""
    cases = " ".join(f"WHEN size <= {limit} THEN '{name}'" for name, limit in SIZE_BUCKETS if limit is not None)
    return filtered_frame(
        con,
        filters,
        f"""SELECT CASE {cases} ELSE 'XL' END AS bucket, count(*) AS prs, median(cycle_time_hours) AS cycle_time_hours
            FROM filtered GROUP BY 1 ORDER BY min(size)""",
    )


def size_and_cycle_time(con: Connection, filters: Filters) -> pd.DataFrame:
    """Each filtered PR's size (lines added + deleted) and cycle time, for a log-log scatter: PRs
    of size 0 or cycle time 0 (no place on a log axis) are left out."""
    return filtered_frame(
        con,
        filters,
        """SELECT repo, number, title, author, html_url, size, cycle_time_hours FROM filtered
           WHERE size > 0 AND cycle_time_hours > 0 ORDER BY merged_at, repo, number""",
    )
