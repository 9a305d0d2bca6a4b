"""The iteration metrics of a PR, computed in SQL from the stored rows.

One definition each (docs/metrics.md). The SQL is plain SQL files (``fetcher/compute/rules.py``):
``sql/pr_metrics.sql`` computes every column of ``pr_metrics``, ``sql/review_requests.sql`` the rows
of ``pr_review_requests``, both over the rules of ``sql/rules.sql`` (the bot rule, which reviews and
comments count, fix commits, the hours arithmetic), which the dashboard reads too. Here: each
metric's label and definition, the settings the metrics depend on (extra bots, the working-hours
calendar), and ``recompute``, so ``python -m fetcher metrics --recompute`` can redo every PR after a
definition changes. Raw rows keep bots; metrics leave them out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import duckdb

from fetcher.compute import work_calendar
from fetcher.compute.rules import sql_file, use_rules

# GitHub login syntax (and a bot's "[bot]" suffix): what a listed extra bot may look like.
BOT_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$")


def parse_bot_logins(text: str) -> tuple[str, ...]:
    """A comma-separated list of logins (MERGELENS_BOTS, --bots), lower-cased, each once, sorted.
    ValueError names the first entry that is not a GitHub login."""
    logins = [entry.strip() for entry in text.split(",") if entry.strip()]
    for login in logins:
        if not BOT_LOGIN.match(login):
            raise ValueError(f"{login[:50]!r} is not a GitHub login")
    return tuple(sorted({login.lower() for login in logins}))


def stored_bot_logins(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    return tuple(login for (login,) in con.execute("SELECT login FROM bot_logins ORDER BY login").fetchall())


def replace_bot_logins(con: duckdb.DuckDBPyConnection, logins: tuple[str, ...] | None) -> bool:
    """Make ``logins`` the stored extra bots, in the caller's transaction (None: keep what is
    stored). Returns whether the list changed: then every PR's metrics must be recomputed."""
    if logins is None or tuple(sorted(set(logins))) == stored_bot_logins(con):
        return False
    con.execute("DELETE FROM bot_logins")
    if logins:
        con.execute("INSERT INTO bot_logins SELECT unnest(?::VARCHAR[])", [sorted(set(logins))])
    return True


def use_settings(
    con: duckdb.DuckDBPyConnection,
    logins: tuple[str, ...] | None,
    calendar: work_calendar.WorkCalendar | None = None,
) -> tuple[str, ...]:
    """Store the extra bots and the working-hours calendar of this run, and when that changes either,
    recompute every PR's metrics in the same transaction: who is a bot changes the metrics of any PR,
    the calendar every ``_work_hours``, and the stored metrics must agree with the stored settings (the
    dashboard reads both). Returns which changed: "bots", "calendar" (empty: neither)."""
    con.execute("BEGIN")
    try:
        changed = replace_settings(con, logins, calendar)
        if changed:
            recompute(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return changed


def replace_settings(
    con: duckdb.DuckDBPyConnection, logins: tuple[str, ...] | None, calendar: work_calendar.WorkCalendar | None
) -> tuple[str, ...]:
    """Store both settings (None: keep that one), in the caller's transaction; which changed: "bots",
    "calendar" (empty: neither)."""
    return tuple(
        name
        for name, replaced in (
            ("bots", replace_bot_logins(con, logins)),
            ("calendar", work_calendar.replace_calendar(con, calendar)),
        )
        if replaced
    )


@dataclass(frozen=True)
class Metric:
    name: str
    label: str  # what the dashboard and the demo call it
    definition: str
    span: tuple[str, str] | None = None  # a duration: from one instant (i_* of sql/pr_metrics.sql) to another


def duration(name: str, label: str, definition: str, start: str, end: str) -> Metric:
    """A metric in hours from instant ``start`` to instant ``end`` (``i_start``, ``i_end`` of sql/pr_metrics.sql)."""
    return Metric(name, label, definition, (start, end))


def work_hours_name(name: str) -> str:
    """The working-hours twin of a duration column: ``cycle_time_hours`` -> ``cycle_time_work_hours``."""
    return name.removesuffix("_hours") + "_work_hours"


# Each metric: a column of pr_metrics, computed by sql/pr_metrics.sql.
METRICS: tuple[Metric, ...] = (
    Metric(
        "total_comments",
        "Comments",
        "non-bot issue comments + non-bot review comments + non-bot reviews with a non-empty body",
    ),
    Metric(
        "commits_after_first_review",
        "Commits after first review",
        "commits (merge commits left out) whose committed_at is after first_review_at; 0 without a review",
    ),
    Metric(
        "review_rounds",
        "Review rounds",
        "CHANGES_REQUESTED reviews (non-bot, non-author, before the merge) followed by a later non-merge commit",
    ),
    Metric(
        "avg_fix_response_hours",
        "Fix response",
        "mean over those rounds of (first commit after the review - the review), hours; NULL without rounds",
    ),
    duration("cycle_time_hours", "Cycle time", "merged_at - created_at", "created", "merged"),
    duration(
        "time_to_first_review_hours", "Time to first review", "first_review_at - created_at", "created", "first_review"
    ),
    Metric(
        "first_review_at",
        "First review",
        "earliest submitted_at of a non-PENDING review by a non-bot other than the PR author, before the merge",
    ),
    Metric(
        "first_response_at",
        "First response",
        "earliest comment (issue or review comment) or review by a non-bot other than the PR author, before the merge",
    ),
    duration(
        "time_to_first_response_hours",
        "Time to first response",
        "first_response_at - created_at",
        "created",
        "first_response",
    ),
    Metric(
        "ready_for_review_at",
        "Ready for review",
        "the last ready_for_review event before first_review_at (before the merge when there is "
        "no review), else created_at",
    ),
    duration("pickup_hours", "Pickup", "first_review_at - ready_for_review_at", "ready", "first_review"),
    Metric("force_pushes", "Force pushes", "count of head_ref_force_pushed events"),
    duration(
        "stage_draft_hours",
        "Draft",
        "created_at -> ready_for_review_at (0 if never a draft before its first review)",
        "created",
        "draft_end",
    ),
    duration(
        "stage_pickup_hours",
        "Pickup (stage)",
        "-> the first response by a person (a review or a comment); runs to the merge when nobody responded",
        "draft_end",
        "pickup_end",
    ),
    duration(
        "stage_review_hours",
        "Review",
        "-> the last approval before the merge, else the last review; 0 without a review",
        "pickup_end",
        "review_end",
    ),
    duration("stage_merge_hours", "Merge", "-> merged_at", "review_end", "merged"),
    duration(
        "coding_hours",
        "Coding",
        "first commit authored -> created_at; 0 when the first commit is later, NULL without commits",
        "coding_start",
        "created",
    ),
    Metric(
        "coding_reliable",
        "Coding time reliable",
        "no force push: the stored commits are the ones first written; NULL without coding_hours",
    ),
)

# Every duration's twin in working hours (fetcher.compute.work_calendar): the working time between the same
# two instants; and the fix response's, averaged over the rounds like it.
WORK_HOURS_METRICS: tuple[Metric, ...] = (
    *(
        Metric(
            work_hours_name(m.name),
            f"{m.label} (working hours)",
            f"{m.definition}, in working hours",
            m.span,
        )
        for m in METRICS
        if m.span
    ),
    Metric(
        "avg_fix_response_work_hours",
        "Fix response (working hours)",
        "avg_fix_response_hours in working hours",
    ),
)

ANSWERED_OUTCOMES = ("reviewed", "commented")
UNANSWERED_OUTCOMES = ("removed", "merged", "open")


def requested_reviewer(request: str) -> str:
    """SQL: the name a ``pr_review_requests`` row's reviewer is shown by: the login, ``ghost`` for a
    deleted account, ``owner/slug`` for a team (as GitHub writes @owner/slug; no login has a slash)."""
    return (
        f"CASE WHEN {request}.team_slug IS NOT NULL THEN split_part({request}.repo, '/', 1) || '/' || "
        f"{request}.team_slug ELSE login_or_ghost({request}.reviewer_login) END"
    )


# Per reviewer, over pr_review_requests rows (alias q): (column, SQL aggregate); {response} is the
# response column read: response_hours, or its working-hours twin response_work_hours.
REVIEWER_RESPONSE: tuple[tuple[str, str], ...] = (
    ("requests", "count(*)"),
    ("answered", "count(*) FILTER (WHERE q.outcome IN ('reviewed', 'commented'))"),
    ("reviewed", "count(*) FILTER (WHERE q.outcome = 'reviewed')"),
    ("commented", "count(*) FILTER (WHERE q.outcome = 'commented')"),
    ("removed", "count(*) FILTER (WHERE q.outcome = 'removed')"),
    ("merged_unanswered", "count(*) FILTER (WHERE q.outcome = 'merged')"),
    ("open", "count(*) FILTER (WHERE q.outcome = 'open')"),
    ("median_response_hours", "median(q.{response})"),
    ("p90_response_hours", "quantile_cont(q.{response}, 0.9)"),
)


def reviewer_response_sql(requests: str = "pr_review_requests", response: str = "response_hours") -> str:
    """SQL: one row per requested reviewer (``reviewer``, ``is_team``, then REVIEWER_RESPONSE),
    over ``requests`` (a table or CTE with pr_review_requests's columns), most requested first; the
    response times from column ``response`` (``response_hours`` or ``response_work_hours``)."""
    if response not in ("response_hours", work_hours_name("response_hours")):
        raise ValueError(f"no response column {response!r}")
    selected = ", ".join(f"{sql.format(response=response)} AS {name}" for name, sql in REVIEWER_RESPONSE)
    return f"""SELECT {requested_reviewer("q")} AS reviewer, q.team_slug IS NOT NULL AS is_team, {selected}
        FROM {requests} q GROUP BY ALL ORDER BY requests DESC, reviewer"""


# The four stages of a merged PR, in order: they add up to cycle_time_hours (docs/metrics.md, "Stages").
STAGES = ("stage_draft_hours", "stage_pickup_hours", "stage_review_hours", "stage_merge_hours")
METRIC_COLUMNS = tuple(metric.name for metric in (*METRICS, *WORK_HOURS_METRICS))
METRIC_BY_NAME = {metric.name: metric for metric in (*METRICS, *WORK_HOURS_METRICS)}
# The headline metrics: the dashboard's overview cards and the demo's summary, in this order.
HEADLINE = (
    "cycle_time_hours",
    "pickup_hours",
    "time_to_first_review_hours",
    "time_to_first_response_hours",
    "review_rounds",
    "avg_fix_response_hours",
)
# Every column with a working-hours twin, by the twin's name: pr_metrics's, pr_review_requests's
# response_work_hours, and a review round's fix_response_work_hours (the dashboard's fix responses).
WORK_HOURS_TWINS = frozenset(
    {*(m.name for m in WORK_HOURS_METRICS), work_hours_name("response_hours"), work_hours_name("fix_response_hours")}
)

# Each stage of one merged PR (the stage columns of sql/pr_metrics.sql, in order), the instants that
# bound it and what each fell on: the first fact that equals the instant names it. Not a second rule:
# the instants are pr_metrics.sql's; this only names which fact each one is (a clamped instant is the
# boundary before it).
STAGE_BOUNDARIES_SQL = """
WITH f AS (
    SELECT *,
           'opened' AS created_event,
           CASE i_draft_end WHEN last_ready_for_review_at THEN 'ready for review'
                            WHEN created_at THEN 'opened (never a draft before its first review)'
                            WHEN merged_at THEN 'merged' END AS draft_end_event,
           CASE i_pickup_end WHEN first_review_at THEN 'first review'
                             WHEN first_response_at THEN 'first response (a comment)'
                             WHEN i_draft_end THEN 'end of draft (answered while a draft)'
                             WHEN merged_at THEN 'merged (nobody responded)' END AS pickup_end_event,
           CASE i_review_end WHEN last_approval_at THEN 'last approval'
                             WHEN last_review_at THEN 'last review (nobody approved)'
                             WHEN i_pickup_end THEN 'end of pickup (no review after it)'
                             WHEN merged_at THEN 'merged' END AS review_end_event,
           'merged' AS merged_event
    FROM ({pr_metrics}) WHERE merged_at IS NOT NULL
)
SELECT 'stage_draft_hours' AS stage, i_created AS from_at, created_event AS from_event, i_draft_end AS to_at,
       draft_end_event AS to_event, stage_draft_hours AS hours, stage_draft_work_hours AS work_hours, 1 AS position
FROM f
UNION ALL
SELECT 'stage_pickup_hours', i_draft_end, draft_end_event, i_pickup_end, pickup_end_event, stage_pickup_hours,
       stage_pickup_work_hours, 2
FROM f
UNION ALL
SELECT 'stage_review_hours', i_pickup_end, pickup_end_event, i_review_end, review_end_event, stage_review_hours,
       stage_review_work_hours, 3
FROM f
UNION ALL
SELECT 'stage_merge_hours', i_review_end, review_end_event, i_merged, merged_event, stage_merge_hours,
       stage_merge_work_hours, 4
FROM f
ORDER BY position
"""


def recompute(
    con: duckdb.DuckDBPyConnection,
    repo: str | None = None,
    number: int | None = None,
    numbers: list[int] | None = None,
) -> int:
    """Recompute pr_metrics and pr_review_requests for one PR (repo and number), some PRs of a repo (``numbers``), one
    repo, or every PR. Returns rows written.

    Runs inside the caller's transaction when there is one."""
    if number is not None:
        numbers = [n for n in numbers if n == number] if numbers is not None else [number]
    with metrics_scope(con, repo, numbers):
        con.execute("DELETE FROM pr_metrics WHERE in_metrics_scope(repo, number)")
        inserted = con.execute(
            f"""INSERT INTO pr_metrics BY NAME SELECT repo, number, {", ".join(METRIC_COLUMNS)}, now() AS computed_at
                FROM ({sql_file("pr_metrics")})"""
        ).fetchone()
        con.execute("DELETE FROM pr_review_requests WHERE in_metrics_scope(repo, pr_number)")
        con.execute(f"INSERT INTO pr_review_requests BY NAME {sql_file('review_requests')}")
    return int(inserted[0]) if inserted else 0


def stage_boundaries(con: duckdb.DuckDBPyConnection, repo: str, number: int) -> list[dict[str, object]]:
    """The four stages of one merged PR as the metrics compute them, in order: ``stage`` (its column),
    ``from_at``/``from_event`` and ``to_at``/``to_event`` (the instants that bound it and what each fell
    on), ``hours`` and ``work_hours``; empty for a PR that is not stored or not merged."""
    with metrics_scope(con, repo, [number]):
        cursor = con.execute(STAGE_BOUNDARIES_SQL.format(pr_metrics=sql_file("pr_metrics")))
        columns = [d[0] for d in cursor.description]
        return [{k: v for k, v in zip(columns, row, strict=True) if k != "position"} for row in cursor.fetchall()]


# author_association values that say the author is new to the repository (FIRST_TIMER: new to GitHub
# too), and those of the repository's own people (docs/metrics.md, "First-time contributor").
FIRST_TIME_ASSOCIATIONS = ("FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER")
MAINTAINER_ASSOCIATIONS = ("OWNER", "MEMBER", "COLLABORATOR")


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


# SQL (needs the rules): each merged PR (repo, number) and whether it is a first-time contributor's (first_time; NULL:
# not known, the association was not stored). Computed when read, over every merged PR stored, so a
# PR backfilled later that is older moves the flag: GitHub's author_association is as of the fetch,
# and a PR fetched after its merge calls its author a CONTRIBUTOR already.
FIRST_TIME_CONTRIBUTOR_SQL = f"""
SELECT repo, number,
       CASE WHEN is_bot(author_login, author_type) THEN false
            WHEN author_association IN ({_sql_list(FIRST_TIME_ASSOCIATIONS)}) THEN true
            WHEN author_association IS NULL THEN NULL
            WHEN author_association IN ({_sql_list(MAINTAINER_ASSOCIATIONS)}) THEN false
            WHEN author_login IS NULL THEN false  -- a deleted account: whose earlier PRs cannot be told
            ELSE row_number() OVER (PARTITION BY repo, author_login ORDER BY merged_at, number) = 1
       END AS first_time
FROM pull_requests WHERE merged_at IS NOT NULL
"""


@contextmanager
def metrics_scope(
    con: duckdb.DuckDBPyConnection, repo: str | None = None, numbers: list[int] | None = None
) -> Iterator[None]:
    """For the statements run inside: the rules (``use_rules``), the PRs the metric SQL reads (``scoped_prs()``:
    those of ``repo`` and ``numbers``; None: all), and the working-hours clock (``work_calendar.build_clock``)
    over every day an instant of theirs can fall on: from their creation (or first commit) to their merge
    (today for an open PR) or last commit. Works on a read-only connection too (the dashboard's)."""
    use_rules(con)
    con.execute("SET VARIABLE metrics_repo = ?::VARCHAR", [repo])
    con.execute("SET VARIABLE metrics_numbers = ?::INTEGER[]", [numbers])
    try:
        row = con.execute(
            """SELECT greatest(least(first_at::DATE, DATE '2100-01-01'), DATE '1970-01-01'),
                      greatest(least(last_at::DATE, DATE '2100-01-01'), DATE '1970-01-01')
               FROM (SELECT least(min(p.created_at), min(c.authored_at), min(c.committed_at)) AS first_at,
                            greatest(max(coalesce(p.merged_at, now())), max(c.authored_at), max(c.committed_at))
                                AS last_at
               FROM scoped_prs() p LEFT JOIN pr_commits c ON c.repo = p.repo AND c.pr_number = p.number)"""
        ).fetchone()
        work_calendar.build_clock(con, *(row or (None, None)))
        yield
    finally:
        with suppress(duckdb.Error):  # an aborted transaction refuses even this: its error is the one to see
            work_calendar.drop_clock(con)
            con.execute("RESET VARIABLE metrics_repo")
            con.execute("RESET VARIABLE metrics_numbers")
