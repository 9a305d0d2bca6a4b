"""The PR explorer: the filtered PRs' table (and CSV), one PR, its timeline and its stages."""

from __future__ import annotations

import pandas as pd

from dashboard.queries.common import Connection, Filters, fetch_frame, filtered_frame
from fetcher.compute.metrics import METRIC_BY_NAME, STAGES, stage_boundaries

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


PR_TABLE_COLUMNS = (
    "repo, number, html_url, title, author, base_ref, created_at, merged_at, additions, deletions, size, "
    "changed_files, cycle_time_hours, pickup_hours, time_to_first_review_hours, time_to_first_response_hours, "
    "review_rounds, "
    "avg_fix_response_hours, total_comments, commits_after_first_review, force_pushes, author_is_bot, sync_status, "
    f"{', '.join(STAGES)}, coding_hours, coding_reliable"
)


def pr_table(con: Connection, filters: Filters) -> pd.DataFrame:
    """The filtered merged PRs with their metrics, newest merge first (also the CSV download)."""
    return filtered_frame(
        con, filters, f"SELECT {PR_TABLE_COLUMNS} FROM filtered ORDER BY merged_at DESC, repo, number"
    )


def pull_request(con: Connection, repo: str, number: int) -> pd.DataFrame:
    """One PR (any state) with its metrics: zero or one row."""
    return fetch_frame(
        con,
        """SELECT p.repo, p.number, p.title, p.body, login_or_ghost(p.author_login) AS author, p.state,
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
    timeline = fetch_frame(
        con,
        f"""
        SELECT created_at AS at, NULL::TIMESTAMPTZ AS end_at, 'opened' AS kind,
               login_or_ghost(author_login) AS actor, is_bot(author_login, author_type) AS is_bot,
               'opened against ' || coalesce(base_ref, '?') AS detail, html_url
        FROM pull_requests WHERE repo = ? AND number = ?
        UNION ALL
        SELECT merged_at, NULL, 'merged', login_or_ghost(merged_by_login), false,
               'merged into ' || coalesce(base_ref, '?'), html_url
        FROM pull_requests WHERE repo = ? AND number = ? AND merged_at IS NOT NULL
        UNION ALL
        SELECT e.created_at, NULL, k.kind, login_or_ghost(e.actor_login),
               is_bot(e.actor_login, e.actor_type),
               CASE WHEN e.requested_reviewer_login IS NOT NULL THEN 'asked ' || e.requested_reviewer_login
                    ELSE e.event END, NULL
        FROM pr_events e JOIN (VALUES {events}) k(event, kind) ON k.event = e.event
        WHERE e.{key}
        UNION ALL
        SELECT committed_at, NULL, 'commit', login_or_ghost(coalesce(author_login, author_name)),
               is_bot(author_login, author_type),
               left(sha, 7) || ' ' || split_part(coalesce(message, ''), chr(10), 1)
                   || CASE WHEN authored_at IS DISTINCT FROM committed_at
                           THEN ' (authored ' || strftime(authored_at, '%Y-%m-%d %H:%M') || ')' ELSE '' END, NULL
        FROM pr_commits WHERE {key}
        UNION ALL
        SELECT submitted_at, NULL, 'review', login_or_ghost(reviewer_login),
               is_bot(reviewer_login, reviewer_type),
               state || CASE WHEN trim(coalesce(body, '')) <> '' THEN ': ' || left(body, 200) ELSE '' END, NULL
        FROM pr_reviews WHERE {key} AND submitted_at IS NOT NULL
        UNION ALL
        SELECT created_at, NULL, 'comment', login_or_ghost(author_login), is_bot(author_login, author_type),
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
    timeline = timeline[timeline["at"].notna()]
    order = {kind: i for i, kind in enumerate(TIMELINE_KINDS)}
    frame = timeline.assign(lane=timeline["kind"].map(order)).sort_values(["at", "lane"], kind="stable")
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
