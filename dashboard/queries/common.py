"""What every dashboard query shares: the sidebar's ``Filters``, the filtered-PRs CTE they select, the
clock a duration is read in, and ``run``, which executes SQL with the rules' macros on the connection.

Every query takes a connection (or cursor) and parameters and runs parameterised SQL: user values
(repositories, authors, dates, PR numbers) are always bound; only table and column names from constants
are put into the SQL text. Nothing here imports Streamlit, so the numbers can be tested on their own.
The metric columns come from ``pr_metrics`` (computed by the fetcher, see docs/metrics.md); the bot
rule, which reviews count and the hours arithmetic are the macros of ``fetcher/compute/sql/rules.sql``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import duckdb
import pandas as pd

from fetcher.compute.metrics import STAGES, WORK_HOURS_TWINS, work_hours_name
from fetcher.compute.rules import use_rules

Connection = duckdb.DuckDBPyConnection


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
        conditions.append("list_contains(?::VARCHAR[], login_or_ghost(p.author_login))")
        params.append(list(filters.authors))
    if filters.base_refs:
        conditions.append("list_contains(?::VARCHAR[], p.base_ref)")
        params.append(list(filters.base_refs))
    if not filters.include_bots:
        conditions.append("NOT is_bot(p.author_login, p.author_type)")
    cte = f"""filtered AS (
        SELECT p.repo, p.number, p.title, login_or_ghost(p.author_login) AS author, p.author_login, p.author_type,
               is_bot(p.author_login, p.author_type) AS author_is_bot,
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


def run(con: Connection, sql: str, params: list[Any] | dict[str, Any] | None = None) -> Connection:
    """Execute ``sql`` on ``con`` with the rules' macros (``fetcher.compute.rules``: who is a bot, which
    reviews count, ``login_or_ghost``, ...) created on it first."""
    use_rules(con)
    return con.execute(sql, params or [])


def fetch_frame(con: Connection, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    return run(con, sql, params).df()


def filtered_frame(con: Connection, filters: Filters, select: str, params: list[Any] | None = None) -> pd.DataFrame:
    """Run ``WITH filtered AS (...) <select>``; ``params`` follow the CTE's own."""
    cte, cte_params = filtered_prs_cte(filters)
    return fetch_frame(con, f"WITH {cte}\n{select}", cte_params + list(params or []))
