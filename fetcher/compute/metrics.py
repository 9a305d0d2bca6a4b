"""The iteration metrics of a PR, computed in SQL from the stored rows.

One definition each (docs/metrics.md), kept as named SQL expressions over
per-PR facts, so ``python -m fetcher metrics --recompute`` can redo every PR after a
definition changes. Raw rows keep bots; metrics leave them out.

The bot rule, the hours arithmetic, which reviews count, and each metric's label and definition
are public here: the dashboard and ``make demo`` use them rather than a copy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import duckdb

from fetcher.compute import work_calendar
from fetcher.extract.records import GHOST_LOGIN

# GitHub login syntax (and a bot's "[bot]" suffix): what a listed extra bot may look like.
BOT_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$")


def is_bot(login: str, account_type: str) -> str:
    """SQL: the account is a bot: ``type == "Bot"``, a login ending in ``[bot]``, or a login in
    the stored list of extra bots (``bot_logins``: bots GitHub types as users, e.g. golangcibot).

    A deleted account (NULL login and type) is counted as a person."""
    return (
        f"(coalesce({account_type} = 'Bot', false) OR coalesce({login} LIKE '%[bot]', false) "
        f"OR coalesce(lower({login}) IN (SELECT login FROM bot_logins), false))"
    )


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


def hours_between(start: str, end: str) -> str:
    """SQL: the hours from ``start`` to ``end`` (NULL when either is NULL)."""
    return f"((epoch({end}) - epoch({start})) / 3600.0)"


def review_exclusions(review: str, pr: str) -> tuple[tuple[str, str], ...]:
    """Why a review of PR ``pr`` is not reviewer activity: (reason, SQL condition) pairs over the
    aliases of a ``pr_reviews`` row and its ``pull_requests`` row (``merged_at`` is read). A PENDING
    review (a draft only its author sees) has no ``submitted_at``."""
    return (
        ("pending", f"{review}.state = 'PENDING' OR {review}.submitted_at IS NULL"),
        ("a bot", is_bot(f"{review}.reviewer_login", f"{review}.reviewer_type")),
        ("the author", f"{review}.reviewer_login IS NOT DISTINCT FROM {pr}.author_login"),
        ("after the merge", f"NOT {before_merge(f'{review}.submitted_at', pr)}"),
    )


def before_merge(when: str, pr: str) -> str:
    """SQL: ``when`` is before PR ``pr`` was merged (an unmerged PR: any time). Review activity
    after the merge (a review years later) says nothing about how the PR was reviewed."""
    return f"({when} < coalesce({pr}.merged_at, 'infinity'::TIMESTAMPTZ))"


def is_merge_commit(commit: str) -> str:
    """SQL: the ``pr_commits`` row is a merge commit (two or more parents: the base branch merged
    into the PR's branch, not a fix). NULL parents (not fetched: GraphQL backfill) count as one."""
    return f"coalesce(len({commit}.parents) > 1, false)"


def comment_exclusions(comment: str, pr: str) -> tuple[tuple[str, str], ...]:
    """Why a ``pr_comments`` row of PR ``pr`` is no response to the PR (first response)."""
    return (
        ("a bot", is_bot(f"{comment}.author_login", f"{comment}.author_type")),
        ("the author", f"{comment}.author_login IS NOT DISTINCT FROM {pr}.author_login"),
        ("after the merge", f"NOT {before_merge(f'{comment}.created_at', pr)}"),
    )


def responding_comment(comment: str, pr: str) -> str:
    """SQL: the comment answers the PR: by a non-bot other than the PR author, before the merge."""
    return " AND ".join(f"NOT ({condition})" for _, condition in comment_exclusions(comment, pr))


def human_review(review: str, pr: str) -> str:
    """SQL: the review counts as reviewer activity: submitted, not by a bot, not by the PR author,
    before the merge."""
    return " AND ".join(f"NOT ({condition})" for _, condition in review_exclusions(review, pr))


def counted_review_body(review: str) -> str:
    """SQL: a review whose body counts as a comment: not by a bot, and the body is not blank."""
    bot = is_bot(f"{review}.reviewer_login", f"{review}.reviewer_type")
    return f"(NOT {bot} AND trim(coalesce({review}.body, '')) <> '')"


def review_rounds_sql(human_reviews: str, fix_commits: str) -> str:
    """SQL: the review rounds (docs/metrics.md, ``review_rounds``), one row each: a change request
    among ``human_reviews`` (a table or CTE of human reviews: repo, pr_number, reviewer_login, state,
    submitted_at) followed by a later commit of ``fix_commits`` (repo, pr_number, committed_at; merge
    commits already left out). Columns: repo, pr_number, submitted_at, ``reviewers`` (who asked, comma-
    separated: change requests of the same second are one round), fix_at (the first such commit),
    fix_response_hours and its twin fix_response_work_hours. Reads the working-hours clock."""
    return f"""SELECT r.*, {hours_between("r.submitted_at", "r.fix_at")} AS fix_response_hours,
               {work_calendar.work_hours_between("r.submitted_at", "r.fix_at")} AS fix_response_work_hours
        FROM (
            SELECT r.repo, r.pr_number, r.submitted_at,
                   string_agg(DISTINCT coalesce(r.reviewer_login, '{GHOST_LOGIN}'), ', ') AS reviewers,
                   min(c.committed_at) AS fix_at
            FROM {human_reviews} r JOIN {fix_commits} c
              ON c.repo = r.repo AND c.pr_number = r.pr_number AND c.committed_at > r.submitted_at
            WHERE r.state = 'CHANGES_REQUESTED'
            GROUP BY r.repo, r.pr_number, r.submitted_at
        ) r {work_calendar.CLOCK_JOIN}"""


@dataclass(frozen=True)
class Metric:
    name: str
    label: str  # what the dashboard and the demo call it
    definition: str
    sql: str
    span: tuple[str, str] | None = None  # a duration: from one instant (INSTANTS) to another


def clamp(value: str, low: str, high: str) -> str:
    """SQL: ``value`` moved into [``low``, ``high``]; a NULL ``value`` is ``low``; NULL when ``high``
    is (DuckDB's least/greatest skip NULLs)."""
    return f"(CASE WHEN {high} IS NULL THEN NULL ELSE least(greatest({value}, {low}), {high}) END)"


# The instants durations run between, each an SQL expression over the per-PR facts (alias f) and the
# instants listed before it (DuckDB reads an earlier alias of the same SELECT). The stage boundaries
# are clamped in order into [created_at, merged_at], so the four stages add up to the cycle time
# (docs/metrics.md, "Stages").
INSTANTS: dict[str, str] = {
    "created": "f.created_at",
    "merged": "f.merged_at",
    "first_review": "f.first_review_at",
    "first_response": "f.first_response_at",
    "ready": "coalesce(f.last_ready_for_review_at, f.created_at)",
    "draft_end": clamp("i_ready", "i_created", "i_merged"),
    # the first response by a person (a review is one); nobody before the merge: pickup runs to it
    "pickup_end": clamp(
        "coalesce(least(f.first_review_at, f.first_response_at), f.merged_at)", "i_draft_end", "i_merged"
    ),
    # the last approval, else the last review; no review: the review stage is empty
    "review_end": clamp("coalesce(f.last_approval_at, f.last_review_at)", "i_pickup_end", "i_merged"),
    # the first commit authored; one authored after the PR was opened gives 0, no commit NULL
    "coding_start": "CASE WHEN f.first_authored_at IS NOT NULL THEN least(f.first_authored_at, f.created_at) END",
}


def duration(name: str, label: str, definition: str, start: str, end: str) -> Metric:
    """A metric in hours from instant ``start`` to instant ``end`` (INSTANTS)."""
    return Metric(name, label, definition, hours_between(f"f.i_{start}", f"f.i_{end}"), (start, end))


def work_hours_name(name: str) -> str:
    """The working-hours twin of a duration column: ``cycle_time_hours`` -> ``cycle_time_work_hours``."""
    return name.removesuffix("_hours") + "_work_hours"


# Each metric is an expression over the per-PR facts built in FACTS_SQL (alias f).
METRICS: tuple[Metric, ...] = (
    Metric(
        "total_comments",
        "Comments",
        "non-bot issue comments + non-bot review comments + non-bot reviews with a non-empty body",
        "f.human_issue_comments + f.human_review_comments + f.human_review_bodies",
    ),
    Metric(
        "commits_after_first_review",
        "Commits after first review",
        "commits (merge commits left out) whose committed_at is after first_review_at; 0 without a review",
        "f.commits_after_first_review",
    ),
    Metric(
        "review_rounds",
        "Review rounds",
        "CHANGES_REQUESTED reviews (non-bot, non-author, before the merge) followed by a later non-merge commit",
        "f.review_rounds",
    ),
    Metric(
        "avg_fix_response_hours",
        "Fix response",
        "mean over those rounds of (first commit after the review - the review), hours; NULL without rounds",
        "f.avg_fix_response_hours",
    ),
    duration("cycle_time_hours", "Cycle time", "merged_at - created_at", "created", "merged"),
    duration(
        "time_to_first_review_hours", "Time to first review", "first_review_at - created_at", "created", "first_review"
    ),
    Metric(
        "first_review_at",
        "First review",
        "earliest submitted_at of a non-PENDING review by a non-bot other than the PR author, before the merge",
        "f.first_review_at",
    ),
    Metric(
        "first_response_at",
        "First response",
        "earliest comment (issue or review comment) or review by a non-bot other than the PR author, before the merge",
        "f.first_response_at",
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
        "f.i_ready",
    ),
    duration("pickup_hours", "Pickup", "first_review_at - ready_for_review_at", "ready", "first_review"),
    Metric("force_pushes", "Force pushes", "count of head_ref_force_pushed events", "f.force_pushes"),
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
        "CASE WHEN f.first_authored_at IS NOT NULL THEN f.force_pushes = 0 END",
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
            f"((f.work_{m.span[1]} - f.work_{m.span[0]}) / 3600.0)",
            m.span,
        )
        for m in METRICS
        if m.span
    ),
    Metric(
        "avg_fix_response_work_hours",
        "Fix response (working hours)",
        "avg_fix_response_hours in working hours",
        "f.avg_fix_response_work_hours",
    ),
)

# Per-PR facts. {scope} restricts the PRs (all of them, or one); every child table is joined
# through that scope, so the work done is proportional to the PRs recomputed.
FACTS_SQL = f"""
WITH prs AS (
    SELECT repo, number, author_login, created_at, merged_at FROM pull_requests WHERE {{scope}}
),
human_reviews AS (  -- reviewer activity: non-bot, not the author, not PENDING, before the merge
    SELECT r.repo, r.pr_number, r.reviewer_login, r.state, r.submitted_at
    FROM pr_reviews r JOIN prs p ON r.repo = p.repo AND r.pr_number = p.number
    WHERE {human_review("r", "p")}
),
first_reviews AS (
    SELECT repo, pr_number, min(submitted_at) AS first_review_at, max(submitted_at) AS last_review_at,
           max(submitted_at) FILTER (WHERE state = 'APPROVED') AS last_approval_at
    FROM human_reviews GROUP BY ALL
),
first_responses AS (  -- a review, or a comment by a non-bot other than the author, before the merge
    SELECT repo, pr_number, min(responded_at) AS first_response_at FROM (
        SELECT repo, pr_number, submitted_at AS responded_at FROM human_reviews
        UNION ALL
        SELECT m.repo, m.pr_number, m.created_at
        FROM pr_comments m JOIN prs p ON m.repo = p.repo AND m.pr_number = p.number
        WHERE {responding_comment("m", "p")}
    ) GROUP BY ALL
),
fix_commits AS (  -- commits that can answer a review: merge commits are not fixes
    SELECT c.repo, c.pr_number, c.committed_at, c.authored_at
    FROM pr_commits c JOIN prs p ON c.repo = p.repo AND c.pr_number = p.number
    WHERE NOT {is_merge_commit("c")}
),
round_facts AS (  -- change requests answered by a later commit, and how long the answers took
    SELECT repo, pr_number, count(*) AS review_rounds, avg(fix_response_hours) AS avg_fix_response_hours,
           avg(fix_response_work_hours) AS avg_fix_response_work_hours
    FROM ({review_rounds_sql("human_reviews", "fix_commits")})
    GROUP BY ALL
),
first_commits AS (
    SELECT repo, pr_number, min(authored_at) AS first_authored_at FROM fix_commits GROUP BY ALL
),
late_commits AS (
    SELECT c.repo, c.pr_number, count(*) AS commits_after_first_review
    FROM fix_commits c JOIN first_reviews fr ON c.repo = fr.repo AND c.pr_number = fr.pr_number
    WHERE c.committed_at > fr.first_review_at
    GROUP BY ALL
),
comment_facts AS (
    SELECT m.repo, m.pr_number,
           count(*) FILTER (WHERE m.comment_type = 'issue') AS human_issue_comments,
           count(*) FILTER (WHERE m.comment_type = 'review') AS human_review_comments
    FROM pr_comments m JOIN prs p ON m.repo = p.repo AND m.pr_number = p.number
    WHERE NOT {is_bot("m.author_login", "m.author_type")}
    GROUP BY ALL
),
review_body_facts AS (
    SELECT r.repo, r.pr_number, count(*) AS human_review_bodies
    FROM pr_reviews r JOIN prs p ON r.repo = p.repo AND r.pr_number = p.number
    WHERE {counted_review_body("r")}
    GROUP BY ALL
),
event_facts AS (
    SELECT e.repo, e.pr_number,
           count(*) FILTER (WHERE e.event = 'head_ref_force_pushed') AS force_pushes,
           max(e.created_at) FILTER (
               WHERE e.event = 'ready_for_review'
                 AND e.created_at < coalesce(fr.first_review_at, p.merged_at, 'infinity'::TIMESTAMPTZ)
           ) AS last_ready_for_review_at
    FROM pr_events e
    JOIN prs p ON e.repo = p.repo AND e.pr_number = p.number
    LEFT JOIN first_reviews fr ON e.repo = fr.repo AND e.pr_number = fr.pr_number
    GROUP BY ALL
)
SELECT p.repo, p.number, p.created_at, p.merged_at, fr.first_review_at, fo.first_response_at,
       fr.last_review_at, fr.last_approval_at, fc.first_authored_at,
       coalesce(rf.review_rounds, 0) AS review_rounds, rf.avg_fix_response_hours, rf.avg_fix_response_work_hours,
       coalesce(lc.commits_after_first_review, 0) AS commits_after_first_review,
       coalesce(cf.human_issue_comments, 0) AS human_issue_comments,
       coalesce(cf.human_review_comments, 0) AS human_review_comments,
       coalesce(rb.human_review_bodies, 0) AS human_review_bodies,
       coalesce(ef.force_pushes, 0) AS force_pushes, ef.last_ready_for_review_at
FROM prs p
LEFT JOIN first_reviews fr ON fr.repo = p.repo AND fr.pr_number = p.number
LEFT JOIN first_responses fo ON fo.repo = p.repo AND fo.pr_number = p.number
LEFT JOIN round_facts rf ON rf.repo = p.repo AND rf.pr_number = p.number
LEFT JOIN late_commits lc ON lc.repo = p.repo AND lc.pr_number = p.number
LEFT JOIN comment_facts cf ON cf.repo = p.repo AND cf.pr_number = p.number
LEFT JOIN review_body_facts rb ON rb.repo = p.repo AND rb.pr_number = p.number
LEFT JOIN event_facts ef ON ef.repo = p.repo AND ef.pr_number = p.number
LEFT JOIN first_commits fc ON fc.repo = p.repo AND fc.pr_number = p.number
"""

# Each review request and how it ended (table pr_review_requests; docs/metrics.md, "Reviewer
# response"). {scope} restricts the PRs as in FACTS_SQL.
#
# - A request is a `review_requested` item for a person who is no bot (Copilot is asked as
#   `Copilot`, type Bot, and reviews as another login: it would never answer), or for a team.
#   A team request stored before schema version 4 names no team and is left out. A request at or
#   after the merge is left out.
# - It ends at the first of: an answer (a human review: "reviewed"; a responding comment, issue or
#   diff: "commented") by the person asked, or for a team by anyone (a human, not the author, as
#   everywhere); a `review_request_removed` item for the same person or team ("removed"); the
#   merge ("merged"). Else it is "open". Ties in the same second: reviewed, commented, removed, merged.
# - A request repeated while the same reviewer's earlier request is still pending is no new
#   request; a re-request after an answer (GitHub's "re-request review") is.
REVIEW_REQUESTS_SQL = f"""
WITH prs AS (
    SELECT repo, number, author_login, merged_at FROM pull_requests WHERE {{scope}}
),
requests AS (
    SELECT e.repo, e.pr_number, e.seq, e.created_at AS requested_at, e.actor_login AS requested_by_login,
           e.requested_reviewer_login AS reviewer_login,
           coalesce(e.requested_reviewer_deleted, false) AS reviewer_deleted, e.requested_team_slug AS team_slug
    FROM pr_events e JOIN prs p ON e.repo = p.repo AND e.pr_number = p.number
    WHERE e.event = 'review_requested' AND e.created_at IS NOT NULL AND {before_merge("e.created_at", "p")}
      AND (e.requested_team_slug IS NOT NULL
           OR ((e.requested_reviewer_login IS NOT NULL OR e.requested_reviewer_deleted)
               AND NOT {is_bot("e.requested_reviewer_login", "e.requested_reviewer_type")}))
),
answers AS (  -- reviewer activity before the merge: human reviews, responding comments
    SELECT r.repo, r.pr_number, r.reviewer_login AS login, r.submitted_at AS happened_at,
           'reviewed' AS outcome, 1 AS rank
    FROM pr_reviews r JOIN prs p ON r.repo = p.repo AND r.pr_number = p.number
    WHERE {human_review("r", "p")}
    UNION ALL
    SELECT m.repo, m.pr_number, m.author_login, m.created_at, 'commented', 2
    FROM pr_comments m JOIN prs p ON m.repo = p.repo AND m.pr_number = p.number
    WHERE {responding_comment("m", "p")}
),
removals AS (
    SELECT e.repo, e.pr_number, e.created_at AS happened_at, e.requested_reviewer_login AS login,
           coalesce(e.requested_reviewer_deleted, false) AS deleted, e.requested_team_slug AS team_slug
    FROM pr_events e JOIN prs p ON e.repo = p.repo AND e.pr_number = p.number
    WHERE e.event = 'review_request_removed' AND e.created_at IS NOT NULL
),
ends AS (
    SELECT q.repo, q.pr_number, q.seq, a.happened_at, a.outcome, a.rank, a.login AS answered_by_login
    FROM requests q JOIN answers a ON a.repo = q.repo AND a.pr_number = q.pr_number AND a.happened_at >= q.requested_at
     -- a deleted account (NULL login) answers a request to a deleted account, as metrics compare them
     AND (q.team_slug IS NOT NULL OR a.login IS NOT DISTINCT FROM q.reviewer_login)
    UNION ALL
    SELECT q.repo, q.pr_number, q.seq, x.happened_at, 'removed', 3, NULL
    FROM requests q JOIN removals x ON x.repo = q.repo AND x.pr_number = q.pr_number AND x.happened_at >= q.requested_at
     AND (x.team_slug = q.team_slug
          OR (q.team_slug IS NULL AND x.team_slug IS NULL AND x.login IS NOT DISTINCT FROM q.reviewer_login
              AND x.deleted = q.reviewer_deleted))
    UNION ALL
    SELECT q.repo, q.pr_number, q.seq, p.merged_at, 'merged', 4, NULL
    FROM requests q JOIN prs p ON p.repo = q.repo AND p.number = q.pr_number WHERE p.merged_at IS NOT NULL
),
first_ends AS (
    SELECT repo, pr_number, seq, happened_at AS ended_at, outcome, answered_by_login FROM ends
    QUALIFY row_number() OVER (PARTITION BY repo, pr_number, seq ORDER BY happened_at, rank) = 1
),
ended AS (
    SELECT q.*, fe.ended_at, coalesce(fe.outcome, 'open') AS outcome, fe.answered_by_login
    FROM requests q LEFT JOIN first_ends fe ON fe.repo = q.repo AND fe.pr_number = q.pr_number AND fe.seq = q.seq
)
SELECT k.repo, k.pr_number, k.seq, k.requested_at, k.requested_by_login, k.reviewer_login, k.reviewer_deleted,
       k.team_slug, k.ended_at, k.outcome, k.answered_by_login,
       CASE WHEN k.outcome IN ('reviewed', 'commented') THEN {hours_between("k.requested_at", "k.ended_at")} END
           AS response_hours,
       CASE WHEN k.outcome IN ('reviewed', 'commented')
            THEN {work_calendar.work_hours_between("k.requested_at", "k.ended_at")} END AS response_work_hours
FROM ended k {work_calendar.CLOCK_JOIN}
WHERE NOT EXISTS (  -- the same reviewer's earlier request, still pending: this one repeats it
    SELECT 1 FROM ended j
    WHERE j.repo = k.repo AND j.pr_number = k.pr_number AND (j.requested_at, j.seq) < (k.requested_at, k.seq)
      AND coalesce(j.ended_at, 'infinity'::TIMESTAMPTZ) > k.requested_at
      AND j.team_slug IS NOT DISTINCT FROM k.team_slug AND j.reviewer_login IS NOT DISTINCT FROM k.reviewer_login
      AND j.reviewer_deleted = k.reviewer_deleted
)
"""

ANSWERED_OUTCOMES = ("reviewed", "commented")
UNANSWERED_OUTCOMES = ("removed", "merged", "open")


def requested_reviewer(request: str) -> str:
    """SQL: the name a ``pr_review_requests`` row's reviewer is shown by: the login, ``ghost`` for a
    deleted account, ``owner/slug`` for a team (as GitHub writes @owner/slug; no login has a slash)."""
    return (
        f"CASE WHEN {request}.team_slug IS NOT NULL THEN split_part({request}.repo, '/', 1) || '/' || "
        f"{request}.team_slug ELSE coalesce({request}.reviewer_login, 'ghost') END"
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
# the instants a working-hours twin reads the clock at
CLOCKED_INSTANTS = tuple(dict.fromkeys(name for m in WORK_HOURS_METRICS if m.span for name in m.span))
# Every column with a working-hours twin, by the twin's name: pr_metrics's, pr_review_requests's
# response_work_hours, and a review round's fix_response_work_hours (review_rounds_sql).
WORK_HOURS_TWINS = frozenset(
    {*(m.name for m in WORK_HOURS_METRICS), work_hours_name("response_hours"), work_hours_name("fix_response_hours")}
)

# What each stage boundary fell on, for the PR explorer: (what, SQL over the instants and facts, alias
# f), the first that equals the instant wins. Not a second rule: the instants are INSTANTS, computed by
# the same SQL; this only names which fact each one is (a clamped instant is the boundary before it).
BOUNDARY_EVENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "created": (("opened", "f.created_at"),),
    "draft_end": (
        ("ready for review", "f.last_ready_for_review_at"),
        ("opened (never a draft before its first review)", "f.created_at"),
        ("merged", "f.merged_at"),
    ),
    "pickup_end": (
        ("first review", "f.first_review_at"),
        ("first response (a comment)", "f.first_response_at"),
        ("end of draft (answered while a draft)", "f.i_draft_end"),
        ("merged (nobody responded)", "f.merged_at"),
    ),
    "review_end": (
        ("last approval", "f.last_approval_at"),
        ("last review (nobody approved)", "f.last_review_at"),
        ("end of pickup (no review after it)", "f.i_pickup_end"),
        ("merged", "f.merged_at"),
    ),
    "merged": (("merged", "f.merged_at"),),
}


def _instants_sql(scope: str) -> str:
    """SQL: the per-PR facts of the PRs in ``scope`` (FACTS_SQL), with their INSTANTS (``i_*``) and the
    working-hours clock read at each instant a twin needs (``work_*``). Needs the clock (``working_clock``)."""
    instants = ", ".join(f"{sql} AS i_{name}" for name, sql in INSTANTS.items())
    clocks = ", ".join(f"{work_calendar.clock_at(f'f.i_{name}')} AS work_{name}" for name in CLOCKED_INSTANTS)
    return f"""SELECT f.*, {clocks}
        FROM (SELECT f.*, {instants} FROM ({FACTS_SQL.format(scope=scope)}) f) f {work_calendar.CLOCK_JOIN}"""


def _scope(repo: str | None, number: int | None, numbers: list[int] | None, column: str) -> tuple[str, list[object]]:
    """The SQL condition choosing the PRs (by the table's PR-number ``column``) and its parameters."""
    conditions = ["repo = ?"] if repo is not None else []
    if number is not None:
        conditions.append(f"{column} = ?")
    if numbers is not None:
        conditions.append(f"list_contains(?::INTEGER[], {column})")
    params: list[object] = [v for v in (repo, number, None if numbers is None else list(numbers)) if v is not None]
    return " AND ".join(conditions) or "true", params


def recompute(
    con: duckdb.DuckDBPyConnection,
    repo: str | None = None,
    number: int | None = None,
    numbers: list[int] | None = None,
) -> int:
    """Recompute pr_metrics and pr_review_requests for one PR (repo and number), some PRs of a repo (``numbers``), one
    repo, or every PR. Returns rows written.

    Runs inside the caller's transaction when there is one."""
    scope, params = _scope(repo, number, numbers, "number")
    selected = ", ".join(f"{metric.sql} AS {metric.name}" for metric in (*METRICS, *WORK_HOURS_METRICS))
    with working_clock(con, scope, params):
        con.execute(f"DELETE FROM pr_metrics WHERE {scope}", params)
        inserted = con.execute(
            f"""INSERT INTO pr_metrics BY NAME
                SELECT f.repo, f.number, {selected}, now() AS computed_at FROM ({_instants_sql(scope)}) f""",
            params,
        ).fetchone()
        con.execute(f"DELETE FROM pr_review_requests WHERE {_scope(repo, number, numbers, 'pr_number')[0]}", params)
        con.execute(f"INSERT INTO pr_review_requests BY NAME {REVIEW_REQUESTS_SQL.format(scope=scope)}", params)
    return int(inserted[0]) if inserted else 0


def stage_boundaries(con: duckdb.DuckDBPyConnection, repo: str, number: int) -> list[dict[str, object]]:
    """The four stages of one merged PR as the metrics compute them, in order: ``stage`` (its column),
    ``from_at``/``from_event`` and ``to_at``/``to_event`` (the instants that bound it and what each fell
    on, BOUNDARY_EVENTS), ``hours`` and ``work_hours``; empty for a PR that is not stored or not merged."""
    stages = [m for m in METRICS if m.name in STAGES]

    def named(instant: str) -> str:
        cases = " ".join(f"WHEN f.i_{instant} = {sql} THEN '{what}'" for what, sql in BOUNDARY_EVENTS[instant])
        return f"CASE {cases} END"

    selected = ", ".join(
        f"""{{'stage': '{m.name}', 'from_at': f.i_{m.span[0]}, 'from_event': {named(m.span[0])},
              'to_at': f.i_{m.span[1]}, 'to_event': {named(m.span[1])}, 'hours': {m.sql},
              'work_hours': {METRIC_BY_NAME[work_hours_name(m.name)].sql}}}"""
        for m in stages
        if m.span
    )
    scope = "repo = ? AND number = ?"
    with working_clock(con, scope, [repo, number]):
        row = con.execute(
            f"SELECT [{selected}] FROM ({_instants_sql(scope)}) f WHERE f.merged_at IS NOT NULL", [repo, number]
        ).fetchone()
    return list(row[0]) if row else []


# author_association values that say the author is new to the repository (FIRST_TIMER: new to GitHub
# too), and those of the repository's own people (docs/metrics.md, "First-time contributor").
FIRST_TIME_ASSOCIATIONS = ("FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER")
MAINTAINER_ASSOCIATIONS = ("OWNER", "MEMBER", "COLLABORATOR")


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


# SQL: each merged PR (repo, number) and whether it is a first-time contributor's (first_time; NULL:
# not known, the association was not stored). Computed when read, over every merged PR stored, so a
# PR backfilled later that is older moves the flag: GitHub's author_association is as of the fetch,
# and a PR fetched after its merge calls its author a CONTRIBUTOR already.
FIRST_TIME_CONTRIBUTOR_SQL = f"""
SELECT repo, number,
       CASE WHEN {is_bot("author_login", "author_type")} THEN false
            WHEN author_association IN ({_sql_list(FIRST_TIME_ASSOCIATIONS)}) THEN true
            WHEN author_association IS NULL THEN NULL
            WHEN author_association IN ({_sql_list(MAINTAINER_ASSOCIATIONS)}) THEN false
            WHEN author_login IS NULL THEN false  -- a deleted account: whose earlier PRs cannot be told
            ELSE row_number() OVER (PARTITION BY repo, author_login ORDER BY merged_at, number) = 1
       END AS first_time
FROM pull_requests WHERE merged_at IS NOT NULL
"""


@contextmanager
def working_clock(
    con: duckdb.DuckDBPyConnection, scope: str = "true", params: list[object] | None = None
) -> Iterator[None]:
    """The working-hours clock (``work_calendar.build_clock``) for the statements run inside, over every
    day an instant of the PRs in ``scope`` (a condition on pull_requests; all of them by default) can fall
    on: from their creation (or first commit) to their merge (today for an open PR) or last commit.
    Works on a read-only connection too (a temp table of that connection; the dashboard's)."""
    row = con.execute(
        f"""SELECT greatest(least(first_at::DATE, DATE '2100-01-01'), DATE '1970-01-01'),
                   greatest(least(last_at::DATE, DATE '2100-01-01'), DATE '1970-01-01')
            FROM (SELECT least(min(p.created_at), min(c.authored_at), min(c.committed_at)) AS first_at,
                         greatest(max(coalesce(p.merged_at, now())), max(c.authored_at), max(c.committed_at))
                             AS last_at
            FROM (SELECT repo, number, created_at, merged_at FROM pull_requests WHERE {scope}) p
            LEFT JOIN pr_commits c ON c.repo = p.repo AND c.pr_number = p.number)""",
        params or [],
    ).fetchone()
    work_calendar.build_clock(con, *(row or (None, None)))
    try:
        yield
    except BaseException:
        with suppress(duckdb.Error):  # an aborted transaction refuses the drop: its error is the one to see
            work_calendar.drop_clock(con)
        raise
    work_calendar.drop_clock(con)
