"""The dashboard's queries: plain functions over a DuckDB connection that return DataFrames.

Every function takes a connection (or cursor) and parameters and runs parameterised SQL: user
values (repositories, authors, dates, PR numbers) are always bound with ``?``; only table and
column names from constants in this module are put into the SQL text. Nothing here imports
Streamlit, so the numbers can be tested on their own.

The metric columns come from ``pr_metrics`` (computed by the fetcher, see docs/metrics.md); the
bot rule, the hours arithmetic, which reviews count, and each metric's label and definition are
``fetcher.compute.metrics``'s. The evidence queries at the end list the rows behind each metric of one PR
and mark the ones counted, so a surprising number can be checked by eye.

Longer than our ~400-line mark on purpose: one small function per number the pages show, sharing
the filtered-PRs CTE; split by page, those shared pieces would have to be imported back and forth.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import duckdb
import pandas as pd

from dashboard.agreements import Agreements, merged_measures, open_measures, working_days
from fetcher.compute.merge_runs import MergeRunCheck, check_merge_runs
from fetcher.compute.metrics import (
    FIRST_TIME_CONTRIBUTOR_SQL,
    METRIC_BY_NAME,
    STAGES,
    WORK_HOURS_TWINS,
    comment_exclusions,
    counted_review_body,
    hours_between,
    human_review,
    is_bot,
    is_merge_commit,
    review_exclusions,
    review_rounds_sql,
    reviewer_response_sql,
    stage_boundaries,
    work_hours_name,
    working_clock,
)
from fetcher.compute.whose_move import STALE_WORKING_DAYS, WHOSE_MOVE_SQL
from fetcher.compute.work_calendar import CLOCK_JOIN, stored_calendar, work_hours_between
from fetcher.publish.digest import ORDER as DIGEST_ORDER

Connection = duckdb.DuckDBPyConnection

# A deleted GitHub account is stored as a NULL login; GitHub shows it as "ghost".
GHOST = "ghost"
FAILED_CONCLUSIONS = ("failure", "timed_out", "startup_failure", "action_required")
TIMELINE_EVENTS = {
    "ready_for_review": "ready for review",
    "convert_to_draft": "converted to draft",
    "converted_to_draft": "converted to draft",
    "head_ref_force_pushed": "force push",
    "review_requested": "review requested",
}
# Lanes of the timeline, top to bottom.
TIMELINE_KINDS = (
    "opened",
    "converted to draft",
    "ready for review",
    "review requested",
    "commit",
    "force push",
    "check run",
    "review",
    "comment",
    "merged",
)
SIZE_BUCKETS = (("XS", 10), ("S", 50), ("M", 250), ("L", 1000), ("XL", None))


@dataclass(frozen=True)
class Filters:
    """What the sidebar selects. Empty tuples mean "all"; ``end`` is inclusive (UTC dates)."""

    repos: tuple[str, ...] = ()
    start: date | None = None
    end: date | None = None
    authors: tuple[str, ...] = ()
    base_refs: tuple[str, ...] = ()
    include_bots: bool = False
    clock: str = "wall"  # CLOCKS: durations in wall-clock hours or working hours

    @property
    def days(self) -> int | None:
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).days + 1

    def previous(self) -> Filters | None:
        """The period of equal length just before this one (None without a full date range)."""
        days = self.days
        if days is None or self.start is None:
            return None
        return replace(self, start=self.start - timedelta(days=days), end=self.start - timedelta(days=1))


# The clocks a duration can be read in (the sidebar's switch, ``?clock=work``).
CLOCKS = {"wall": "wall clock", "work": "working hours"}
# The durations the pages read from ``filtered``, each under the clock the filters select.
DURATIONS = (
    "cycle_time_hours",
    "pickup_hours",
    "time_to_first_review_hours",
    "time_to_first_response_hours",
    "avg_fix_response_hours",
    *STAGES,
    "coding_hours",
)


def clocked(column: str, clock: str) -> str:
    """The column a duration is read from under ``clock``: on the working clock its working-hours twin
    (``cycle_time_hours`` -> ``cycle_time_work_hours``, ``response_hours`` -> ``response_work_hours``;
    ``fetcher.compute.metrics.WORK_HOURS_TWINS``), else itself. Pages and queries name the wall-clock column
    only; this is the one place that maps it."""
    twin = work_hours_name(column)
    return twin if clock == "work" and twin in WORK_HOURS_TWINS else column


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def filtered_prs_cte(filters: Filters) -> tuple[str, list[Any]]:
    """``filtered AS (...)``: the merged PRs the filters select, with their metrics."""
    conditions = ["p.merged_at IS NOT NULL"]
    params: list[Any] = []
    if filters.repos:
        conditions.append("list_contains(?::VARCHAR[], p.repo)")
        params.append(list(filters.repos))
    if filters.start is not None:
        conditions.append("p.merged_at >= ?")
        params.append(_utc_midnight(filters.start))
    if filters.end is not None:
        conditions.append("p.merged_at < ?")
        params.append(_utc_midnight(filters.end + timedelta(days=1)))
    if filters.authors:
        conditions.append(f"list_contains(?::VARCHAR[], coalesce(p.author_login, '{GHOST}'))")
        params.append(list(filters.authors))
    if filters.base_refs:
        conditions.append("list_contains(?::VARCHAR[], p.base_ref)")
        params.append(list(filters.base_refs))
    if not filters.include_bots:
        conditions.append(f"NOT {is_bot('p.author_login', 'p.author_type')}")
    cte = f"""filtered AS (
        SELECT p.repo, p.number, p.title, coalesce(p.author_login, '{GHOST}') AS author, p.author_login, p.author_type,
               {is_bot("p.author_login", "p.author_type")} AS author_is_bot,
               p.base_ref, p.created_at, p.merged_at, p.merged_by_login, p.html_url, p.sync_status,
               p.author_association,
               coalesce(p.additions, 0) AS additions, coalesce(p.deletions, 0) AS deletions,
               coalesce(p.additions, 0) + coalesce(p.deletions, 0) AS size, p.changed_files, p.commits_count,
               {", ".join(f"m.{clocked(name, filters.clock)} AS {name}" for name in DURATIONS)},
               coalesce(m.review_rounds, 0) AS review_rounds, m.coding_reliable,
               coalesce(m.total_comments, 0) AS total_comments, m.commits_after_first_review,
               coalesce(m.force_pushes, 0) AS force_pushes, m.first_review_at, m.ready_for_review_at
        FROM pull_requests p LEFT JOIN pr_metrics m ON m.repo = p.repo AND m.number = p.number
        WHERE {" AND ".join(conditions)})"""
    return cte, params


def _df(con: Connection, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def _filtered(con: Connection, filters: Filters, select: str, params: list[Any] | None = None) -> pd.DataFrame:
    """Run ``WITH filtered AS (...) <select>``; ``params`` follow the CTE's own."""
    cte, cte_params = filtered_prs_cte(filters)
    return _df(con, f"WITH {cte}\n{select}", cte_params + list(params or []))


# --------------------------------------------------------------------------- sidebar


@dataclass(frozen=True)
class FilterOptions:
    repos: tuple[str, ...]
    authors: tuple[str, ...]
    base_refs: tuple[str, ...]
    first_merge: date | None
    last_merge: date | None
    merged_prs: int


def filter_options(con: Connection) -> FilterOptions:
    """The choices the sidebar offers, from every merged PR."""
    merged = "FROM pull_requests WHERE merged_at IS NOT NULL"
    repos = [row[0] for row in con.execute(f"SELECT DISTINCT repo {merged} ORDER BY 1").fetchall()]
    authors = con.execute(
        f"SELECT DISTINCT coalesce(author_login, '{GHOST}') {merged} ORDER BY lower(coalesce(author_login, '{GHOST}'))"
    ).fetchall()
    bases = con.execute(f"SELECT DISTINCT base_ref {merged} AND base_ref IS NOT NULL ORDER BY 1").fetchall()
    row = con.execute(f"SELECT min(merged_at)::DATE, max(merged_at)::DATE, count(*) {merged}").fetchone()
    first, last, count = row if row else (None, None, 0)
    return FilterOptions(
        tuple(repos), tuple(a for (a,) in authors), tuple(b for (b,) in bases), first, last, int(count or 0)
    )


# --------------------------------------------------------------------------- overview


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
    frame = _filtered(con, filters, f"SELECT {selected} FROM filtered")
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


# --------------------------------------------------------------------------- trends


def weekly_trends(con: Connection, filters: Filters) -> pd.DataFrame:
    """Per ISO week (Monday, UTC) of the merge: throughput, medians of the metrics, PR size."""
    return _filtered(
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
    wide = _filtered(
        con, filters, f"SELECT date_trunc('week', merged_at) AS week, {stages} FROM filtered GROUP BY ALL ORDER BY week"
    )
    long = wide.melt(id_vars="week", value_vars=list(STAGES), var_name="stage", value_name="hours")
    order = {name: index for index, name in enumerate(STAGES)}
    return long.assign(
        order=long["stage"].map(order), label=long["stage"].map(lambda name: METRIC_BY_NAME[name].label)
    ).sort_values(["week", "order"], ignore_index=True)


def stage_medians(con: Connection, filters: Filters) -> pd.DataFrame:
    """The median hours of each stage over the filtered PRs, in stage order, with its label."""
    medians = _filtered(
        con, filters, f"SELECT {', '.join(f'median({name}) AS {name}' for name in STAGES)} FROM filtered"
    )
    row = medians.iloc[0]
    return pd.DataFrame([{"stage": name, "label": METRIC_BY_NAME[name].label, "median": row[name]} for name in STAGES])


def work_calendar_spec(con: Connection) -> str:
    """The working-hours calendar the stored ``_work_hours`` metrics use, as its setting's text."""
    return stored_calendar(con).spec


def size_distribution(con: Connection, filters: Filters) -> pd.DataFrame:
    """PRs per size bucket (lines added + deleted): XS ≤ 10, S ≤ 50, M ≤ 250, L ≤ 1000, XL more."""
    cases = " ".join(f"WHEN size <= {limit} THEN '{name}'" for name, limit in SIZE_BUCKETS if limit is not None)
    return _filtered(
        con,
        filters,
        f"""SELECT CASE {cases} ELSE 'XL' END AS bucket, count(*) AS prs, median(cycle_time_hours) AS cycle_time_hours
            FROM filtered GROUP BY 1 ORDER BY min(size)""",
    )


def size_and_cycle_time(con: Connection, filters: Filters) -> pd.DataFrame:
    """Each filtered PR's size (lines added + deleted) and cycle time, for a log-log scatter: PRs
    of size 0 or cycle time 0 (no place on a log axis) are left out."""
    return _filtered(
        con,
        filters,
        """SELECT repo, number, title, author, html_url, size, cycle_time_hours FROM filtered
           WHERE size > 0 AND cycle_time_hours > 0 ORDER BY merged_at, repo, number""",
    )


# --------------------------------------------------------------------------- review dynamics


def review_rounds_distribution(con: Connection, filters: Filters) -> pd.DataFrame:
    return _filtered(
        con,
        filters,
        "SELECT review_rounds, count(*) AS prs FROM filtered GROUP BY ALL ORDER BY review_rounds",
    )


HUMAN_REVIEWS = f"""human_reviews AS (  -- reviewer activity: not a bot, not the author, not PENDING, before the merge
    SELECT r.repo, r.pr_number, r.id, r.reviewer_login, r.state, r.submitted_at
    FROM pr_reviews r JOIN filtered f ON r.repo = f.repo AND r.pr_number = f.number
    WHERE {human_review("r", "f")}
)"""


def fix_responses(con: Connection, filters: Filters) -> pd.DataFrame:
    """Each review round (``fetcher.compute.metrics.review_rounds_sql``: a change request answered by a later
    commit; requests of the same second are one round) and how long the fix took, under the filters' clock."""
    with working_clock(con):
        return _filtered(
            con,
            filters,
            f""", {HUMAN_REVIEWS},
            fix_commits AS (
                SELECT c.repo, c.pr_number, c.committed_at
                FROM pr_commits c JOIN filtered f ON c.repo = f.repo AND c.pr_number = f.number
                WHERE NOT {is_merge_commit("c")}
            )
            SELECT repo, pr_number AS number, reviewers AS reviewer, submitted_at AS requested_at, fix_at AS fixed_at,
                   {clocked("fix_response_hours", filters.clock)} AS fix_response_hours
            FROM ({review_rounds_sql("human_reviews", "fix_commits")})
            ORDER BY requested_at, repo, number""",
        )


def reviewer_load(con: Connection, filters: Filters) -> pd.DataFrame:
    """Per human reviewer: PRs reviewed, reviews by state, how often first, median pickup.

    A reviewer's pickup on a PR (``pickup_hours``, and ``pickup_work_hours`` in working hours) runs from
    the PR's ready_for_review_at to their first review on it; the median is read under the filters' clock."""
    with working_clock(con):
        return _filtered(
            con,
            filters,
            f""", {HUMAN_REVIEWS},
            per_pr AS (
                SELECT repo, pr_number, coalesce(reviewer_login, '{GHOST}') AS reviewer,
                       min(submitted_at) AS first_at, count(*) AS reviews,
                       count(*) FILTER (WHERE state = 'CHANGES_REQUESTED') AS changes_requested,
                       count(*) FILTER (WHERE state = 'APPROVED') AS approvals
                FROM human_reviews GROUP BY ALL
            ),
            pickups AS (
                SELECT pp.*, f.first_review_at, {hours_between("f.ready_for_review_at", "pp.first_at")} AS pickup_hours,
                       {work_hours_between("f.ready_for_review_at", "pp.first_at")} AS pickup_work_hours
                FROM per_pr pp JOIN filtered f ON f.repo = pp.repo AND f.number = pp.pr_number {CLOCK_JOIN}
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
    return _filtered(
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
    return _filtered(
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
    return _filtered(
        con,
        filters,
        """SELECT repo, number, html_url, title, author, merged_by_login AS merged_by, merged_at, size, changed_files
           FROM filtered WHERE first_review_at IS NULL ORDER BY merged_at DESC""",
    )


# --------------------------------------------------------------------------- CI

FAILED_SQL = "c.conclusion IN (" + ", ".join(f"'{c}'" for c in FAILED_CONCLUSIONS) + ")"
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
    return _filtered(
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
    return _filtered(
        con,
        filters,
        f""", {CHECKS_CTE}, {FLAKY_CTE},
        same_commit AS (
            SELECT DISTINCT a.repo, a.pr_number, a.name
            FROM checks a JOIN checks b
              ON a.repo = b.repo AND a.pr_number = b.pr_number AND a.name = b.name AND a.head_sha = b.head_sha
            WHERE a.conclusion IN ({", ".join(f"'{c}'" for c in FAILED_CONCLUSIONS)})
              AND b.conclusion = 'success' AND b.at > a.at
        )
        SELECT fl.repo, fl.pr_number AS number, f.title, fl.name, fl.failures, fl.first_failure_at, fl.passed_at,
               s.name IS NOT NULL AS same_commit, fl.passed_url AS html_url  -- the passing run
        FROM flaky fl JOIN filtered f ON f.repo = fl.repo AND f.number = fl.pr_number
        LEFT JOIN same_commit s ON s.repo = fl.repo AND s.pr_number = fl.pr_number AND s.name = fl.name
        ORDER BY fl.passed_at DESC, fl.name""",
    )


# --------------------------------------------------------------------------- repositories


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
    frame = _filtered(
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


# --------------------------------------------------------------------------- now: open PRs and agreements
#
# The open queue is each repository's latest open-PR snapshot (``open-prs``), classified by
# ``fetcher.compute.whose_move`` as of the latest snapshot of the repositories shown (not the wall clock:
# the page says what the last snapshot saw). The sidebar's repositories, authors and bot switch
# apply; its merge dates do not (these PRs are not merged).

_QUEUE_FILTER = f"""(len($repos) = 0 OR list_contains($repos, repo))
    AND (len($authors) = 0 OR list_contains($authors, coalesce(author_login, '{GHOST}')))
    AND ($bots OR NOT {is_bot("author_login", "author_type")})"""


def latest_snapshot(con: Connection, repos: tuple[str, ...] = ()) -> datetime | None:
    """When the latest open-PR snapshot of these repositories (all when empty) was taken; None: never."""
    row = con.execute(
        "SELECT max(snapshot_at) FROM open_pr_snapshot_runs WHERE len($repos) = 0 OR list_contains($repos, repo)",
        {"repos": list(repos)},
    ).fetchone()
    return row[0] if row else None


def _queue_params(filters: Filters, as_of: datetime) -> dict[str, Any]:
    return {
        "repo": None,
        "as_of": as_of,
        "stale_days": STALE_WORKING_DAYS,
        "repos": list(filters.repos),
        "authors": list(filters.authors),
        "bots": filters.include_bots,
    }


def _queue_cte() -> str:
    """``queue AS (...)``: the open PRs of the latest snapshots with their move, as of ``$as_of``."""
    return f"""queue AS (
        SELECT *, coalesce(author_login, '{GHOST}') AS author, coalesce(additions, 0) + coalesce(deletions, 0) AS size
        FROM ({WHOSE_MOVE_SQL}) WHERE {_QUEUE_FILTER})"""


def open_queue(con: Connection, filters: Filters) -> pd.DataFrame:
    """Every open PR of the latest snapshots that the filters select, with whose move it is and
    how long it has waited (``waited_days``, calendar days since ``waiting_since``), in the
    digest's order of moves, longest waiting first."""
    as_of = latest_snapshot(con, filters.repos)
    if as_of is None:
        return pd.DataFrame()
    params = {**_queue_params(filters, as_of), "order": list(DIGEST_ORDER)}
    return con.execute(
        f"""WITH {_queue_cte()}
        SELECT move, repo, number, title, author, waiting_since,
               (epoch($as_of::TIMESTAMPTZ) - epoch(waiting_since)) / 86400 AS waited_days, idle_working_days,
               draft, size, human_reviews, checks_state, mergeable, created_at, snapshot_at, html_url
        FROM queue ORDER BY list_position($order, move), waiting_since NULLS LAST, repo, number""",
        params,
    ).df()


def queue_over_time(con: Connection, filters: Filters) -> pd.DataFrame:
    """Per snapshot run: the open PRs it saw that the filters select, ready and drafts (a run
    that saw none counts 0)."""
    return con.execute(
        f"""WITH seen AS (SELECT * FROM open_pr_snapshots WHERE {_QUEUE_FILTER})
        SELECT r.repo, r.snapshot_at, count(s.number) FILTER (WHERE NOT s.draft) AS ready,
               count(s.number) FILTER (WHERE s.draft) AS drafts, count(s.number) AS open_prs
        FROM open_pr_snapshot_runs r
        LEFT JOIN seen s ON s.repo = r.repo AND s.snapshot_at = r.snapshot_at
        WHERE len($repos) = 0 OR list_contains($repos, r.repo)
        GROUP BY ALL ORDER BY r.snapshot_at, r.repo""",
        {"repos": list(filters.repos), "authors": list(filters.authors), "bots": filters.include_bots},
    ).df()


def abandoned_prs(con: Connection, filters: Filters, days: int = 30) -> pd.DataFrame:
    """PRs closed without merge (``open_pr_closures.merged = false``) in the ``days`` days up to the
    latest snapshot, newest first, with what their last snapshot said about them."""
    as_of = latest_snapshot(con, filters.repos)
    if as_of is None:
        return pd.DataFrame()
    return con.execute(
        f"""WITH last_seen AS (
            SELECT repo, number, arg_max(title, snapshot_at) AS title, arg_max(html_url, snapshot_at) AS html_url,
                   arg_max(author_login, snapshot_at) AS author_login, arg_max(author_type, snapshot_at) AS author_type,
                   min(created_at) AS created_at
            FROM open_pr_snapshots GROUP BY repo, number
        ), closed AS (
            SELECT c.*, l.* EXCLUDE (repo, number) FROM open_pr_closures c LEFT JOIN last_seen l USING (repo, number)
            WHERE NOT c.merged AND c.closed_at > $since
        )
        SELECT repo, number, title, coalesce(author_login, '{GHOST}') AS author, created_at, closed_at,
               {working_days("created_at", "closed_at")} AS open_working_days, state_reason,
               closed_by_login AS closed_by, html_url
        FROM closed WHERE {_QUEUE_FILTER} ORDER BY closed_at DESC, repo, number""",
        {
            "since": as_of - timedelta(days=days),
            "repos": list(filters.repos),
            "authors": list(filters.authors),
            "bots": filters.include_bots,
        },
    ).df()


def agreement_weekly(con: Connection, filters: Filters, agreed: Agreements) -> pd.DataFrame:
    """Per ISO week of the merge and agreement: the merged PRs it applies to (``prs``), how many
    met it, and the share (docs/metrics.md "Working agreements")."""
    active = agreed.active()
    if not active:
        return pd.DataFrame(columns=["week", "agreement", "label", "prs", "met", "share"])
    measures = merged_measures()
    parts = [
        f"SELECT date_trunc('week', merged_at) AS week, {position} AS position, '{name}' AS agreement, ? AS label, "
        f"{measures[name]} AS measure, ? AS target FROM filtered"
        for position, name in enumerate(active)
    ]
    params = [value for name, limit in active.items() for value in (agreed.label(name), limit)]
    return _filtered(
        con,
        filters,
        f""", measured AS ({" UNION ALL ".join(parts)})
        SELECT week, agreement, label, count(measure) AS prs, count(*) FILTER (WHERE measure <= target) AS met,
               met / nullif(prs, 0) AS share
        FROM measured GROUP BY week, position, agreement, label ORDER BY week, position""",
        params,
    )


def agreement_breaches(con: Connection, filters: Filters, agreed: Agreements) -> pd.DataFrame:
    """The open PRs of the latest snapshots that break an agreement now: a row per PR and agreement
    broken, with the PR's measure (``value``) and the limit."""
    as_of = latest_snapshot(con, filters.repos)
    active = agreed.active()
    if as_of is None or not active:
        return pd.DataFrame()
    measures = open_measures("$as_of")
    parts = [
        f"SELECT repo, number, title, author, move, '{name}' AS agreement, ${name}_label AS label, "
        f"{measures[name]} AS value, ${name} AS target, html_url FROM queue"
        for name in active
    ]
    params = {**_queue_params(filters, as_of), **active, **{f"{n}_label": agreed.label(n) for n in active}}
    return con.execute(
        f"""WITH {_queue_cte()}, measured AS ({" UNION ALL ".join(parts)})
        SELECT * EXCLUDE (target), target AS "limit" FROM measured WHERE value > target
        ORDER BY list_position($names, agreement), value DESC, repo, number""",
        {**params, "names": list(active)},
    ).df()


# --------------------------------------------------------------------------- bots


def extra_bots(con: Connection) -> list[str]:
    """The bot logins listed besides GitHub's own rule (MERGELENS_BOTS / --bots), as the metrics used them."""
    return [login for (login,) in con.execute("SELECT login FROM bot_logins ORDER BY login").fetchall()]


# --------------------------------------------------------------------------- PR explorer

PR_TABLE_COLUMNS = (
    "repo, number, html_url, title, author, base_ref, created_at, merged_at, additions, deletions, size, "
    "changed_files, cycle_time_hours, pickup_hours, time_to_first_review_hours, time_to_first_response_hours, "
    "review_rounds, "
    "avg_fix_response_hours, total_comments, commits_after_first_review, force_pushes, author_is_bot, sync_status, "
    f"{', '.join(STAGES)}, coding_hours, coding_reliable"
)


def pr_table(con: Connection, filters: Filters) -> pd.DataFrame:
    """The filtered merged PRs with their metrics, newest merge first (also the CSV download)."""
    return _filtered(con, filters, f"SELECT {PR_TABLE_COLUMNS} FROM filtered ORDER BY merged_at DESC, repo, number")


def pull_request(con: Connection, repo: str, number: int) -> pd.DataFrame:
    """One PR (any state) with its metrics: zero or one row."""
    return _df(
        con,
        f"""SELECT p.repo, p.number, p.title, p.body, coalesce(p.author_login, '{GHOST}') AS author, p.state,
                   p.base_ref, p.head_ref, p.html_url, p.created_at, p.merged_at, p.merged_by_login,
                   p.additions, p.deletions, p.changed_files, p.commits_count, p.sync_status, p.failed_sections,
                   p.truncated_sections, p.fetched_at, m.* EXCLUDE (repo, number)
            FROM pull_requests p LEFT JOIN pr_metrics m ON m.repo = p.repo AND m.number = p.number
            WHERE p.repo = ? AND p.number = ?""",
        [repo, number],
    )


def pr_timeline(con: Connection, repo: str, number: int) -> pd.DataFrame:
    """Everything that happened on one PR on one time axis: ``at`` (and ``end_at`` for check
    runs), ``kind`` (see TIMELINE_KINDS), ``actor``, ``is_bot``, ``detail`` (plain text), ``html_url``
    (the PR's page for opened and merged, the run's for a check run; else NULL; as stored: unchecked)."""
    events = ", ".join(f"('{event}', '{kind}')" for event, kind in TIMELINE_EVENTS.items())
    key = "repo = ? AND pr_number = ?"
    frame = _df(
        con,
        f"""
        SELECT created_at AS at, NULL::TIMESTAMPTZ AS end_at, 'opened' AS kind,
               coalesce(author_login, '{GHOST}') AS actor, {is_bot("author_login", "author_type")} AS is_bot,
               'opened against ' || coalesce(base_ref, '?') AS detail, html_url
        FROM pull_requests WHERE repo = ? AND number = ?
        UNION ALL
        SELECT merged_at, NULL, 'merged', coalesce(merged_by_login, '{GHOST}'), false,
               'merged into ' || coalesce(base_ref, '?'), html_url
        FROM pull_requests WHERE repo = ? AND number = ? AND merged_at IS NOT NULL
        UNION ALL
        SELECT e.created_at, NULL, k.kind, coalesce(e.actor_login, '{GHOST}'),
               {is_bot("e.actor_login", "e.actor_type")},
               CASE WHEN e.requested_reviewer_login IS NOT NULL THEN 'asked ' || e.requested_reviewer_login
                    ELSE e.event END, NULL
        FROM pr_events e JOIN (VALUES {events}) k(event, kind) ON k.event = e.event
        WHERE e.{key}
        UNION ALL
        SELECT committed_at, NULL, 'commit', coalesce(author_login, author_name, '{GHOST}'),
               {is_bot("author_login", "author_type")},
               left(sha, 7) || ' ' || split_part(coalesce(message, ''), chr(10), 1)
                   || CASE WHEN authored_at IS DISTINCT FROM committed_at
                           THEN ' (authored ' || strftime(authored_at, '%Y-%m-%d %H:%M') || ')' ELSE '' END, NULL
        FROM pr_commits WHERE {key}
        UNION ALL
        SELECT submitted_at, NULL, 'review', coalesce(reviewer_login, '{GHOST}'),
               {is_bot("reviewer_login", "reviewer_type")},
               state || CASE WHEN trim(coalesce(body, '')) <> '' THEN ': ' || left(body, 200) ELSE '' END, NULL
        FROM pr_reviews WHERE {key} AND submitted_at IS NOT NULL
        UNION ALL
        SELECT created_at, NULL, 'comment', coalesce(author_login, '{GHOST}'), {is_bot("author_login", "author_type")},
               comment_type || CASE WHEN path IS NOT NULL THEN ' on ' || path ELSE '' END || ': '
                   || left(coalesce(body, ''), 200), NULL
        FROM pr_comments WHERE {key}
        UNION ALL
        SELECT coalesce(started_at, completed_at), completed_at, 'check run', coalesce(app_slug, '?'), true,
               name || ': ' || coalesce(conclusion, status, '?')
                   || CASE WHEN started_at IS NOT NULL AND completed_at IS NOT NULL
                           THEN ' in ' || round(epoch(completed_at) - epoch(started_at))::BIGINT || ' s' ELSE '' END,
               html_url
        FROM pr_check_runs WHERE {key}
        """,
        [repo, number] * 7,
    )
    frame = frame[frame["at"].notna()]
    order = {kind: i for i, kind in enumerate(TIMELINE_KINDS)}
    frame = frame.assign(lane=frame["kind"].map(order)).sort_values(["at", "lane"], kind="stable")
    return frame.drop(columns="lane").reset_index(drop=True)


STAGE_BOUNDARY_COLUMNS = ["stage", "label", "from_at", "from_event", "to_at", "to_event", "hours", "work_hours"]


def pr_stages(con: Connection, repo: str, number: int) -> pd.DataFrame:
    """One merged PR's four stages as the metrics compute them (``fetcher.compute.metrics.stage_boundaries``):
    each with its label, the instants that bound it and what each fell on, its hours and working hours;
    empty for a PR that is not merged."""
    frame = pd.DataFrame(
        stage_boundaries(con, repo, number), columns=[c for c in STAGE_BOUNDARY_COLUMNS if c != "label"]
    )
    frame.insert(1, "label", frame["stage"].map(lambda name: METRIC_BY_NAME[name].label))
    return frame


@dataclass(frozen=True)
class Evidence:
    """One metric of one PR, with the rows it was computed from (``counted`` marks the ones used)."""

    metric: str
    label: str
    value: Any
    definition: str
    rows: pd.DataFrame


def metric_evidence(con: Connection, repo: str, number: int) -> list[Evidence]:
    """Each metric of one PR next to the rows that produced it (docs/metrics.md definitions)."""
    pr = pull_request(con, repo, number)
    if pr.empty:
        return []
    p = pr.iloc[0]
    key = [repo, number]
    exclusions = " ".join(f"WHEN {condition} THEN '{reason}'" for reason, condition in review_exclusions("r", "p"))
    reviews = _df(
        con,
        f"""SELECT r.id, coalesce(r.reviewer_login, '{GHOST}') AS reviewer, r.reviewer_type, r.state, r.submitted_at,
                   CASE {exclusions} END AS excluded_because,
                   left(coalesce(r.body, ''), 200) AS body
            FROM pr_reviews r JOIN pull_requests p ON p.repo = r.repo AND p.number = r.pr_number
            WHERE r.repo = ? AND r.pr_number = ? ORDER BY r.submitted_at NULLS LAST, r.id""",
        key,
    )
    reviews["counted"] = reviews["excluded_because"].isna()
    first_review_at = p["first_review_at"]
    reviews["first_review"] = reviews["counted"] & (reviews["submitted_at"] == first_review_at)

    ready_events = _df(
        con,
        "SELECT seq, event, actor_login, created_at FROM pr_events "
        "WHERE repo = ? AND pr_number = ? AND event = 'ready_for_review' ORDER BY created_at, seq",
        key,
    )
    ready_events["counted"] = ready_events["created_at"] == p["ready_for_review_at"]

    commits = _df(
        con,
        "SELECT sha, coalesce(author_login, author_name) AS author, authored_at, committed_at, "
        f"{is_merge_commit('c')} AS merge_commit, split_part(coalesce(message, ''), chr(10), 1) AS message "
        "FROM pr_commits c WHERE repo = ? AND pr_number = ? ORDER BY committed_at, position, sha",
        key,
    )
    commits["counted"] = ~commits["merge_commit"] & (
        commits["committed_at"] > first_review_at if pd.notna(first_review_at) else False
    )  # after the first review, and no merge commit

    rounds = _df(
        con,
        f"""SELECT r.id AS review_id, coalesce(r.reviewer_login, '{GHOST}') AS reviewer, r.submitted_at,
                   min(c.committed_at) AS first_commit_after,
                   arg_min(c.sha, c.committed_at) AS fix_sha,
                   {hours_between("r.submitted_at", "min(c.committed_at)")} AS fix_response_hours
            FROM pr_reviews r JOIN pull_requests p ON p.repo = r.repo AND p.number = r.pr_number
            LEFT JOIN pr_commits c ON c.repo = r.repo AND c.pr_number = r.pr_number AND c.committed_at > r.submitted_at
                 AND NOT {is_merge_commit("c")}
            WHERE r.repo = ? AND r.pr_number = ? AND r.state = 'CHANGES_REQUESTED' AND {human_review("r", "p")}
            GROUP BY r.id, r.reviewer_login, r.submitted_at ORDER BY r.submitted_at""",
        key,
    )
    rounds["counted"] = rounds["first_commit_after"].notna()

    comments = _df(
        con,
        f"""SELECT 'issue comment' AS kind, id, coalesce(author_login, '{GHOST}') AS author, author_type, created_at,
                   NOT {is_bot("author_login", "author_type")} AS counted, left(coalesce(body, ''), 200) AS body
            FROM pr_comments WHERE repo = ? AND pr_number = ? AND comment_type = 'issue'
            UNION ALL
            SELECT 'review comment', id, coalesce(author_login, '{GHOST}'), author_type, created_at,
                   NOT {is_bot("author_login", "author_type")}, left(coalesce(body, ''), 200)
            FROM pr_comments WHERE repo = ? AND pr_number = ? AND comment_type = 'review'
            UNION ALL
            SELECT 'review body', r.id, coalesce(r.reviewer_login, '{GHOST}'), r.reviewer_type, r.submitted_at,
                   {counted_review_body("r")}, left(coalesce(r.body, ''), 200)
            FROM pr_reviews r WHERE r.repo = ? AND r.pr_number = ?
            ORDER BY created_at NULLS LAST, id""",
        key * 3,
    )

    comment_why = " ".join(f"WHEN {condition} THEN '{reason}'" for reason, condition in comment_exclusions("m", "p"))
    responses = _df(
        con,
        f"""SELECT m.comment_type || ' comment' AS kind, m.id, coalesce(m.author_login, '{GHOST}') AS author,
                   m.author_type, m.created_at AS at, CASE {comment_why} END AS excluded_because
            FROM pr_comments m JOIN pull_requests p ON p.repo = m.repo AND p.number = m.pr_number
            WHERE m.repo = ? AND m.pr_number = ?""",
        key,
    )
    review_rows = reviews.rename(columns={"reviewer": "author", "reviewer_type": "author_type", "submitted_at": "at"})
    responses = pd.concat(
        [responses, review_rows.assign(kind="review")[list(responses.columns)]], ignore_index=True
    ).sort_values(["at", "id"], na_position="last", ignore_index=True)
    responses["counted"] = responses["excluded_because"].isna() & (responses["at"] == p["first_response_at"])

    force_pushes = _df(
        con,
        "SELECT seq, actor_login, created_at FROM pr_events "
        "WHERE repo = ? AND pr_number = ? AND event = 'head_ref_force_pushed' ORDER BY created_at, seq",
        key,
    )
    force_pushes["counted"] = True
    stages = pr_stages(con, repo, number)

    cycle = pd.DataFrame([{"created_at": p["created_at"], "merged_at": p["merged_at"]}])
    ready_rows = pd.concat(
        [
            pd.DataFrame(
                [{"event": "opened", "actor_login": p["author"], "created_at": p["created_at"], "counted": False}]
            ),
            ready_events.drop(columns="seq"),
        ],
        ignore_index=True,
    )
    if not ready_rows["counted"].any():
        ready_rows.loc[0, "counted"] = True  # no ready_for_review event before the review: created_at
    rows = {
        "cycle_time_hours": cycle,
        "first_review_at": reviews,
        "ready_for_review_at": ready_rows,
        "pickup_hours": reviews[reviews["first_review"]],
        "first_response_at": responses,
        "review_rounds": rounds,
        "avg_fix_response_hours": rounds[rounds["counted"]],
        "commits_after_first_review": commits,
        "total_comments": comments,
        "force_pushes": force_pushes,
        **{
            row.stage: stages[stages["stage"] == row.stage].drop(columns=["stage", "label"])
            for row in stages.itertuples()
        },
    }
    return [
        Evidence(name, METRIC_BY_NAME[name].label, p[name], METRIC_BY_NAME[name].definition, frame)
        for name, frame in rows.items()
    ]


# --------------------------------------------------------------------------- data health


def health_summary(con: Connection, repos: tuple[str, ...] = ()) -> dict[str, Any]:
    """Counts and the last sync, for the repositories given (all when empty)."""
    scope = "(len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], repo))"
    params = [list(repos), list(repos)]
    prs = con.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE merged_at IS NOT NULL),
                   count(*) FILTER (WHERE sync_status = 'partial'),
                   count(*) FILTER (WHERE len(coalesce(truncated_sections, [])) > 0),
                   max(fetched_at)
            FROM pull_requests WHERE {scope}""",
        params,
    ).fetchone()
    runs = con.execute(
        f"""SELECT count(*), max(finished_at) FILTER (WHERE status = 'complete'),
                   max(coalesce(finished_at, started_at)), count(*) FILTER (WHERE status = 'failed')
            FROM sync_runs WHERE {scope}""",
        params,
    ).fetchone()
    assert prs is not None and runs is not None
    return {
        "prs": prs[0],
        "merged_prs": prs[1],
        "partial_prs": prs[2],
        "truncated_prs": prs[3],
        "last_fetched_at": prs[4],
        "sync_runs": runs[0],
        "last_successful_sync_at": runs[1],
        "last_sync_at": runs[2],
        "failed_runs": runs[3],
    }


def merge_runs_health(
    con: Connection, repos: tuple[str, ...], as_of: datetime, missed_after: timedelta, days: int
) -> list[MergeRunCheck]:
    """Each repository's merge runs as of ``as_of``, as the scheduled run's ``--check-merge-runs``
    decides (``fetcher.compute.merge_runs``), with the merged PRs they missed that were first stored in the
    last ``days``. ``as_of`` is an argument, not the DB's clock: a stopped pipeline leaves the file
    unchanged, and the cache must not keep an answer from before it stopped."""
    return check_merge_runs(con, list(repos), as_of, missed_after, as_of - timedelta(days=days))


def lake_health(con: Connection) -> dict[str, Any] | None:
    """On a DuckLake: its live Parquet files and its last compaction (``python -m fetcher
    compact``); None on a DuckDB file, which has neither."""
    from fetcher.storage.lake.compact import data_files, last_compaction

    lakes = con.execute("SELECT database_name FROM system.main.duckdb_databases() WHERE type = 'ducklake'").fetchall()
    if not lakes:
        return None
    (database,) = lakes[0]
    last = last_compaction(con, database)
    return {
        "data_files": data_files(con, database),
        "last_compaction_at": last[0] if last else None,
        "data_files_after_compaction": last[1] if last else None,
    }


def database_size(con: Connection) -> int | None:
    """The DB file's size in bytes (DuckDB's blocks in use and free); None on a DuckLake, whose
    Parquet files ``lake_health`` counts instead."""
    kind = con.execute(
        "SELECT type FROM system.main.duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    if kind is None or kind[0] != "duckdb":  # a lake: pragma_database_size is a DuckDB file's
        return None
    row = con.execute(
        "SELECT total_blocks * block_size FROM pragma_database_size() WHERE database_name = current_database()"
    ).fetchone()
    return int(row[0]) if row else None


def artifact_copies(con: Connection) -> pd.DataFrame:
    """The copies GitHub held of an ``artifact:NAME`` DB when the run that wrote this DB listed
    them (before its own upload; ``prune-artifacts`` then keeps the newest few): empty for a DB
    kept anywhere else. ``status``: used (this DB's previous version), untrusted, older."""
    return _df(
        con,
        """SELECT name, artifact_id, status, created_at, expires_at, size_bytes, listed_at
           FROM artifact_copies ORDER BY created_at DESC NULLS LAST, artifact_id DESC""",
    )


def partial_prs(con: Connection, repos: tuple[str, ...] = ()) -> pd.DataFrame:
    """PRs whose last sync was partial or cut by GitHub's caps, and which sections."""
    return _df(
        con,
        """SELECT repo, number, title, sync_status, array_to_string(failed_sections, ', ') AS failed_sections,
                  array_to_string(truncated_sections, ', ') AS truncated_sections, fetched_at, html_url
           FROM pull_requests
           WHERE (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], repo))
             AND (sync_status = 'partial' OR len(coalesce(truncated_sections, [])) > 0)
           ORDER BY fetched_at DESC, repo, number""",
        [list(repos), list(repos)],
    )


def recent_sync_runs(con: Connection, repos: tuple[str, ...] = (), limit: int = 50) -> pd.DataFrame:
    return _df(
        con,
        """SELECT started_at, finished_at, repo, pr_number, trigger, status, api_requests,
                  CAST(errors AS VARCHAR) AS errors, CAST(warnings AS VARCHAR) AS warnings, run_id
           FROM sync_runs WHERE (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], repo))
           ORDER BY started_at DESC NULLS LAST LIMIT ?""",
        [list(repos), list(repos), limit],
    )
